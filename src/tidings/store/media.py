"""Uploads, the blobs they are made of, unfinished uploads, the entries that
carry each upload (``media_refs``, kept by ``MediaRefRows`` in the message
writer's transactions), and each app's media limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPICursor

from tidings.domain.groups import GroupState
from tidings.domain.media import MEDIA_PROBE, media_ids
from tidings.domain.records import NewChange, NewMessage, StoredMessage
from tidings.store.engine import Database
from tidings.store.schema import (
    app_admins,
    app_media_settings,
    conversation_members,
    media,
    media_blobs,
    media_refs,
    media_uploads,
    messages,
)
from tidings.store.writer.rows import Collected, TransactionRows

# Run in the message writer's transaction as driver SQL (``?`` placeholders).
REF_INSERT_SQL = ("INSERT INTO media_refs (media_id, conversation_id, seq, sdkappid)"
                  " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
REF_DELETE_SQL = "DELETE FROM media_refs WHERE conversation_id = ? AND seq = ?"


def _may_name_upload(r: NewMessage) -> bool:
    """Whether a new message's elements may name an upload (``media_ids``'
    first probe): the messages the writer calls ``MediaRefRows`` for."""
    return MEDIA_PROBE in r.elements


class MediaRefRows(TransactionRows):
    """The writer's rows for media: which entries carry which uploads (media
    downloads and collection read them)."""

    def __init__(self, db: Database) -> None:
        self.only_for = _may_name_upload
        self._insert = Collected(db.driver_sql(REF_INSERT_SQL))
        self._delete_sql = db.driver_sql(REF_DELETE_SQL)

    def message(self, r: NewMessage, entry: StoredMessage, group: GroupState | None,
                now: int) -> None:
        # Called for a message that may name an upload (``only_for``): one
        # with only empty ids has none, and no generator is built for it.
        found = media_ids(entry.elements)
        if found:
            self._insert.params.extend(
                (media_id, entry.conversation_id, entry.seq, entry.key.sdkappid)
                for media_id in found)

    def change(self, cursor: DBAPICursor, r: NewChange, before: StoredMessage,
               entry: StoredMessage, now: int) -> None:
        # A recall drops the target's uploads; an edit of its elements
        # carries the new ones instead.
        after = entry.target
        assert after is not None
        if after.elements == before.elements:
            return
        old, new = media_ids(before.elements), media_ids(after.elements)
        if old or new:
            cursor.execute(self._delete_sql, (after.conversation_id, after.seq))
            for media_id in new:
                cursor.execute(self._insert.sql, (media_id, after.conversation_id, after.seq,
                                                  after.key.sdkappid))

    def flush(self, cursor: DBAPICursor) -> None:
        self._insert.flush(cursor)

    def discard(self) -> None:
        self._insert.discard()


@dataclass(frozen=True, slots=True)
class MediaRow:
    id: str
    sdkappid: int
    uploader: str
    kind: str
    mime: str
    format: str
    name: str
    size: int
    hash: str
    width: int
    height: int
    duration_ms: int
    # "large" | "thumb" | "poster" -> {"hash", "size", "width", "height", "mime"}
    variants: dict[str, dict[str, Any]]
    created_at: int

    def blob_hashes(self) -> list[str]:
        return [self.hash, *(v["hash"] for v in self.variants.values())]


@dataclass(frozen=True, slots=True)
class UploadRow:
    id: str
    sdkappid: int
    owner: str
    kind: str
    name: str
    size: int
    received: int
    duration_ms: int
    created_at: int


@dataclass(frozen=True, slots=True)
class PolicyRow:
    max_bytes: int
    kinds: str
    keep_location: bool


def _media(row: Any) -> MediaRow:
    return MediaRow(row.id, row.sdkappid, row.uploader, row.kind, row.mime, row.format,
                    row.name, row.size, row.hash, row.width, row.height, row.duration_ms,
                    orjson.loads(row.variants), row.created_at)


def _upload(row: Any) -> UploadRow:
    return UploadRow(row.id, row.sdkappid, row.owner, row.kind, row.name, row.size,
                     row.received, row.duration_ms, row.created_at)


class MediaStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _insert(self, table: Any) -> Any:
        return sqlite.insert(table) if self._db.dialect == "sqlite" else postgresql.insert(table)

    # -- app limits ------------------------------------------------------------

    async def policy(self, sdkappid: int) -> PolicyRow | None:
        s = app_media_settings.c
        row = await self._db.first(select(s.max_bytes, s.kinds, s.keep_location)
                                   .where(s.sdkappid == sdkappid))
        return None if row is None else PolicyRow(row.max_bytes, row.kinds,
                                                   bool(row.keep_location))

    async def set_policy(self, sdkappid: int, policy: PolicyRow, now: int) -> None:
        values = {"max_bytes": policy.max_bytes, "kinds": policy.kinds,
                  "keep_location": int(policy.keep_location), "updated_at": now}
        stmt = self._insert(app_media_settings).values(sdkappid=sdkappid, **values)
        async with self._db.writer.begin() as conn:
            await conn.execute(stmt.on_conflict_do_update(index_elements=["sdkappid"],
                                                          set_=values))

    # -- unfinished uploads -------------------------------------------------------

    async def create_upload(self, row: UploadRow, max_open: int) -> bool:
        """Record a new upload; False when the owner holds ``max_open``."""
        u = media_uploads.c
        async with self._db.writer.begin() as conn:
            held = (await conn.execute(select(func.count()).select_from(media_uploads).where(
                u.sdkappid == row.sdkappid, u.owner == row.owner))).scalar_one()
            if held >= max_open:
                return False
            await conn.execute(media_uploads.insert().values(
                id=row.id, sdkappid=row.sdkappid, owner=row.owner, kind=row.kind,
                name=row.name, size=row.size, received=row.received,
                duration_ms=row.duration_ms, created_at=row.created_at,
                updated_at=row.created_at))
        return True

    async def upload(self, upload_id: str) -> UploadRow | None:
        row = await self._db.first(select(media_uploads).where(
            media_uploads.c.id == upload_id))
        return None if row is None else _upload(row)

    async def set_received(self, upload_id: str, received: int, now: int) -> None:
        u = media_uploads.c
        async with self._db.writer.begin() as conn:
            await conn.execute(update(media_uploads).where(u.id == upload_id)
                               .values(received=received, updated_at=now))

    async def drop_upload(self, upload_id: str) -> bool:
        async with self._db.writer.begin() as conn:
            done = await conn.execute(delete(media_uploads).where(
                media_uploads.c.id == upload_id))
        return bool(done.rowcount)

    async def stale_uploads(self, before: int, limit: int = 500) -> list[str]:
        u = media_uploads.c
        async with self._db.reader.connect() as conn:
            return list((await conn.execute(select(u.id).where(u.updated_at < before)
                                            .limit(limit))).scalars())

    # -- finished uploads ---------------------------------------------------------

    async def add_media(self, row: MediaRow, blob_sizes: dict[str, int],
                        upload_id: str | None) -> None:
        """The upload, its blobs counted once more each, and (for an upload in
        parts) its unfinished row gone: one transaction."""
        hashes = row.blob_hashes()
        async with self._db.writer.begin() as conn:
            for digest in dict.fromkeys(hashes):
                stmt = self._insert(media_blobs).values(
                    hash=digest, size=blob_sizes[digest], refs=0, created_at=row.created_at)
                await conn.execute(stmt.on_conflict_do_nothing(index_elements=["hash"]))
            for digest in hashes:
                await conn.execute(update(media_blobs).where(media_blobs.c.hash == digest)
                                   .values(refs=media_blobs.c.refs + 1))
            await conn.execute(media.insert().values(
                id=row.id, sdkappid=row.sdkappid, uploader=row.uploader, kind=row.kind,
                mime=row.mime, format=row.format, name=row.name, size=row.size, hash=row.hash,
                width=row.width, height=row.height, duration_ms=row.duration_ms,
                variants=orjson.dumps(row.variants).decode(), created_at=row.created_at))
            if upload_id is not None:
                await conn.execute(delete(media_uploads).where(media_uploads.c.id == upload_id))

    async def get(self, sdkappid: int, media_id: str) -> MediaRow | None:
        m = media.c
        row = await self._db.first(select(media).where(
            m.id == media_id, m.sdkappid == sdkappid))
        return None if row is None else _media(row)

    async def get_any(self, media_id: str) -> MediaRow | None:
        """By id alone: for a signed URL, whose signature names the upload."""
        row = await self._db.first(select(media).where(media.c.id == media_id))
        return None if row is None else _media(row)

    async def get_many(self, sdkappid: int, ids: Sequence[str]) -> dict[str, MediaRow]:
        m = media.c
        rows = await self._db.rows(select(media).where(m.sdkappid == sdkappid,
                                                       m.id.in_(list(ids))))
        return {row.id: _media(row) for row in rows}

    @staticmethod
    def _carried_for(user_id: str) -> Any:
        """Entries that carry the upload (still stored, not recalled) in a
        conversation where ``user_id`` is a member who can see them."""
        r, msg, cm = media_refs.c, messages.c, conversation_members.c
        return (select(r.media_id)
                .join(messages, and_(msg.conversation_id == r.conversation_id,
                                     msg.seq == r.seq))
                .join(conversation_members, and_(cm.conversation_id == r.conversation_id,
                                                 cm.user_id == user_id))
                .where(r.seq > cm.visible_after))

    async def readable(self, sdkappid: int, user_id: str, ids: Sequence[str]) -> set[str]:
        """Of ``ids`` (this app's uploads), those ``user_id`` may read: they
        uploaded it, a conversation of theirs carries it, or they are an
        admin of the app."""
        m, r = media.c, media_refs.c
        wanted = list(ids)

        def read(conn: Connection) -> set[str]:
            admin = conn.execute(select(app_admins.c.user_id).where(
                app_admins.c.sdkappid == sdkappid, app_admins.c.user_id == user_id)).first()
            if admin is not None:
                return set(conn.execute(select(m.id).where(
                    m.sdkappid == sdkappid, m.id.in_(wanted))).scalars())
            own = set(conn.execute(select(m.id).where(
                m.sdkappid == sdkappid, m.id.in_(wanted), m.uploader == user_id)).scalars())
            rest = [i for i in wanted if i not in own]
            if rest:
                carried = self._carried_for(user_id).where(
                    r.media_id.in_(rest), r.sdkappid == sdkappid).distinct()
                own |= set(conn.execute(carried).scalars())
            return own

        return await self._db.read(read)

    # -- collection ------------------------------------------------------------

    async def collectable(self, before: int, limit: int = 500) -> list[MediaRow]:
        """Uploads older than ``before`` that no stored entry carries."""
        m, r, msg = media.c, media_refs.c, messages.c
        carried = exists(select(r.media_id).join(
            messages, and_(msg.conversation_id == r.conversation_id, msg.seq == r.seq))
            .where(r.media_id == m.id))
        async with self._db.reader.connect() as conn:
            rows = await conn.execute(select(media).where(m.created_at < before, ~carried)
                                      .limit(limit))
            return [_media(row) for row in rows]

    async def drop_media(self, row: MediaRow) -> bool:
        """Remove an upload unless an entry came to carry it meanwhile; its
        blobs are counted once less each (in the same transaction)."""
        m, r = media.c, media_refs.c
        async with self._db.writer.begin() as conn:
            if (await conn.execute(select(r.media_id).where(r.media_id == row.id)
                                   .join(messages, and_(
                                       messages.c.conversation_id == r.conversation_id,
                                       messages.c.seq == r.seq)).limit(1))).first():
                return False
            done = await conn.execute(delete(media).where(m.id == row.id))
            if not done.rowcount:
                return False
            for digest in row.blob_hashes():
                await conn.execute(update(media_blobs).where(media_blobs.c.hash == digest)
                                   .values(refs=media_blobs.c.refs - 1))
            await conn.execute(delete(media_refs).where(r.media_id == row.id))
        return True

    async def unused_blobs(self, limit: int = 500) -> list[str]:
        b = media_blobs.c
        async with self._db.reader.connect() as conn:
            return list((await conn.execute(select(b.hash).where(b.refs <= 0)
                                            .limit(limit))).scalars())

    async def drop_blob(self, digest: str) -> bool:
        b = media_blobs.c
        async with self._db.writer.begin() as tx:
            done = await tx.execute(delete(media_blobs).where(b.hash == digest, b.refs <= 0))
        return bool(done.rowcount)

"""Broadcast jobs (``broadcasts``) and the pages of recipients they walk."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError

from tidings.domain.accounts import AccountState
from tidings.domain.clock import now_ms
from tidings.store.engine import Database
from tidings.store.schema import broadcasts, users


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    sdkappid: int
    sender: str
    client_msg_id: str
    elements: bytes
    cloud_custom_data: str
    state: str
    cursor: str
    sent: int
    skipped: int
    created_at: int
    finished_at: int | None


def _broadcast(row: Row[tuple[object, ...]]) -> Broadcast:
    m = row._mapping
    return Broadcast(m["id"], m["sdkappid"], m["sender"], m["client_msg_id"],
                     str(m["elements"]).encode(), m["cloud_custom_data"], m["state"],
                     m["cursor"], m["sent"], m["skipped"], m["created_at"], m["finished_at"])


class BroadcastStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, sdkappid: int, sender: str, client_msg_id: str,
                     elements: bytes, cloud_custom_data: str) -> tuple[Broadcast, bool]:
        """The new job, True; or the one made earlier with this client id, False."""
        try:
            async with self._db.writer.begin() as conn:
                await conn.execute(broadcasts.insert().values(
                    sdkappid=sdkappid, sender=sender, client_msg_id=client_msg_id,
                    elements=elements.decode(), cloud_custom_data=cloud_custom_data,
                    created_at=now_ms()))
            created = True
        except IntegrityError:
            created = False
        found = await self.find(sdkappid, client_msg_id=client_msg_id)
        assert found is not None
        return found, created

    async def find(self, sdkappid: int, *, broadcast_id: int | None = None,
                   client_msg_id: str | None = None) -> Broadcast | None:
        query = select(broadcasts).where(broadcasts.c.sdkappid == sdkappid)
        if broadcast_id is not None:
            query = query.where(broadcasts.c.id == broadcast_id)
        if client_msg_id is not None:
            query = query.where(broadcasts.c.client_msg_id == client_msg_id)
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _broadcast(row)

    async def recent(self, sdkappid: int, limit: int) -> list[Broadcast]:
        async with self._db.reader.connect() as conn:
            rows = await conn.execute(select(broadcasts).where(
                broadcasts.c.sdkappid == sdkappid).order_by(broadcasts.c.id.desc()).limit(limit))
            return [_broadcast(r) for r in rows]

    async def running(self) -> list[Broadcast]:
        async with self._db.reader.connect() as conn:
            rows = await conn.execute(select(broadcasts).where(
                broadcasts.c.state == "running").order_by(broadcasts.c.id))
            return [_broadcast(r) for r in rows]

    async def recipients_after(self, job: Broadcast, limit: int,
                               exclude: Collection[str]) -> list[str]:
        """The next page of accounts in user id order: not deleted, not the
        sender, none of ``exclude``."""
        async with self._db.reader.connect() as conn:
            rows = await conn.execute(select(users.c.user_id).where(
                users.c.sdkappid == job.sdkappid, users.c.user_id > job.cursor,
                users.c.user_id.notin_([job.sender, *exclude]),
                users.c.state != AccountState.DELETED.value,
            ).order_by(users.c.user_id).limit(limit))
            return list(rows.scalars())

    async def advance(self, job: Broadcast, cursor: str, sent: int, skipped: int,
                      state: str = "running") -> Broadcast | None:
        """Record a page done; ``state`` "done" or "failed" ends the job.
        None when the job is not where ``job`` says any more: another
        process of a cluster walks it (its own page counted), so this one
        stops."""
        changes: dict[str, object] = {"cursor": cursor, "sent": job.sent + sent,
                                      "skipped": job.skipped + skipped, "state": state}
        if state != "running":
            changes["finished_at"] = now_ms()
        b = broadcasts.c
        async with self._db.writer.begin() as conn:
            moved = (await conn.execute(update(broadcasts).where(
                b.id == job.id, b.cursor == job.cursor, b.sent == job.sent,
                b.state == "running").values(**changes))).rowcount
        if not moved:
            return None
        found = await self.find(job.sdkappid, broadcast_id=job.id)
        assert found is not None
        return found

"""Links between home accounts and app identities, and the link tickets
already used (docs/linked-identity.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.store.engine import Database
from tidings.store.schema import app_link_settings, link_tickets_used, links


@dataclass(frozen=True, slots=True)
class Link:
    sdkappid: int
    user_id: str
    home_user: str
    created_at: int


def _link(row: Any) -> Link:
    return Link(row.sdkappid, row.user_id, row.home_user, row.created_at)


@dataclass(frozen=True, slots=True)
class Linked:
    link: Link
    # The identity of the same app that this home account was linked to
    # before (it is unlinked by this link), if any.
    replaced: str | None
    # True when this identity was already linked to this home account.
    existed: bool


class LinkStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        return sqlite.insert(table) if self._db.dialect == "sqlite" else postgresql.insert(table)

    async def all(self) -> list[Link]:
        return [_link(r) for r in await self._db.rows(select(links))]

    async def get(self, sdkappid: int, user_id: str) -> Link | None:
        row = await self._db.first(select(links).where(
            links.c.sdkappid == sdkappid, links.c.user_id == user_id))
        return _link(row) if row is not None else None

    async def of_home(self, home_user: str) -> list[Link]:
        rows = await self._db.rows(select(links).where(links.c.home_user == home_user)
                                   .order_by(links.c.created_at, links.c.sdkappid))
        return [_link(r) for r in rows]

    async def ticket_used(self, sdkappid: int, sig: str) -> bool:
        row = await self._db.first(select(link_tickets_used.c.sig).where(
            link_tickets_used.c.sdkappid == sdkappid, link_tickets_used.c.sig == sig))
        return row is not None

    async def link(self, sdkappid: int, user_id: str, home_user: str, *, sig: str,
                   ticket_expires_at: int, now: int) -> Linked:
        """Use the ticket and make the link in one transaction: a refusal (a
        replay, an identity linked elsewhere) uses nothing and links nothing,
        and a crash leaves either both or neither."""
        t, lk = link_tickets_used.c, links.c
        async with self._db.writer.begin() as conn:
            await conn.execute(delete(link_tickets_used).where(t.expires_at < now // 1000))
            used = await conn.execute(self._insert(link_tickets_used).values(
                sdkappid=sdkappid, sig=sig, expires_at=ticket_expires_at,
            ).on_conflict_do_nothing())
            if used.rowcount != 1:
                raise TidingsError(ErrorCode.LINK_TICKET_USED,
                                   "this link ticket was used already; ask the app for a new link")
            owner = (await conn.execute(select(links).where(
                lk.sdkappid == sdkappid, lk.user_id == user_id))).first()
            if owner is not None:
                if owner.home_user != home_user:
                    raise TidingsError(ErrorCode.IDENTITY_LINKED_ELSEWHERE,
                                       "this app account is linked to another Tidings account; "
                                       "it must be unlinked there first")
                return Linked(_link(owner), None, True)
            before = (await conn.execute(select(lk.user_id).where(
                lk.home_user == home_user, lk.sdkappid == sdkappid))).scalar()
            if before is not None:
                await conn.execute(delete(links).where(lk.sdkappid == sdkappid,
                                                       lk.user_id == before))
            made = await conn.execute(self._insert(links).values(
                sdkappid=sdkappid, user_id=user_id, home_user=home_user, created_at=now,
            ).on_conflict_do_nothing())
            if made.rowcount != 1:
                # Another home account linked it a moment ago.
                raise TidingsError(ErrorCode.IDENTITY_LINKED_ELSEWHERE,
                                   "this app account is linked to another Tidings account")
        return Linked(Link(sdkappid, user_id, home_user, now), before, False)

    async def unlink(self, sdkappid: int, user_id: str | None = None,
                     home_user: str | None = None) -> Link | None:
        """Remove the link of an identity (the app's admin) or of a home
        account in one app (the person); returns what was removed."""
        lk = links.c
        where = [lk.sdkappid == sdkappid]
        if user_id is not None:
            where.append(lk.user_id == user_id)
        if home_user is not None:
            where.append(lk.home_user == home_user)
        async with self._db.writer.begin() as conn:
            row = (await conn.execute(select(links).where(*where))).first()
            if row is None:
                return None
            await conn.execute(delete(links).where(lk.sdkappid == row.sdkappid,
                                                   lk.user_id == row.user_id))
        return _link(row)

    # -- the app's link settings ------------------------------------------------------

    async def settings(self, sdkappid: int) -> tuple[bool, int] | None:
        """(profile callback on, its time to live in seconds), or None."""
        c = app_link_settings.c
        row = await self._db.first(select(c.profile_callback, c.profile_ttl).where(
            c.sdkappid == sdkappid))
        return (bool(row.profile_callback), int(row.profile_ttl)) if row is not None else None

    async def put_settings(self, sdkappid: int, profile_callback: bool, profile_ttl: int,
                           now: int) -> None:
        values = {"profile_callback": int(profile_callback), "profile_ttl": profile_ttl,
                  "updated_at": now}
        async with self._db.writer.begin() as conn:
            await conn.execute(self._insert(app_link_settings).values(
                sdkappid=sdkappid, **values).on_conflict_do_update(
                index_elements=["sdkappid"], set_=values))

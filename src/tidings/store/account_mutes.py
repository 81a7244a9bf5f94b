"""Global mutes of accounts: the ``account_mutes`` rows (revision 0017)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.account_mutes import AccountMute
from tidings.domain.clock import now_ms
from tidings.store.engine import Database
from tidings.store.schema import account_mutes

MuteKey = tuple[int, str]


class AccountMuteStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(self, sdkappid: int, user_id: str, c2c_until: int | None,
                  group_until: int | None) -> AccountMute:
        """Change one or both ends (None keeps the stored one); the mute as stored."""
        changes: dict[str, int] = {"updated_at": now_ms()}
        if c2c_until is not None:
            changes["c2c_until"] = c2c_until
        if group_until is not None:
            changes["group_until"] = group_until
        insert = (sqlite.insert(account_mutes) if self._db.dialect == "sqlite"
                  else postgresql.insert(account_mutes))
        async with self._db.writer.begin() as conn:
            await conn.execute(insert.values(sdkappid=sdkappid, user_id=user_id, **changes)
                               .on_conflict_do_update(index_elements=[account_mutes.c.sdkappid,
                                                                      account_mutes.c.user_id],
                                                      set_=changes))
            row = (await conn.execute(select(account_mutes.c.c2c_until,
                                             account_mutes.c.group_until).where(
                account_mutes.c.sdkappid == sdkappid,
                account_mutes.c.user_id == user_id))).one()
        return AccountMute(row.c2c_until, row.group_until)

    async def active(self, now: int) -> dict[MuteKey, AccountMute]:
        """Every mute not over at ``now`` (ms): few accounts are muted."""
        rows = await self._db.rows(select(account_mutes).where(or_(
            account_mutes.c.c2c_until > now, account_mutes.c.group_until > now)))
        return {(r.sdkappid, r.user_id): AccountMute(r.c2c_until, r.group_until) for r in rows}

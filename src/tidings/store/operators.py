"""Operators (the console's deployment-wide accounts) and their sessions."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tidings.domain.operators import OperatorSession
from tidings.store.engine import Database
from tidings.store.schema import operator_sessions, operators


class OperatorTaken(Exception):
    pass


class OperatorStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, name: str, password_hash: str, now: int) -> None:
        try:
            async with self._db.writer.begin() as conn:
                await conn.execute(insert(operators).values(
                    name=name, password_hash=password_hash, created_at=now, updated_at=now))
        except IntegrityError:
            raise OperatorTaken(name) from None

    async def set_password(self, name: str, password_hash: str, now: int) -> bool:
        """Also ends the operator's sessions; False when there is no such operator."""
        async with self._db.writer.begin() as conn:
            changed = await conn.execute(update(operators).where(operators.c.name == name)
                                         .values(password_hash=password_hash, updated_at=now))
            await conn.execute(delete(operator_sessions)
                               .where(operator_sessions.c.name == name))
        return int(changed.rowcount) == 1

    async def password_hash(self, name: str) -> str | None:
        found = await self._db.scalar(select(operators.c.password_hash)
                                      .where(operators.c.name == name))
        return None if found is None else str(found)

    async def names(self) -> list[tuple[str, int]]:
        rows = await self._db.rows(select(operators.c.name, operators.c.created_at)
                                   .order_by(operators.c.name))
        return [(r.name, int(r.created_at)) for r in rows]

    async def remove(self, name: str) -> bool:
        async with self._db.writer.begin() as conn:
            await conn.execute(delete(operator_sessions)
                               .where(operator_sessions.c.name == name))
            gone = await conn.execute(delete(operators).where(operators.c.name == name))
        return int(gone.rowcount) == 1

    # -- sessions ------------------------------------------------------------------

    async def add_session(self, token_hash: str, name: str, client_ip: str, now: int,
                          expires_at: int) -> None:
        async with self._db.writer.begin() as conn:
            await conn.execute(insert(operator_sessions).values(
                token_hash=token_hash, name=name, client_ip=client_ip[:64], created_at=now,
                expires_at=expires_at))

    async def session(self, token_hash: str, now: int) -> OperatorSession | None:
        row = await self._db.first(select(operator_sessions).where(
            operator_sessions.c.token_hash == token_hash, operator_sessions.c.expires_at > now))
        if row is None:
            return None
        return OperatorSession(row.name, int(row.created_at), int(row.expires_at))

    async def sessions(self, name: str, now: int) -> list[tuple[str, str, int, int]]:
        """An operator's live sessions, newest first: (token hash, client
        address, created at, expires at)."""
        s = operator_sessions.c
        rows = await self._db.rows(select(s.token_hash, s.client_ip, s.created_at, s.expires_at)
                                   .where(s.name == name, s.expires_at > now)
                                   .order_by(s.created_at.desc(), s.token_hash))
        return [(r.token_hash, r.client_ip, int(r.created_at), int(r.expires_at)) for r in rows]

    async def end_session(self, token_hash: str) -> bool:
        async with self._db.writer.begin() as conn:
            gone = await conn.execute(delete(operator_sessions)
                                      .where(operator_sessions.c.token_hash == token_hash))
        return int(gone.rowcount) == 1

    async def prune(self, now: int) -> int:
        async with self._db.writer.begin() as conn:
            gone = await conn.execute(delete(operator_sessions)
                                      .where(operator_sessions.c.expires_at <= now))
        return int(gone.rowcount)

"""The account rows a login writes (the account made at its first login,
the day's ``last_login_at``), written together: every such write asked
for while the previous group was being written goes in the next group,
one transaction and one commit for all (on SQLite on the batch thread,
beside the message writer's batches, in one hand-off).

Each caller still waits for its own group's commit: a login that made an
account answers only once that account is durable. Written one by one
through the async writer engine, a first login cost ~30 round trips to
aiosqlite's thread and two commits of its own, and logins queued behind
each other's commits (bench/login_storm.py, ``first``).

On PostgreSQL the group's statements are one each, whatever its size:
the accounts made with one INSERT and the day's ``last_login_at`` set with
one UPDATE over the group's arrays (``pg_batch.Tail``, which rewrites a
message batch's rows alike), the accounts' status read for all with one
select (``Prepared.rows_each``). The statuses were a select per login,
each a round trip on the writer's connection, whose lock the message
writer waits for meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select

from tidings.domain.accounts import AccountState, AccountStatus
from tidings.store.engine import Database
from tidings.store.prepared import Prepared
from tidings.store.schema import users
from tidings.store.writer.pg_batch import Tail

_STATUS = Prepared(select(users.c.state, users.c.sessions_valid_after).where(
    users.c.sdkappid == bindparam("sdkappid"), users.c.user_id == bindparam("user_id")))


@dataclass(slots=True)
class _Write:
    sdkappid: int
    user_id: str
    at_ms: int
    # True: make the account if missing and answer its status; False: set
    # its last_login_at.
    ensure: bool
    done: asyncio.Future[AccountStatus | None]


class AccountWrites:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._insert_sql = db.driver_sql(
            "INSERT INTO users (sdkappid, user_id, created_at, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
        self._touch_sql = db.driver_sql(
            "UPDATE users SET last_login_at = ? WHERE sdkappid = ? AND user_id = ?")
        self._pending: list[_Write] = []
        self._writing: asyncio.Task[None] | None = None

    async def ensure(self, sdkappid: int, user_id: str, at_ms: int) -> AccountStatus:
        """The account's status, made (active) if it did not exist."""
        status = await self._submit(_Write(sdkappid, user_id, at_ms, True,
                                           asyncio.get_running_loop().create_future()))
        assert status is not None
        return status

    async def touch_login(self, sdkappid: int, user_id: str, at_ms: int) -> None:
        await self._submit(_Write(sdkappid, user_id, at_ms, False,
                                  asyncio.get_running_loop().create_future()))

    async def _submit(self, write: _Write) -> AccountStatus | None:
        self._pending.append(write)
        if self._writing is None:
            # Starts on the loop's next turn: what else this turn asks for
            # joins the group.
            self._writing = asyncio.get_running_loop().create_task(self._drain())
        return await write.done

    async def _drain(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                try:
                    answers = await self._db.run_write(self._write, group)
                except Exception as exc:
                    for w in group:
                        if not w.done.done():
                            w.done.set_exception(exc)
                    continue
                except BaseException:
                    for w in group:
                        w.done.cancel()
                    raise
                for w, answer in zip(group, answers, strict=True):
                    if not w.done.done():  # its caller was cancelled
                        w.done.set_result(answer)
        finally:
            self._writing = None
            if self._pending:  # the loop is stopping: nobody will write these
                for w in self._pending:
                    w.done.cancel()
                self._pending = []

    def _write(self, conn: Connection, group: list[_Write]) -> list[AccountStatus | None]:
        """The group in one transaction (run by ``Database.run_write``),
        straight on the driver's cursor: each statement through SQLAlchemy's
        execution context costs more than the statement itself."""
        cursor: Any = conn.connection.cursor()
        try:
            # PostgreSQL: the group's inserts, and its touches, one statement
            # each over the group's arrays (pg_batch's rewrite, as a message
            # batch's rows; a user touched twice in a group is set in turn).
            out: Any = Tail(conn, cursor) if self._db.dialect == "postgresql" else cursor
            out.executemany(self._insert_sql, [(w.sdkappid, w.user_id, w.at_ms, w.at_ms)
                                               for w in group if w.ensure])
            out.executemany(self._touch_sql, [(w.at_ms, w.sdkappid, w.user_id)
                                              for w in group if not w.ensure])
            if isinstance(out, Tail):
                out.send()
            statuses = iter(_STATUS.rows_each(conn, [
                {"sdkappid": w.sdkappid, "user_id": w.user_id} for w in group if w.ensure]))
            answers: list[AccountStatus | None] = []
            for w in group:
                if not w.ensure:
                    answers.append(None)
                    continue
                (state, valid_after), = next(statuses)
                answers.append(AccountStatus(AccountState(state), int(valid_after)))
            return answers
        finally:
            with contextlib.suppress(Exception):
                cursor.close()

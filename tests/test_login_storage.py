"""A login's database work, in-process on SQLite and PostgreSQL: reads
asked for in one turn of the event loop share a hand-off (a thread's, or a
pooled connection's) and still each get their own answer (or their own
error) and see every earlier commit; the account writes of logins made
meanwhile share one transaction, each login getting its own account's
status."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, bindparam, select, text

from tidings.domain.accounts import AccountState, AccountStatus
from tidings.store.accounts import AccountStore
from tidings.store.engine import Database
from tidings.store.prepared import Prepared
from tidings.store.schema import users

APP = 1400000077


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[int]:
    """How many times ``owner.name`` is called from now on (a list of one)."""
    calls = [0]
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def last_login(user_id: str) -> Callable[[Connection], int]:
    return lambda conn: int(conn.execute(select(users.c.last_login_at).where(
        users.c.sdkappid == APP, users.c.user_id == user_id)).scalar_one())


async def test_reads_of_one_turn_share_a_hand_off_and_keep_their_own_answers(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    store = AccountStore(db)
    await asyncio.gather(*(store.ensure(APP, f"u{i}") for i in range(5)))
    assert db.reads is not None
    handoffs = count_calls(monkeypatch, db.reads, "_dispatch")

    def one(i: int) -> Callable[[Connection], Any]:
        def read(conn: Connection) -> Any:
            if i == 3:
                conn.execute(text("SELECT * FROM no_such_table"))
            return conn.execute(select(users.c.user_id).where(
                users.c.sdkappid == APP, users.c.user_id == f"u{i}")).scalar_one()
        return read

    answers = await asyncio.gather(*(db.read(one(i)) for i in range(5)),
                                   return_exceptions=True)
    # The failed one fails alone; those after it in the same transaction
    # still answer.
    assert [a for i, a in enumerate(answers) if i != 3] == ["u0", "u1", "u2", "u4"]
    assert isinstance(answers[3], Exception)
    assert handoffs == [1]


async def test_a_read_sees_what_was_committed_before_it_was_asked(db: Database) -> None:
    store = AccountStore(db)
    await store.ensure(APP, "ann")
    for at in (111, 222, 333):
        await store.touch_login(APP, "ann", at)
        # Each read asked after the commit, among others of the same turn.
        seen = await asyncio.gather(db.read(last_login("ann")), db.read(last_login("ann")))
        assert seen == [at, at]


async def test_logins_of_one_turn_write_their_accounts_in_one_transaction(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    store = AccountStore(db)
    await store.ensure(APP, "gone")
    async with db.writer.begin() as conn:
        await conn.execute(users.update().where(users.c.user_id == "gone").values(
            state=AccountState.DELETED.value, sessions_valid_after=42))
    # Database is frozen: count on the class.
    writes = [0]
    original = Database.run_write

    async def counted(self: Database, work: Any, *args: Any) -> Any:
        writes[0] += 1
        return await original(self, work, *args)

    monkeypatch.setattr(Database, "run_write", counted)
    names = [f"new{i}" for i in range(20)]
    statuses = await asyncio.gather(*(store.ensure(APP, u) for u in [*names, "gone"]))
    assert writes == [1]
    # A new account is active; a deleted one stays deleted, with its own fields.
    assert statuses[:-1] == [AccountStatus(AccountState.ACTIVE, 0)] * 20
    assert statuses[-1] == AccountStatus(AccountState.DELETED, 42)
    assert await store.existing(APP, [*names, "gone"]) == set(names)
    # Touches of one turn: one more transaction, each its own time.
    await asyncio.gather(*(store.touch_login(APP, u, 1000 + i) for i, u in enumerate(names)))
    assert writes == [2]
    assert [await db.read(last_login(u)) for u in names] == list(range(1000, 1020))
    # Both kinds in one group (on PostgreSQL one UPDATE for the touches, one
    # select for the statuses): each login its own answer.
    mixed = await asyncio.gather(store.touch_login(APP, "new0", 7), store.ensure(APP, "gone"),
                                 store.touch_login(APP, "new1", 8), store.ensure(APP, "new2"))
    assert writes == [3]
    assert mixed == [None, AccountStatus(AccountState.DELETED, 42), None,
                     AccountStatus(AccountState.ACTIVE, 0)]
    assert [await db.read(last_login(u)) for u in names[:3]] == [7, 8, 1002]


async def test_a_failed_group_fails_its_logins_and_the_next_group_writes(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    store = AccountStore(db)
    original = Database.run_write
    fail = [True]

    async def flaky(self: Database, work: Any, *args: Any) -> Any:
        if fail[0]:
            fail[0] = False
            raise RuntimeError("disk full")
        return await original(self, work, *args)

    monkeypatch.setattr(Database, "run_write", flaky)
    first = await asyncio.gather(store.ensure(APP, "a"), store.ensure(APP, "b"),
                                 return_exceptions=True)
    assert [str(e) for e in first] == ["disk full", "disk full"]
    assert await store.existing(APP, ["a", "b"]) == set()
    assert await store.ensure(APP, "a") == AccountStatus(AccountState.ACTIVE, 0)
    assert await store.existing(APP, ["a", "b"]) == {"a"}


async def test_a_prepared_select_answers_what_core_answers(db: Database) -> None:
    """On the driver's cursor, with the caller's parameters, the statement's
    own values (a state, a limit) and the columns' names as attributes."""
    store = AccountStore(db)
    await asyncio.gather(*(store.ensure(APP, u) for u in ("ann", "ben", "cat", "dan")))
    async with db.writer.begin() as conn:
        await conn.execute(users.update().where(users.c.user_id == "ben").values(
            state=AccountState.DISABLED.value))
    u = users.c
    prepared = Prepared(select(u.user_id, u.state).where(
        u.sdkappid == bindparam("app"), u.state == AccountState.ACTIVE.value,
        u.user_id > bindparam("after")).order_by(u.user_id).limit(2))
    params = {"app": APP, "after": "a"}
    got = await db.read(lambda conn: prepared.rows(conn, params))
    core = await db.read(lambda conn: conn.execute(prepared.statement, params).all())
    assert [(r.user_id, r.state) for r in got] == [tuple(r) for r in core] == [
        ("ann", "active"), ("cat", "active")]

"""Reads of one prepared select asked in the same turn (store/reads.py,
``Database.read_rows``): on PostgreSQL one statement for all their
parameter sets (``Prepared.rows_each``), on SQLite each alone; either way
each set gets what it gets alone (its rows, its order, its own LIMIT), and
a set that fails fails alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import bindparam, func, select, text

from tests.test_login_storage import count_calls
from tidings.domain.accounts import AccountState
from tidings.store.accounts import AccountStore
from tidings.store.engine import Database
from tidings.store.prepared import Prepared
from tidings.store.schema import users

APP, OTHER = 1400000079, 1400000080
u = users.c
# Two parameters, a value of the statement's own (the state) and a LIMIT.
NEWEST_TWO = Prepared(select(u.user_id, u.state).where(
    u.sdkappid == bindparam("app"), u.state == AccountState.ACTIVE.value,
    u.user_id > bindparam("after")).order_by(u.user_id.desc()).limit(2))
SETS: list[dict[str, Any]] = [
    {"app": APP, "after": "a"}, {"app": APP, "after": "cat"}, {"app": OTHER, "after": ""},
    {"app": APP, "after": "a"}, {"app": APP, "after": "zed"}, {"app": OTHER, "after": "eve"}]
WANTED = [["dan", "cat"], ["dan"], ["fay", "eve"], ["dan", "cat"], [], ["fay"]]

# A parameter read in a subquery (push's step reads have two such): on
# PostgreSQL it must read its own set's value, not every set's.
later = users.alias("later")
WITH_LATER = Prepared(select(
    u.user_id, select(func.count()).where(later.c.sdkappid == u.sdkappid,
                                          later.c.user_id > bindparam("after"),
                                          later.c.user_id > u.user_id)
    .scalar_subquery().label("later"),
    select(later.c.user_id).where(later.c.sdkappid == u.sdkappid,
                                  later.c.user_id == bindparam("after"))
    .scalar_subquery().label("named"))
    .where(u.sdkappid == bindparam("app")).order_by(u.user_id))


async def accounts(db: Database) -> None:
    store = AccountStore(db)
    await asyncio.gather(*(store.ensure(APP, x) for x in ("ann", "ben", "cat", "dan")),
                         *(store.ensure(OTHER, x) for x in ("eve", "fay")))
    async with db.writer.begin() as conn:
        await conn.execute(users.update().where(users.c.user_id == "ben").values(
            state=AccountState.DISABLED.value))


async def test_each_set_gets_what_it_gets_alone(db: Database) -> None:
    await accounts(db)
    each = await db.read(lambda conn: NEWEST_TWO.rows_each(conn, SETS))
    alone = [await db.read(lambda conn, s=s: NEWEST_TWO.rows(conn, s)) for s in SETS]
    assert [[r.user_id for r in rows] for rows in each] == WANTED
    assert [[tuple(r) for r in rows] for rows in each] == [[tuple(r) for r in rows]
                                                           for rows in alone]


async def test_a_parameter_in_a_subquery_is_its_own_sets(db: Database) -> None:
    await accounts(db)
    sets = [{"app": APP, "after": "ben"}, {"app": OTHER, "after": "eve"},
            {"app": APP, "after": "cat"}]
    each = await db.read(lambda conn: WITH_LATER.rows_each(conn, sets))
    alone = [await db.read(lambda conn, s=s: WITH_LATER.rows(conn, s)) for s in sets]
    assert [[tuple(r) for r in rows] for rows in each] == [
        [("ann", 2, "ben"), ("ben", 2, "ben"), ("cat", 1, "ben"), ("dan", 0, "ben")],
        [("eve", 1, "eve"), ("fay", 0, "eve")],
        [("ann", 1, "cat"), ("ben", 1, "cat"), ("cat", 1, "cat"), ("dan", 0, "cat")]]
    assert [[tuple(r) for r in rows] for rows in each] == [[tuple(r) for r in rows]
                                                           for rows in alone]


async def test_a_subquery_over_an_alias_of_the_enclosing_select(db: Database) -> None:
    """The enclosing select reads an alias (as the first sync's peer does):
    a subquery that reads it correlates to the alias, not to a second copy
    of its table (a cross join: every count the table's size)."""
    await accounts(db)
    peer = users.alias("peer")
    same_app_after = Prepared(select(
        peer.c.user_id, select(func.count()).select_from(users).where(
            users.c.sdkappid == peer.c.sdkappid, users.c.user_id > peer.c.user_id,
            users.c.user_id > bindparam("after")).scalar_subquery().label("later"))
        .where(peer.c.sdkappid == bindparam("app")).order_by(peer.c.user_id))
    sets = [{"app": APP, "after": "ben"}, {"app": OTHER, "after": ""}]
    each = await db.read(lambda conn: same_app_after.rows_each(conn, sets))
    alone = [await db.read(lambda conn, s=s: same_app_after.rows(conn, s)) for s in sets]
    assert [[tuple(r) for r in rows] for rows in each] == [
        [("ann", 2), ("ben", 2), ("cat", 1), ("dan", 0)], [("eve", 1), ("fay", 0)]]
    assert [[tuple(r) for r in rows] for rows in each] == [[tuple(r) for r in rows]
                                                           for rows in alone]


async def test_a_select_of_no_order_gets_each_sets_rows(db: Database) -> None:
    """A select with no ORDER BY (push's step reads): no order to keep
    within a set, each set still gets its own rows."""
    await accounts(db)
    any_order = Prepared(select(u.user_id).where(u.sdkappid == bindparam("app"),
                                                 u.user_id > bindparam("after")))
    sets = [{"app": APP, "after": "b"}, {"app": OTHER, "after": ""},
            {"app": APP, "after": "zed"}, {"app": APP, "after": "ann"}]
    each = await db.read(lambda conn: any_order.rows_each(conn, sets))
    assert [sorted(r.user_id for r in rows) for rows in each] == [
        ["ben", "cat", "dan"], ["eve", "fay"], [], ["ben", "cat", "dan"]]


async def test_reads_of_one_turn_are_one_statement_on_postgresql(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await accounts(db)
    prepared = Prepared(NEWEST_TWO.statement)
    together = count_calls(monkeypatch, prepared, "rows_each")
    alone = count_calls(monkeypatch, prepared, "rows")
    found = await asyncio.gather(*(db.read_rows(prepared, s) for s in SETS))
    assert [[r.user_id for r in rows] for rows in found] == WANTED
    postgres = db.dialect == "postgresql"
    assert (together[0], alone[0]) == ((1, 0) if postgres else (0, len(SETS)))


async def test_a_set_that_fails_fails_alone(db: Database) -> None:
    await accounts(db)
    bad = {"app": APP, "after": object()}  # no driver takes it
    found = await asyncio.gather(*(db.read_rows(NEWEST_TWO, s) for s in [*SETS[:3], bad]),
                                 return_exceptions=True)
    assert [[r.user_id for r in rows] for rows in found[:3]] == WANTED[:3]
    assert isinstance(found[3], Exception)


async def test_chunks_past_the_running_ones_wait_their_turn(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: at most ``ReadTasks.RUNNING`` chunks hold a connection;
    the rest wait for one to end, and every read is answered."""
    if db.dialect != "postgresql":
        pytest.skip("the limit is ReadTasks' (SQLite's reader threads are the limit there)")
    await accounts(db)
    reads: Any = db.reads
    monkeypatch.setattr(reads, "RUNNING", 1)
    most = [0]
    dispatch = reads._dispatch

    def counted(loop: Any, chunk: Any) -> None:
        dispatch(loop, chunk)
        most[0] = max(most[0], len(reads._running))

    monkeypatch.setattr(reads, "_dispatch", counted)
    sets = SETS * 17  # 102 reads: four chunks
    found = await asyncio.gather(*(db.read_rows(NEWEST_TWO, s) for s in sets))
    assert [[r.user_id for r in rows] for rows in found] == WANTED * 17
    assert most[0] == 1


async def test_the_gathered_reads_keep_generic_plans_on_postgresql(db: Database) -> None:
    """Their connections plan each statement once (engine.open_database)."""
    if db.dialect != "postgresql":
        pytest.skip("a PostgreSQL setting")
    mode = await db.read(lambda conn: conn.execute(text("SHOW plan_cache_mode")).scalar())
    assert mode == "force_generic_plan"
    async with db.reader.connect() as conn:  # the other reads keep the default
        assert (await conn.execute(text("SHOW plan_cache_mode"))).scalar() == "auto"


def test_no_statement_of_the_store_reads_its_sets_twice() -> None:
    """Every prepared select of the store, made for many parameter sets
    (PostgreSQL), reads the sets' ``unnest`` once: a subquery that named it
    again got every set's rows (push's step reads failed so, and fell back
    to a statement per job)."""
    import importlib
    import pkgutil

    from sqlalchemy.dialects import postgresql
    from sqlalchemy.exc import CompileError

    import tidings.store
    from tidings.store.prepared import _each

    found = 0
    for module in pkgutil.iter_modules(tidings.store.__path__, "tidings.store."):
        for prepared in vars(importlib.import_module(module.name)).values():
            if not isinstance(prepared, Prepared):
                continue
            stmt, names = _each(prepared.statement)
            try:
                sql = str(stmt.compile(dialect=postgresql.dialect()))
            except CompileError:  # a parameter of no type (a LIMIT): never many sets
                continue
            if names:
                found += 1
                assert sql.count("unnest(") == 1, sql
    assert found >= 8  # the push step's, the first sync's, sync's pages...

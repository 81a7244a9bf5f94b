"""A select compiled once per dialect and run straight on the driver's
cursor, for the reads every login makes (its first sync): through
SQLAlchemy's execution context (parameters, cursor, result metadata, row
objects) each statement cost more than SQLite took to run it, six or
seven times a login. The statement is written in Core like any other, so
its SQL is SQLAlchemy's for each dialect; the rows have the statement's
column names as attributes.

On PostgreSQL the statement goes to asyncpg itself, prepared once per
connection by asyncpg's statement cache: SQLAlchemy's adapter cursor paid
its mutex, its deque of rows and a status regex per statement, about a
fifth of a returning login's reads (bench/login_storm.py, py-spy). The
reads run in autocommit (engine.open_database), so no transaction is begun.
A failure runs the statement again through Core: on a dead connection (a
restart) Core meets it too and does what it does for any statement
(invalidates every connection of the pool opened before, and raises the
error a caller retries: tests/test_pg_restart.py); a statement's own error
is raised as Core raises it.

``rows_each`` answers several such reads at once (the same statement,
other parameters): on PostgreSQL as one statement, the parameter sets
unnested from one array per parameter and the statement run for each set
as a ``LATERAL`` subquery (its ORDER BY and LIMIT kept per set, its rows
numbered to keep that order). A chunk of logins' reads (store/reads.py)
is then one round trip per kind of read, not one per login and kind: on
PostgreSQL each round trip is a send, a wake-up of a backend and one of the
event loop (bench/pg_login_split.py). On SQLite, where a statement is a
call in the same thread, each set runs on its own."""

from __future__ import annotations

import logging
from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import util as sql_util
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.util import await_only

log = logging.getLogger("tidings.store.prepared")

# (SQL, each position's parameter: (caller's key, or None and the
# statement's own value)); None: run through Core.
Plan = tuple[str, list[tuple[str | None, Any]]] | None


def _plan(stmt: Select[Any], dialect: Dialect, arrays: frozenset[str] = frozenset()) -> Plan:
    compiled: Any = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    order = compiled.positiontup
    converted = set(compiled._bind_processors) - arrays  # a list goes to asyncpg as it is
    if order is None or converted or "POSTCOMPILE" in compiled.string:
        return None  # types that need converting, or a named paramstyle: Core does it
    binds = compiled.binds
    return compiled.string, [(name, None) if binds[name].required else
                             (None, binds[name].effective_value) for name in order]


def _each(stmt: Select[Any]) -> tuple[Select[Any], list[str]]:
    """The statement for many parameter sets (PostgreSQL): its columns, then
    the set's number (from 1), rows ordered by set and then as the statement
    orders them; and the parameters' names (``each_<name>`` is the array of
    ``<name>``)."""
    types: dict[str, Any] = {}
    for e in visitors.iterate(stmt):
        if isinstance(e, BindParameter) and e.required:
            types.setdefault(e.key, e.type)
    names = sorted(types)
    sets = func.unnest(*[bindparam(f"each_{n}", type_=ARRAY(types[n])) for n in names]
                       ).table_valued(*names, with_ordinality="set_n").render_derived()

    def each_set(e: Any) -> Any:  # a parameter becomes its set's column
        return sets.c[e.key] if isinstance(e, BindParameter) and e.key in types else None

    inner: Any = visitors.replacement_traverse(stmt, {}, each_set)  # type: ignore[call-overload]
    # A subquery of the statement (a scalar select) that reads a parameter
    # reads its set's column: it must correlate to the sets, two levels
    # up, where auto-correlation looks one level up only. Left alone, it
    # selected from the whole unnest again (more than one row: an error,
    # and push's step reads ran each set alone, a round trip per job).
    # Explicit correlation replaces the automatic one, so the enclosing
    # select's tables are named too, as auto-correlation would take them.
    # An alias of the enclosing select is named as the alias (a subquery
    # that names its table instead would select from it again: a cross join).
    outer = [sets, *(t for f in inner.get_final_froms()
                     for t in sql_util.find_tables(f, include_aliases=True))]

    def correlated(e: Any) -> Any:
        return e.correlate(*outer) if isinstance(e, Select) and e is not inner else None

    inner = visitors.replacement_traverse(inner, {}, correlated)  # type: ignore[call-overload]
    numbered = inner.add_columns(
        func.row_number().over(order_by=stmt._order_by_clauses).label("row_n")).lateral()
    cols = list(numbered.c)
    return (select(*cols[:-1], sets.c.set_n).select_from(sets.join(numbered, true()))
            .order_by(sets.c.set_n, cols[-1])), names


def driver_rows(conn: Connection, sql: str, args: Sequence[Any]) -> list[Any]:
    """``sql``'s rows as the driver's tuples (SQLite), on the read's
    connection and in its transaction (begun as Core would: the read's
    statements share one snapshot). Without SQLAlchemy's execution and rows:
    a 3,200-job push step's due read was ~13 ms of the reader thread's
    Python through ``exec_driver_sql``, where SQLite took ~2.5
    (bench/journal/perf-pushreads.md)."""
    if not conn.in_transaction():
        conn.begin()
    cursor: Any = conn.connection.cursor()
    try:
        cursor.execute(sql, args)
        return list(cursor.fetchall())
    finally:
        cursor.close()


class Prepared:
    def __init__(self, stmt: Select[Any]) -> None:
        self._stmt = stmt
        self._row: Any = namedtuple("Row", list(stmt.selected_columns.keys()),  # type: ignore[misc]
                                    rename=True)
        self._plans: dict[str, Plan] = {}  # by dialect name
        # rows_each on PostgreSQL: its plan and parameters' names, made at
        # its first use.
        self._each: tuple[Plan, list[str]] | None = None

    @property
    def statement(self) -> Select[Any]:
        return self._stmt

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> Sequence[Any]:
        name = conn.dialect.name
        if name not in self._plans:
            self._plans[name] = _plan(self._stmt, conn.dialect)
        plan = self._plans[name]
        if plan is None:
            return conn.execute(self._stmt, dict(params)).all()
        sql, positions = plan
        args = tuple(params[key] if key is not None else value for key, value in positions)
        if name == "postgresql":
            return self._pg_rows(conn, sql, args, params)
        make = self._row._make
        return [make(r) for r in driver_rows(conn, sql, args)]

    def _pg_rows(self, conn: Connection, sql: str, args: tuple[Any, ...],
                 params: Mapping[str, Any]) -> Sequence[Any]:
        driver: Any = conn.connection.driver_connection
        try:
            records = await_only(driver.fetch(sql, *args))
        except Exception:
            # Through Core again: a dead connection invalidates the pool as
            # any statement's would, and an error is raised as Core raises it.
            return conn.execute(self._stmt, dict(params)).all()
        make = self._row._make
        return [make(r) for r in records]

    def rows_each(self, conn: Connection, each: Sequence[Mapping[str, Any]]
                  ) -> list[Sequence[Any]]:
        """What ``rows`` answers for each parameter set, in their order. On
        PostgreSQL one statement, whose error is raised as asyncpg raises
        it (the caller runs each set alone then: ``rows`` goes through Core
        on an error)."""
        if conn.dialect.name != "postgresql" or len(each) < 2:
            return [self.rows(conn, params) for params in each]
        if self._each is None:
            stmt, names = _each(self._stmt)
            self._each = _plan(stmt, conn.dialect, frozenset(f"each_{n}" for n in names)), names
        plan, names = self._each
        if plan is None:
            return [self.rows(conn, params) for params in each]
        sql, positions = plan
        arrays = {f"each_{n}": [params[n] for params in each] for n in names}
        args = [arrays[key] if key is not None else value for key, value in positions]
        driver: Any = conn.connection.driver_connection
        records = await_only(driver.fetch(sql, *args))
        found: list[list[Any]] = [[] for _ in each]
        make, width = self._row._make, len(self._row._fields)
        for r in records:
            found[r[width] - 1].append(make(r[:width]))
        return list(found)


def each(prepared: Prepared, conn: Connection, sets: Sequence[Mapping[str, Any]]
         ) -> list[Sequence[Any]]:
    """``prepared``'s rows for each parameter set, for a read that runs it
    for many (a sync's pages, a push step's jobs or sends): on PostgreSQL
    one statement for all (``Prepared.rows_each``), each set alone if that
    fails (reads run in autocommit: nothing to roll back; ``rows`` goes
    through Core, which meets a dead connection as it does for any
    statement). On SQLite the sets run alone anyway: an error is the
    statement's own, raised."""
    if not sets:
        return []
    try:
        return prepared.rows_each(conn, sets)
    except Exception:
        if conn.dialect.name != "postgresql":
            raise
        log.warning("one statement for %d parameter sets failed; each alone", len(sets),
                    exc_info=True)
        return [prepared.rows(conn, params) for params in sets]

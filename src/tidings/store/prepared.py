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
is raised as Core raises it."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.util import await_only


class Prepared:
    def __init__(self, stmt: Select[Any]) -> None:
        self._stmt = stmt
        self._row: Any = namedtuple("Row", list(stmt.selected_columns.keys()),  # type: ignore[misc]
                                    rename=True)
        # dialect name -> (SQL, each position's parameter: (caller's key, or
        # None and the statement's own value)); None: run through Core.
        self._plans: dict[str, tuple[str, list[tuple[str | None, Any]]] | None] = {}

    @property
    def statement(self) -> Select[Any]:
        return self._stmt

    def _plan(self, dialect: Dialect) -> tuple[str, list[tuple[str | None, Any]]] | None:
        compiled: Any = self._stmt.compile(dialect=dialect,
                                           compile_kwargs={"render_postcompile": True})
        order = compiled.positiontup
        if order is None or compiled._bind_processors or "POSTCOMPILE" in compiled.string:
            return None  # types that need converting, or a named paramstyle: Core does it
        binds = compiled.binds
        return compiled.string, [(name, None) if binds[name].required else
                                 (None, binds[name].effective_value) for name in order]

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> Sequence[Any]:
        name = conn.dialect.name
        if name not in self._plans:
            self._plans[name] = self._plan(conn.dialect)
        plan = self._plans[name]
        if plan is None:
            return conn.execute(self._stmt, dict(params)).all()
        sql, positions = plan
        args = tuple(params[key] if key is not None else value for key, value in positions)
        if name == "postgresql":
            return self._pg_rows(conn, sql, args, params)
        if not conn.in_transaction():
            # As Core would: the read's statements share one snapshot.
            conn.begin()
        cursor: Any = conn.connection.cursor()
        try:
            cursor.execute(sql, args)
            make = self._row._make
            return [make(r) for r in cursor.fetchall()]
        finally:
            cursor.close()

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

"""store/schema.py (what the code queries) and the Alembic migrations (what
makes the tables) must describe the same database: a table, column or index
added to one and forgotten in the other fails here, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support import Server
from tidings.store.schema import (
    KEYS_BY_TRIGGER,
    POSTGRESQL_ABSENT,
    SQLITE_ABSENT,
    SQLITE_ONLY_COLUMNS,
    made_by_migrations_only,
    metadata,
)


def by_trigger(diff: Any, tables: frozenset[str] = KEYS_BY_TRIGGER) -> bool:
    """A key PostgreSQL keeps by triggers (migration 0026; on SQLite
    ``message_texts``', migration 0030): with ``sqlite_only`` and
    ``sqlite_absent``, the only differences allowed, each on its side."""
    return (isinstance(diff, tuple) and diff[0] == "add_fk"
            and diff[1].parent.name in tables
            and [c.name for c in diff[1].columns] == ["conversation_id"])


def sqlite_absent(diff: Any) -> bool:
    """A unique key SQLite has not (migration 0030: ``message_texts``'), or
    an index (0033: ``ix_messages_app_time``)."""
    return (isinstance(diff, tuple) and diff[0] in ("add_constraint", "add_index")
            and diff[1].name in SQLITE_ABSENT)


def postgresql_absent(diff: Any) -> bool:
    """An index PostgreSQL has not (0033: the texts' by app and time)."""
    return (isinstance(diff, tuple) and diff[0] == "add_index"
            and diff[1].name in POSTGRESQL_ABSENT)


def sqlite_only(diff: Any) -> bool:
    """A column only SQLite has (migration 0027: ``message_texts.id``)."""
    return (isinstance(diff, tuple) and diff[0] == "add_column"
            and (diff[2], diff[3].name) in SQLITE_ONLY_COLUMNS)


async def test_migrated_database_equals_schema(server: Server) -> None:
    url = server.database_url or (
        f"sqlite+aiosqlite:///{(server.data_dir / 'tidings.db').resolve()}")
    postgres = url.startswith("postgresql")

    def compare(conn: Any) -> list[Any]:
        # SQLite keeps no VARCHAR lengths worth comparing (it enforces none,
        # and 0003 widened a column only where the length is enforced).
        # Search's index is each database's own (made_by_migrations_only).
        context = MigrationContext.configure(conn, opts={
            "compare_type": postgres,
            "include_name": lambda name, _type, _parent: not made_by_migrations_only(name)})
        return list(compare_metadata(context, metadata))

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            diffs = await conn.run_sync(compare)
    finally:
        await engine.dispose()
    sqlite_own = frozenset({"message_texts"})
    assert [d for d in diffs if not (
        (postgres and (by_trigger(d) or sqlite_only(d) or postgresql_absent(d)))
        or (not postgres and (by_trigger(d, sqlite_own) or sqlite_absent(d))))] == []
    # PostgreSQL's own: each named difference is there (not merely allowed).
    assert sorted((d[2], d[3].name) for d in diffs if sqlite_only(d)) == (
        sorted(SQLITE_ONLY_COLUMNS) if postgres else [])
    assert sorted(d[1].name for d in diffs if sqlite_absent(d)) == (
        [] if postgres else sorted(SQLITE_ABSENT))
    assert sorted(d[1].name for d in diffs if postgresql_absent(d)) == (
        sorted(POSTGRESQL_ABSENT) if postgres else [])

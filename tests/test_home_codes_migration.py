"""Migration 0016 on a database that holds live sign-in codes: they keep
working (purpose sign_in), the purpose is part of the key, and going back
keeps the sign-in codes; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import database_url
from tests.pg import Cluster
from tidings.store.engine import MIGRATIONS

INSERT = ("INSERT INTO home_codes (channel, address, digest, tries_left, created_at,"
          " expires_at{extra}) VALUES ('email', 'ana@mail.test', :digest, 5, 1, 2{value})")


def _config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def upgrade(conn: Connection, revision: str) -> None:
    command.upgrade(_config(conn), revision)


def downgrade(conn: Connection, revision: str) -> None:
    command.downgrade(_config(conn), revision)


async def test_live_codes_survive_the_purpose_key(backend: str, pg_cluster: Cluster | None,
                                                  tmp_path: Path) -> None:
    url = (database_url(backend, pg_cluster, empty=True)
           or f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0015")
            await conn.execute(text(INSERT.format(extra="", value="")), {"digest": "a" * 64})
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "head")
            rows = (await conn.execute(text(
                "SELECT channel, address, digest, tries_left, purpose FROM home_codes"))).all()
            assert [tuple(r) for r in rows] == [("email", "ana@mail.test", "a" * 64, 5,
                                                 "sign_in")]
            # The same address holds a code of another purpose beside it...
            await conn.execute(text(INSERT.format(extra=", purpose", value=", 'reset'")),
                               {"digest": "b" * 64})
        # ...but not two of one purpose.
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text(INSERT.format(extra=", purpose", value=", 'reset'")),
                                   {"digest": "c" * 64})
        async with engine.begin() as conn:
            await conn.run_sync(downgrade, "0015")
            rows = (await conn.execute(text("SELECT digest FROM home_codes"))).all()
            assert [r[0] for r in rows] == ["a" * 64]
    finally:
        await engine.dispose()

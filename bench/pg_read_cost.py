"""What one small read costs on PostgreSQL through SQLAlchemy's asyncpg
dialect, as ``Database.read`` does it (an ``AsyncEngine.connect()`` and
``run_sync``), with the engine's settings and without the round trips they add.

bench/xmpp_compare.py found a returning login on PostgreSQL at ~10 ms of
server CPU against ~3.6 ms on SQLite; py-spy put ~45 % of it in asyncpg's
``Transaction.start`` and ``rollback``. The engine is made with
``pool_pre_ping=True``, whose ping on asyncpg is itself BEGIN, ``;``, ROLLBACK,
and every checkout then runs BEGIN, the query, and ROLLBACK on return: six
round trips for one SELECT. This measures the variants in one process, on a
PostgreSQL cluster of its own (bench/xmpp_servers.py), the bench and the
cluster both on CPU 0 (as the server and its PostgreSQL are in the comparison):

- ``engine``: ``pool_pre_ping=True`` (what ``open_database`` makes today);
- ``no_ping``: ``pool_pre_ping=False``;
- ``autocommit``: no ping and ``isolation_level="AUTOCOMMIT"`` (one round
  trip; a read of several statements would then see several snapshots).

    python bench/pg_read_cost.py --reads 2000

Prints one JSON line per variant: client CPU and the cluster's CPU per read (µs).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import uvloop
import xmpp_servers
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

VARIANTS: dict[str, dict[str, Any]] = {
    "engine": {"pool_pre_ping": True},
    "no_ping": {"pool_pre_ping": False},
    "autocommit": {"pool_pre_ping": False, "isolation_level": "AUTOCOMMIT"},
}


async def measure(url: str, options: dict[str, Any], reads: int,
                  pg: xmpp_servers.Postgres) -> dict[str, float]:
    engine = create_async_engine(url, pool_size=10, max_overflow=10, **options)
    query = text("select relname from pg_class where oid = :oid")

    async def one() -> None:
        async with engine.connect() as conn:
            await conn.run_sync(lambda c: c.execute(query, {"oid": 1259}).all())

    for _ in range(50):  # connect the pool, prepare the statement
        await one()
    c0, p0, t0 = time.process_time(), pg.cpu_seconds(), time.perf_counter()
    for _ in range(reads):
        await one()
    c1, p1, t1 = time.process_time(), pg.cpu_seconds(), time.perf_counter()
    await engine.dispose()
    return {"client_us_per_read": round(1e6 * (c1 - c0) / reads, 1),
            "postgres_us_per_read": round(1e6 * (p1 - p0) / reads, 1),
            "wall_us_per_read": round(1e6 * (t1 - t0) / reads, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="round-robin over the variants")
    args = parser.parse_args()
    with xmpp_servers.postgres() as pg:
        os.sched_setaffinity(0, {xmpp_servers.SERVER_CPU})
        for round_no in range(args.rounds):
            for name, options in VARIANTS.items():
                found = uvloop.run(measure(pg.url, options, args.reads, pg))
                print(json.dumps({"variant": name, "round": round_no, **found}), flush=True)


if __name__ == "__main__":
    main()

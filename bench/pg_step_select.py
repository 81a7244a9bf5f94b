"""PostgreSQL's execution time of the push worker's per-step select (each
job's message, conversation, sender's nickname and group name: one
statement for a step's 200 jobs, ``Prepared.rows_each``), per job.

A cluster of its own (``xmpp_servers.postgres()``, pinned to the server's
CPU), migrated by ``tidings app create``; 100 users, 50 conversations of
2,000 messages each; the statement as the ``tidings`` on ``PYTHONPATH``
builds it, run with ``EXPLAIN (ANALYZE, TIMING OFF)``: the median of ten
runs' execution time a round. Old against new: alternate the runs with
``PYTHONPATH`` at an extracted ``src/``::

    python bench/pg_step_select.py --rounds 4
    PYTHONPATH=/tmp/perf-pgsat3-old/src python bench/pg_step_select.py --rounds 4

Its table is analyzed and still: the plan a server's growing table gets
may differ (perf-pgsat3's select without its window was 0.78x here and
6-7x dearer in ``pg_saturation.py --push app``; check there too).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

import asyncpg
import orjson
import uvloop
import xmpp_servers
from chat_load import CLIENT_CPU
from sqlalchemy.dialects import postgresql

from tidings.store.prepared import _each, _plan
from tidings.store.push_reads import _JOB

APP = 1400000000
JOBS = 200


async def run(url: str, rounds: int) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(
            f"INSERT INTO users (sdkappid, user_id, nickname, created_at, updated_at)"
            f" SELECT {APP}, 'u' || i, 'n' || i, 0, 0 FROM generate_series(1, 100) i")
        await conn.execute(
            f"INSERT INTO conversations (id, sdkappid, kind, a, b, created_at)"
            f" SELECT i, {APP}, 'c2c', 'u' || i, 'u' || (i + 50), 0 FROM generate_series(1, 50) i")
        await conn.execute(
            f"INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id,"
            f" elements, created_at) SELECT c, s, {APP}, 'u' || c, c || '-' || s, '[]', 0"
            f" FROM generate_series(1, 50) c, generate_series(1, 2000) s")
        await conn.execute("ANALYZE")
        stmt, names = _each(_JOB.statement)
        plan = _plan(stmt, postgresql.asyncpg.dialect(), frozenset(f"each_{n}" for n in names))
        assert plan is not None
        sql, positions = plan
        sets = {"app": [APP] * JOBS, "conv": [1 + i % 50 for i in range(JOBS)],
                "seq": [1000 + i for i in range(JOBS)]}
        args = [sets[key[len("each_"):]] if key is not None else value
                for key, value in positions]
        for round_ in range(rounds):
            times = []
            for _ in range(10):
                out = await conn.fetch("EXPLAIN (ANALYZE, TIMING OFF) " + sql, *args)
                found = re.search(r"Execution Time: ([0-9.]+)", out[-1][0])
                assert found is not None
                times.append(float(found.group(1)))
            print(orjson.dumps({"round": round_, "window": "row_number()" in sql,
                                "exec_us_per_job": round(
                                    statistics.median(times) / JOBS * 1000, 1)}).decode(),
                  flush=True)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    os.sched_setaffinity(0, {CLIENT_CPU})
    with xmpp_servers.postgres() as pg:
        env = dict(os.environ, TIDINGS_DATABASE_URL=pg.url, TIDINGS_DATA_DIR=tempfile.mkdtemp())
        subprocess.run([sys.executable, "-m", "tidings", "app", "create", "--name", "Bench"],
                       env=env, check=True, capture_output=True, timeout=120)
        uvloop.run(run(pg.url, args.rounds))


if __name__ == "__main__":
    main()

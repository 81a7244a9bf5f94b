"""What each of ``messages``' b-trees costs a message that commits alone on
SQLite (issue 19): WAL frames written and synced, and the committing
thread's CPU (user and system: the b-tree inserts, the WAL's ``pwrite``s
and the ``fdatasync``), with the schema as migrated and with one index or
the other taken out.

Each variant is a fresh file with Tidings' schema (``migrate``), filled
with ``--fill`` messages between ``--users`` users in random one-to-one
conversations (so each b-tree has its depth and a lone commit's key lands
on a random leaf, as in real traffic), then ``--messages`` lone commits,
each ``BEGIN IMMEDIATE``, the message's INSERT, its conversation's and the
sender's read cursor's UPDATEs, ``COMMIT`` with ``synchronous=FULL``, on the
sqlite3 driver as the batch thread runs them. The variants run alternated,
``--rounds`` times.

    python bench/message_indexes.py --rounds 3

Prints one JSON line per round and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from tidings.store.engine import migrate, open_database

FRAME_HEADER = 24
INSERT = ("INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id,"
          " elements, cloud_custom_data, created_at, state, msg_no, imported, mentions)"
          " VALUES (?, ?, ?, ?, ?, ?, '', ?, 0, ?, 0, NULL)")
ADVANCE = ("UPDATE conversations SET last_seq = ?, last_time = ?, last_message_seq = ?,"
           " last_msg_no = ? WHERE id = ?")
READ = ("UPDATE conversation_members SET read_seq = ?, read_msg_no = ?"
        " WHERE conversation_id = ? AND user_id = ? AND read_seq < ?")
BODY = '[{"type":"text","text":"see you at the station at noon"}]'

# Each variant: the statements run on the migrated file before the fill.
_UQ = "CONSTRAINT uq_messages_client_id UNIQUE (sdkappid, sender, client_msg_id)"
VARIANTS: dict[str, list[str]] = {
    "as migrated": [],
    "without ix_messages_app_time": ["DROP INDEX IF EXISTS ix_messages_app_time"],
    "without uq_messages_client_id": ["-rebuild-without-uq"],
    "rowid and primary key only": ["DROP INDEX IF EXISTS ix_messages_app_time",
                                   "-rebuild-without-uq"],
    # Not possible as it stands (revision 0024's pointer is a rowid): what
    # the table's own b-tree being the primary key's would save.
    "WITHOUT ROWID (primary key as the table)": ["-rebuild-without-rowid"],
}


def _rebuild(conn: sqlite3.Connection, without_rowid: bool) -> None:
    """``messages`` made again without the client id's key, or as a
    WITHOUT ROWID table (its triggers on rowids left out)."""
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'messages'").fetchone()
    if without_rowid:
        sql += " WITHOUT ROWID"
    else:
        sql = sql.replace(_UQ + ", ", "").replace(", \n\t" + _UQ, "").replace(_UQ, "")
    triggers = [r[0] for r in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type IN ('trigger', 'index')"
        " AND tbl_name = 'messages' AND sql IS NOT NULL")
        if not (without_rowid and "rowid" in r[0])]
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("DROP TABLE messages")
    conn.execute(sql)
    for t in triggers:
        conn.execute(t)
    assert without_rowid or "uq_messages_client_id" not in conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'messages'").fetchone()[0]


def _template(tmp: Path) -> Path:
    path = tmp / "template.db"

    async def make() -> None:
        db = open_database(f"sqlite+aiosqlite:///{path}")
        await migrate(db)
        await db.dispose()

    asyncio.run(make())
    return path


def _fill(conn: sqlite3.Connection, users: int, fill: int, seed: int
          ) -> list[tuple[int, str, str]]:
    rng = random.Random(seed)
    conn.execute("BEGIN")
    pairs: dict[tuple[str, str], int] = {}
    seqs: dict[int, int] = {}
    for n in range(fill):
        a, b = sorted(rng.sample(range(users), 2))
        ua, ub = f"user-{a}", f"user-{b}"
        cid = pairs.get((ua, ub))
        if cid is None:
            cur = conn.execute(
                "INSERT INTO conversations (sdkappid, kind, a, b, last_seq, last_time,"
                " created_at) VALUES (1, 'c2c', ?, ?, 0, 0, 0) RETURNING id", (ua, ub))
            cid = pairs[(ua, ub)] = cur.fetchone()[0]
            conn.executemany("INSERT INTO conversation_members (conversation_id, user_id,"
                             " sdkappid, read_seq, joined_at) VALUES (?, ?, 1, 0, 0)",
                             [(cid, ua), (cid, ub)])
        seq = seqs[cid] = seqs.get(cid, 0) + 1
        sender = rng.choice((ua, ub))
        conn.execute(INSERT, (cid, seq, 1, sender, f"{rng.getrandbits(64):016x}", BODY, n, seq))
    conn.execute("COMMIT")
    return [(cid, a, b) for (a, b), cid in pairs.items()]


def run_variant(template: Path, tmp: Path, name: str, args: argparse.Namespace
                ) -> dict[str, float]:
    path = tmp / "v.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for step in VARIANTS[name]:
        if step.startswith("-rebuild"):
            _rebuild(conn, without_rowid=step == "-rebuild-without-rowid")
        else:
            conn.execute(step)
    convs = _fill(conn, args.users, args.fill, seed=7)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("PRAGMA synchronous=FULL")
    (page,) = conn.execute("PRAGMA page_size").fetchone()
    seqs = dict(conn.execute(
        "SELECT conversation_id, max(seq) FROM messages GROUP BY conversation_id").fetchall())
    rng = random.Random(11)
    cur = conn.cursor()
    wal0 = Path(f"{path}-wal").stat().st_size
    cpu0 = time.thread_time()
    for n in range(args.messages):
        cid, a, b = rng.choice(convs)
        sender = rng.choice((a, b))
        seq = seqs[cid] = seqs[cid] + 1
        at = args.fill + n
        cur.execute("BEGIN IMMEDIATE")
        cur.executemany(INSERT, [(cid, seq, 1, sender, f"{rng.getrandbits(64):016x}", BODY,
                                  at, seq)])
        cur.executemany(ADVANCE, [(seq, at, seq, seq, cid)])
        cur.executemany(READ, [(seq, seq, cid, sender, seq)])
        cur.execute("COMMIT")
    cpu = time.thread_time() - cpu0
    grown = Path(f"{path}-wal").stat().st_size - wal0
    conn.close()
    return {"frames": round(grown / (page + FRAME_HEADER) / args.messages, 2),
            "cpu_us": round(cpu / args.messages * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--fill", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    out: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        template = _template(tmp)
        for r in range(args.rounds):
            for name in (VARIANTS if r % 2 == 0 else reversed(list(VARIANTS))):
                out[name].append(run_variant(template, tmp, name, args))
            print(json.dumps({"round": r, **{k: v[-1] for k, v in out.items()}}), flush=True)
    print(json.dumps({"median": {name: {
        "frames": statistics.median(x["frames"] for x in runs),
        "cpu_us": statistics.median(x["cpu_us"] for x in runs)} for name, runs in out.items()}}))


if __name__ == "__main__":
    main()

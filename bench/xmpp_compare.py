"""Tidings side by side with ejabberd and Prosody (issue 19's table), in one run.

Starts every server at once, each pinned to CPU 0 (the load generator, this
process, on CPU 1): Tidings on SQLite, Tidings on PostgreSQL (its own cluster,
fsync on, on CPU 0 too), ejabberd and Prosody (bench/xmpp_servers.py: no
TLS on loopback, no offline storage, no archive). Then runs each load shape
against each server in turn, so that the machine's other load falls on all of
them alike:

- saturation: 50 pairs, every client keeps ``--window`` (16) messages unacked;
  also a bare WebSocket relay (bench/ws_ceiling.py, no storage) for the ceiling
  of a Python server;
- latency at ``--rate`` (500) msg/s, open loop: send -> peer p50 / p99, and the
  server's CPU;
- one in flight per client (``--window 1``);
- few senders: ``--few-pairs`` (8) pairs, 16 clients each sending its next
  message once the last is acked (issue 19's "16 SDK senders awaiting their
  acks"): the server's CPU per message when every batch is small;
- idle memory: ``--idle-users`` logged-in connections, server RSS delta each
  (first, in the first round only: see ``SHAPES``);
- login and first sync: ``--storm-users`` returning users, ``--in-flight`` at
  a time (Tidings: upgrade + ``login`` + ``sync`` with ``limit: 0``; XMPP:
  stream + SASL PLAIN + bind + roster get + presence).

The Tidings side is bench/chat_load.py's and bench/login_storm.py's own code
(their ``bench`` functions); the XMPP side is the same shapes over
bench/xmpp_client.py, with XEP-0198 acks for the sender. Prints every run's
JSON line to stderr (``--json PATH`` keeps them), then the table in Markdown,
each cell with its ratio to ejabberd's.

    python bench/xmpp_compare.py                      # the whole table, ~6 min
    python bench/xmpp_compare.py --servers ejabberd,tidings-sqlite --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import resource
import secrets
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import chat_load
import login_storm
import psutil  # type: ignore[import-untyped]
import uvloop
import ws_ceiling
import xmpp_servers
from chat_load import CLIENT_CPU, SERVER_CPU, Stats, busy_cpu, drain, open_loop, pct
from xmpp_client import DOMAIN, Conn, Stanza, open_conn

from tidings.store.search_index import USERMERGE, mergeable

SERVERS = ("tidings-sqlite", "tidings-postgresql", "ejabberd", "prosody")
MESSAGE = (b"<message to='%s' type='chat' id='m%d'><body>%d</body></message>"
           b"<r xmlns='urn:xmpp:sm:3'/>")


class PairConn(Conn):
    """One user sending to its peer, as chat_load's ``ChatClient`` does: the
    attributes ``open_loop`` and ``drain`` read (``pending``, ``acked``,
    ``received``, ``peer``, ``send_one``) mean the same here."""

    def __init__(self, stats: Stats, user: str, peer: str) -> None:
        super().__init__(user)
        self.stats = stats
        self.peer_jid = f"{peer}@{DOMAIN}/r".encode()
        self.peer: PairConn | None = None
        self.window = 0
        self.sent = 0  # stanzas since <enable/>: our messages (h counts them)
        self.pending: collections.deque[tuple[int, int]] = collections.deque()
        self.acked = 0
        self.received = 0
        self.last_peer_ts = 0

    def send_one(self) -> int:
        self.sent += 1
        now = time.perf_counter_ns()
        self.pending.append((self.sent, now))
        self.stats.sent += 1
        self.send(MESSAGE % (self.peer_jid, self.sent, now))
        return now

    def fill_window(self) -> None:
        while len(self.pending) < self.window:
            self.send_one()

    def on_ack(self, h: int) -> None:
        s = self.stats
        at = time.perf_counter_ns()
        while self.pending and self.pending[0][0] <= h:
            _, sent = self.pending.popleft()
            self.acked += 1
            s.acked += 1
            if s.measuring:
                s.ack_latencies.append(at - sent)
        if s.sending and self.window:
            self.fill_window()

    def on_message(self, m: Stanza) -> None:
        s = self.stats
        if m.body is None or m.attrs.get("type") == "error":
            s.error(f"{self.user}: {m.attrs} {m.children}")
            return
        sent = int(m.body)
        if sent <= self.last_peer_ts:
            s.out_of_order += 1
        self.last_peer_ts = sent
        self.received += 1
        s.delivered += 1
        if s.measuring:
            s.latencies.append(time.perf_counter_ns() - sent)


async def gathered(count: int, in_flight: int, one: Callable[[int], Awaitable[Any]]) -> list[Any]:
    gate = asyncio.Semaphore(in_flight)

    async def gated(i: int) -> Any:
        async with gate:
            return await one(i)

    return list(await asyncio.gather(*(gated(i) for i in range(count))))


async def register(port: int, users: list[str], contacts: dict[str, str]) -> None:
    async def one(i: int) -> None:
        conn = await open_conn(port, lambda: Conn(users[i]))
        await conn.register(contacts.get(users[i], ""))
        conn.close()

    await gathered(len(users), 16, one)


def cpu(process: Any) -> float:
    return float(sum(process.cpu_times()[:2]))


async def xmpp_load(server: xmpp_servers.Running, args: argparse.Namespace, mode: str,
                    window: int) -> dict[str, Any]:
    """One load shape against an XMPP server: chat_load.bench's measurement."""
    stats = Stats()
    process = psutil.Process(server.pid)
    run = secrets.token_hex(3)
    users = [f"p{run}_{i}" for i in range(2 * args.pairs)]
    await register(server.port, users, {})

    async def one(i: int) -> PairConn:
        conn = await open_conn(server.port, lambda: PairConn(stats, users[i], users[i ^ 1]))
        await conn.login(stream_management=True)
        return conn

    clients: list[PairConn] = await gathered(len(users), 16, one)
    for i, client in enumerate(clients):
        client.peer = clients[i ^ 1]
    await asyncio.sleep(0.2)
    stats.sending = True
    sender = None
    if mode == "throughput":
        for client in clients:
            client.window = window
            client.fill_window()
    else:
        until = time.perf_counter() + args.warmup + args.duration
        sender = asyncio.create_task(open_loop(clients, args.rate, stats, until))  # type: ignore[arg-type]
    await asyncio.sleep(args.warmup)
    s0, c0, b0 = cpu(process), time.process_time(), busy_cpu()
    a0, d0, n0, t0 = stats.acked, stats.delivered, stats.sent, time.perf_counter()
    stats.measuring = True
    await asyncio.sleep(args.duration)
    stats.measuring = False
    a1, d1, n1, t1 = stats.acked, stats.delivered, stats.sent, time.perf_counter()
    s1, c1, b1 = cpu(process), time.process_time(), busy_cpu()
    stats.sending = False
    if sender is not None:
        await sender
    await drain(clients, args.drain_timeout)  # type: ignore[arg-type]
    unacked = sum(len(c.pending) for c in clients)
    lost = sum(max(0, c.acked - c.peer.received) for c in clients if c.peer is not None)
    for client in clients:
        client.close()
    elapsed, s_cpu, c_cpu = t1 - t0, s1 - s0, c1 - c0
    return {
        "mode": mode, "pairs": args.pairs,
        **({"window": window} if mode == "throughput" else {"rate": args.rate}),
        "sent_per_s": round((n1 - n0) / elapsed), "acked_per_s": round((a1 - a0) / elapsed),
        "delivered_per_s": round((d1 - d0) / elapsed),
        "latency_ms": {f"p{q}": pct(stats.latencies, q) for q in (50, 99)},
        "ack_latency_ms": {f"p{q}": pct(stats.ack_latencies, q) for q in (50, 99)},
        "server_cpu_pct": round(100 * s_cpu / elapsed, 1),
        "server_us_per_msg": round(1e6 * s_cpu / max(a1 - a0, 1), 1),
        "client_cpu_pct": round(100 * c_cpu / elapsed, 1),
        "other_cpu_pct": round(100 * ((b1 - b0) - s_cpu - c_cpu) / elapsed, 1),
        "errors": stats.errors, "first_error": stats.first_error,
        "out_of_order": stats.out_of_order, "lost": lost, "unacked": unacked,
        "ok": not (stats.errors or stats.out_of_order or lost or unacked),
    }


async def xmpp_storm(server: xmpp_servers.Running, args: argparse.Namespace) -> dict[str, Any]:
    """Returning users log in (roster get, presence) and leave; the first
    ``--seeded`` have one roster contact, as login_storm seeds one conversation."""
    process = psutil.Process(server.pid)
    run = secrets.token_hex(3)
    users = [f"s{run}_{i}" for i in range(args.storm_users)]
    seeded = users[: args.seeded]
    await register(server.port, users, {u: seeded[(i + 1) % len(seeded)]
                                        for i, u in enumerate(seeded)})
    failures: list[str] = []

    async def one(i: int) -> None:
        try:
            conn = await open_conn(server.port, lambda: Conn(users[i]))
            await conn.login()
            conn.close()
        except Exception as exc:  # a refusal is a figure, not a crash
            failures.append(f"{users[i]}: {exc!r}")

    s0, t0, b0 = cpu(process), time.perf_counter(), busy_cpu()
    await gathered(len(users), args.in_flight, one)
    wall, s_cpu = time.perf_counter() - t0, cpu(process) - s0
    done = len(users) - len(failures)
    return {"logins": done, "failures": len(failures), "first_failure": failures[:1],
            "per_s": round(done / wall, 1),
            "server_cpu_ms_per_login": round(s_cpu * 1000 / max(done, 1), 3),
            "other_cpu_pct": round(100 * ((busy_cpu() - b0) - s_cpu) / wall, 1),
            "ok": not failures}


async def xmpp_idle(server: xmpp_servers.Running, args: argparse.Namespace) -> dict[str, Any]:
    process = psutil.Process(server.pid)
    run = secrets.token_hex(3)
    users = [f"i{run}_{i}" for i in range(args.idle_users)]
    await register(server.port, users, {})
    await asyncio.sleep(1)
    before = int(process.memory_info().rss)

    conns: list[Conn] = []
    failures: list[str] = []

    async def one(i: int) -> None:
        try:
            conn = await open_conn(server.port, lambda: Conn(users[i]))
            await conn.login()
            conns.append(conn)
        except Exception as exc:  # counted: the RSS is divided by the ones that stayed
            failures.append(f"{users[i]}: {exc!r}")

    await gathered(len(users), args.in_flight, one)
    await asyncio.sleep(3)  # as login_storm's idle: let the server settle
    after = int(process.memory_info().rss)
    for conn in conns:
        conn.close()
    return {"connections": len(conns), "failures": len(failures), "first_failure": failures[:1],
            "rss_before_mib": round(before / 2**20, 1), "rss_after_mib": round(after / 2**20, 1),
            "kib_per_connection": round((after - before) / 1024 / max(len(conns), 1), 2),
            "ok": len(conns) == args.idle_users}


# --------------------------------------------------------------------------- the run


def tidings_args(args: argparse.Namespace, database_url: str = "") -> argparse.Namespace:
    """What chat_load's ``own_server`` and ``bench`` and login_storm's read."""
    return argparse.Namespace(
        database_url=database_url, push="on", callback="none",
        # The Tidings servers' search index (issue 19: its own row).
        server_env=login_storm.CROWD | {"TIDINGS_SEARCH_INDEX": args.search_index},
        show_server_log=False, profile=None, pairs=args.pairs, rate=args.rate,
        duration=args.duration, warmup=args.warmup, drain_timeout=args.drain_timeout,
        in_flight=args.in_flight, conversations=1, seeded=args.seeded, text=args.text)


# The shapes of chat_load's throughput mode: (pairs, window) from the args.
LOADS: dict[str, Callable[[argparse.Namespace], tuple[int, int]]] = {
    "saturation": lambda a: (a.pairs, a.window),
    "one_in_flight": lambda a: (a.pairs, 1),
    "few_senders": lambda a: (a.few_pairs, 1),
}


# --------------------------------------------------------------------------- later work

# How long the work a saturation run leaves behind may take to be done (s),
# and the server's CPU under which it counts as done (% of a core, over
# ``QUIET_S``): SQLite's search step and merges (store/search_index.py).
LATER_TIMEOUT = 90.0
QUIET_PCT = 3.0
QUIET_S = 0.5


def later_left(target: Any, feed: bool = True) -> tuple[int, bool] | None:
    """What SQLite's search step has left on our own server: about how many
    rows wait (messages past ``built_to``, text rows above the watermark) and
    whether FTS5's structure record says a merge is due; None for another
    database or a server not ours. ``feed`` False (``--search-index none``):
    the steps leave the text rows above the watermark, and FTS5, alone."""
    if getattr(target, "database", "") != "sqlite" or not getattr(target, "data_dir", ""):
        return None
    path = Path(target.data_dir) / "tidings.db"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        (rows,) = conn.execute(
            "SELECT max(coalesce((SELECT max(rowid) FROM messages), 0)"
            " - (SELECT built_to FROM message_texts_fts_built),"
            " coalesce((SELECT max(id) FROM message_texts), 0)"
            " - (SELECT indexed_to FROM message_texts_fts_indexed))" if feed else
            "SELECT coalesce((SELECT max(rowid) FROM messages), 0)"
            " - (SELECT built_to FROM message_texts_fts_built)").fetchone()
        record = conn.execute(
            "SELECT block FROM message_texts_fts_data WHERE id = 10").fetchone()
    finally:
        conn.close()
    return max(0, int(rows)), feed and record is not None and mergeable(bytes(record[0]),
                                                                        USERMERGE)


def server_cpu(target: Any) -> float:
    return float(sum(psutil.Process(target.pid).cpu_times()[:2]))


async def work_off(target: Any, feed: bool = True) -> dict[str, Any] | None:
    """The later work left now, and the server's CPU (s, since it started)
    once it is done: the rows caught up and the server quiet (under
    ``QUIET_PCT`` for ``QUIET_S``; that last quiet stretch is not counted).
    None when not ours on SQLite."""
    first = later_left(target, feed)
    if first is None:
        return None
    t0 = time.perf_counter()
    done = False
    while time.perf_counter() - t0 < LATER_TIMEOUT:
        before, at = server_cpu(target), time.perf_counter()
        await asyncio.sleep(QUIET_S)
        used = server_cpu(target) - before
        left = later_left(target, feed)
        assert left is not None
        if not left[0] and used / (time.perf_counter() - at) * 100 < QUIET_PCT:
            done = True
            break
    return {"rows": first[0], "merge_due": first[1], "done": done, "cpu_end": before}


async def run_shape(shape: str, target: Any, args: argparse.Namespace,
                    ) -> dict[str, Any]:
    feed = args.search_index == "trigram"
    if shape == "saturation" and later_left(target, feed) is not None:
        await work_off(target, feed)  # what earlier shapes left is not this one's
        mark: dict[str, Any] = {}

        def at_window_end() -> None:
            mark["left"], mark["cpu"] = later_left(target, feed), server_cpu(target)

        found = await run_load(shape, target, args, at_window_end)
        done = await work_off(target, feed)
        assert done is not None
        # The server's CPU from the window's end until the later work is
        # done (the drain of the messages in flight, at most 2 x pairs x
        # window, and the clients' closes too: ~0.2 us a message of the
        # window), over the messages of warm-up and window: roughly the CPU
        # a message leaves to after the window.
        sent = found["acked_per_s"] * (args.warmup + args.duration)
        cpu_ms = 1e3 * (done["cpu_end"] - mark["cpu"])
        found["later"] = {"rows_at_window_end": mark["left"][0],
                          "merge_due_at_window_end": mark["left"][1],
                          "rows_after_drain": done["rows"], "done": done["done"],
                          "cpu_ms": round(cpu_ms, 1),
                          "us_per_msg": round(1e3 * cpu_ms / max(sent, 1), 1)}
        found["sustained_us_per_msg"] = round(
            found["server_us_per_msg"] + found["later"]["us_per_msg"], 1)
        return found
    return await run_load(shape, target, args)


async def run_load(shape: str, target: Any, args: argparse.Namespace,
                   at_window_end: Callable[[], None] | None = None) -> dict[str, Any]:
    load = LOADS.get(shape)
    if isinstance(target, xmpp_servers.Running):
        if load is not None:
            pairs, window = load(args)
            return await xmpp_load(target, argparse.Namespace(**{**vars(args), "pairs": pairs}),
                                   "throughput", window)
        if shape == "latency":
            return await xmpp_load(target, args, "latency", 0)
        if shape == "logins":
            return await xmpp_storm(target, args)
        return await xmpp_idle(target, args)
    t_args = tidings_args(args)
    t_args.at_window_end = at_window_end
    if load is not None:
        t_args.mode = "throughput"
        t_args.pairs, t_args.window = load(args)
        return await chat_load.bench(target, t_args)
    if shape == "latency":
        t_args.mode = "latency"
        return await chat_load.bench(target, t_args)
    t_args.mode = "storm" if shape == "logins" else "idle"
    t_args.users = args.storm_users if shape == "logins" else args.idle_users
    result = await login_storm.bench(target, t_args)
    if shape == "logins":  # the returning users' round is the one XMPP's compares with
        result = {**result["again"], "first_login": result["first"]}
    return result


# Idle memory first and in the first round only: a process that has held
# connections before reuses their freed memory for the next ones (later
# rounds measured Prosody at 1.5 KiB and Tidings at 0.03 KiB a connection).
SHAPES = ("idle", "saturation", "latency", "one_in_flight", "few_senders", "logins")


def relay(args: argparse.Namespace) -> dict[str, Any]:
    """ws_ceiling's picows relay (its own server and client processes, pinned
    as ours are), at the same window."""
    relay_args = argparse.Namespace(pairs=args.pairs, window=args.window, warmup=args.warmup,
                                    duration=args.duration)
    return ws_ceiling.bench_stack(ws_ceiling.STACKS[args.relay], relay_args)


async def run_all(targets: dict[str, Any], args: argparse.Namespace,
                  out: Callable[[dict[str, Any]], None]) -> dict[str, dict[str, list[Any]]]:
    """Every shape against every server, ``--repeat`` rounds, round-robin so
    that the machine's other load falls on all of them alike."""
    results: dict[str, dict[str, list[Any]]] = {name: {} for name in targets}
    if args.relay:
        results["relay"] = {}
    for round_no in range(args.repeat):
        for shape in args.shapes:
            if shape == "idle" and round_no:
                continue
            if shape == "saturation" and args.relay:
                found = relay(args)
                results["relay"].setdefault(shape, []).append(found)
                out({"server": f"relay ({args.relay})", "shape": shape, "round": round_no,
                     **found})
            for name, target in targets.items():
                pg = args.postgres if name == "tidings-postgresql" else None
                pg_cpu = pg.cpu_seconds() if pg is not None else 0.0
                found = await run_shape(shape, target, args)
                if pg is not None and shape in ("saturation", "latency", "one_in_flight",
                                                "few_senders"):
                    # The cluster's CPU over the whole shape (warm-up and drain
                    # too) per message sent in it, roughly: it shares CPU 0.
                    sent = found["acked_per_s"] * (args.warmup + args.duration)
                    found["postgres_us_per_msg"] = round(
                        1e6 * (pg.cpu_seconds() - pg_cpu) / max(sent, 1), 1)
                results[name].setdefault(shape, []).append(found)
                out({"server": name, "shape": shape, "round": round_no, **found})
    return results


# --------------------------------------------------------------------------- the table

# (row label, shape, how to read the figure from a result, unit); a cell is
# the median over the rounds.
ROWS: tuple[tuple[str, str, Callable[[dict[str, Any]], float | None], str], ...] = (
    ("saturation, delivered msg/s", "saturation", lambda r: r.get("delivered_per_s")
     or r.get("msgs_per_s"), ""),
    ("server CPU per message at saturation", "saturation",
     lambda r: r["server_us_per_msg"], " µs"),
    ("the same with the later work it leaves (SQLite's search index)", "saturation",
     lambda r: r.get("sustained_us_per_msg"), " µs"),
    ("server CPU % at saturation (100 = the core)", "saturation",
     lambda r: r["server_cpu_pct"], ""),
    ("latency p50 at {rate} msg/s", "latency", lambda r: r["latency_ms"]["p50"], " ms"),
    ("latency p99 at {rate} msg/s", "latency", lambda r: r["latency_ms"]["p99"], " ms"),
    ("server CPU % at {rate} msg/s", "latency", lambda r: r["server_cpu_pct"], ""),
    ("server CPU per message at {rate} msg/s", "latency",
     lambda r: r["server_us_per_msg"], " µs"),
    ("one in flight per client, delivered msg/s", "one_in_flight",
     lambda r: r["delivered_per_s"], ""),
    ("server CPU per message, one in flight", "one_in_flight",
     lambda r: r["server_us_per_msg"], " µs"),
    ("{senders} senders, one in flight each, delivered msg/s", "few_senders",
     lambda r: r["delivered_per_s"], ""),
    ("server CPU per message, {senders} senders one in flight", "few_senders",
     lambda r: r["server_us_per_msg"], " µs"),
    ("PostgreSQL's CPU per message (sat. / {rate} / one / {senders})", "postgres",
     lambda r: None, ""),
    ("memory per idle connection", "idle",
     lambda r: r.get("idle", r)["kib_per_connection"], " KiB"),
    ("login and first sync (returning users), per s", "logins", lambda r: r["per_s"], ""),
    ("server CPU per login", "logins", lambda r: r["server_cpu_ms_per_login"], " ms"),
    ("first login ever (Tidings creates the account), per s", "logins",
     lambda r: r["first_login"]["per_s"], ""),
    ("other_cpu_pct (of 200), saturation / {rate} msg/s", "other", lambda r: None, ""),
)


def figure(results: list[dict[str, Any]] | None,
           read: Callable[[dict[str, Any]], float | None]) -> float | None:
    """The median of the rounds' figures."""
    values = []
    for result in results or []:
        with contextlib.suppress(KeyError, TypeError):
            value = read(result)
            if value is not None:
                values.append(float(value))
    return statistics.median(values) if values else None


def number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def joined(runs: dict[str, list[Any]], field: str) -> str:
    """One figure of several shapes in one cell (medians, '-' where absent)."""
    shapes = ("saturation", "latency") if field == "other_cpu_pct" else (
        "saturation", "latency", "one_in_flight", "few_senders")
    values = [figure(runs.get(shape), lambda r: r[field]) for shape in shapes]
    if all(v is None for v in values):
        return ""
    return " / ".join("-" if v is None else number(v) for v in values)


def table(results: dict[str, dict[str, list[Any]]], args: argparse.Namespace) -> str:
    columns = [c for c in (*SERVERS, "relay") if c in results]
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for label, shape, read, unit in ROWS:
        base = figure(results.get("ejabberd", {}).get(shape), read)
        cells = []
        for column in columns:
            if shape in ("postgres", "other"):
                cells.append(joined(results[column], "postgres_us_per_msg" if shape == "postgres"
                                    else "other_cpu_pct"))
                continue
            value = figure(results[column].get(shape), read)
            ratio = (f" ({value / base:.2f}x)" if value is not None and base
                     and column != "ejabberd" else "")
            cells.append("" if value is None else f"{number(value)}{unit}{ratio}")
        if any(cells):  # a shape not run leaves no empty row
            named = label.format(rate=f"{args.rate:,.0f}", senders=2 * args.few_pairs)
            lines.append(f"| {named} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def start(name: str, args: argparse.Namespace, stack: contextlib.ExitStack) -> Any:
    if name == "ejabberd":
        return stack.enter_context(xmpp_servers.ejabberd())
    if name == "prosody":
        return stack.enter_context(xmpp_servers.prosody())
    url = ""
    if name == "tidings-postgresql":
        if not args.database_url:
            args.postgres = stack.enter_context(
                xmpp_servers.postgres(prewarm_wal_mb=args.pg_prewarm_wal))
        url = args.database_url or args.postgres.url
    return stack.enter_context(chat_load.own_server(tidings_args(args, url)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--relay", default="picows", choices=["", *ws_ceiling.STACKS],
                        help="bench/ws_ceiling.py's stack for the relay column ('' for none)")
    parser.add_argument("--search-index", choices=["trigram", "none"], default="trigram",
                        help="the Tidings servers' search_index setting")
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--window", type=int, default=16, help="saturation: unacked per client")
    parser.add_argument("--few-pairs", type=int, default=8,
                        help="few_senders: pairs (both clients send, one in flight each)")
    parser.add_argument("--rate", type=float, default=500.0, help="latency: msgs/s in total")
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--drain-timeout", type=float, default=5.0)
    parser.add_argument("--idle-users", type=int, default=1000)
    parser.add_argument("--storm-users", type=int, default=500)
    parser.add_argument("--seeded", type=int, default=200,
                        help="storm users with one conversation (XMPP: one roster contact)")
    parser.add_argument("--in-flight", type=int, default=100, help="logins at once")
    parser.add_argument("--database-url", default="",
                        help="PostgreSQL for Tidings (default: the bench starts its own)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds over every shape and server; the table gives medians")
    # The table's load since session 15: a different text each message (the
    # search index's real work) and the SDKs' rising ids; "same"/"counter" is
    # every earlier table's load, the control.
    parser.add_argument("--text", choices=["same", "varied"], default="varied",
                        help="Tidings' messages' text (bench/chat_load.py's --text)")
    parser.add_argument("--json", metavar="PATH", help="also write every run's JSON line here")
    parser.add_argument("--ids", choices=["counter", "uuid", "time"], default="time",
                        help="Tidings' client_msg_ids (chat_load.ID_SHAPE)")
    parser.add_argument("--pg-prewarm-wal", type=int, default=1000, metavar="MB",
                        help="WAL written and recycled on the bench's own PostgreSQL before"
                             " its runs, as a cluster running for a while has (0: a fresh one)")
    args = parser.parse_args()
    chat_load.ID_SHAPE = args.ids
    args.postgres = None
    args.shapes = [s for s in args.shapes.split(",") if s]
    names = [s for s in args.servers.split(",") if s]
    if unknown := set(names) - set(SERVERS) | set(args.shapes) - set(SHAPES):
        parser.error(f"unknown: {sorted(unknown)}")
    if not {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0):
        sys.exit(f"need CPUs {SERVER_CPU} and {CLIENT_CPU} (servers on one, clients on the other)")
    sockets = 4 * max(args.idle_users, args.storm_users, 2 * args.pairs)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, sockets + 1000)), hard))
    sink = open(args.json, "a") if args.json else None  # noqa: SIM115 (closed below)

    def out(line: dict[str, Any]) -> None:
        text = json.dumps(line)
        print(text, file=sys.stderr, flush=True)
        if sink is not None:
            sink.write(text + "\n")
            sink.flush()

    try:
        with contextlib.ExitStack() as stack:
            targets = {name: start(name, args, stack) for name in names}
            out({"servers": {n: getattr(t, "version", None) or getattr(t, "commit", None)
                             for n, t in targets.items()},
                 "args": {k: v for k, v in vars(args).items() if k != "postgres"}})
            os.sched_setaffinity(0, {CLIENT_CPU})  # after every server was spawned
            results = uvloop.run(run_all(targets, args, out))
    finally:
        if sink is not None:
            sink.close()
    print(table(results, args), flush=True)


if __name__ == "__main__":
    main()

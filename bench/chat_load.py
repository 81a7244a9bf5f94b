"""Chat load benchmark: pairs of users sending one-to-one messages through a real server.

It starts ``python -m tidings serve`` on a fresh data dir (SQLite unless
``--database-url``), pinned to CPU 0, creates an app with ``tidings app create``,
signs tickets with Tencent's TLSSigAPIv2, and opens ``--pairs`` pairs of picows
clients in this process, pinned to CPU 1. Every client logs in, syncs, then sends
text messages to its peer over the real protocol (``send`` -> ``ok`` ack after the
commit; the peer gets a ``message`` event).

    python bench/chat_load.py --mode throughput              # closed loop, window 32
    python bench/chat_load.py --mode latency --rate 2000     # open loop, fixed schedule
    python bench/chat_load.py --url http://127.0.0.1:8080 --sdkappid N --key K
    python bench/chat_load.py --url http://127.0.0.1:8081,http://127.0.0.1:8082 ...

Several ``--url``s (comma-separated) are the processes of a cluster
(docs/cluster.md): user ``i`` connects to the ``i % n``-th, so the two users
of a pair are on two processes and every message crosses Redis
(``--spread together`` puts both on one: the cluster without the crossing);
``--server-pid`` then takes their pids, comma-separated, and the server
figures are their sum. ``bench/cluster_load.py`` starts such a cluster.

Throughput mode keeps ``--window`` unacked sends in flight per client. Latency mode
sends ``--rate`` msgs/s in total on a fixed schedule, whatever the server does.
Every message carries its send time (``time.perf_counter_ns`` of this process) in
``cloud_custom_data``, so send -> peer-receive latency is exact.

``--tail PATH`` says where the slowest messages' time went: the server runs
with ``tail_probe/sitecustomize.py`` (its garbage collections, the writer's
transactions and their phases, the timer ticks, on the clients' clock) and
``tail_report.py`` puts each measured message down to what overlapped it.

While it runs it checks delivery: each client sees every seq of its conversation
exactly once and in order (its own messages as acks, its peer's as events), and
every acked message reaches the peer. Prints one JSON line; the exit code is 1 when
any duplicate, gap, reordering, loss, error or unacked send was seen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import ipaddress
import json
import os
import random
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn

import orjson
import psutil  # type: ignore[import-untyped]
import tail_report
import uvloop
from picows import WSCloseCode, WSFrame, WSMsgType
from profile_layers import Profiler, per_message
from TLSSigAPIv2 import TLSSigAPIv2  # type: ignore[import-untyped]
from ws_client import Client, open_client

HOST = "127.0.0.1"
SERVER_CPU = 0
CLIENT_CPU = 1
NS = 1_000_000_000

SEND = (
    b'{"op":"send","id":%d,"data":{"conversation_id":"c2c_%s","client_msg_id":"%s",'
    b'"elements":[{"type":"text","text":"%s"}],'
    b'"cloud_custom_data":"%d"}}'
)
# The messages' text (``--text``): "same" sends this every time (the worst
# case of the search index's merges: each of its trigrams lists every
# message); "varied" one of ``VARIED_TEXTS`` texts of 3-14 words from
# ``WORDS``, seeded (the same run after run), in turn.
SAME_TEXT = b"hello from the chat load bench"
WORDS = (
    "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are",
    "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had", "by",
    "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said", "there",
    "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up", "other",
    "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make",
    "like", "him", "into", "time", "has", "look", "two", "more", "write", "go", "see", "number",
    "no", "way", "could", "people", "my", "than", "first", "water", "been", "call", "who",
    "oil", "its", "now", "find", "long", "down", "day", "did", "get", "come", "made", "may",
    "part", "meeting", "tomorrow", "lunch", "coffee", "office", "train", "late", "sorry",
    "thanks", "great", "photo", "weekend", "dinner", "tonight", "birthday", "project",
    "deadline", "review", "call", "later", "home", "kids", "school", "doctor", "weather",
    "rain", "sunny", "traffic", "ticket", "flight", "hotel",
)
VARIED_TEXTS = 16_384
texts: list[bytes] = [SAME_TEXT]


def set_text(kind: str, seed: int = 19) -> None:
    """The texts the clients send in turn (see ``SAME_TEXT``)."""
    global texts
    if kind == "same":
        texts = [SAME_TEXT]
        return
    rng = random.Random(seed)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))).encode()
             for _ in range(VARIED_TEXTS)]


# ``--ids``: the shape of the client_msg_ids, each ending in the sender's
# counter (the order check reads it): "counter" the counter alone (sorted as
# text, a sender's sends land near each other in uq_messages_client_id);
# "uuid" a random 32-hex prefix as the SDKs' uuid4().hex (each send a random
# place among its sender's); "time" the milliseconds in 12 hex digits and 8
# random ones (a sender's sends in time order: its index's right edge).
ID_SHAPE = "counter"


def client_id(n: int) -> bytes:
    if ID_SHAPE == "counter":
        return b"%d" % n
    if ID_SHAPE == "uuid":
        return b"%s-%d" % (os.urandom(16).hex().encode(), n)
    return b"%012x%s-%d" % (time.time_ns() // 1_000_000, os.urandom(4).hex().encode(), n)


# A stand-in for the app's server for ``--callback``: answers every callback at
# once ("allow" for before-send; any JSON object acknowledges an after-callback).
APP_SERVER = """
import sys, uvicorn
ANSWER = b'{"action":"allow"}'
count = 0
async def app(scope, receive, send):
    global count
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = ANSWER
    if scope["method"] == "POST":
        count += 1
    else:  # GET: how many callbacks came
        body = str(count).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error",
            access_log=False, loop="uvloop", http="httptools", lifespan="off")
"""


# --------------------------------------------------------------------------- stats


@dataclass
class Stats:
    """Everything the clients count; shared by all of them (one event loop)."""

    sending: bool = False
    measuring: bool = False
    closing: bool = False  # we are closing: close frames from the server are expected
    sent: int = 0
    acked: int = 0
    delivered: int = 0
    latencies: list[int] = field(default_factory=list)  # send -> peer receive, ns
    ack_latencies: list[int] = field(default_factory=list)  # send -> ack, ns
    send_lags: list[int] = field(default_factory=list)  # open loop: actual - scheduled, ns
    # --tail: each measured message's (sent, received) times, ns
    flights: list[tuple[int, int]] | None = None
    errors: int = 0
    first_error: str = ""
    duplicates: int = 0
    out_of_order: int = 0
    foreign: int = 0  # frames we cannot place: unknown request id, wrong sender

    def error(self, what: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = what[:300]


class ChatClient(Client):
    """One logged-in user talking to one peer.

    Each user has exactly one conversation, and sees every seq of it once: its own
    messages as acks, the peer's as ``message`` events, in seq order on this one
    connection (the server acks and pushes from the same commit hook, in seq order).
    """

    def __init__(self, stats: Stats, user: str, peer: str) -> None:
        super().__init__(user)
        self.stats = stats
        self.peer_id = peer.encode()
        self.peer: ChatClient | None = None
        self.window = 0
        self.next_id = 0
        self.pending: dict[int, int] = {}  # request id -> send time (ns)
        self.base_seq = 0  # the conversation's last seq at sync
        self.last_seq = 0
        self.seen: set[int] = set()
        self.acked = 0
        self.received = 0  # message events from the peer
        self.last_peer_msg = 0  # the peer's client_msg_id counter, must rise

    # -- control requests (login, sync) --------------------------------------

    async def login_and_sync(self, sdkappid: int, usersig: str) -> None:
        await self.request("login", {"sdkappid": sdkappid, "user_id": self.user,
                                     "usersig": usersig, "device": {"platform": "bench"}},
                           within=20)
        synced = await self.request("sync", {"known": {}}, within=20)
        name = f"c2c_{self.peer_id.decode()}"
        for conv in synced["conversations"]:
            if conv["conversation_id"] == name:
                self.base_seq = self.last_seq = int(conv["last_seq"])

    # -- sending --------------------------------------------------------------

    def send_one(self) -> int:
        assert self.transport is not None
        self.next_id += 1
        now = time.perf_counter_ns()
        self.pending[self.next_id] = now
        self.stats.sent += 1
        words = texts[self.stats.sent % len(texts)]
        self.transport.send(WSMsgType.TEXT, SEND % (self.next_id, self.peer_id,
                                                    client_id(self.next_id), words, now))
        return now

    def fill_window(self) -> None:
        while len(self.pending) < self.window:
            self.send_one()

    # -- receiving ------------------------------------------------------------

    def saw(self, seq: int) -> None:
        s = self.stats
        if seq in self.seen or seq <= self.base_seq:
            s.duplicates += 1
            return
        self.seen.add(seq)
        if seq < self.last_seq:
            s.out_of_order += 1
        else:
            self.last_seq = seq

    def on_close(self, frame: WSFrame) -> None:
        if not self.stats.closing:
            self.stats.error(f"{self.user}: server closed: {frame.get_close_code()} "
                             f"{frame.get_close_message()!r}")

    def on_event(self, event: str, doc: dict[str, Any], at: int) -> None:
        if event != "message":
            return  # other events (read receipts...) are not ours to count
        s = self.stats
        data = doc["data"]
        if data["sender"] != self.peer_id.decode():
            s.foreign += 1
            return
        self.saw(data["seq"])
        msg_no = int(data["client_msg_id"].rpartition("-")[2])
        if msg_no <= self.last_peer_msg:
            s.out_of_order += 1
        self.last_peer_msg = max(msg_no, self.last_peer_msg)
        self.received += 1
        s.delivered += 1
        if s.measuring:
            sent = int(data["cloud_custom_data"])
            s.latencies.append(at - sent)
            if s.flights is not None:
                s.flights.append((sent, at))

    def on_reply(self, doc: dict[str, Any], at: int) -> None:
        """A send's ack (its integer id); a string id is a control reply
        already answered."""
        s = self.stats
        req_id = doc.get("re")
        if isinstance(req_id, str):
            return
        sent = self.pending.pop(req_id, None) if isinstance(req_id, int) else None
        if sent is None:
            s.foreign += 1
            return
        if doc.get("ok"):
            self.saw(doc["data"]["seq"])
            self.acked += 1
            s.acked += 1
            if s.measuring:
                s.ack_latencies.append(at - sent)
        else:
            s.error(f"{self.user}: send {req_id} failed: {doc.get('error')}")
        if s.sending and self.window:
            self.fill_window()


# --------------------------------------------------------------------------- server


@dataclass
class Target:
    base_url: str
    sdkappid: int
    key: str
    pid: int | None  # the server's process, when we can watch it
    database: str
    commit: str | None
    app_server_pid: int | None = None  # --callback: the app's stand-in
    app_server_url: str = ""
    # The other processes of a cluster (--url a,b,...): their URLs and pids.
    more_urls: tuple[str, ...] = ()
    more_pids: tuple[int, ...] = ()
    spread: str = "split"
    # Our own server's data directory (its SQLite file: xmpp_compare's backlog).
    data_dir: str = ""

    def url_of(self, i: int) -> str:
        """Where user ``i`` connects: users 2k and 2k+1 (a pair) on two
        processes ("split") or on one ("together")."""
        urls = (self.base_url, *self.more_urls)
        return urls[(i if self.spread == "split" else i // 2) % len(urls)]


class Servers:
    """The CPU and RSS of the server processes together (a cluster's: several)."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = [psutil.Process(pid) for pid in pids]

    def cpu_times(self) -> tuple[float, float]:
        times = [p.cpu_times() for p in self.procs]
        return sum(t.user for t in times), sum(t.system for t in times)

    def memory_info(self) -> Any:
        return SimpleNamespace(rss=sum(p.memory_info().rss for p in self.procs))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def pin_process(pid: int, cpu: int) -> None:
    """Pin every thread of ``pid`` (affinity is per thread on Linux)."""
    with contextlib.suppress(FileNotFoundError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(int(tid), {cpu})


def healthz(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as r:
        doc: dict[str, Any] = json.loads(r.read())
        return doc


def wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120  # a loaded 2-core machine starts slowly
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            if healthz(base_url).get("status") == "ok":
                return
        time.sleep(0.1)
    sys.exit(f"server did not come up:\n{log.read_text()[-2000:]}")


def source_commit() -> str | None:
    """The git commit of the tidings package the server runs, ``+dirty`` if src/ differs."""
    spec = importlib.util.find_spec("tidings")
    if spec is None or spec.origin is None:
        return None
    where = str(Path(spec.origin).parent)
    try:
        head = subprocess.run(["git", "-C", where, "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", where, "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}+dirty" if dirty else head


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def own_server(args: argparse.Namespace) -> Any:
    with tempfile.TemporaryDirectory(prefix="tidings-bench-") as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
        env.update({
            "TIDINGS_DATA_DIR": str(Path(tmp) / "data"), "TIDINGS_HOST": HOST,
            "TIDINGS_PORT": str(port), "TIDINGS_LOG_LEVEL": "warning",
            # The per-connection limiter (100/s by default) would throttle the bench.
            "TIDINGS_RATE_LIMIT_PER_SECOND": "1000000000", "TIDINGS_RATE_LIMIT_BURST": "1000000000",
        })
        if args.database_url:
            env["TIDINGS_DATABASE_URL"] = args.database_url
        env.update(getattr(args, "server_env", {}))  # a bench's own settings
        if getattr(args, "push", "on") == "off":
            env["TIDINGS_PUSH_ENABLED"] = "0"
        created = subprocess.run([sys.executable, "-m", "tidings", "app", "create",
                                  "--name", "Bench"], env=env, capture_output=True, text=True,
                                 timeout=60)
        if created.returncode != 0:
            sys.exit(f"tidings app create failed: {created.stderr}")
        app = json.loads(created.stdout)
        if getattr(args, "push", "on") == "app":
            pushes = subprocess.run([sys.executable, "-m", "tidings", "app", "push",
                                     str(app["sdkappid"]), "--use-callback"], env=env,
                                    capture_output=True, text=True, timeout=60)
            if pushes.returncode != 0:
                sys.exit(f"tidings app push failed: {pushes.stderr}")
        app_server = start_app_server(args, env, app["sdkappid"])
        log = Path(tmp) / "server.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "tidings", "serve"], env=env,
                                    stdout=out, stderr=subprocess.STDOUT)
        try:
            os.sched_setaffinity(proc.pid, {SERVER_CPU})  # before Python starts any thread
            base_url = f"http://{HOST}:{port}"
            wait_healthy(base_url, proc, log)
            pin_process(proc.pid, SERVER_CPU)  # belt and braces: every thread on CPU 0
            database = args.database_url.split(":", 1)[0] if args.database_url else "sqlite"
            yield Target(base_url, int(app["sdkappid"]), str(app["secret_key"]), proc.pid,
                         database, source_commit(),
                         app_server.pid if app_server is not None else None,
                         app_server.args[-1] if app_server is not None else "",
                         data_dir=env["TIDINGS_DATA_DIR"])
            if proc.poll() is not None:
                sys.exit(f"server died during the run:\n{log.read_text()[-2000:]}")
        finally:
            stop_server(proc)
            if app_server is not None:
                stop_server(app_server)
            tail = log.read_text(errors="replace").strip()
            if tail and args.show_server_log:
                print(tail[-3000:], file=sys.stderr)


def run_on_own_server(args: argparse.Namespace, bench: Callable[
        [Target, argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]],
        sockets: int) -> NoReturn:
    """A bench's main against its own server: the two CPUs checked, room made
    for ``sockets`` connections (two files each: ours and the server's, in two
    processes), the bench run on the clients' CPU, its JSON line printed; the
    exit code is 1 when the result is not ``ok``."""
    if not {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0):
        sys.exit(f"need CPUs {SERVER_CPU} and {CLIENT_CPU} (server on one, clients on the other)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, sockets + 1000)), hard))
    with own_server(args) as target:
        os.sched_setaffinity(0, {CLIENT_CPU})
        result = uvloop.run(bench(target, args))
    print(orjson.dumps(result).decode(), flush=True)
    sys.exit(0 if result["ok"] else 1)


def start_app_server(args: argparse.Namespace, env: dict[str, str],
                     sdkappid: int) -> subprocess.Popen[bytes] | None:
    """``--callback``: start the app's stand-in (pinned to the clients' CPU)
    and point the app's callbacks at it, only the events asked for on."""
    if args.callback == "none":
        return None
    port = free_port()
    url = f"http://{HOST}:{port}/cb"
    proc = subprocess.Popen([sys.executable, "-c", APP_SERVER, str(port), url])
    os.sched_setaffinity(proc.pid, {CLIENT_CPU})
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
            break
        if time.monotonic() > deadline or proc.poll() is not None:
            stop_server(proc)
            sys.exit("the callback app server did not start")
        time.sleep(0.05)
    on = {"before_send": {"before_send"}, "after_send": {"after_send"},
          "both": {"before_send", "after_send"}}[args.callback]
    off = [f"--callback-disable={e}" for e in
           ("before_send", "after_send", "after_read", "state_change") if e not in on]
    done = subprocess.run([sys.executable, "-m", "tidings", "app", "update", str(sdkappid),
                           "--callback-url", url, *off], env=env,
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        stop_server(proc)
        sys.exit(f"tidings app update failed: {done.stderr}")
    return proc


@contextlib.contextmanager
def external_server(args: argparse.Namespace) -> Any:
    parsed = urllib.parse.urlsplit(args.url)
    host = parsed.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        sys.exit("--url must point at a loopback address (this bench never leaves the host)")
    scheme = {"ws": "http", "wss": "https"}.get(parsed.scheme, parsed.scheme)
    base_url = f"{scheme}://{parsed.netloc}"
    version = healthz(base_url).get("version")
    more = tuple(url.rstrip("/") for url in args.more_urls)
    for url in more:
        healthz(url)
    pids = [int(p) for p in str(args.server_pid or "").split(",") if p]
    yield Target(base_url, args.sdkappid, args.key, pids[0] if pids else None, "external",
                 f"version {version} (external server)", more_urls=more,
                 more_pids=tuple(pids[1:]), spread=args.spread)


# --------------------------------------------------------------------------- run


def busy_cpu() -> float:
    """Machine-wide busy CPU seconds (user+nice+system+irq+softirq; steal excluded)."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + t.irq + t.softirq)


def thread_cpu(proc: Any) -> dict[str, tuple[float, float]]:
    """CPU seconds (user, system) of the server's main thread (the event loop:
    sockets, parsing, services, encoding) and of its other threads together
    (the writer's transaction and commit, the database's worker threads);
    for ``Servers`` (a cluster's processes, or one), their sums."""
    out = {"loop": (0.0, 0.0), "threads": (0.0, 0.0)}
    if proc is None:
        return out
    # A cluster's Servers: every process's threads, each's main thread a loop.
    for one in getattr(proc, "procs", [proc]):
        with contextlib.suppress(psutil.Error):
            for t in one.threads():
                key = "loop" if t.id == one.pid else "threads"
                user, system = out[key]
                out[key] = (user + t.user_time, system + t.system_time)
    return out


def thread_split(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]],
                 messages: int) -> dict[str, float]:
    """Server CPU per message (us) by thread and by user/system time."""
    n = max(messages, 1)
    return {f"{key}_{kind}": round(1e6 * (after[key][i] - before[key][i]) / n, 1)
            for key in ("loop", "threads") for i, kind in enumerate(("user", "system"))}


def pct(values: list[int], q: float) -> float | None:
    """Nearest-rank percentile of ns values, in ms."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank] / 1e6, 3)


class Sampler:
    """Peak RSS of the server, sampled every 100 ms."""

    def __init__(self, proc: Any) -> None:
        self.proc = proc
        self.peak = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.proc is not None:
            self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, int(self.proc.memory_info().rss))
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def callbacks_seen(target: Target) -> int:
    if not target.app_server_url:
        return 0
    with urllib.request.urlopen(target.app_server_url, timeout=5) as r:
        return int(r.read())


async def connect_all(target: Target, pairs: int, stats: Stats) -> list[ChatClient]:
    run = secrets.token_hex(3)  # fresh users each run, even against an external server
    users = [f"bench{run}_{i}" for i in range(2 * pairs)]
    signer = TLSSigAPIv2(target.sdkappid, target.key)
    gate = asyncio.Semaphore(16)

    async def one(i: int) -> ChatClient:
        async with gate:
            listener = await open_client(target.url_of(i),
                                         lambda: ChatClient(stats, users[i], users[i ^ 1]))
            await listener.login_and_sync(target.sdkappid, str(signer.gen_sig(users[i], 3600)))
            return listener

    clients = await asyncio.gather(*(one(i) for i in range(2 * pairs)))
    for i, client in enumerate(clients):
        client.peer = clients[i ^ 1]
    return list(clients)


async def open_loop(clients: list[ChatClient], rate: float, stats: Stats, until: float) -> None:
    """Send ``rate`` msgs/s in total, round-robin over the clients, on a fixed schedule."""
    start = time.perf_counter_ns()
    step = NS / rate
    j = 0
    n = len(clients)
    while time.perf_counter() < until:
        now = time.perf_counter_ns()
        due = int((now - start) / step) + 1
        while j < due:
            scheduled = start + int(j * step)
            sent = clients[j % n].send_one()
            if stats.measuring:
                stats.send_lags.append(sent - scheduled)
            j += 1
        await asyncio.sleep(max(0.0, (start + j * step - time.perf_counter_ns()) / NS))


async def drain(clients: list[ChatClient], within: float) -> None:
    """Wait until every send is answered and every acked message reached the peer."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        if all(not c.pending and c.peer is not None and c.peer.received >= c.acked
               for c in clients):
            return
        await asyncio.sleep(0.05)


async def bench(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    set_text(getattr(args, "text", "same"))
    stats = Stats(flights=[] if getattr(args, "tail", None) else None)
    server = Servers([target.pid, *target.more_pids]) if target.pid else None
    app_server = psutil.Process(target.app_server_pid) if target.app_server_pid else None
    sampler = Sampler(server)
    sampler.start()
    clients = await connect_all(target, args.pairs, stats)
    await asyncio.sleep(0.2)

    stats.sending = True
    sender: asyncio.Task[None] | None = None
    begin = time.perf_counter()
    if args.mode == "throughput":
        for client in clients:
            client.window = args.window
            client.fill_window()
    else:
        until = begin + args.warmup + args.duration
        sender = asyncio.create_task(open_loop(clients, args.rate, stats, until))
    await asyncio.sleep(args.warmup)

    calls0 = callbacks_seen(target)
    s_cpu0 = sum(server.cpu_times()[:2]) if server else 0.0
    threads0 = thread_cpu(server)
    a_cpu0 = sum(app_server.cpu_times()[:2]) if app_server else 0.0
    c_cpu0, sys0 = time.process_time(), busy_cpu()
    waited0 = tail_report.run_delay_ns(target.pid) if target.pid else 0
    a0, d0, n0, t0 = stats.acked, stats.delivered, stats.sent, time.perf_counter()
    profiler = (Profiler(target.pid, Path(args.profile))
                if args.profile and target.pid else None)
    stats.measuring = True
    await asyncio.sleep(args.duration)
    stats.measuring = False
    a1, d1, n1, t1 = stats.acked, stats.delivered, stats.sent, time.perf_counter()
    split = await asyncio.to_thread(profiler.finish) if profiler is not None else {}
    calls1 = callbacks_seen(target)
    s_cpu1 = sum(server.cpu_times()[:2]) if server else 0.0
    threads1 = thread_cpu(server)
    a_cpu1 = sum(app_server.cpu_times()[:2]) if app_server else 0.0
    c_cpu1, sys1 = time.process_time(), busy_cpu()
    waited1 = tail_report.run_delay_ns(target.pid) if target.pid else 0
    if (at_window_end := getattr(args, "at_window_end", None)) is not None:
        at_window_end()  # a bench's own look at the server (xmpp_compare: the later work)
    stats.sending = False
    if sender is not None:
        await sender

    await drain(clients, args.drain_timeout)
    await sampler.stop()
    unacked = sum(len(c.pending) for c in clients)
    lost = sum(max(0, c.acked - c.peer.received) for c in clients if c.peer is not None)
    # Every seq between the sync point and the last one seen must have been seen.
    gaps = sum(c.last_seq - c.base_seq - len(c.seen) for c in clients)
    transports = [c.transport for c in clients if c.transport is not None]
    stats.closing = True
    for t in transports:
        t.send_close(WSCloseCode.OK)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(3):
            await asyncio.gather(*(t.wait_disconnected() for t in transports))

    elapsed = t1 - t0
    s_cpu = s_cpu1 - s_cpu0
    c_cpu = c_cpu1 - c_cpu0
    acked = a1 - a0
    failures = stats.errors + stats.duplicates + stats.out_of_order + gaps + lost + unacked
    result: dict[str, Any] = {
        "mode": args.mode,
        "text": getattr(args, "text", "same"),
        "pairs": args.pairs,
        **({"window": args.window} if args.mode == "throughput" else {"rate": args.rate}),
        "duration_s": round(elapsed, 2),
        "warmup_s": args.warmup,
        "sent_per_s": round((n1 - n0) / elapsed),
        "acked_per_s": round(acked / elapsed),
        "delivered_per_s": round((d1 - d0) / elapsed),
        "latency_ms": {f"p{q}": pct(stats.latencies, q) for q in (50, 95, 99)}
        | {"max": pct(stats.latencies, 100)},
        "ack_latency_ms": {"p50": pct(stats.ack_latencies, 50),
                           "p99": pct(stats.ack_latencies, 99)},
    }
    if args.mode == "latency":
        result["send_lag_ms"] = {"p99": pct(stats.send_lags, 99),
                                 "max": pct(stats.send_lags, 100)}
    result |= {
        "server_rss_peak_mb": round(sampler.peak / 2**20, 1) if server else None,
        "server_cpu_pct": round(100 * s_cpu / elapsed, 1) if server else None,
        # Server CPU per durably-acked message; 1e6 / this = the one-core ceiling.
        "server_us_per_msg": round(1e6 * s_cpu / max(acked, 1), 1) if server else None,
        # The same by thread: the event loop's user and system (socket) time,
        # the other threads' (the writer's transaction; system: the commit's sync).
        "server_us_per_msg_by_thread": thread_split(threads0, threads1, acked) if server
        else None,
        "client_cpu_pct": round(100 * c_cpu / elapsed, 1),
        # How long the server's threads were runnable but waited for a CPU
        # (other processes on its core): queueing no code change removes.
        # Summed over the threads, so past 100 when several wait at once.
        "server_cpu_wait_pct": round(100 * (waited1 - waited0) / 1e9 / elapsed, 1)
        if target.pid else None,
        "callback": args.callback,
        # Requests the app server got in the window: with --callback before_send
        # this should match acked_per_s (else callbacks timed out or failed).
        "callbacks_per_s": round((calls1 - calls0) / elapsed) if app_server else None,
        "app_server_cpu_pct": (round(100 * (a_cpu1 - a_cpu0) / elapsed, 1) if app_server
                               else None),
        # Everything else on the box (out of 200 %): high values mean a noisy run.
        "other_cpu_pct": round(100 * ((sys1 - sys0) - s_cpu - c_cpu - (a_cpu1 - a_cpu0))
                               / elapsed, 1),
        "database": target.database,
        **({"processes": 1 + len(target.more_urls), "spread": target.spread}
           if target.more_urls else {}),
        "errors": stats.errors,
        "duplicates": stats.duplicates,
        "out_of_order": stats.out_of_order,
        "gaps": gaps,
        "lost": lost,
        "unacked": unacked,
        "foreign_frames": stats.foreign,
        "ok": failures == 0,
        "server_commit": target.commit,
    }
    if stats.flights is not None:
        args.tail_flights = stats.flights
    if profiler is not None:
        result["profile_pct"] = split
        result["profile_us_per_msg"] = per_message(split, result["server_us_per_msg"])
    if stats.first_error:
        result["first_error"] = stats.first_error
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["throughput", "latency"], default="throughput")
    parser.add_argument("--pairs", type=int, default=50, help="pairs of users (2 clients each)")
    parser.add_argument("--window", type=int, default=32,
                        help="throughput: unacked sends in flight per client")
    parser.add_argument("--rate", type=float, default=2000.0,
                        help="latency: total msgs/s over all clients")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--drain-timeout", type=float, default=5.0)
    parser.add_argument("--database-url", default="",
                        help="TIDINGS_DATABASE_URL for our server (default: SQLite)")
    parser.add_argument("--url", help="an already-running server (loopback) instead of ours; "
                        "several, comma-separated: the processes of a cluster")
    parser.add_argument("--spread", choices=["split", "together"], default="split",
                        help="with several --url: the two users of a pair on two processes "
                             "(each message crosses Redis) or on one")
    parser.add_argument("--sdkappid", type=int, help="with --url: the app to log in to")
    parser.add_argument("--key", help="with --url: that app's secret key")
    parser.add_argument("--server-pid",
                        help="with --url: the server's pid (several: comma-separated), for "
                             "its CPU and RSS figures")
    parser.add_argument("--show-server-log", action="store_true")
    parser.add_argument("--push", choices=["on", "off", "app"], default="on",
                        help="off: the server writes no push jobs (to measure what push costs);"
                             " app: the app pushes (its offline_push callback channel on), so"
                             " every message gets a job, which the worker decides")
    parser.add_argument("--callback", choices=["none", "before_send", "after_send", "both"],
                        default="none",
                        help="turn these callbacks on, to a local app server (pinned to the "
                             "clients' CPU) that answers at once")
    parser.add_argument("--text", choices=["same", "varied"], default="same",
                        help="the messages' text: the same every time, or 3-14 words from a "
                             "fixed list, seeded, varying per message")
    parser.add_argument("--tail", metavar="PATH",
                        help="record what the server did (its GCs, writer transactions, "
                             "timer ticks) into PATH, and put each measured message down to "
                             "what overlapped it (bench/tail_report.py)")
    parser.add_argument("--set", metavar="NAME=VALUE", action="append", default=[],
                        help="a setting of the bench's own server (config.py's name, e.g. "
                             "sqlite_checkpoint_pages=4000); repeatable")
    parser.add_argument("--ids", choices=["counter", "uuid", "time"], default="counter",
                        help="the client_msg_ids' shape (see ID_SHAPE)")
    parser.add_argument("--profile", metavar="PATH",
                        help="py-spy the server in the measured window, raw stacks to PATH; "
                             "the JSON line gets the split by layer (bench/profile_layers.py)")
    args = parser.parse_args()
    global ID_SHAPE
    ID_SHAPE = args.ids
    args.url, *args.more_urls = (args.url or "").split(",")
    if args.url and (args.sdkappid is None or not args.key):
        parser.error("--url needs --sdkappid and --key")
    if args.url and args.callback != "none":
        parser.error("--callback works with the bench's own server only")
    if args.pairs < 1 or args.window < 1 or args.rate <= 0 or args.duration <= 0:
        parser.error("--pairs, --window, --rate and --duration must be positive")

    if not args.url and not {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0):
        sys.exit(f"need CPUs {SERVER_CPU} and {CLIENT_CPU} (server on one, clients on the other)")
    args.server_env = {}
    for setting in args.set:
        name, sep, value = setting.partition("=")
        if not sep or args.url:
            parser.error("--set takes NAME=VALUE, for the bench's own server only")
        args.server_env[f"TIDINGS_{name.upper()}"] = value
    if args.tail:
        if args.url:
            parser.error("--tail works with the bench's own server only")
        args.server_env |= tail_report.server_env(Path(args.tail))
    with external_server(args) if args.url else own_server(args) as target:
        os.sched_setaffinity(0, {CLIENT_CPU})  # after the server was spawned
        result = uvloop.run(bench(target, args))
    if args.tail:  # the probe writes when the server stops
        result["tail"] = tail_report.report(args.tail_flights, Path(args.tail))
    print(json.dumps(result), flush=True)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()

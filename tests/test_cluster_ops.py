"""Operating a cluster (issue 15; docs/cluster.md): ``tidings serve
--workers N`` (N processes on one port, supervised), the drain on SIGTERM
(devices sent to another process, every acked message stored once, the SDK
clients resynced), the setups ``--workers`` refuses, and the rate limits
the processes share (counted in Redis).

Each worker's pid is read from ``/proc`` (the parent's children), so a test
can stop or kill one worker as an orchestrator or a crash would."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.pg import Cluster, free_port
from tests.redis_server import RedisServer
from tests.support import App, ProcessServer, error_of
from tests.test_cluster import cluster_env
from tidings.sdk import Client, Message

pytestmark = pytest.mark.process_server("tidings serve --workers: processes and signals")

# Reconnects in a fraction of a second (the SDK's real backoff is longer).
FAST: dict[str, Any] = {"backoff_initial": 0.05, "backoff_max": 0.3, "connect_timeout": 5.0,
                        "request_timeout": 10.0, "send_timeout": 30.0}
STARTED = "Application startup complete"


def worker_pids(server: ProcessServer) -> list[int]:
    """The parent's worker processes (multiprocessing's resource tracker
    left out)."""
    assert server.process is not None
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = []
    for child in map(int, children):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"resource_tracker" not in cmdline:
            found.append(child)
    return sorted(found)


def started_count(server: ProcessServer) -> int:
    path = server.data_dir / "server.log"
    return path.read_text(errors="replace").count(STARTED) if path.exists() else 0


def wait_for(condition: Any, what: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def workers(pg_cluster: Cluster | None, redis_server: RedisServer,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    """``tidings serve --workers 2`` (TIDINGS_WORKERS) on PostgreSQL and Redis,
    both workers serving."""
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries are not installed (scripts/test installs them)")
    server = ProcessServer(tmp_path_factory.mktemp("workers"), pg_cluster.new_database(),
                           {**cluster_env(redis_server), "TIDINGS_WORKERS": "2",
                            "TIDINGS_LOG_LEVEL": "info", "TIDINGS_DRAIN_TIMEOUT": "10"})
    server.start()
    try:
        wait_for(lambda: started_count(server) >= 2, "both workers serve")
        assert len(worker_pids(server)) == 2
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def app(workers: ProcessServer) -> App:
    return workers.create_app("Workers")


def replace(server: ProcessServer, pid: int, how: signal.Signals) -> None:
    """Stop or kill one worker; wait until the parent has started another
    and it serves."""
    before = started_count(server)
    os.kill(pid, how)
    wait_for(lambda: pid not in worker_pids(server) and len(worker_pids(server)) == 2
             and started_count(server) > before, f"worker {pid} replaced")


# Two workers replaced one after the other: each start imports the whole
# server (20-40 s on a loaded 2-core machine).
@pytest.mark.timeout(480)
async def test_a_worker_drained_under_load_loses_nothing_and_its_clients_move(
        workers: ProcessServer, app: App) -> None:
    tag = os.urandom(4).hex()
    pairs = [(f"s{i}-{tag}", f"r{i}-{tag}") for i in range(4)]
    clients = {user: Client(workers.ws_url, app.sdkappid, user, app.sig(user), **FAST)
               for user in itertools.chain(*pairs)}
    acks: dict[str, list[tuple[str, int]]] = {s: [] for s, _ in pairs}
    stop = asyncio.Event()
    progress = asyncio.Event()  # set at each ack

    async def send(sender: str, receiver: str) -> None:
        for n in itertools.count():
            if stop.is_set():
                return
            ack = await clients[sender].send_text(f"c2c_{receiver}", f"m{n}",
                                                  client_msg_id=f"{sender}-{n}")
            acks[sender].append((ack.client_msg_id, ack.seq))
            progress.set()

    for c in clients.values():
        await c.connect()
    senders = [asyncio.create_task(send(s, r)) for s, r in pairs]
    try:
        async def sent_some(more: int) -> None:
            goal = {s: len(a) + more for s, a in acks.items()}
            while any(len(acks[s]) < goal[s] for s in acks):
                progress.clear()
                await progress.wait()

        await asyncio.wait_for(sent_some(5), 30)
        # Each worker in turn, as a rolling restart would: every client was
        # on one of them, so every client is sent away at least once.
        for pid in worker_pids(workers):
            await asyncio.to_thread(replace, workers, pid, signal.SIGTERM)
            await asyncio.wait_for(sent_some(5), 120)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*senders), 60)

        for sender, receiver in pairs:
            sent = acks[sender]
            # Every send acked once, the seqs distinct and gapless.
            assert [seq for _, seq in sent] == list(range(1, len(sent) + 1)), sent
            got: list[Message] = []
            while len(got) < len(sent):
                got.append(await asyncio.wait_for(clients[receiver].next_message(), 30))
            assert [(m.client_msg_id, m.seq) for m in got] == sent
            stored = await workers.sql(
                "SELECT count(*) FROM messages WHERE sdkappid = :app AND sender = :sender",
                app=app.sdkappid, sender=sender)
            assert stored == len(sent)
        for user, c in clients.items():
            assert c.connects >= 2, f"{user} was never sent away"
        log = (workers.data_dir / "server.log").read_text(errors="replace")
        assert "draining:" in log and "Traceback" not in log
    finally:
        stop.set()
        for task in senders:
            task.cancel()
        for c in clients.values():
            await c.close()


def test_a_killed_worker_is_replaced_and_the_port_keeps_answering(
        workers: ProcessServer) -> None:
    victim = worker_pids(workers)[0]
    replace(workers, victim, signal.SIGKILL)
    log = (workers.data_dir / "server.log").read_text(errors="replace")
    assert f"(pid {victim}) exited with status -9: starting another" in log


def test_sigterm_to_the_parent_drains_every_worker_and_exits_0(
        workers: ProcessServer) -> None:
    assert workers.process is not None
    pids = worker_pids(workers)
    workers.process.send_signal(signal.SIGTERM)
    assert workers.process.wait(60) == 0
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or b"zombie" in Path(
            f"/proc/{pid}/status").read_bytes().lower()
    assert "all workers stopped" in (workers.data_dir / "server.log").read_text()


def refused(env: dict[str, str], tmp_path: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "tidings", "serve", "--workers", "3"],
                          env=env, capture_output=True, text=True, timeout=90, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output, output
    return output


def test_workers_refuse_sqlite_and_a_postgresql_without_redis(
        pg_cluster: Cluster | None, tmp_path: Path) -> None:
    on_sqlite = ProcessServer(tmp_path / "sqlite", "")
    on_sqlite.data_dir.mkdir()
    assert "needs PostgreSQL (TIDINGS_DATABASE_URL) and TIDINGS_REDIS_URL" in refused(
        on_sqlite.env, tmp_path)
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries are not installed (scripts/test installs them)")
    no_redis = ProcessServer(tmp_path / "pg", pg_cluster.new_database())
    no_redis.data_dir.mkdir()
    assert "each a cluster member: give them TIDINGS_REDIS_URL" in refused(
        no_redis.env, tmp_path)


@pytest.fixture(scope="module")
def pair(pg_cluster: Cluster | None, redis_server: RedisServer,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ProcessServer]]:
    """Two ``tidings serve`` processes of one cluster, each on its port."""
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries are not installed (scripts/test installs them)")
    url = pg_cluster.new_database()
    env = {**cluster_env(redis_server), "TIDINGS_HOME_ATTEMPTS_PER_IP": "3",
           "TIDINGS_TRUSTED_PROXIES": "127.0.0.1"}
    nodes = [ProcessServer(tmp_path_factory.mktemp(f"pair{i}"), url, env) for i in range(2)]
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


@pytest.mark.timeout(300)  # with the start of the pair: slow on a loaded machine
def test_home_sign_in_limits_hold_across_processes_counted_in_redis(
        pair: list[ProcessServer], redis_server: RedisServer) -> None:
    """Attempts from one address alternate between two processes: the
    limit is the cluster's, not each process's, and it is counted in Redis
    (no row in the database's counters)."""

    def attempt(node: ProcessServer) -> httpx.Response:
        return httpx.post(f"{node.base_url}/v1/home/sign-in/password", timeout=30,
                          json={"username": f"nobody{os.urandom(3).hex()}",
                                "password": "bad guess 123"})

    for node in (pair[0], pair[1], pair[0]):
        assert error_of(attempt(node)) == (401, 96000)
    for node in pair:  # the fourth and fifth, whichever process
        limited = attempt(node)
        assert error_of(limited) == (429, 10005), limited.text
        assert limited.json()["error"]["retry_after"] > 0
    assert asyncio.run(pair[0].sql("SELECT count(*) FROM rate_counters")) == 0
    per_ip = pair[0].extra_env["TIDINGS_CLUSTER_NAME"] + ":rate:home:ip:127.0.0.1"
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert int(client.get(per_ip) or 0) == 5
        assert 0 < client.pttl(per_ip) <= 3600 * 1000  # the window, then gone
    finally:
        client.close()


def haproxy_config(nodes: list[ProcessServer], port: int, stats_port: int) -> str:
    """deploy/haproxy.cfg as shipped, pointed at these processes instead of
    Compose's services (without Compose's DNS, and fewer connections)."""
    text = (Path(__file__).resolve().parent.parent / "deploy" / "haproxy.cfg").read_text()
    text = re.sub(r"\nresolvers docker\n(    .*\n)+", "\n", text)
    text = text.replace(" resolvers docker", "")
    # Two file descriptors a connection: this machine's limit, not a server's.
    text = text.replace("maxconn 100000", "maxconn 4000")
    text = text.replace("bind :8080", f"bind 127.0.0.1:{port}")
    text = text.replace("bind :8404", f"bind 127.0.0.1:{stats_port}")
    text = re.sub(r"    server tidings-\d tidings-\d:8080 check\n", "", text)
    servers = "".join(f"    server tidings-{i} 127.0.0.1:{node.port} check\n"
                      for i, node in enumerate(nodes))
    return text.replace("\nfrontend stats", servers + "\nfrontend stats")


@pytest.fixture
def haproxy(pair: list[ProcessServer], tmp_path: Path) -> Iterator[str]:
    """The real HAProxy (Debian's haproxy; scripts/test installs it) in front
    of the two processes; its base URL."""
    binary = shutil.which("haproxy") or ("/usr/sbin/haproxy"
                                         if Path("/usr/sbin/haproxy").exists() else None)
    if binary is None:
        pytest.skip("haproxy is not installed (scripts/test installs it)")
    port, stats_port = free_port(), free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config(pair, port, stats_port))
    log = open(tmp_path / "haproxy.log", "wb")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log,
                               stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            assert process.poll() is None, (tmp_path / "haproxy.log").read_text()
            try:
                return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, "HAProxy answers /readyz from a Tidings process", 30)
        yield base
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.mark.timeout(300)
async def test_chat_through_haproxy_survives_draining_one_process(
        pair: list[ProcessServer], haproxy: str) -> None:
    """Clients and REST calls through the shipped HAProxy configuration;
    one process drains (SIGTERM) mid-chat: its clients come back through
    the proxy to the other, and nothing acked is lost. Last of the module:
    it stops one of the pair."""
    app = await asyncio.to_thread(pair[1].create_app, "Proxied")
    ws_url = haproxy.replace("http://", "ws://") + "/v1/ws"
    tag = os.urandom(4).hex()
    users = [f"{name}-{tag}" for name in ("ann", "ben", "cat", "dan")]
    clients = [Client(ws_url, app.sdkappid, u, app.sig(u), **FAST) for u in users]
    for c in clients:
        await c.connect()
    async with httpx.AsyncClient(base_url=haproxy, timeout=10) as http:
        live = await http.get("/livez")
        assert live.status_code == 200 and live.json() == {"status": "alive"}
    try:
        sent: list[tuple[str, int]] = []

        async def chat(rounds: int) -> None:
            for _ in range(rounds):
                for i, c in enumerate(clients):
                    peer = users[(i + 1) % len(users)]
                    ack = await c.send_text(f"c2c_{peer}", "via haproxy")
                    sent.append((ack.conversation_id, ack.seq))

        await chat(3)
        stopping = asyncio.create_task(asyncio.to_thread(pair[0].stop))
        await chat(5)
        await stopping
        await chat(3)
        # Each receives what its sender was acked, once, in order.
        for i, c in enumerate(clients):
            sender = users[(i - 1) % len(users)]
            want = [seq for cid, seq in sent if cid == f"c2c_{users[i]}"]
            got = [await asyncio.wait_for(c.next_message(), 30) for _ in want]
            assert [(m.sender, m.seq) for m in got] == [(sender, s) for s in want]
            assert want == list(range(1, 12))
        # Least connections put two clients on the stopped process: they moved.
        assert sum(c.connects >= 2 for c in clients) >= 1
    finally:
        for c in clients:
            await c.close()

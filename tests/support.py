"""What the tests drive: a real Tidings server (in the test process, or a
``tidings serve`` process where a test needs one) and raw clients."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import gc
import itertools
import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import uvicorn
import uvloop
import websockets
from TLSSigAPIv2 import TLSSigAPIv2

from tests.pg import free_port
from tests.templates import seed_sqlite
from tidings import logs
from tidings.api.app import create_app
from tidings.config import Settings
from tidings.config_sources import load as load_settings
from tidings.domain.ids import Identity
from tidings.server import DrainingServer, uvicorn_config

T = TypeVar("T")


def _share_default_ssl_contexts() -> None:
    """Every ``httpx.Client`` (each ``httpx.get``, each ``Server.http()``)
    builds an SSL context with the system's CA bundle, 20-400 ms of CPU on
    this machine (SSL_CERT_FILE names Debian's whole bundle), even for the
    plain http the tests speak: about 1,000 of them made a good part of the
    suite's time. One context per trust setting serves them all in this
    process (the test clients and the in-process servers' own, the push
    worker's). Only the default ``verify=True`` is shared: it checks against
    the same bundle; tests that trust their own CA pass their own context."""
    from httpx._transports import default

    made: dict[tuple[bool, str, str], ssl.SSLContext] = {}
    create = default.create_ssl_context

    def shared(verify: Any = True, cert: Any = None, trust_env: bool = True
               ) -> ssl.SSLContext:
        if verify is not True or cert:
            return create(verify=verify, cert=cert, trust_env=trust_env)
        key = (trust_env, os.environ.get("SSL_CERT_FILE", ""),
               os.environ.get("SSL_CERT_DIR", ""))
        if key not in made:
            made[key] = create(verify=verify, cert=cert, trust_env=trust_env)
        return made[key]

    default.create_ssl_context = shared  # type: ignore[assignment]


_share_default_ssl_contexts()

CHEAP_ARGON2 = {"TIDINGS_HOME_ARGON2_TIME_COST": "1", "TIDINGS_HOME_ARGON2_MEMORY_KIB": "1024",
                "TIDINGS_HOME_ARGON2_PARALLELISM": "1"}


# SQLite makes a message's search row after its commit (store/search_index.py):
# the messages still waiting for theirs.
WAITING_TEXTS_SQL = ("SELECT count(*) FROM messages WHERE kind = 0 AND state != 2"
                     " AND rowid > (SELECT built_to FROM message_texts_fts_built)")


def count_texts_sql(sqlite: bool) -> str:
    """Counts ``message_texts`` rows, made or (SQLite) waiting."""
    waiting = f" + ({WAITING_TEXTS_SQL})" if sqlite else ""
    return f"SELECT (SELECT count(*) FROM message_texts){waiting}"


def run_cli(env: Mapping[str, str], *args: str, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
    """The ``tidings`` command as a process of its own (its exit status, what
    it prints): for tests of the command itself (tests/test_cli.py)."""
    result = subprocess.run([sys.executable, "-m", "tidings", *args], env=dict(env),
                            capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"tidings {' '.join(args)} failed: {result.stderr}")
    return result


def cli_in_process(env: Mapping[str, str], *args: str, check: bool = True
                   ) -> subprocess.CompletedProcess[str]:
    """The ``tidings`` command run in the test process through Typer's
    CliRunner, with ``env`` as its environment: the same command code over
    the same database, printing the same, without a process's start-up
    (~1-2.5 s of CPU each on this machine). In a thread of its own: the
    command runs its own event loop and the caller may be a coroutine on a
    running loop. An exception the command does not turn into an exit
    status is raised here (a process would print its traceback)."""
    from typer.testing import CliRunner

    from tidings.cli import cli

    def invoke() -> Any:
        return CliRunner().invoke(cli, list(args), env=dict(env), prog_name="tidings",
                                  catch_exceptions=False)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        result = pool.submit(invoke).result(60)
    done = subprocess.CompletedProcess(["tidings", *args], result.exit_code,
                                       result.stdout, result.stderr)
    if check and done.returncode != 0:
        raise AssertionError(f"tidings {' '.join(args)} failed: {done.stderr}")
    return done


@dataclass
class App:
    sdkappid: int
    secret_key: str
    admin: str

    def sig(self, user_id: str, expire: int = 86400) -> str:
        """A ticket made by Tencent's own library, as an app server would."""
        return str(TLSSigAPIv2(self.sdkappid, self.secret_key).gen_sig(user_id, expire))


@dataclass(eq=False)  # a server is itself: compared and hashed by identity
class Server:
    """A Tidings server for the tests: its settings (``env``, what ``tidings
    serve`` would read), its URLs, its database, and apps made on it. Two
    kinds: ``InProcessServer`` (the default: the real ASGI app under uvicorn
    in a thread of the test process) and ``ProcessServer`` (a real ``tidings
    serve`` process, for what needs one: kill -9, SIGSTOP)."""

    data_dir: Path
    database_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"TIDINGS_DATA_DIR": str(self.data_dir), "TIDINGS_PORT": str(self.port),
                    "TIDINGS_HOST": "127.0.0.1", "TIDINGS_LOG_LEVEL": "warning",
                    # No config file (./tidings.toml, ~/.config/tidings/...): a
                    # developer's own must not change the tests' servers.
                    "TIDINGS_CONFIG": ""})
        # Cheap password hashing: argon2id with its real parameters (64 MiB,
        # 3 passes, 4 lanes) takes both CPUs for a good part of a second per
        # sign-in, which slowed every other test running beside and made the
        # suite's timing-sensitive tests fail. The test of the unknown-user
        # timing, which needs the real cost, sets it back.
        env.update(CHEAP_ARGON2)
        if self.database_url:
            env["TIDINGS_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    def start(self) -> None:
        raise NotImplementedError

    def _seed_database(self) -> None:
        """On SQLite, a data dir without a database starts from the migrated
        template (tests/templates.py): the server's start then skips the
        migrations it would run on an empty file."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = self.env
        if not env.get("TIDINGS_DATABASE_URL"):
            seed_sqlite(Path(env["TIDINGS_DATA_DIR"]))

    def stop(self) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def kill9(self) -> None:
        raise AssertionError("kill -9 needs a server process: mark the test "
                             "@pytest.mark.process_server(reason)")

    def log_tail(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def cli(self, *args: str, check: bool = True, process: bool = False
            ) -> subprocess.CompletedProcess[str]:
        """The ``tidings`` command on this server's data: in the test process
        (``cli_in_process``), or with ``process`` as a process of its own."""
        run = run_cli if process else cli_in_process
        return run(self.env, *args, check=check)

    async def sql(self, query: str, **params: Any) -> Any:
        """The first column of the first row of a query against the server's
        database (to count stored rows), in a transaction that commits: a
        test may also move a stored time (an expiry) instead of waiting."""
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        url = self.database_url or (
            f"sqlite+aiosqlite:///{(self.data_dir / 'tidings.db').resolve()}")
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(query), params)
                return result.scalar() if result.returns_rows else result.rowcount
        finally:
            await engine.dispose()

    def create_app(self, name: str = "ShopX", icon_url: str = "") -> App:
        doc = json.loads(self.cli("app", "create", "--name", name, "--icon-url", icon_url).stdout)
        return App(doc["sdkappid"], doc["secret_key"], doc["admin"])

    def create_operator(self, name: str) -> str:
        """An operator of the console (``tidings operator create``); its password."""
        return str(json.loads(self.cli("operator", "create", name).stdout)["password"])

    def home_app(self) -> App:
        """The built-in home app, with a live key read through the CLI (as
        the server itself signs its hosted accounts' tickets)."""
        sdkappid = httpx.get(f"{self.base_url}/v1/home", timeout=10).json()["sdkappid"]
        doc = json.loads(self.cli("app", "show", str(sdkappid)).stdout)
        key = next(k["secret_key"] for k in doc["keys"] if k["retired_at"] is None)
        return App(sdkappid, key, doc["admins"][0])

    def http(self, app: App | None = None, user: str | None = None) -> httpx.Client:
        headers = {}
        if app is not None and user is not None:
            headers["Authorization"] = f"Bearer {app.sig(user)}"
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)


@dataclass(eq=False)
class ProcessServer(Server):
    """A real ``tidings serve`` process. Only for tests that need a process:
    kill -9 (a crash loses nothing acked), SIGSTOP (a server that stops
    answering), and timing tests that must not share a CPU-bound GIL with
    their clients. Each start costs a Python start-up and the app's import
    (~1-4 s on this machine), and apps are made through the CLI."""

    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._seed_database()
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen([sys.executable, "-m", "tidings", "serve"],
                                        env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90  # a loaded 2-core machine starts slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.process.kill()  # leave no orphan behind
        self.process.wait()
        raise AssertionError(f"server did not come up: {self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def create_app(self, name: str = "ShopX", icon_url: str = "") -> App:
        """As ``tidings app create`` does (the same services over the same
        database, cli_services.py), in the test process: a CLI process
        costs a Python start-up and the app's import (~1.3 s, more on a
        loaded machine) per app; the CLI's own tests run it."""
        from tidings.cli_services import open_services

        async def create() -> App:
            async with open_services(load_settings(env=self.env).settings) as services:
                record, key = await services.apps.create(name, icon_url, "administrator")
            return App(record.sdkappid, key, "administrator")

        # A thread of its own: the caller may be a coroutine on a running loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, create()).result(60)


# -- the server in the test process ------------------------------------------------

# Which in-process server a log record belongs to: the server's thread, or
# (for work it hands to executor threads) the context its tasks carry.
_log_owner: contextvars.ContextVar[InProcessServer | None] = contextvars.ContextVar(
    "tidings_test_server", default=None)
_servers_by_thread: dict[int, InProcessServer] = {}
_running: weakref.WeakSet[InProcessServer] = weakref.WeakSet()


class _ServerLogs(logging.Handler):
    """One handler on the root logger for every in-process server of this
    test process: a record goes to its server's ``server.log`` (as a server
    process's output would), at the server's log level."""

    def emit(self, record: logging.LogRecord) -> None:
        server = _log_owner.get() or _servers_by_thread.get(record.thread or 0)
        if server is None or record.levelno < server._log_level:
            return
        try:
            line = self.format(record) + "\n"
            with open(server.data_dir / "server.log", "a") as log:
                log.write(line)
        except Exception:
            self.handleError(record)


_log_handler = _ServerLogs()
# The servers' own format (tidings/logs.py, text), so tests read the lines an
# operator reads.
_log_handler.setFormatter(logs.formatter("text"))
logging.getLogger().addHandler(_log_handler)


def _tidings_log_level(wanted: int = logging.WARNING) -> None:
    """Tidings' loggers let through the records of the lowest level that a
    running server logs (as ``tidings serve`` sets its root logger's level);
    the handler above sorts them by server and level."""
    levels = [s._log_level for s in _running if s.running]
    logging.getLogger("tidings").setLevel(min([wanted, *levels]))


class ServerServices:
    """The one place where the tests reach into a running server's runtime
    (``app.state.runtime``): what the CLI does for setup, done through the
    same running services instead of a CLI process (~1.3 s each). When the
    runtime's modules move, only this class changes."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    async def create_app(self, name: str, icon_url: str = "",
                         admin: str = "administrator") -> App:
        # As ``tidings app create`` does, through the running app registry.
        record, key = await self.runtime.apps.create(name, icon_url, admin)
        return App(record.sdkappid, key, admin)

    async def create_operator(self, name: str, password: str) -> None:
        await self.runtime.operators.create(name, password)

    async def home_app(self) -> App:
        record = await self.runtime.apps.get(self.runtime.home_sdkappid)
        return App(record.sdkappid, record.live_keys[0], record.admins[0])

    async def count_push_wakes(self) -> list[float]:
        """The push worker's wakes from now on (each reads the store), one
        entry per wake."""
        worker = self.runtime.push._worker
        wakes: list[float] = []
        wake = worker.wake

        def counted() -> None:
            wakes.append(time.monotonic())
            wake()
        worker.wake = counted
        return wakes

    async def count_queue_reads(self) -> dict[str, list[float]]:
        """Once nothing is queued (the push jobs, the pending sends and
        callbacks: earlier tests' retries are over), the queue workers'
        reads of due work from now on, one entry per read, by method: the
        push worker's ``due_jobs`` and ``due_sends``, the dispatcher's ``due``."""
        stores = {"due_jobs": self.runtime.push._worker._store,
                  "due_sends": self.runtime.push._worker._store,
                  "due": self.runtime.callbacks.dispatcher._store}
        deadline = time.monotonic() + 20
        # On SQLite a push job is also a message past the push pointer.
        in_messages = (" + (SELECT count(*) FROM messages WHERE push_options IS NOT NULL"
                       " AND rowid > (SELECT made_to FROM push_jobs_made))"
                       if self.runtime.db.dialect == "sqlite" else "")
        while await self.runtime.db.read(lambda conn: conn.exec_driver_sql(
                "SELECT (SELECT count(*) FROM push_jobs)" + in_messages +
                " + (SELECT count(*) FROM push_sends WHERE status = 'pending')"
                " + (SELECT count(*) FROM callback_outbox WHERE status = 'pending')").scalar()):
            assert time.monotonic() < deadline, "the queues did not empty"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the workers' last steps end
        reads: dict[str, list[float]] = {}
        for name, store in stores.items():
            found = reads[name] = []
            method = getattr(store, name)

            async def counted(*args: Any, _method: Any = method, _found: list[float] = found,
                              **kwargs: Any) -> Any:
                _found.append(time.monotonic())
                return await _method(*args, **kwargs)
            setattr(store, name, counted)
        return reads

    async def client_ips(self, app: App, user: str) -> list[str]:
        """The client address the server took for each of a user's connections."""
        devices = self.runtime.bus.devices(Identity(app.sdkappid, user))
        return [device.client_ip for device in devices]


@dataclass(eq=False)
class InProcessServer(Server):
    """The real ASGI app (``create_app(Settings(...))`` with the settings
    that ``env`` gives a ``tidings serve`` process) under uvicorn, configured
    as ``tidings.server.run`` does, in a thread of the test process with its
    own (uvloop) event loop, on a real 127.0.0.1 port: the tests' HTTP and
    WebSocket clients see a server like any other. It starts in a fraction
    of a second and makes apps through the running services, not the CLI."""

    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False, repr=False)
    _uvicorn: uvicorn.Server | None = field(default=None, init=False, repr=False)
    _asgi: Any = field(default=None, init=False, repr=False)
    _failure: BaseException | None = field(default=None, init=False, repr=False)
    _started_once: bool = field(default=False, init=False, repr=False)
    _log_level: int = field(default=logging.WARNING, init=False, repr=False)
    _gc_threshold: tuple[int, int, int] = field(default=(700, 10, 10), init=False, repr=False)

    def new_loop(self) -> asyncio.AbstractEventLoop:
        """The server thread's loop: uvloop, as ``tidings serve`` runs."""
        return uvloop.new_event_loop()

    def settings(self) -> Settings:
        """What ``tidings serve`` reads from ``env``: the same loader, so a
        misspelt setting in a test's env is refused here too."""
        return load_settings(env=self.env).settings

    def start(self) -> None:
        assert not self.running, "already running"
        self._seed_database()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", self.port))  # the same port again after a restart
        except OSError:
            if self._started_once:
                sock.close()
                raise
            # free_port() raced with another process: take any free port.
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._started_once = True
        settings = self.settings()
        self._log_level = logging.getLevelName(settings.log_level.upper())
        _tidings_log_level(self._log_level)
        self._asgi = create_app(settings)
        config = uvicorn_config(
            settings, self._asgi, loop="none", lifespan="on",
            # Leave the test process's logging alone (uvicorn would dictConfig it).
            log_config=None)
        self._uvicorn = DrainingServer(config, self._asgi)
        self._failure = None
        self._gc_threshold = gc.get_threshold()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(sock, ready),
                                        name=f"tidings-server-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        _running.add(self)
        deadline = time.monotonic() + 90
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(
                    f"server did not come up ({self._failure!r}): {self.log_tail()}")
            time.sleep(0.01)

    def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        assert self._uvicorn is not None
        _servers_by_thread[threading.get_ident()] = self
        _log_owner.set(self)
        loop = self.new_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        ready.set()
        try:
            loop.run_until_complete(self._uvicorn.serve(sockets=[sock]))
        except BaseException as exc:  # SystemExit when the lifespan fails
            self._failure = exc
        finally:
            try:
                tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in tasks:
                    task.cancel()
                if tasks:
                    loop.run_until_complete(asyncio.wait(tasks, timeout=5))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
                sock.close()
                _servers_by_thread.pop(threading.get_ident(), None)

    def stop(self) -> None:
        thread, server = self._thread, self._uvicorn
        if thread is None or server is None:
            return
        server.should_exit = True
        thread.join(30)
        if thread.is_alive():
            server.force_exit = True
            thread.join(15)
        self._thread = None
        _running.discard(self)
        # The app's lifespan froze every object of this process (gc.freeze)
        # and raised the collection threshold, as suits a server process;
        # give the test process back its collector.
        gc.unfreeze()
        gc.set_threshold(*self._gc_threshold)
        _tidings_log_level()
        assert not thread.is_alive(), f"server thread did not end: {self.log_tail()}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _call(self, work: Callable[[ServerServices], Coroutine[Any, Any, T]]) -> T:
        """Run ``work`` on the server's own event loop (its database engine
        and caches live there) and wait for it, from any thread or loop."""
        assert self._loop is not None and self.running, "server not running"
        services = ServerServices(self._asgi.state.runtime)
        return asyncio.run_coroutine_threadsafe(work(services), self._loop).result(60)

    def create_app(self, name: str = "ShopX", icon_url: str = "") -> App:
        return self._call(lambda s: s.create_app(name, icon_url))

    def home_app(self) -> App:
        return self._call(lambda s: s.home_app())

    def create_operator(self, name: str) -> str:
        password = f"operator-password-{uuid.uuid4().hex[:8]}"
        self._call(lambda s: s.create_operator(name, password))
        return password

    def client_ips(self, app: App, user: str) -> list[str]:
        return self._call(lambda s: s.client_ips(app, user))

    def queue_reads(self) -> dict[str, list[float]]:
        """See ``ServerServices.count_queue_reads``."""
        return self._call(lambda s: s.count_queue_reads())

    def push_wakes(self) -> list[float]:
        """A list that gets an entry at each wake of the push worker from now on."""
        return self._call(lambda s: s.count_push_wakes())


@atexit.register
def _stop_left_over_servers() -> None:
    """A test killed by pytest-timeout, or an interrupted run, may leave a
    server running: stop it before the process ends (its database
    connections, its files)."""
    for server in list(_running):
        with contextlib.suppress(Exception):
            server.stop()


def openapi_doc(base_url: str) -> dict[str, Any]:
    """The server's OpenAPI document. The first request of a process builds
    it (1-4 s of CPU, off the event loop): longer than httpx's 5 s default
    on a loaded machine."""
    reply = httpx.get(f"{base_url}/openapi.json", timeout=60)
    assert reply.status_code == 200, reply.text
    doc: dict[str, Any] = reply.json()
    return doc


def error_of(reply: httpx.Response) -> tuple[int, int]:
    """The HTTP status and the Tidings code of an error answer (checked to
    have the documented shape)."""
    body = reply.json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"] and body["error"]["name"]
    return reply.status_code, body["error"]["code"]


class Conn:
    """A raw protocol client: requests matched by id, events kept in order."""

    _ids = itertools.count(1)

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._waiting: dict[object, asyncio.Future[dict[str, Any]]] = {}
        self.orphans: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())
        self.closed: asyncio.Future[tuple[int | None, str]] = (
            asyncio.get_running_loop().create_future())

    @classmethod
    async def open(cls, server: Server) -> Conn:
        return cls(await websockets.connect(server.ws_url, max_size=2**22))

    @classmethod
    async def login(cls, server: Server, app: App, user: str, *, sync: bool = True,
                    known: dict[str, int] | None = None) -> Conn:
        conn = await cls.open(server)
        reply = await conn.request("login", {"sdkappid": app.sdkappid, "user_id": user,
                                             "usersig": app.sig(user)})
        assert reply["ok"], reply
        if sync:
            synced = await conn.request("sync", {"known": known or {}})
            assert synced["ok"], synced
            conn.last_sync = synced["data"]
        return conn

    last_sync: dict[str, Any] = {}  # noqa: RUF012 - set per connection by login()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                doc = orjson.loads(raw)
                if "event" in doc:
                    await self.events.put(doc)
                elif doc.get("re") in self._waiting:
                    self._waiting.pop(doc["re"]).set_result(doc)
                else:
                    self.orphans.append(doc)
        except websockets.ConnectionClosed:
            pass
        finally:
            rcvd = self.ws.protocol.close_rcvd
            if not self.closed.done():
                self.closed.set_result((rcvd.code if rcvd else None,
                                        rcvd.reason if rcvd else ""))

    async def send_raw(self, raw: str | bytes) -> None:
        await self.ws.send(raw)

    async def request(self, op: str, data: dict[str, Any] | None = None,
                      timeout: float = 10) -> dict[str, Any]:  # noqa: ASYNC109
        req_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[req_id] = future
        frame: dict[str, Any] = {"op": op, "id": req_id}
        if data is not None:
            frame["data"] = data
        await self.ws.send(orjson.dumps(frame).decode())
        return await asyncio.wait_for(future, timeout)

    async def send_text(self, conversation_id: str, text: str,
                        client_msg_id: str | None = None) -> dict[str, Any]:
        return await self.request("send", {
            "conversation_id": conversation_id,
            "client_msg_id": client_msg_id or uuid.uuid4().hex,
            "elements": [{"type": "text", "text": text}],
        })

    async def event(self, name: str = "message",
                    timeout: float = 5) -> dict[str, Any]:  # noqa: ASYNC109
        """The next event of that name (pings and others in between are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            doc = await asyncio.wait_for(self.events.get(), max(left, 0.001))
            if doc["event"] == name:
                return doc["data"]  # type: ignore[no-any-return]

    async def no_event(self, name: str = "message", wait: float = 0.3) -> None:
        """Assert that no such event arrives within ``wait`` seconds."""
        try:
            got = await self.event(name, wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected {name} event: {got}")

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()

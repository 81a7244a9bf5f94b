"""Fixtures: every test runs against a real server, on SQLite and on
PostgreSQL. Tests isolate themselves by creating their own app.

The server runs in the test process (``InProcessServer``: the real ASGI app
under uvicorn on a real port) unless the test, or its module, is marked
``@pytest.mark.process_server("why")``: then it is a ``tidings serve``
process (``ProcessServer``), for what needs one (kill -9, SIGSTOP, timing
that must not share the test process's CPU)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.pg import Cluster, find_bin_dir
from tests.redis_server import RedisServer, find_redis
from tests.support import App, InProcessServer, ProcessServer, Server
from tests.templates import seed_sqlite
from tidings.store.engine import Database, migrate, open_database

BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "process_server(reason): the test's servers (make_server, shared_server) "
        "are `tidings serve` processes rather than in-process servers; say why")


# The files that take longest (process starts: clusters, crashes, browsers),
# longest first. scripts/test runs pytest-xdist with --dist loadfile and
# --no-loadscope-reorder, which hands files to the workers in the order
# pytest_collection_modifyitems leaves them: these first, then the others by
# their number of tests, so that no long file starts last while the other
# worker has nothing left (xdist's own order, by number of tests alone, put
# these few-test files at the end). A stale list only costs balance.
# Measured: a whole fresh-clone CI run with TIDINGS_TEST_FILE_TIMES set
# (2026-12-07, session 11, the machine loaded by four other engineers: ~2.5x
# the quiet figures), the files of 30 s or more (scripts/longest_files
# --min 30). A whole run with TIDINGS_TEST_FILE_TIMES set gives the next
# order.
LONGEST_FILES = (
    "tests/api/test_openapi_fuzz.py", "tests/test_cluster_kill.py", "tests/test_cluster.py",
    "tests/test_cli_ops.py", "tests/test_cli.py", "tests/sdk/test_client.py",
    "tests/test_cluster_ops.py", "tests/api/test_broadcasts.py",
    "tests/services/test_push.py", "tests/test_crash.py", "tests/api/test_access_log.py",
    "tests/api/test_home_recovery.py", "tests/api/test_home_accounts.py",
    "tests/clients/test_messenger_people.py", "tests/api/test_docs_offline.py",
    "tests/test_cli_changes_reach_server.py", "tests/gateway/test_resync.py",
    "tests/services/test_callbacks_durability.py", "tests/api/test_message_changes.py",
    "tests/clients/test_typescript_sdk.py", "tests/api/test_media_collect.py",
    "tests/clients/test_messenger_a11y.py", "tests/api/test_admin_accounts.py",
    "tests/gateway/test_heartbeat.py", "tests/clients/test_messenger_chat.py",
    "tests/services/test_callbacks.py", "tests/api/test_bad_input.py",
)


# Seconds per file (setup, call and teardown of its tests summed), kept
# when TIDINGS_TEST_FILE_TIMES names a file to write them to: a whole run
# (the merging engineer's) then gives LONGEST_FILES' next order at no cost
# of its own (``scripts/longest_files``). Under xdist the controller sees
# every worker's reports.
_file_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if os.environ.get("TIDINGS_TEST_FILE_TIMES"):
        path = report.nodeid.split("::", 1)[0]
        _file_seconds[path] = _file_seconds.get(path, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("TIDINGS_TEST_FILE_TIMES")
    if target and _file_seconds and not hasattr(session.config, "workerinput"):
        ranked = sorted(_file_seconds.items(), key=lambda kv: -kv[1])
        Path(target).write_text(json.dumps({path: round(s, 2) for path, s in ranked},
                                           indent=1) + "\n")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    per_file: dict[str, int] = {}
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        per_file[path] = per_file.get(path, 0) + 1

    def rank(item: pytest.Item) -> tuple[int, int]:
        path = item.nodeid.split("::", 1)[0]
        known = LONGEST_FILES.index(path) if path in LONGEST_FILES else len(LONGEST_FILES)
        return known, -per_file[path]

    items.sort(key=rank)  # stable: a file's tests keep their order


def wants_process(request: pytest.FixtureRequest) -> bool:
    """Whether the requesting test (or module, for a module's fixtures) is
    marked ``process_server``."""
    return request.node.get_closest_marker("process_server") is not None


def new_server(data_dir: Path, database_url: str, extra_env: dict[str, str] | None = None,
               *, process: bool = False) -> Server:
    """A server not yet started: in the test process unless ``process``."""
    kind = ProcessServer if process else InProcessServer
    return kind(data_dir, database_url, dict(extra_env or {}))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster | None]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("TIDINGS_TEST_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (TIDINGS_TEST_REQUIRE_POSTGRES) but not found")
        yield None
        return
    cluster = Cluster(bin_dir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real Redis for the cluster's tests (skipped where redis-server is
    not installed, unless TIDINGS_TEST_REQUIRE_REDIS)."""
    binary = find_redis()
    if binary is None:
        if os.environ.get("TIDINGS_TEST_REQUIRE_REDIS"):
            pytest.fail("Redis is required (TIDINGS_TEST_REQUIRE_REDIS) but not found")
        pytest.skip("redis-server is not installed (scripts/test installs it)")
    server = RedisServer(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def database_url(backend: str, cluster: Cluster | None, *, empty: bool = False) -> str:
    """"" for SQLite (the server's file in its data dir, seeded from the
    migrated template by ``Server.start``); else a new PostgreSQL database at
    the newest revision, or ``empty`` (the migration tests)."""
    if backend == "sqlite":
        return ""
    if cluster is None:
        pytest.skip("PostgreSQL binaries are not installed (scripts/test installs them)")
    return cluster.new_database(empty=empty)


@pytest.fixture
async def db(backend: str, pg_cluster: Cluster | None, tmp_path: Path
             ) -> AsyncIterator[Database]:
    """The store alone, without a server: a migrated database of ``backend``
    (on SQLite the migrated template's copy, cheaper than migrating)."""
    url = database_url(backend, pg_cluster)
    if not url:
        seed_sqlite(tmp_path)
        url = f"sqlite+aiosqlite:///{tmp_path / 'tidings.db'}"
    db = open_database(url)
    await migrate(db)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_server(request: pytest.FixtureRequest, backend: str, pg_cluster: Cluster | None,
                tmp_path: Path) -> Iterator[object]:
    """A factory for servers with extra settings; all are stopped at the end.
    In the test process unless the test is marked ``process_server``."""
    started: list[Server] = []
    counter = iter(range(1000))
    process = wants_process(request)

    def make(**env: str) -> Server:
        server = new_server(tmp_path / f"server{next(counter)}",
                            database_url(backend, pg_cluster),
                            {f"TIDINGS_{k.upper()}": v for k, v in env.items()},
                            process=process)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def shared_server(request: pytest.FixtureRequest, pg_cluster: Cluster | None,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per module and backend; tests keep apart by app."""
    server = new_server(tmp_path_factory.mktemp("server"),
                        database_url(str(request.param), pg_cluster),
                        process=wants_process(request))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(shared_server: Server) -> Server:
    return shared_server


@pytest.fixture
def app(server: Server) -> App:
    return server.create_app()


# Tests that only need *some* app share one per module and keep apart by
# user ids that no other test uses (``users``).

@pytest.fixture(scope="module")
def shared_app(shared_server: Server) -> App:
    return shared_server.create_app("Shared")


@pytest.fixture(scope="module")
def other_app(shared_server: Server) -> App:
    """A second app on the same server, to show that apps stay apart."""
    return shared_server.create_app("Other")


@pytest.fixture
def users() -> Callable[[str], str]:
    """``users("alice")`` is a user id of this test alone (at most 32 bytes)."""
    tag = uuid.uuid4().hex[:10]
    return lambda name: f"{name}-{tag}"

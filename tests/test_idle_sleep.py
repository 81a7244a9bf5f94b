"""An idle server sleeps: once started, with nobody connected, its event loop
has no timer due for a long while (bench/idle_wakes.py counts the wake-ups
of a real ``tidings serve``). uvicorn's main loop woke every 0.1 s to see
whether to stop and to renew the Date header; the push service's renewal of
an app's "no" every 1.5 s whether or not any app was told "no"."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from tests.conftest import database_url
from tests.pg import Cluster
from tests.support import InProcessServer
from tidings.server import DatedState, QuietServer
from tidings.services.idle import Nudge

# A timer due sooner than this once the server has settled is a wake-up an
# idle process need not have. The queue workers' and the figures' sleeps are
# a minute from the start: they come within this only if the test looked
# more than 25 s after the start (its 20 s of settling included).
QUIET_FOR = 15.0


class AsyncioServer(InProcessServer):
    """The in-process server on asyncio's own loop, whose timers can be read
    (uvloop's are libuv's)."""

    def new_loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.new_event_loop()


@pytest.fixture
def idle_server(backend: str, pg_cluster: Cluster | None, tmp_path: Path
                ) -> Iterator[AsyncioServer]:
    server = AsyncioServer(tmp_path / "server", database_url(backend, pg_cluster))
    server.start()
    yield server
    server.stop()


def _soon(loop: asyncio.AbstractEventLoop) -> list[str]:
    """The timers due within QUIET_FOR, each as what it wakes (a task's name
    and where it waits, or the callback)."""
    scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
    found = []
    for handle in scheduled:
        if handle.cancelled() or handle.when() - loop.time() > QUIET_FOR:
            continue
        what = repr(handle)
        for arg in getattr(handle, "_args", ()) or ():
            for callback, _ in getattr(arg, "_callbacks", ()) or ():
                task = getattr(callback, "__self__", None)
                if isinstance(task, asyncio.Task):
                    frames = task.get_stack()
                    top = frames[-1] if frames else None
                    where = f"{top.f_code.co_filename}:{top.f_lineno}" if top else ""
                    what = f"{task.get_name()} at {where}"
        found.append(what)
    return found


def test_an_idle_server_has_no_timer_due_soon(idle_server: AsyncioServer) -> None:
    """Fails on the old code: uvicorn's 0.1 s tick (Server.main_loop) and the
    push service's renewal (push-renew, 1.5 s) are always armed."""
    loop = idle_server._loop
    assert loop is not None
    # The start's own short waits (the lifespan, the first figures) end
    # within seconds; what stays armed is the idle process's.
    deadline = time.monotonic() + 20
    while True:
        future = asyncio.run_coroutine_threadsafe(_snapshot(), loop)
        soon = future.result(30)
        if not soon or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert soon == []
    # Still stops at once when told from another thread (the tests' stop,
    # like a signal, sets should_exit): stop() would wait 30 s otherwise.
    stopper = threading.Thread(target=idle_server.stop)
    stopper.start()
    stopper.join(30)
    assert not stopper.is_alive()
    assert not idle_server.running


async def _snapshot() -> list[str]:
    return _soon(asyncio.get_running_loop())


def test_the_date_header_is_the_time_of_the_answer(idle_server: AsyncioServer) -> None:
    """With no tick to renew it, the Date header is made when an answer
    needs it."""
    reply = httpx.get(f"http://127.0.0.1:{idle_server.port}/healthz", timeout=30)
    assert reply.status_code == 200
    stamped = parsedate_to_datetime(reply.headers["date"]).timestamp()
    assert abs(stamped - time.time()) < 5  # a date of the start would be older on a slow start


def test_the_date_is_renewed_each_second(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_700_000_000.2]
    monkeypatch.setattr("tidings.server.time.time", lambda: now[0])
    config = uvicorn.Config(app=None)
    config.encoded_headers = [(b"server", b"uvicorn")]  # what Config.load() makes
    state = DatedState(config)
    first = state.default_headers
    assert dict(first)[b"date"] == b"Tue, 14 Nov 2023 22:13:20 GMT"
    assert (b"server", b"uvicorn") in first
    now[0] += 0.7  # the same second: the same list, made once
    assert state.default_headers is first
    now[0] += 0.2
    assert dict(state.default_headers)[b"date"] == b"Tue, 14 Nov 2023 22:13:21 GMT"
    state.default_headers = []  # uvicorn's setter is harmless
    assert dict(state.default_headers)[b"date"] == b"Tue, 14 Nov 2023 22:13:21 GMT"
    config = uvicorn.Config(app=None, date_header=False)
    config.encoded_headers = [(b"server", b"uvicorn")]
    assert DatedState(config).default_headers == [(b"server", b"uvicorn")]


def test_a_server_told_to_stop_before_its_loop_stops() -> None:
    """should_exit set before the main loop waits (a signal during the
    start) is not missed."""
    server = QuietServer(uvicorn.Config(app=None))
    server.should_exit = True
    asyncio.run(asyncio.wait_for(server.main_loop(), 30))


async def test_a_nudge_wakes_its_sleeper_from_another_thread() -> None:
    """services/idle.py's Nudge: the push renewal sleeps on it while no app
    is told "no", and the writer's thread wakes it."""
    nudge = Nudge()
    work: list[int] = []
    sleeper = asyncio.create_task(nudge.sleep_until(lambda: bool(work)))
    await asyncio.sleep(0)
    nudge.poke()  # nothing to do yet: it sleeps on
    await asyncio.sleep(0.05)
    assert not sleeper.done()

    def produce() -> None:
        work.append(1)
        nudge.poke()

    await asyncio.to_thread(produce)
    await asyncio.wait_for(sleeper, 30)
    # Work there already: no sleep at all.
    await asyncio.wait_for(nudge.sleep_until(lambda: True), 30)


async def test_a_poke_while_awake_schedules_nothing() -> None:
    nudge = Nudge()
    loop = asyncio.get_running_loop()
    scheduled = len(loop._ready)  # type: ignore[attr-defined]
    nudge.poke()
    assert len(loop._ready) == scheduled  # type: ignore[attr-defined]

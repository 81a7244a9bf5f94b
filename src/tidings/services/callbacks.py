"""Callbacks to app servers: the settings cache, before-callbacks (asked while
the sender waits, never retried), and the durable outbox of after-callbacks
with its dispatcher (retried with backoff until acknowledged).

Later features add an after-event with one call::

    await runtime.callbacks.enqueue(sdkappid, "after_recall", {...})

(register the event first with ``tidings.domain.callbacks.register_event``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings import __version__, metrics
from tidings.adapters.http1 import Http1Pool, HttpError
from tidings.bus.local import LocalBus
from tidings.config import Settings
from tidings.domain.callbacks import (
    DELIVERED,
    EVENTS,
    FAILED,
    MAX_ANSWER_BYTES,
    PENDING,
    SKIPPED,
    CallbackFailure,
    CallbackSettings,
    Decision,
    Event,
    FailurePolicy,
    acknowledged,
    build_request,
    read_before_send,
    refusal,
)
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.services.idle import idle_wait
from tidings.services.ttl_cache import TtlCache
from tidings.store.callbacks import (
    CallbackStore,
    OutboxRow,
    Outcome,
    insert_events,
    new_event_id,
)

log = logging.getLogger(__name__)

USER_AGENT = f"Tidings/{__version__} (callbacks)"
_MISSING = object()


class CallbackService:
    def __init__(self, store: CallbackStore, settings: Settings) -> None:
        self._store = store
        self._cfg = settings
        self._cache: TtlCache[int, CallbackSettings | None] = TtlCache(
            settings.app_cache_ttl, store.get_settings, what="callback settings")
        self._http: Http1Pool | None = None
        self._slots: dict[int, asyncio.Semaphore] = {}
        self._waiting: dict[int, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.dispatcher = Dispatcher(self, store, settings)

    def share(self, bus: LocalBus) -> None:
        """In a cluster: the callback settings this process changes, the others read
        again at once (docs/cluster.md)."""
        self._cache.share(bus, "callback_settings")

    # -- lifecycle ---------------------------------------------------------------

    def start(self, *, dispatch: bool = True) -> None:
        """Open the HTTP client; and send the outbox unless ``dispatch`` is
        False (the CLI, which only sends the test event itself)."""
        self._http = new_http_client()
        if dispatch:
            self.dispatcher.start()

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        await self.dispatcher.stop()
        if self._http is not None:
            await self._http.aclose()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- settings ----------------------------------------------------------------

    def cached(self, sdkappid: int) -> tuple[bool, CallbackSettings | None]:
        """``(known, settings)`` without waiting, for the send path's fast
        lane. ``known`` is False when the app's settings were never read or
        are older than ``app_cache_ttl``: the caller then takes its awaited
        path, which reads them (:meth:`settings`) before the message is
        judged. Busy apps are read again in the background before that."""
        hit = self._cache.quick(sdkappid)
        return (False, None) if hit is None else (True, hit.value)

    async def settings(self, sdkappid: int) -> CallbackSettings | None:
        """The app's settings, read again first when older than ``app_cache_ttl``."""
        return await self._cache.get(sdkappid)

    def wants(self, settings: CallbackSettings | None, event: str) -> bool:
        return settings is not None and settings.enabled(event)

    async def put_settings(self, new: CallbackSettings) -> CallbackSettings:
        stored = await self._store.put_settings(new)
        self._cache.put(new.sdkappid, stored)
        return stored

    async def delete_settings(self, sdkappid: int) -> bool:
        found = await self._store.delete_settings(sdkappid)
        self._cache.put(sdkappid, None)
        return found

    # -- HTTP --------------------------------------------------------------------

    async def post(self, settings: CallbackSettings, event: str, event_id: str,
                   event_time: int, data: Mapping[str, Any]) -> tuple[int, bytes]:
        assert self._http is not None, "the callback service is not started"
        return await post_callback(self._http, settings, event, event_id, event_time, data)

    # -- before-callbacks --------------------------------------------------------

    async def ask(self, settings: CallbackSettings, event: str, what: str, now: int,
                  data: Mapping[str, Any],
                  read: Callable[[int, bytes], tuple[bool, int | None, str]]) -> None:
        """Ask the app a yes-or-no before-callback (a friend request, a join
        application): ``read`` turns its answer into (allowed, the app's
        code, its text). A refusal raises 20006 with the app's code and
        text; a failure raises 50004 when the app's policy blocks, and lets
        the action through otherwise."""
        try:
            status, body = await self.post(settings, event, new_event_id(), now, data)
            allowed, app_code, app_message = read(status, body)
        except CallbackFailure as exc:
            if settings.failure_policy is FailurePolicy.BLOCK:
                raise TidingsError(ErrorCode.CALLBACK_FAILED,
                                   f"the app's {what} callback failed and its policy is to "
                                   f"block: {exc}") from None
            log.info("app %s: %s callback failed, letting it through: %s",
                     settings.sdkappid, what, exc)
            return
        if not allowed:
            raise refusal(app_code, app_message, f"the app refused this {what}")

    async def before_send(self, settings: CallbackSettings, data: Mapping[str, Any],
                          event: str = Event.BEFORE_SEND) -> Decision:
        """Ask the app about a message. Raises CallbackFailure when the app
        does not answer usefully within its timeout (waiting for a free slot
        counts); the caller applies the app's failure policy."""
        app = settings.sdkappid
        if self._waiting.get(app, 0) >= self._cfg.callback_before_send_queue:
            raise CallbackFailure("too many messages are waiting for this app's callback")
        self._waiting[app] = self._waiting.get(app, 0) + 1
        slots = self._slots.get(app)
        if slots is None:
            slots = self._slots[app] = asyncio.Semaphore(
                self._cfg.callback_before_send_concurrency)
        try:
            async with asyncio.timeout(settings.timeout):
                async with slots:
                    status, body = await self.post(settings, event,
                                                   new_event_id(), now_ms(), data)
        except TimeoutError:
            raise CallbackFailure(f"no answer within {settings.timeout_ms} ms") from None
        finally:
            self._waiting[app] -= 1
            if not self._waiting[app]:
                del self._waiting[app]
                if not slots.locked():
                    self._slots.pop(app, None)
        return read_before_send(settings.format, status, body)

    # -- after-callbacks ---------------------------------------------------------

    async def enqueue(self, sdkappid: int, event: str, data: Mapping[str, Any], *,
                      conn: AsyncConnection | None = None) -> bool:
        """Queue an after-event for the app's callback, if the app has the
        event on; True when queued. With ``conn`` the row is written in the
        caller's transaction (so it exists exactly when the change commits);
        call :meth:`wake` after the commit. Without it, in its own."""
        if event not in EVENTS:
            raise ValueError(f"unknown callback event {event!r}; register it first")
        if not self.wants(await self.settings(sdkappid), event):
            return False
        row = (sdkappid, event, orjson.dumps(data).decode())
        if conn is not None:
            await insert_events(conn, [row])
        else:
            await self._store.insert([row])
            self.wake()
        return True

    def enqueue_soon(self, sdkappid: int, event: str, data: Mapping[str, Any]) -> None:
        """:meth:`enqueue` in the background (for events that must not make
        anyone wait, like a login); failures are logged."""
        known, settings = self.cached(sdkappid)
        if known and not self.wants(settings, event):
            return  # the common case costs no task
        self._spawn(self._enqueue_logged(sdkappid, event, data))

    async def _enqueue_logged(self, sdkappid: int, event: str, data: Mapping[str, Any]) -> None:
        try:
            await self.enqueue(sdkappid, event, data)
        except Exception:
            log.exception("could not queue the %s callback of app %s", event, sdkappid)

    def wake(self) -> None:
        self.dispatcher.wake()

    # -- test and deliveries view ------------------------------------------------

    async def send_test(self, sdkappid: int) -> dict[str, Any]:
        """Send the test event now (once, not retried) and record it."""
        settings = await self._cache.reload(sdkappid)
        if settings is None:
            raise TidingsError(ErrorCode.NOT_FOUND, "this app has no callback URL")
        return await send_test_event(self._store, settings, self.post)

    async def deliveries(self, sdkappid: int, limit: int,
                         status: str | None) -> list[dict[str, Any]]:
        return [r.view() for r in await self._store.recent(sdkappid, limit, status)]


def new_http_client(connections: int = 64) -> Http1Pool:
    """The client callbacks go out with: no redirects followed, no proxy,
    up to ``connections`` idle keep-alive connections per app server."""
    return Http1Pool(connections)


async def post_callback(http: Http1Pool, settings: CallbackSettings, event: str,
                        event_id: str, event_time: int,
                        data: Mapping[str, Any]) -> tuple[int, bytes]:
    """One signed POST within the app's timeout (the whole exchange, answer
    included): (status, body), or CallbackFailure. Redirects are not
    followed; an answer over 64 KiB is refused."""
    out = build_request(settings, event, event_id, event_time, data, int(time.time()),
                        USER_AGENT)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(settings.timeout):
            status, body = await http.post(out.url, out.headers, out.body,
                                           max_answer=MAX_ANSWER_BYTES)
    except TimeoutError:
        metrics.CALLBACK_FAILURES.labels(event).inc()
        raise CallbackFailure(f"no answer within {settings.timeout_ms} ms") from None
    except HttpError as exc:
        metrics.CALLBACK_FAILURES.labels(event).inc()
        raise CallbackFailure(str(exc)[:300]) from None
    finally:
        metrics.CALLBACK_LATENCY.labels(event).observe(time.perf_counter() - started)
    if not 200 <= status < 300:
        metrics.CALLBACK_FAILURES.labels(event).inc()
    return status, body


async def send_test_event(store: CallbackStore, settings: CallbackSettings,
                          post: Any) -> dict[str, Any]:
    """The test event through ``post`` (the server's, or the CLI's own)."""
    event_id = new_event_id()
    at = now_ms()
    data = {"text": "Tidings callback test", "time": at}
    started = time.monotonic()
    try:
        status, body = await post(settings, Event.TEST, event_id, at, data)
        acknowledged(status, body)
    except CallbackFailure as exc:
        error = str(exc)
    else:
        error = ""
    row = await store.insert_done(settings.sdkappid, Event.TEST, event_id,
                                  orjson.dumps(data).decode(),
                                  FAILED if error else DELIVERED, error)
    return {"ok": not error, "error": error,
            "latency_ms": round((time.monotonic() - started) * 1000, 1),
            "delivery": row.view()}


class Dispatcher:
    """Sends what the outbox holds: oldest due first, at most
    ``callback_app_concurrency`` per app (an app server that hangs holds only
    its own slots, for at most its timeout each), retried with capped
    exponential backoff, marked delivered once the app acknowledged."""

    def __init__(self, service: CallbackService, store: CallbackStore,
                 settings: Settings) -> None:
        self._service = service
        self._store = store
        self._cfg = settings
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._sending: dict[int, asyncio.Task[None]] = {}  # row id -> its attempt
        self._per_app: dict[int, int] = {}
        self._outcomes: list[Outcome] = []
        self._last_prune = 0.0
        self.delivered = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="callback-dispatcher")

    def wake(self) -> None:
        self._wakeup.set()

    async def stop(self) -> None:
        """Stop sending; attempts cut short stay pending and go out at the next start."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        for task in list(self._sending.values()):
            task.cancel()
        await asyncio.gather(*self._sending.values(), return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._flush()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                full = await self._step()
            except Exception:
                log.exception("callback dispatcher step failed")
                full = False
            if full:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), await self._idle_wait())
            self._wakeup.clear()

    async def _idle_wait(self) -> float:
        """How long to sleep unless woken (services/idle.py): the rows being
        sent, and those of apps at their limit, wake it when one ends."""
        poll = self._cfg.callback_poll_interval
        if not self._store.alone or self._stopping:
            return poll
        limit = self._cfg.callback_app_concurrency
        try:
            at = await self._store.next_due(
                busy_apps=[app for app, n in self._per_app.items() if n >= limit],
                in_flight=list(self._sending))
        except Exception:
            log.exception("callback dispatcher: could not read when work comes due")
            return poll
        return idle_wait(at, now_ms(), poll)

    async def _step(self) -> bool:
        """Record finished attempts, start due ones; True when more may be due now."""
        await self._flush()
        await self._prune()
        free = self._cfg.callback_concurrency - len(self._sending)
        if free <= 0 or self._stopping:
            return False
        limit = self._cfg.callback_app_concurrency
        busy = [app for app, n in self._per_app.items() if n >= limit]
        rows = await self._store.due(now_ms(), min(free, 200), busy_apps=busy,
                                     in_flight=list(self._sending))
        started = 0
        left: list[int] = []
        for row in rows:
            if self._per_app.get(row.sdkappid, 0) >= limit or row.id in self._sending:
                if row.id not in self._sending:
                    left.append(row.id)
                continue
            self._per_app[row.sdkappid] = self._per_app.get(row.sdkappid, 0) + 1
            self._sending[row.id] = asyncio.create_task(self._attempt(row))
            started += 1
        await self._store.release(left)
        return started > 0 and len(rows) == min(free, 200)

    async def _attempt(self, row: OutboxRow) -> None:
        try:
            outcome = await self._deliver(row)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never lose the row over a bug: retry it
            log.exception("callback %s failed unexpectedly", row.id)
            outcome = self._retry(row, f"internal error: {type(exc).__name__}")
        finally:
            self._per_app[row.sdkappid] -= 1
            if not self._per_app[row.sdkappid]:
                del self._per_app[row.sdkappid]
        # The row stays "sending" (not fetched again) until the outcome is written.
        self._outcomes.append(outcome)
        self._wakeup.set()

    async def _deliver(self, row: OutboxRow) -> Outcome:
        settings = await self._service.settings(row.sdkappid)
        kind = EVENTS.get(row.event)
        if settings is None:
            return Outcome(row.id, SKIPPED, "the app has no callback URL any more")
        if kind is not None and kind.switchable and not settings.enabled(row.event):
            return Outcome(row.id, SKIPPED, f"the {row.event} callback is switched off")
        data = orjson.loads(row.payload)
        event_time = data.get("time", row.created_at) if isinstance(data, dict) else 0
        try:
            status, body = await self._service.post(settings, row.event, row.event_id,
                                                    int(event_time), data)
            acknowledged(status, body)
        except CallbackFailure as exc:
            return self._retry(row, str(exc))
        self.delivered += 1
        return Outcome(row.id, DELIVERED)

    def _retry(self, row: OutboxRow, error: str) -> Outcome:
        attempts = row.attempts + 1
        if attempts >= self._cfg.callback_max_attempts:
            return Outcome(row.id, FAILED, f"gave up after {attempts} attempts: {error}")
        delay = min(self._cfg.callback_retry_cap,
                    self._cfg.callback_retry_base * 2 ** (attempts - 1) * random.uniform(0.8, 1.2))
        return Outcome(row.id, PENDING, error, now_ms() + int(delay * 1000))

    async def _flush(self) -> None:
        if not self._outcomes:
            return
        done, self._outcomes = self._outcomes, []
        try:
            await self._store.record(done)
        except Exception:
            self._outcomes[:0] = done  # try again next step; the rows stay out of fetches
            raise
        for outcome in done:
            self._sending.pop(outcome.id, None)

    async def _prune(self) -> None:
        now = time.monotonic()
        if now - self._last_prune < 60:
            return
        self._last_prune = now
        removed = await self._store.prune(now_ms() - int(self._cfg.callback_retention * 1000))
        if removed:
            log.info("pruned %d finished callback rows", removed)

"""The client's session with the server, kept alive across drops: the
connection loop (login, sync, heartbeat watchdog, reconnect with backoff and
jitter), requests retried on the next connection, and the resync that hands
each conversation's entries to the application once, in seq order, with no
gap. :class:`tidings.sdk.Client` adds the op methods, grouped by feature, on
top of it."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, Self, TypeVar

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.sdk._held import HeldEntries
from tidings.sdk._state import SeqTracker, Verdict
from tidings.sdk.connection import Connection, ConnectionLost, as_dict
from tidings.sdk.models import (
    Change,
    Entry,
    GroupSystem,
    Message,
    Notice,
    ReadState,
    entry_from,
)

log = logging.getLogger("tidings.sdk")

T = TypeVar("T")
UserSigSource = str | Callable[[], str | Awaitable[str]]
ReadCallback = Callable[[ReadState], object]
ChangeCallback = Callable[[Change], object]
NoticeCallback = Callable[[Notice], object]

# A refused login that trying again cannot fix.
FATAL_LOGIN_CODES: Final = frozenset({
    ErrorCode.USERSIG_EXPIRED, ErrorCode.USERSIG_MISSING, ErrorCode.USERSIG_INVALID,
    ErrorCode.USERSIG_BAD_SIGNATURE, ErrorCode.USERSIG_USER_MISMATCH,
    ErrorCode.USERSIG_APP_MISMATCH, ErrorCode.APP_NOT_FOUND, ErrorCode.INVALID_USER_ID,
})
# Refusals that mean "not now": the request is repeated after a pause.
RETRYABLE_CODES: Final = frozenset({ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.RATE_LIMITED})

_PONG: Final = '{"op":"pong"}'


def _linked(conversation_id: str) -> bool:
    """A linked identity's conversation (``app:<sdkappid>:...``, relayed to a
    home account's device): its catch-up is ``linked_sync``, not ``sync``, so
    a live frame after a gap is taken as it comes instead of resyncing."""
    return conversation_id.startswith("app:")


class ClientClosed(Exception):
    """The client was closed; make a new one to connect again."""


class End:
    """Marks the end of the message stream."""


END: Final = End()


class Session:
    """The state and the connection loop under :class:`tidings.sdk.Client`
    (whose docstring says what the arguments mean)."""

    def __init__(
        self,
        url: str | Sequence[str],
        sdkappid: int,
        user_id: str,
        usersig: UserSigSource,
        *,
        device_id: str | None = None,
        platform: str = "python",
        known: Mapping[str, int] | None = None,
        on_read: ReadCallback | None = None,
        on_change: ChangeCallback | None = None,
        on_group_system: Callable[[GroupSystem], object] | None = None,
        on_notice: NoticeCallback | None = None,
        request_timeout: float = 10.0,
        send_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        max_frame_bytes: int = 32 * 1024 * 1024,
        gap_wait: float = 0.5,
    ) -> None:
        # Several URLs: the processes of a cluster (docs/cluster.md), any of
        # which serves; tried in the order given, the next one after a
        # failed connection or a dropped one (its process may be gone).
        self.urls: tuple[str, ...] = (url,) if isinstance(url, str) else tuple(url)
        if not self.urls:
            raise ValueError("url: at least one")
        self._url_at = 0
        self.sdkappid = sdkappid
        self.user_id = user_id
        self.device_id = device_id or uuid.uuid4().hex
        self.platform = platform
        self.on_read = on_read
        self.on_change = on_change
        self.on_group_system = on_group_system
        self.on_notice = on_notice
        self.request_timeout = request_timeout
        self.send_timeout = send_timeout
        self.connect_timeout = connect_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_frame_bytes = max_frame_bytes
        self.gap_wait = gap_wait
        self._held = HeldEntries()  # live entries past a gap, for gap_wait
        self._usersig = usersig
        self._tracker = SeqTracker(known)
        self._stay = False  # the connection ends for a resync: reconnect to the same URL
        # After a first full sync (or with a saved map) a conversation we
        # have never seen is read from its first message, not from its tail.
        self._baselined = known is not None
        self._inbox: asyncio.Queue[Entry | End] = asyncio.Queue()
        self._outbox: set[str] = set()  # client_msg_ids of sends awaiting their ack
        # What this device declared (set_app_state); said again after a reconnect.
        self._app_state = "foreground"
        self._ready = asyncio.Event()  # set: connected and synced, failed, or closed
        self._conn: Connection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._failure: Exception | None = None
        self._closed = False
        self._callbacks: set[asyncio.Task[Any]] = set()
        self.session_id: int | None = None
        self.connects = 0  # successful logins and syncs, the first included
        # As of the last sync: the join applications waiting for this user's
        # answer, and the user's own (docs/groups.md, "Join applications").
        self.group_join_requests: list[dict[str, Any]] = []
        self.group_applications: list[dict[str, Any]] = []
        # The Live groups joined (rejoined after each reconnect).
        self._live_rooms: set[str] = set()
    # -- lifecycle -----------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connect, log in and sync. Raises :class:`TidingsError` when the
        server refuses the login, ``TimeoutError`` when no connection could be
        made within ``connect_timeout``; the client is closed in both cases."""
        if self._closed:
            raise ClientClosed("the client is closed")
        if self._runner is not None:  # connected before: just wait for the link
            await self._wait_ready(asyncio.get_running_loop().time() + self.connect_timeout)
            return
        self._runner = asyncio.create_task(self._run(), name=f"tidings-sdk-{self.user_id}")
        try:
            await self._wait_ready(asyncio.get_running_loop().time() + self.connect_timeout)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Disconnect for good; :meth:`messages` ends after what it holds."""
        if self._closed:
            return
        self._closed = True
        self._ready.set()
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(), 2)
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        self._inbox.put_nowait(END)

    @property
    def url(self) -> str:
        """The server's URL this client connects (or is connected) to."""
        return self.urls[self._url_at]

    @property
    def connected(self) -> bool:
        """Logged in and synced right now."""
        return self._conn is not None and not self._conn.lost

    @property
    def known(self) -> dict[str, int]:
        """The last contiguous seq held per conversation (save it to resume)."""
        return self._tracker.snapshot()

    # -- requests ------------------------------------------------------------

    async def _op(self, op: str, data: Mapping[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = await self._call(op, data, as_dict, self.request_timeout)
        return found

    async def _call(self, op: str, data: Mapping[str, Any],
                    handler: Callable[[Any], T], within: float) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        attempt = 0
        while True:
            conn = await self._wait_ready(deadline)
            try:
                return await conn.request(op, data, handler, max(0.001, deadline - loop.time()))
            except ConnectionLost:
                continue  # same request, next connection
            except TidingsError as exc:
                if exc.code not in RETRYABLE_CODES:
                    raise
                delay = self._backoff(attempt)
                attempt += 1
                if loop.time() + delay >= deadline:
                    raise
                await asyncio.sleep(delay)

    async def _wait_ready(self, deadline: float) -> Connection:
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise ClientClosed("the client is closed")
            if self._failure is not None:
                raise self._copy_failure()
            conn = self._conn
            if conn is not None and not conn.lost:
                return conn
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError("not connected to the server in time")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), left)

    def _copy_failure(self) -> Exception:
        failure = self._failure
        assert failure is not None
        if isinstance(failure, TidingsError):
            copy = TidingsError(failure.code, failure.message)
            copy.__cause__ = failure
            return copy
        return failure

    # -- the connection loop -----------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        cap: float = min(self.backoff_max, self.backoff_initial * 2.0 ** min(attempt, 30))
        return cap / 2 + random.uniform(0, cap / 2)

    async def _run(self) -> None:
        attempt = 0
        while not self._closed:
            before = self.connects
            try:
                await self._connect_once()
            except asyncio.CancelledError:
                raise
            except TidingsError as exc:
                if exc.code in FATAL_LOGIN_CODES:
                    self._fail(exc)
                    return
                log.warning("%s: the server refused: %s (%s)", self.user_id, exc.message,
                            int(exc.code))
            except InvalidURI as exc:
                self._fail(exc)
                return
            except (OSError, TimeoutError, WebSocketException, ConnectionLost) as exc:
                log.info("%s: connection failed: %r", self.user_id, exc)
            except Exception:
                log.exception("%s: connection failed", self.user_id)
            if self._closed:
                return
            if not self._stay:
                self._url_at = (self._url_at + 1) % len(self.urls)
            self._stay = False
            if self.connects != before:
                attempt = 0  # it worked for a while: start the backoff over
            delay = self._backoff(attempt)
            attempt += 1
            log.info("%s: reconnecting in %.2fs", self.user_id, delay)
            await asyncio.sleep(delay)

    def _fail(self, exc: Exception) -> None:
        log.error("%s: giving up: %s", self.user_id, exc)
        self._failure = exc
        self._ready.set()
        self._inbox.put_nowait(END)

    async def _resolve_usersig(self) -> str:
        source = self._usersig
        if isinstance(source, str):
            return source
        value = source()
        if inspect.isawaitable(value):
            value = await value
        return str(value)

    async def _connect_once(self) -> None:
        usersig = await self._resolve_usersig()
        ws = await connect(self.url, open_timeout=self.connect_timeout, ping_interval=None,
                           close_timeout=2, max_size=self.max_frame_bytes,
                           user_agent_header="tidings-sdk-python")
        conn = Connection(ws, self.user_id)
        reader = asyncio.create_task(conn.read(self._on_event))
        watchdog: asyncio.Task[None] | None = None
        try:
            login = await conn.request("login", {
                "sdkappid": self.sdkappid, "user_id": self.user_id, "usersig": usersig,
                "device": {"platform": self.platform, "id": self.device_id},
            }, as_dict, self.connect_timeout)
            if self._app_state != "foreground":
                await conn.request("app_state", {"state": self._app_state}, as_dict,
                                   self.connect_timeout)
            interval = float(login.get("heartbeat_interval", 25.0))
            dead_after = float(login.get("heartbeat_timeout", 60.0))
            watchdog = asyncio.create_task(conn.watchdog(interval, dead_after))
            while await conn.request("sync", {"known": self._tracker.snapshot()},
                                     self._apply_sync, max(self.request_timeout, dead_after)):
                pass
            # Live-group membership is per connection: join the rooms again.
            for group_id in sorted(self._live_rooms):
                try:
                    await conn.request("live_join", {"group_id": group_id}, as_dict,
                                       self.request_timeout)
                except TidingsError as exc:
                    log.warning("%s: could not rejoin Live group %s: %s", self.user_id,
                                group_id, exc)
                    self._live_rooms.discard(group_id)
            self.session_id = int(login["session_id"])
            self.connects += 1
            self._conn = conn
            self._ready.set()
            log.info("%s: connected (session %s)", self.user_id, self.session_id)
            await asyncio.wait([reader, watchdog], return_when=asyncio.FIRST_COMPLETED)
        finally:
            if self._conn is conn:
                self._conn = None
            self._held.clear()  # the next sync brings what was held
            if not self._closed and self._failure is None:
                self._ready.clear()
            conn.drop()
            for task in (reader, watchdog):
                if task is not None:
                    task.cancel()
            await asyncio.gather(reader, *([watchdog] if watchdog else []),
                                 return_exceptions=True)
            # Dead or suspect (or already closed by close()): no handshake.
            ws.transport.abort()

    async def _on_event(self, conn: Connection, event: object, data: Any) -> bool:
        """Handle one pushed event; False ends the connection."""
        if event == "ping":
            try:
                await conn.ws.send(_PONG)
            except ConnectionClosed:
                return False
        elif event == "message":
            msg = Message.from_dict(data)
            return self._take(conn, msg, accept_gap=_linked(msg.conversation_id))
        elif event == "change":
            change = Change.from_dict(data)
            return self._take(conn, change, accept_gap=_linked(change.conversation_id))
        elif event == "system":
            return self._take(conn, GroupSystem.from_dict(data), accept_gap=False)
        elif event == "read":
            self._callback(self.on_read, ReadState.from_dict(data))
        elif isinstance(event, str) and isinstance(data, dict):
            self._callback(self.on_notice, Notice(event, data))
        return True

    def _take(self, conn: Connection, entry: Entry, *, accept_gap: bool) -> bool:
        """A live entry: delivered, held past a gap for ``gap_wait``, or
        (False) the connection ends to resync now."""
        if self._deliver(entry, accept_gap=accept_gap):
            return True
        if self.gap_wait <= 0 or conn is not self._conn:  # (during the sync: resync)
            log.warning("%s: %s seq %s came after a gap (held %s); resyncing", self.user_id,
                        entry.conversation_id, entry.seq, self._tracker.get(entry.conversation_id))
            return self._resync_here()
        self._held.add(entry, self.gap_wait, lambda: self._gap_still_open(conn))
        return True

    def _gap_still_open(self, conn: Connection) -> None:
        if conn is not self._conn or conn.lost:
            return
        log.warning("%s: a gap still open after %.2fs; resyncing", self.user_id, self.gap_wait)
        self._resync_here()
        conn.ws.transport.abort()  # the reader ends; the loop reconnects to this URL

    def _owned(self, conversation_id: str, seq: int) -> None:
        """One of our sends (or changes) was stored with ``seq``: we hold
        it, and what was held past it may follow."""
        self._tracker.own(conversation_id, seq)
        if self._held:
            self._release(conversation_id)

    def _release(self, conversation_id: str) -> None:
        # A loop, not a recursion through _deliver: a long run may be held.
        while (following := self._held.next_for(conversation_id, self._tracker)) is not None:
            self._hand(following, accept_gap=False)

    def _resync_here(self) -> bool:
        """End the connection to resync through the same URL: its process
        is well (a cluster's processes commit a conversation's entries
        side by side, and two may cross on their way); only a failed or
        dropped connection moves to the next URL. False, for ``_on_event``."""
        self._stay = True
        return False

    def _callback(self, callback: Callable[[Any], object] | None, value: object) -> None:
        if callback is None:
            return
        try:
            result = callback(value)
        except Exception:
            log.exception("%s: the %s callback failed", self.user_id, type(value).__name__)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)

    def _deliver(self, entry: Entry, *, accept_gap: bool) -> bool:
        """Hand ``entry`` over if it is new, and what was held past it;
        False: it came past a gap."""
        verdict = self._hand(entry, accept_gap=accept_gap)
        if verdict is Verdict.NEW and self._held:
            self._release(entry.conversation_id)
        return verdict is not Verdict.GAP

    def _hand(self, entry: Entry, *, accept_gap: bool) -> Verdict:
        verdict = self._tracker.offer(entry.conversation_id, entry.seq, accept_gap=accept_gap)
        if verdict is not Verdict.NEW:
            return verdict
        if isinstance(entry, Change):
            self._inbox.put_nowait(entry)
            self._callback(self.on_change, entry)
        elif isinstance(entry, GroupSystem):
            self._inbox.put_nowait(entry)
            self._callback(self.on_group_system, entry)
        elif not (entry.sender == self.user_id and entry.client_msg_id in self._outbox):
            # (A send of ours that the server stored before the line dropped
            # comes back in the sync; its ack will report it, not this stream.)
            self._inbox.put_nowait(entry)
        return verdict

    def _apply_sync(self, data: Any) -> bool:
        """Take in a sync answer (in the reader, before any later frame);
        True when another round is needed."""
        more = bool(data["more"])
        messages = [entry_from(m) for m in data["messages"]]
        first: dict[str, int] = {}
        for msg in messages:
            first.setdefault(msg.conversation_id, msg.seq)
        fresh: set[str] = set()
        for conv in data["conversations"]:
            cid = str(conv["conversation_id"])
            if cid in self._tracker:
                continue
            if self._baselined:
                # New since we last looked: all of it, from seq 1 (in a
                # group, from the first entry this member may see).
                self._tracker.set_base(cid, int(conv.get("visible_after", 0)))
                fresh.add(cid)
            elif cid in first:
                self._tracker.set_base(cid, first[cid] - 1)
            elif not more:
                self._tracker.set_base(cid, int(conv["last_seq"]))
            # else: left out of this round; the next one brings its tail.
        again = more
        for msg in messages:
            cid = msg.conversation_id
            held = self._tracker.get(cid) or 0
            if msg.seq > held + 1 and not self._tracker.is_own(cid, msg.seq):
                if cid in fresh:
                    again = True  # only its tail came: ask again from seq 1
                    continue
                log.warning("%s: the sync answer skips from %s seq %s to %s", self.user_id,
                            cid, held, msg.seq)
            self._deliver(msg, accept_gap=True)
        # Groups left while away: stop asking about them, and say so.
        for gone in data.get("groups_left", ()):
            self._tracker.forget(str(gone["conversation_id"]))
            self._callback(self.on_notice, Notice("group_left", gone))
        self.group_join_requests = list(data.get("group_join_requests", ()))
        self.group_applications = list(data.get("group_applications", ()))
        if not more:
            self._baselined = True
        return again

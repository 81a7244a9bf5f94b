"""The asyncio client: one WebSocket to ``/v1/ws``, kept alive across drops.

The protocol (docs/protocol.md) in the order the client walks it:

1. ``login`` with the UserSig; the answer gives the heartbeat settings.
2. ``sync`` with ``known`` = {conversation id: last contiguous seq held};
   the answer holds what was missed, in seq order per conversation, and
   ``more`` (ask again with the updated map). Nothing live arrives before it.
3. Live ``message``, ``change`` and ``read`` events; ``ping`` events are
   answered with a ``pong``. Hearing nothing at all for ``heartbeat_timeout``
   means the connection is dead.

A recall or an edit is an entry of the conversation's seq stream (a
:class:`Change`), so a device that was away gets it in the sync answer, in
order with the messages around it: :meth:`Client.entries` yields both, and
``on_change`` is called for each change as it arrives.

When the connection drops the client reconnects with exponential backoff and
jitter and starts again at 1 with the seqs it holds, so :meth:`Client.messages`
yields every message once, in seq order per conversation, with no gap. A
request in flight is sent again on the next connection; a send keeps its
``client_msg_id``, so the server stores it once and answers the first ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.sdk._state import SeqTracker, Verdict
from tidings.sdk.media import MediaMethods
from tidings.sdk.models import (
    Ack,
    Change,
    Conversation,
    Entry,
    GroupSystem,
    HistoryPage,
    Message,
    Notice,
    ReadState,
    SearchPage,
    SearchResult,
    entry_from,
    error_from,
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
_PING: Final = '{"op":"ping"}'


def _linked(conversation_id: str) -> bool:
    """A linked identity's conversation (``app:<sdkappid>:...``, relayed to a
    home account's device): its catch-up is ``linked_sync``, not ``sync``, so
    a live frame after a gap is taken as it comes instead of resyncing."""
    return conversation_id.startswith("app:")


class ClientClosed(Exception):
    """The client was closed; make a new one to connect again."""


class _ConnectionLost(Exception):
    """The connection a request went out on is gone; try the next one."""


def _raw(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TidingsError(ErrorCode.INTERNAL, f"malformed answer: {data!r:.100}")
    return data


class _End:
    """Marks the end of the message stream."""


_END: Final = _End()


class _Connection:
    """One WebSocket: requests matched to replies by id."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.last_heard = time.monotonic()
        self.last_ping = 0.0
        self.lost = False
        self._ids = itertools.count(1)
        # Handlers run in the reader, in order with the events around them;
        # they run even when the caller stopped waiting (an ack still counts).
        self._waiting: dict[int, tuple[asyncio.Future[Any], Callable[[Any], Any]]] = {}

    async def request(self, op: str, data: Mapping[str, Any],
                      handler: Callable[[Any], T], within: float) -> T:
        if self.lost:
            raise _ConnectionLost
        req_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[req_id] = (future, handler)
        try:
            await self.ws.send(orjson.dumps({"op": op, "id": req_id, "data": data}).decode())
        except ConnectionClosed as exc:
            self._waiting.pop(req_id, None)
            raise _ConnectionLost from exc
        try:
            result: T = await asyncio.wait_for(future, within)
        except TimeoutError:
            raise TimeoutError(f"no answer to {op!r} within {within:.1f}s") from None
        return result

    def resolve(self, doc: Mapping[str, Any]) -> None:
        req_id = doc.get("re")
        if not isinstance(req_id, int):
            if doc.get("ok") is False:
                log.warning("the server refused a frame: %s", doc.get("error"))
            return
        entry = self._waiting.pop(req_id, None)
        if entry is None:
            return
        future, handler = entry
        if not doc.get("ok"):
            if not future.done():
                future.set_exception(error_from(doc.get("error")))
            return
        try:
            result = handler(doc.get("data"))
        except Exception as exc:
            log.exception("could not read the answer to request %s", req_id)
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)

    def drop(self) -> None:
        self.lost = True
        waiting, self._waiting = self._waiting, {}
        for future, _ in waiting.values():
            if not future.done():
                future.set_exception(_ConnectionLost())
                future.exception()  # retrieved: nobody may be waiting any more


class Client(MediaMethods):
    """A Tidings user's connection. Use as ``async with Client(...) as c:``.

    ``usersig`` is a ticket or a function (sync or async) that makes a fresh
    one for each connection. ``known`` resumes from a map saved from
    :attr:`known`; without it the first sync brings the newest messages of
    each conversation (older ones through :meth:`history`).
    """

    def __init__(
        self,
        url: str,
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
    ) -> None:
        self.url = url
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
        self._usersig = usersig
        self._tracker = SeqTracker(known)
        # After a first full sync (or with a saved map) a conversation we
        # have never seen is read from its first message, not from its tail.
        self._baselined = known is not None
        self._inbox: asyncio.Queue[Entry | _End] = asyncio.Queue()
        self._outbox: set[str] = set()  # client_msg_ids of sends awaiting their ack
        # What this device declared (set_app_state); said again after a reconnect.
        self._app_state = "foreground"
        self._ready = asyncio.Event()  # set: connected and synced, failed, or closed
        self._conn: _Connection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._failure: Exception | None = None
        self._closed = False
        self._callbacks: set[asyncio.Task[Any]] = set()
        self.session_id: int | None = None
        self.connects = 0  # successful logins and syncs, the first included
        # As of the last sync: the join applications waiting for this user's
        # answer, and the user's own (docs/protocol.md, "Join applications").
        self.group_join_requests: list[dict[str, Any]] = []
        self.group_applications: list[dict[str, Any]] = []
        # The Live groups joined (rejoined after each reconnect).
        self._live_rooms: set[str] = set()

    # -- lifecycle -----------------------------------------------------------

    async def __aenter__(self) -> Client:
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
        self._inbox.put_nowait(_END)

    @property
    def connected(self) -> bool:
        """Logged in and synced right now."""
        return self._conn is not None and not self._conn.lost

    @property
    def known(self) -> dict[str, int]:
        """The last contiguous seq held per conversation (save it to resume)."""
        return self._tracker.snapshot()

    # -- the application's side -----------------------------------------------

    async def send(self, conversation_id: str, elements: Sequence[Mapping[str, Any]],
                   cloud_custom_data: str = "", *, client_msg_id: str | None = None,
                   offline_push: Mapping[str, Any] | None = None) -> Ack:
        """Send a message; answers once the server stored it. Waits through a
        reconnection, up to ``send_timeout`` (or wrap it in ``asyncio.timeout``);
        a retry with the same ``client_msg_id`` is never stored twice.
        ``offline_push``: title, text, ext, disabled (docs/push.md)."""
        msg_id = client_msg_id or uuid.uuid4().hex
        data: dict[str, Any] = {"conversation_id": conversation_id, "client_msg_id": msg_id,
                                "elements": [dict(e) for e in elements],
                                "cloud_custom_data": cloud_custom_data}
        if offline_push is not None:
            data["offline_push"] = dict(offline_push)
        self._outbox.add(msg_id)
        try:
            return await self._call("send", data, self._on_ack, self.send_timeout)
        finally:
            self._outbox.discard(msg_id)

    async def send_text(self, conversation_id: str, text: str, *, cloud_custom_data: str = "",
                        client_msg_id: str | None = None,
                        offline_push: Mapping[str, Any] | None = None) -> Ack:
        return await self.send(conversation_id, [{"type": "text", "text": text}],
                               cloud_custom_data, client_msg_id=client_msg_id,
                               offline_push=offline_push)

    async def reply_text(self, conversation_id: str, seq: int, text: str, *,
                         client_msg_id: str | None = None) -> Ack:
        """Reply to message ``seq`` of the conversation, quoting it."""
        return await self.send(conversation_id, [{"type": "quote", "seq": seq},
                                                 {"type": "text", "text": text}],
                               client_msg_id=client_msg_id)

    async def entries(self) -> AsyncIterator[Entry]:
        """Incoming entries, each once, in seq order per conversation: messages
        (the user's own from other devices too) and changes (recalls and
        edits of earlier messages, the user's own from other devices too).
        Ends when the client is closed; raises the error if the client cannot
        log in any more. Read entries() or messages(), not both."""
        while True:
            item = await self._inbox.get()
            if isinstance(item, _End):
                self._inbox.put_nowait(item)  # later readers end too
                if self._failure is not None:
                    raise self._copy_failure()
                return
            yield item

    async def messages(self) -> AsyncIterator[Message]:
        """Incoming messages, as :meth:`entries` without the changes (see
        ``on_change`` for those)."""
        async for item in self.entries():
            if isinstance(item, Message):
                yield item

    async def next_message(self) -> Message:
        """The next incoming message (wrap it in ``asyncio.timeout`` to bound
        the wait); raises :class:`ClientClosed` once the client is closed."""
        while True:
            item = await self._inbox.get()
            if isinstance(item, _End):
                self._inbox.put_nowait(item)
                if self._failure is not None:
                    raise self._copy_failure()
                raise ClientClosed("the client is closed")
            if isinstance(item, Message):
                return item

    async def recall(self, conversation_id: str, seq: int) -> Change:
        """Recall one's own message (within the server's recall window, 120 s
        by default). Answers the change once stored; a message recalled before
        answers that first recall with ``duplicate`` set."""
        return await self._call("recall", {"conversation_id": conversation_id, "seq": seq},
                                self._on_change_ack, self.send_timeout)

    async def edit(self, conversation_id: str, seq: int,
                   elements: Sequence[Mapping[str, Any]] | None = None,
                   cloud_custom_data: str | None = None) -> Change:
        """Replace the elements and/or the custom data of one's own message."""
        data: dict[str, Any] = {"conversation_id": conversation_id, "seq": seq}
        if elements is not None:
            data["elements"] = [dict(e) for e in elements]
        if cloud_custom_data is not None:
            data["cloud_custom_data"] = cloud_custom_data
        return await self._call("edit", data, self._on_change_ack, self.send_timeout)

    async def history(self, conversation_id: str, before_seq: int | None = None,
                      limit: int = 50) -> HistoryPage:
        """Messages older than ``before_seq`` (the newest page without it)."""
        data = await self._call("history", {"conversation_id": conversation_id,
                                            "before_seq": before_seq, "limit": limit},
                                _raw, self.request_timeout)
        return HistoryPage([Message.from_dict(m) for m in data["messages"]], bool(data["more"]))

    async def conversations(self, limit: int | None = None) -> list[Conversation]:
        """The user's conversations, most recently active first."""
        data = await self._call("conversations", {"limit": limit}, _raw, self.request_timeout)
        return [Conversation.from_dict(c) for c in data["conversations"]]

    async def mark_read(self, conversation_id: str, seq: int | None = None) -> ReadState:
        """Move the read cursor to ``seq`` (the newest message without it)."""
        data = await self._call("read", {"conversation_id": conversation_id, "seq": seq},
                                _raw, self.request_timeout)
        return ReadState.from_dict(data)

    async def profile(self) -> dict[str, Any]:
        """The user's own profile (fields as in docs/rest.md, "Profiles")."""
        data: dict[str, Any] = await self._call("profile_get", {}, _raw, self.request_timeout)
        return data

    async def profiles(self, user_ids: Sequence[str]) -> dict[str, Any]:
        """Other users' profiles: ``{"profiles": [...], "missing": [...]}``."""
        data: dict[str, Any] = await self._call("profile_get", {"user_ids": list(user_ids)},
                                                _raw, self.request_timeout)
        return data

    async def set_profile(self, **fields: Any) -> dict[str, Any]:
        """Change the user's personal fields (gender, birthday, location,
        signature, language, allow_type); answers the whole new profile."""
        data: dict[str, Any] = await self._call("profile_set", fields, _raw,
                                                self.request_timeout)
        return data

    # -- groups (docs/protocol.md, "Groups") ------------------------------------

    async def _group(self, op: str, data: Mapping[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = await self._call(op, data, _raw, self.request_timeout)
        return found

    async def create_group(self, type: str, *, group_id: str | None = None,
                           members: Sequence[str] = (), **profile: Any) -> dict[str, Any]:
        """Create a group the user owns (``type``: Work, Public, Meeting,
        Community); ``profile``: name, face_url, introduction, notification,
        custom, join_option."""
        data: dict[str, Any] = {"type": type, "members": list(members), **profile}
        if group_id is not None:
            data["group_id"] = group_id
        return await self._group("group_create", data)

    async def join_group(self, group_id: str) -> dict[str, Any]:
        return await self._group("group_join", {"group_id": group_id})

    async def leave_group(self, group_id: str) -> dict[str, Any]:
        return await self._group("group_leave", {"group_id": group_id})

    async def invite(self, group_id: str, user_ids: Sequence[str]) -> dict[str, Any]:
        return await self._group("group_invite", {"group_id": group_id,
                                                  "user_ids": list(user_ids)})

    async def kick(self, group_id: str, user_ids: Sequence[str]) -> dict[str, Any]:
        return await self._group("group_kick", {"group_id": group_id,
                                                "user_ids": list(user_ids)})

    async def set_group_role(self, group_id: str, user_id: str, role: str) -> dict[str, Any]:
        """``role``: "Admin" or "Member"."""
        return await self._group("group_set_role", {"group_id": group_id, "user_id": user_id,
                                                    "role": role})

    async def transfer_group(self, group_id: str, new_owner: str) -> dict[str, Any]:
        return await self._group("group_transfer", {"group_id": group_id,
                                                    "new_owner": new_owner})

    async def mute_member(self, group_id: str, user_id: str, seconds: int) -> dict[str, Any]:
        """Mute for ``seconds`` (0 unmutes)."""
        return await self._group("group_mute", {"group_id": group_id, "user_id": user_id,
                                                "seconds": seconds})

    async def mute_group(self, group_id: str, mute_all: bool = True) -> dict[str, Any]:
        return await self._group("group_mute_all", {"group_id": group_id,
                                                    "mute_all": mute_all})

    async def update_group(self, group_id: str, **profile: Any) -> dict[str, Any]:
        return await self._group("group_update", {"group_id": group_id, **profile})

    async def set_name_card(self, group_id: str, name_card: str,
                            user_id: str | None = None) -> dict[str, Any]:
        return await self._group("group_set_name_card", {"group_id": group_id,
                                                         "user_id": user_id,
                                                         "name_card": name_card})

    async def disband_group(self, group_id: str) -> dict[str, Any]:
        return await self._group("group_disband", {"group_id": group_id})

    async def group_info(self, group_id: str) -> dict[str, Any]:
        return await self._group("group_info", {"group_id": group_id})

    async def group_members(self, group_id: str, *, after: str = "",
                            limit: int = 100) -> dict[str, Any]:
        return await self._group("group_members", {"group_id": group_id, "after": after,
                                                   "limit": limit})

    async def group_receipts(self, group_id: str, seqs: list[int]) -> list[dict[str, Any]]:
        """Read and unread counts of up to 100 messages of a group (live
        updates for one's own messages come as ``group_receipts`` notices)."""
        found: list[dict[str, Any]] = (await self._group(
            "group_receipts", {"group_id": group_id, "seqs": seqs}))["receipts"]
        return found

    async def group_readers(self, group_id: str, seq: int, *, read: bool = True,
                            after: str = "", limit: int = 100) -> dict[str, Any]:
        """Who has read a message (``read=False``: who has not yet), a page."""
        return await self._group("group_readers", {"group_id": group_id, "seq": seq,
                                                   "read": read, "after": after,
                                                   "limit": limit})

    async def groups(self) -> list[dict[str, Any]]:
        """The groups the user is a member of."""
        found: list[dict[str, Any]] = (await self._group("group_list", {}))["groups"]
        return found

    # -- join applications (docs/protocol.md, "Join applications") -------------

    async def apply_to_group(self, group_id: str, message: str = "") -> dict[str, Any]:
        """Ask to join; ``state`` "pending" (the owner and admins answer) or
        "joined" (a FreeAccess group)."""
        return await self._group("group_apply", {"group_id": group_id, "message": message})

    async def approve_join(self, group_id: str, user_id: str) -> dict[str, Any]:
        return await self._group("group_join_approve", {"group_id": group_id,
                                                        "user_id": user_id})

    async def decline_join(self, group_id: str, user_id: str) -> dict[str, Any]:
        return await self._group("group_join_decline", {"group_id": group_id,
                                                        "user_id": user_id})

    async def join_requests(self, group_id: str | None = None) -> list[dict[str, Any]]:
        """Pending applications to one group, or to every group the user
        owns or administers."""
        data = {} if group_id is None else {"group_id": group_id}
        found: list[dict[str, Any]] = (await self._group("group_join_requests", data))[
            "requests"]
        return found

    async def my_applications(self) -> list[dict[str, Any]]:
        """The user's own applications: pending, and answered in the last 7 days."""
        found: list[dict[str, Any]] = (await self._group("group_applications", {}))[
            "applications"]
        return found

    # -- Live groups (docs/protocol.md, "Live groups") ----------------------------

    async def live_join(self, group_id: str) -> dict[str, Any]:
        """Join a Live group on this client's connection (and again after
        every reconnect, until :meth:`live_leave`). Its messages come to
        ``on_notice`` as ``live_message`` notices."""
        found = await self._group("live_join", {"group_id": group_id})
        self._live_rooms.add(group_id)
        return found

    async def live_leave(self, group_id: str) -> dict[str, Any]:
        self._live_rooms.discard(group_id)
        return await self._group("live_leave", {"group_id": group_id})

    async def live_send(self, group_id: str, elements: Sequence[Mapping[str, Any]], *,
                        priority: str = "Normal", cloud_custom_data: str = "",
                        client_msg_id: str | None = None) -> dict[str, Any]:
        """Send to a Live group now (not stored, not resent). Over the room's
        rate a Low or Normal message is refused with 94060 (``LIVE_ROOM_BUSY``)."""
        return await self._group("live_send", {
            "group_id": group_id, "client_msg_id": client_msg_id or uuid.uuid4().hex,
            "elements": list(elements), "cloud_custom_data": cloud_custom_data,
            "priority": priority})

    async def live_members(self, group_id: str, limit: int = 100) -> dict[str, Any]:
        return await self._group("live_members", {"group_id": group_id, "limit": limit})

    # -- conversation settings ---------------------------------------------------

    async def set_conversation(self, conversation_id: str, *, pinned: bool | None = None,
                               muted: bool | None = None,
                               draft: str | None = None) -> dict[str, Any]:
        """Pin, mute or set the draft (a value left as None keeps its value)."""
        data: dict[str, Any] = {"conversation_id": conversation_id}
        for name, value in (("pinned", pinned), ("muted", muted), ("draft", draft)):
            if value is not None:
                data[name] = value
        return await self._op("conversation_set", data)

    async def typing(self, conversation_id: str, typing: bool = True) -> bool:
        """Tell the peer we are typing (or stopped); False when throttled."""
        data = await self._op("typing", {"conversation_id": conversation_id,
                                         "typing": typing})
        return not data["throttled"]

    async def react(self, conversation_id: str, seq: int, emoji: str, *,
                    remove: bool = False) -> bool:
        """Add (or with ``remove``, take back) a reaction; False when
        nothing changed."""
        data = await self._op("reaction_remove" if remove else "reaction_add",
                              {"conversation_id": conversation_id, "seq": seq, "emoji": emoji})
        return bool(data["changed"])

    async def hide_conversation(self, conversation_id: str) -> dict[str, Any]:
        return await self._op("conversation_hide", {"conversation_id": conversation_id})

    async def delete_conversation(self, conversation_id: str, *,
                                  clear_history: bool = False) -> dict[str, Any]:
        return await self._op("conversation_delete", {"conversation_id": conversation_id,
                                                      "clear_history": clear_history})

    # -- friends and blocks (docs/protocol.md, "Friends and blocks") -----------

    async def _op(self, op: str, data: Mapping[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = await self._call(op, data, _raw, self.request_timeout)
        return found

    # -- push (docs/push.md) -----------------------------------------------------

    async def register_push(self, channel: str, *, token: str = "",
                            subscription: Mapping[str, Any] | None = None,
                            private_previews: bool = False) -> dict[str, Any]:
        """Register this device's push address: an APNs or FCM ``token``, or
        a Web Push ``subscription`` (the browser's PushSubscription JSON)."""
        data: dict[str, Any] = {"channel": channel, "private_previews": private_previews}
        if token:
            data["token"] = token
        if subscription is not None:
            data["subscription"] = dict(subscription)
        return await self._op("push_register", data)

    async def unregister_push(self) -> dict[str, Any]:
        """Stop pushes to this device (call it at logout)."""
        return await self._op("push_unregister", {})

    async def push_devices(self) -> dict[str, Any]:
        return await self._op("push_devices", {})

    async def set_app_state(self, state: str) -> None:
        """"background": this device wants pushes while it stays connected;
        "foreground": it shows messages itself. Kept across reconnects."""
        if state not in ("foreground", "background"):
            raise ValueError("state: foreground or background")
        await self._op("app_state", {"state": state})
        self._app_state = state

    async def add_friend(self, user_id: str, wording: str = "", *, source: str = "",
                         remark: str = "") -> str:
        """Ask ``user_id`` to be friends: ``"added"``, ``"pending"`` or
        ``"friends"`` (already)."""
        data = await self._op("friend_add", {"user_id": user_id, "wording": wording,
                                             "source": source, "remark": remark})
        return str(data["result"])

    async def friend_requests(self) -> dict[str, Any]:
        """Pending requests: ``{"incoming": [...], "outgoing": [...]}``."""
        return await self._op("friend_requests", {})

    async def accept_friend(self, user_id: str, remark: str = "") -> dict[str, Any]:
        return await self._op("friend_accept", {"user_id": user_id, "remark": remark})

    async def decline_friend(self, user_id: str) -> None:
        await self._op("friend_decline", {"user_id": user_id})

    async def withdraw_friend_request(self, user_id: str) -> None:
        await self._op("friend_withdraw", {"user_id": user_id})

    async def friends(self) -> list[dict[str, Any]]:
        return list((await self._op("friends", {}))["friends"])

    async def set_friend_remark(self, user_id: str, remark: str) -> dict[str, Any]:
        return await self._op("friend_remark", {"user_id": user_id, "remark": remark})

    async def delete_friends(self, user_ids: Sequence[str], *,
                             both: bool = True) -> dict[str, Any]:
        return await self._op("friend_delete", {"user_ids": list(user_ids), "both": both})

    async def block(self, user_ids: Sequence[str]) -> dict[str, Any]:
        return await self._op("block", {"user_ids": list(user_ids)})

    async def unblock(self, user_ids: Sequence[str]) -> dict[str, Any]:
        return await self._op("unblock", {"user_ids": list(user_ids)})

    async def blocklist(self) -> list[str]:
        return [b["user_id"] for b in (await self._op("blocklist", {}))["blocked"]]

    # -- links: a home account and its app identities (docs/linked-identity.md) --

    @staticmethod
    def _link_request(sdkappid: int, ticket: str, to: str | None,
                      action: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {"sdkappid": sdkappid, "ticket": ticket}
        if to is not None:
            data["to"] = to
        if action is not None:
            data["action"] = action
        return data

    async def preview_link(self, sdkappid: int, ticket: str, *, to: str | None = None,
                           action: str | None = None) -> dict[str, Any]:
        """What linking with this ticket would do (app, app user, target),
        changing nothing."""
        return await self._op("link_preview", self._link_request(sdkappid, ticket, to, action))

    async def link(self, sdkappid: int, ticket: str, *, to: str | None = None,
                   action: str | None = None) -> dict[str, Any]:
        """Use the ticket: link its app user to this home account, then run
        the action (``chat`` or ``friend`` with ``to``)."""
        return await self._op("link_confirm", self._link_request(sdkappid, ticket, to, action))

    async def links(self, sdkappid: int | None = None) -> list[dict[str, Any]]:
        data = {} if sdkappid is None else {"sdkappid": sdkappid}
        return list((await self._op("links", data))["links"])

    async def unlink(self, sdkappid: int) -> dict[str, Any]:
        return await self._op("unlink", {"sdkappid": sdkappid})

    async def linked_conversations(self, sdkappid: int | None = None) -> list[dict[str, Any]]:
        """The linked identities' conversations, grouped by app."""
        data = {} if sdkappid is None else {"sdkappid": sdkappid}
        return list((await self._op("link_conversations", data))["apps"])

    async def linked_history(self, conversation_id: str, before_seq: int | None = None,
                             limit: int | None = None) -> dict[str, Any]:
        """A page of a linked conversation (``app:<sdkappid>:c2c_bob``)."""
        return await self._op("link_history", {"conversation_id": conversation_id,
                                               "before_seq": before_seq, "limit": limit})

    async def send_linked_text(self, conversation_id: str, text: str, *,
                               client_msg_id: str | None = None) -> dict[str, Any]:
        """Send as the linked identity that ``conversation_id`` (qualified)
        names; answers the ack once stored."""
        return await self._op("link_send", {
            "conversation_id": conversation_id, "client_msg_id": client_msg_id or uuid.uuid4().hex,
            "elements": [{"type": "text", "text": text}]})

    async def linked_sync(self, sdkappid: int, known: Mapping[str, int] | None = None
                          ) -> dict[str, Any]:
        """Catch up on one linked identity's conversations."""
        return await self._op("link_sync", {"sdkappid": sdkappid, "known": dict(known or {})})

    # -- requests ------------------------------------------------------------

    async def search(self, q: str, *, conversation_id: str | None = None,
                     sender: str | None = None, since: int | None = None,
                     until: int | None = None, cursor: str | None = None,
                     limit: int | None = None) -> SearchPage:
        """Messages of this user's conversations that contain every word of
        ``q`` (ignoring case), newest first; narrowed by conversation, sender
        and time (``since`` <= time < ``until``, ms)."""
        data = await self._op("search", {
            "q": q, "conversation_id": conversation_id, "sender": sender, "since": since,
            "until": until, "cursor": cursor, "limit": limit})
        return SearchPage([SearchResult.from_dict(r) for r in data["results"]],
                          bool(data["more"]), data.get("cursor"))

    async def _call(self, op: str, data: Mapping[str, Any],
                    handler: Callable[[Any], T], within: float) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        attempt = 0
        while True:
            conn = await self._wait_ready(deadline)
            try:
                return await conn.request(op, data, handler, max(0.001, deadline - loop.time()))
            except _ConnectionLost:
                continue  # same request, next connection
            except TidingsError as exc:
                if exc.code not in RETRYABLE_CODES:
                    raise
                delay = self._backoff(attempt)
                attempt += 1
                if loop.time() + delay >= deadline:
                    raise
                await asyncio.sleep(delay)

    async def _wait_ready(self, deadline: float) -> _Connection:
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

    def _on_ack(self, data: Any) -> Ack:
        ack = Ack.from_dict(data)
        self._tracker.own(ack.conversation_id, ack.seq)
        return ack

    def _on_change_ack(self, data: Any) -> Change:
        change = Change.from_dict(data)
        if not change.duplicate:
            self._tracker.own(change.conversation_id, change.seq)
        return change

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
            except (OSError, TimeoutError, WebSocketException, _ConnectionLost) as exc:
                log.info("%s: connection failed: %r", self.user_id, exc)
            except Exception:
                log.exception("%s: connection failed", self.user_id)
            if self._closed:
                return
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
        self._inbox.put_nowait(_END)

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
        conn = _Connection(ws)
        reader = asyncio.create_task(self._read_loop(conn))
        watchdog: asyncio.Task[None] | None = None
        try:
            login = await conn.request("login", {
                "sdkappid": self.sdkappid, "user_id": self.user_id, "usersig": usersig,
                "device": {"platform": self.platform, "id": self.device_id},
            }, _raw, self.connect_timeout)
            if self._app_state != "foreground":
                await conn.request("app_state", {"state": self._app_state}, _raw,
                                   self.connect_timeout)
            interval = float(login.get("heartbeat_interval", 25.0))
            dead_after = float(login.get("heartbeat_timeout", 60.0))
            watchdog = asyncio.create_task(self._watchdog(conn, interval, dead_after))
            while await conn.request("sync", {"known": self._tracker.snapshot()},
                                     self._apply_sync, max(self.request_timeout, dead_after)):
                pass
            # Live-group membership is per connection: join the rooms again.
            for group_id in sorted(self._live_rooms):
                try:
                    await conn.request("live_join", {"group_id": group_id}, _raw,
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

    async def _watchdog(self, conn: _Connection, interval: float, dead_after: float) -> None:
        """Ends when nothing at all was heard for ``dead_after`` seconds. An
        idle server pings every ``interval``; when even that is late, we ask."""
        step = max(0.05, min(interval, dead_after) / 3)
        ask_after = max(interval, 0.75 * dead_after)
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            silent = now - conn.last_heard
            if silent > dead_after:
                log.warning("%s: heard nothing for %.1fs; reconnecting", self.user_id, silent)
                return
            if silent >= ask_after and now - conn.last_ping >= ask_after:
                conn.last_ping = now
                with contextlib.suppress(ConnectionClosed, TimeoutError):
                    await asyncio.wait_for(conn.ws.send(_PING), dead_after)

    async def _read_loop(self, conn: _Connection) -> None:
        try:
            async for raw in conn.ws:
                conn.last_heard = time.monotonic()
                try:
                    doc = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    log.warning("%s: a frame that is not JSON: %.100r", self.user_id, raw)
                    continue
                if not isinstance(doc, dict):
                    continue
                if "event" in doc:
                    try:
                        keep = await self._on_event(conn, doc["event"], doc.get("data"))
                    except (KeyError, TypeError, ValueError):
                        log.exception("%s: a malformed %s event", self.user_id, doc["event"])
                        keep = False
                    if not keep:
                        return
                else:
                    conn.resolve(doc)
        except ConnectionClosed:
            pass
        finally:
            conn.drop()

    async def _on_event(self, conn: _Connection, event: object, data: Any) -> bool:
        """Handle one pushed event; False ends the connection."""
        if event == "ping":
            try:
                await conn.ws.send(_PONG)
            except ConnectionClosed:
                return False
        elif event == "message":
            msg = Message.from_dict(data)
            if not self._deliver(msg, accept_gap=_linked(msg.conversation_id)):
                log.warning("%s: %s seq %s came after a gap (held %s); resyncing", self.user_id,
                            msg.conversation_id, msg.seq, self._tracker.get(msg.conversation_id))
                return False
        elif event == "change":
            change = Change.from_dict(data)
            if not self._deliver(change, accept_gap=_linked(change.conversation_id)):
                log.warning("%s: %s seq %s came after a gap; resyncing", self.user_id,
                            change.conversation_id, change.seq)
                return False
        elif event == "system":
            entry = GroupSystem.from_dict(data)
            if not self._deliver(entry, accept_gap=False):
                log.warning("%s: %s seq %s came after a gap; resyncing", self.user_id,
                            entry.conversation_id, entry.seq)
                return False
        elif event == "read":
            self._callback(self.on_read, ReadState.from_dict(data))
        elif isinstance(event, str) and isinstance(data, dict):
            self._callback(self.on_notice, Notice(event, data))
        return True

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
        verdict = self._tracker.offer(entry.conversation_id, entry.seq, accept_gap=accept_gap)
        if verdict is Verdict.GAP:
            return False
        if verdict is not Verdict.NEW:
            return True
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
        return True

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

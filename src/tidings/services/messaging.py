"""One-to-one messaging: send, deliver, history, conversation list, read
cursors and catch-up sync. No HTTP and no sockets here: edges call these."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from tidings.bus.local import LocalBus, Subscriber
from tidings.domain.callbacks import (
    ALLOW,
    Action,
    CallbackFailure,
    CallbackSettings,
    Decision,
    Event,
    FailurePolicy,
    message_data,
    refusal,
)
from tidings.domain.clock import now_ms
from tidings.domain.conversations import DEFAULT as DEFAULT_SETTINGS
from tidings.domain.conversations import ConversationSettings
from tidings.domain.elements import EntryKind, ImportMode, MessageState
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.friends import Verdict
from tidings.domain.group_callbacks import GroupEvent
from tidings.domain.group_callbacks import message_data as group_message_data
from tidings.domain.ids import (
    MAX_CLIENT_MSG_ID,
    MAX_SEQ,
    ConversationKey,
    ConversationKind,
    Identity,
    check_user_id,
    parse_conversation_id,
    parse_msg_id,
)
from tidings.domain.push import PushOptions
from tidings.domain.records import (
    Committed,
    ConversationState,
    NewChange,
    NewMessage,
    StoredMessage,
)
from tidings.protocol.frames import event_frame
from tidings.protocol.views import (
    STATES,
    ConversationView,
    EntryView,
    MessageView,
    change_view,
    conversation_view,
    entry_view,
    message_view,
    reaction_summary,
    system_view,
)
from tidings.store.conversation_settings import ConversationSettingsStore
from tidings.store.messages import Membership, MessageStore, PageRange
from tidings.store.writer import MessageWriter

if TYPE_CHECKING:
    from tidings.services.callbacks import CallbackService
    from tidings.services.friends import Relations
    from tidings.services.group_receipts import GroupReceiptService
    from tidings.store.reactions import ReactionStore

log = logging.getLogger(__name__)

RECENT_ACKS = 50_000
# An imported message may be at most this far in the future (clock skew).
MAX_IMPORT_AHEAD_MS = 60_000


class AckTarget(Protocol):
    """Where the sender's ack goes; called once per send, in delivery order."""

    # The sending device: it gets the ack in place of the message frame.
    @property
    def device(self) -> Subscriber | None: ...

    def ack(self, committed: Committed) -> None: ...


@dataclass(frozen=True, slots=True)
class SendContext:
    """Where a send came from, for the app's callbacks: the device platform
    and the client's address; ``forbid`` names callbacks not to run for it
    (admin sends: ``before_send``, ``after_send``)."""

    platform: str = ""
    client_ip: str = ""
    forbid: frozenset[str] = frozenset()
    # The app's admin sends into a group it is not a member of (Tencent's
    # send_group_msg without From_Account): no membership or mute check.
    privileged: bool = False


NO_CONTEXT = SendContext()
IMPORT_CONTEXT = SendContext("RESTAPI", "", frozenset({"before_send", "after_send"}))


def _message_frame(msg: StoredMessage, viewer: str) -> bytes:
    return event_frame("message", message_view(msg, viewer))


def _change_frame(entry: StoredMessage, viewer: str) -> bytes:
    return event_frame("change", change_view(entry, viewer))


@dataclass(slots=True, eq=False)
class _Vetting:
    """A send waiting for the app's before-send callback."""

    request: NewMessage
    context: SendContext
    future: asyncio.Future[Committed]
    ready: bool = False
    settings: CallbackSettings | None = None
    decision: Decision | None = None
    failure: str | None = None
    task: asyncio.Task[None] | None = None
    # Friendship and block rules still to check (their lists were not in
    # memory), and what they said: a refusal to raise.
    check_relations: bool = False
    refusal: TidingsError | None = None
    # A reply: its quote's snapshot is filled in from the quoted message.
    resolve_quote: bool = False


# The app's server (admin API, imports, broadcasts) sends whatever the
# users' friend and block lists say.
_TRUSTED_PLATFORM = "RESTAPI"
_DROP = Decision(Action.DROP)
# Normalized elements JSON is compact: a reply's quote shows as this.
_QUOTE = b'"type":"quote"'
MAX_QUOTE_TEXT = 200


def _quote_text(msg: StoredMessage) -> str:
    """What a reply shows of the quoted message: its text, else its kind."""
    if msg.state == MessageState.RECALLED:
        return ""
    elements = orjson.loads(msg.elements)
    text = "".join(str(e.get("text", "")) for e in elements if e.get("type") == "text")
    if not text and elements:
        text = f"[{elements[0].get('type', '')}]"
    return text[:MAX_QUOTE_TEXT]


def _chain(source: asyncio.Future[Committed], target: asyncio.Future[Committed]) -> None:
    def copy(f: asyncio.Future[Committed]) -> None:
        if target.done():
            return
        if f.cancelled():
            target.cancel()
        elif (exc := f.exception()) is not None:
            target.set_exception(exc)
        else:
            target.set_result(f.result())

    source.add_done_callback(copy)


AT_ALL = "@all"


def _mentions(key: ConversationKey, mentions: Sequence[str]) -> tuple[str, ...]:
    """Mentions are for group messages: user ids, or "@all" for everyone."""
    if key.kind is not ConversationKind.GROUP:
        raise TidingsError(ErrorCode.INVALID_REQUEST, "mentions are for group messages")
    return tuple(m if m == AT_ALL else check_user_id(m) for m in dict.fromkeys(mentions))


def _send_events(key: ConversationKey) -> tuple[str, str]:
    """The app's before- and after-send events for a message to ``key``."""
    if key.kind is ConversationKind.GROUP:
        return GroupEvent.BEFORE_SEND, GroupEvent.AFTER_SEND
    return Event.BEFORE_SEND, Event.AFTER_SEND


def _entry_bytes(entry: StoredMessage) -> int:
    """About what an entry weighs in a sync answer."""
    size = len(entry.elements) + len(entry.cloud_custom_data) + 256
    if entry.target is not None:
        size += _entry_bytes(entry.target)
    return size


@dataclass(slots=True)
class SyncResult:
    messages: list[EntryView]
    conversations: list[ConversationView]
    more: bool
    # conversation id -> the last seq the answer covers; live frames at or
    # below it were already in the answer.
    covered: dict[int, int] = field(default_factory=dict)


class MessagingService:
    def __init__(self, store: MessageStore, bus: LocalBus, *, max_message_bytes: int,
                 max_page: int, max_sync_bytes: int = 1024 * 1024,
                 recall_window: float = 120.0, edit_window: float = 0.0) -> None:
        self._store = store
        self._bus = bus
        self._max_message_bytes = max_message_bytes
        self.max_page = max_page
        self._max_sync_bytes = max_sync_bytes
        self._windows_ms = {EntryKind.RECALL: round(recall_window * 1000),
                            EntryKind.EDIT: round(edit_window * 1000)}
        self.writer: MessageWriter | None = None
        self._in_flight: dict[tuple[int, str, str], asyncio.Future[Committed]] = {}
        self._recent: OrderedDict[tuple[int, str, str], Committed] = OrderedDict()
        self._callbacks: CallbackService | None = None
        # Sends waiting for the app's before-send callback, per sender and
        # conversation, in the order they were submitted (see _Vetting).
        self._lanes: dict[tuple[str, ConversationKey], deque[_Vetting]] = {}
        self._relations: Relations | None = None
        self._settings: ConversationSettingsStore | None = None
        self._reactions: ReactionStore | None = None
        # Set by the runtime: a group read moves the senders' receipt counts.
        self.group_receipts: GroupReceiptService | None = None

    def bind(self, writer: MessageWriter, callbacks: CallbackService | None = None,
             relations: Relations | None = None,
             settings: ConversationSettingsStore | None = None,
             reactions: ReactionStore | None = None) -> None:
        self.writer = writer
        self._callbacks = callbacks
        self._relations = relations
        self._settings = settings
        self._reactions = reactions

    async def _with_reactions(self, conversation_id: int, key: ConversationKey,
                              rows: list[StoredMessage],
                              views: list[MessageView]) -> list[MessageView]:
        await self._decorate([(conversation_id, key, rows, views)])
        return views

    async def _decorate(self, pages: Sequence[tuple[int, ConversationKey, list[StoredMessage],
                                                Sequence[EntryView]]]) -> None:
        """History and sync show each message's reactions (live message
        events do not: a new message has none), and a reply's quote as
        recalled once the quoted message is. One reaction query for all the
        pages of a sync."""
        for conversation_id, key, rows, views in pages:
            await self._recalled_quotes(conversation_id, key, rows, views)
        if self._reactions is None:
            return
        wanted = [(conversation_id, v["seq"]) for conversation_id, _, _, views in pages
                  for v in views if v["kind"] == "message"]
        found = await self._reactions.of_messages(wanted) if wanted else {}
        for conversation_id, _, _, views in pages:
            for v in views:
                if v["kind"] == "message":
                    v["reactions"] = reaction_summary(found.get((conversation_id, v["seq"]),
                                                                []))

    async def history_views(self, rows: list[StoredMessage],
                            viewers: list[str]) -> list[MessageView]:
        """Messages of any conversations, each as its viewer's history shows
        it (reactions; quotes of recalled messages blanked): search results."""
        views = [message_view(m, viewer) for m, viewer in zip(rows, viewers, strict=True)]
        await self._decorate([(m.conversation_id, m.key, [m], [v])
                              for m, v in zip(rows, views, strict=True)])
        return views

    async def _peer_reads(self, me: Identity,
                          states: list[ConversationState]) -> dict[int, int] | None:
        """The peers' read cursors, when the app has read receipts on."""
        if self._relations is None or not (
                await self._relations.rules(me.sdkappid)).read_receipts:
            return None
        wanted = [s.conversation_id for s in states if s.key.kind is ConversationKind.C2C]
        return await self._store.peer_read_seqs(wanted, me.user_id) if wanted else {}

    async def _recalled_quotes(self, conversation_id: int, key: ConversationKey,
                               rows: list[StoredMessage], views: Sequence[EntryView]) -> None:
        states: dict[int, int] = {}
        for row, view in zip(rows, views, strict=True):
            if row.kind or '"type":"quote"' not in row.elements:
                continue
            elements = orjson.loads(row.elements)
            changed = False
            for quote in elements:
                if quote.get("type") != "quote" or quote.get("state") == "recalled":
                    continue
                seq = int(quote["seq"])
                if seq not in states:
                    found = await self._store.page(conversation_id, key, after_seq=seq - 1,
                                                   up_to_seq=seq, limit=1)
                    states[seq] = found[0].state if found else MessageState.NORMAL
                if states[seq] == MessageState.RECALLED:
                    quote.update(text="", state="recalled")
                    changed = True
            if changed and view["kind"] == "message":
                view["elements"] = orjson.Fragment(orjson.dumps(elements))

    async def _settings_of(self, me: Identity) -> dict[int, ConversationSettings]:
        if self._settings is None:
            return {}
        return await self._settings.of_user(me.sdkappid, me.user_id)

    # -- sending ---------------------------------------------------------

    def submit(self, sender: Identity, conversation_id: str, client_msg_id: str,
               elements_json: bytes, cloud_custom_data: str,
               origin: AckTarget | None = None,
               context: SendContext = NO_CONTEXT, *, time: int | None = None,
               imported: ImportMode = ImportMode.NONE,
               mentions: Sequence[str] = (),
               push: PushOptions | None = None) -> asyncio.Future[Committed]:
        """Queue a message for the next commit. Checks run now (and raise);
        the future resolves once the message is durable. ``origin`` is acked
        exactly once, in order with the live frames of the same commit.
        An import (admin) gives the message's own ``time``."""
        key = parse_conversation_id(sender, conversation_id)
        if key.a == key.b:
            raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                               "a one-to-one conversation needs two different users")
        checked_mentions = _mentions(key, mentions) if mentions else ()
        if not client_msg_id or len(client_msg_id) > MAX_CLIENT_MSG_ID:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"client_msg_id must be 1 to {MAX_CLIENT_MSG_ID} characters")
        size = len(elements_json) + len(cloud_custom_data.encode())
        if size > self._max_message_bytes:
            raise TidingsError(ErrorCode.MESSAGE_TOO_LONG,
                               f"message is {size} bytes; the limit is {self._max_message_bytes}")
        dedup = (sender.sdkappid, sender.user_id, client_msg_id)
        loop = asyncio.get_running_loop()
        earlier = self._recent.get(dedup)
        if earlier is not None:
            repeated = loop.create_future()
            repeated.set_result(self._repeat(earlier, key, origin))
            return repeated
        first = self._in_flight.get(dedup)
        if first is not None:
            return self._follow(first, key, origin)
        if self.writer is None:
            raise TidingsError(ErrorCode.SERVICE_UNAVAILABLE, "the server is starting")
        if key.kind is ConversationKind.GROUP and not context.privileged:
            self.writer.precheck_send(key, sender.user_id)
        request = NewMessage(key, sender.user_id, client_msg_id, elements_json.decode(),
                             cloud_custom_data, origin, time=time, imported=imported,
                             mentions=checked_mentions,
                             privileged=context.privileged and key.kind is ConversationKind.GROUP,
                             push=None if push is not None and push.disabled else (
                                 push.stored() if push is not None else ""))
        if imported is not ImportMode.NONE:
            # Imports run no message callbacks (as Tencent's importmsg).
            context = IMPORT_CONTEXT
        lane = (sender.user_id, key)
        known, settings = (True, None) if self._callbacks is None else (
            self._callbacks.cached(sender.sdkappid))
        before, after = _send_events(key)
        check_relations = False
        if (self._relations is not None and context.platform != _TRUSTED_PLATFORM
                and key.kind is ConversationKind.C2C):
            # Blocks and friendship: in memory, or a detour that loads them.
            verdict = self._relations.verdict(
                key.sdkappid, sender.user_id, key.b if sender.user_id == key.a else key.a)
            if isinstance(verdict, TidingsError):
                raise verdict
            check_relations = verdict != Verdict.PASS
        resolve_quote = _QUOTE in elements_json
        if known and not check_relations and not resolve_quote and lane not in self._lanes and not (
                settings is not None and settings.enabled(before)
                and Event.BEFORE_SEND not in context.forbid):
            # The fast path: no before-send callback to wait for.
            if (settings is not None and settings.enabled(after)
                    and Event.AFTER_SEND not in context.forbid):
                request.after_send = (context.platform, context.client_ip)
            future = self.writer.submit(request)
        else:
            future = self._vet(request, lane, context, settings if known else None, known,
                               check_relations, resolve_quote)
        self._in_flight[dedup] = future
        future.add_done_callback(lambda f: self._settled(dedup, f))
        return future

    # -- the before-send detour --------------------------------------------------
    #
    # Messages of one sender to one conversation reach the writer in the
    # order they were submitted, whatever order their callbacks answer in:
    # each waits in its lane until every message before it was handed on.
    # While a lane holds messages, later ones join it even if the callback
    # was switched off meanwhile. Other senders never wait for this lane.

    def _vet(self, request: NewMessage, lane: tuple[str, ConversationKey],
             context: SendContext, settings: CallbackSettings | None,
             known: bool, check_relations: bool = False,
             resolve_quote: bool = False) -> asyncio.Future[Committed]:
        entry = _Vetting(request, context, asyncio.get_running_loop().create_future(),
                         check_relations=check_relations, resolve_quote=resolve_quote)
        self._lanes.setdefault(lane, deque()).append(entry)
        entry.task = asyncio.create_task(self._ask(entry, lane, settings, known))
        return entry.future

    async def _ask(self, entry: _Vetting, lane: tuple[str, ConversationKey],
                   settings: CallbackSettings | None, known: bool) -> None:
        try:
            request, context = entry.request, entry.context
            if entry.check_relations and self._relations is not None:
                key, sender = request.key, request.sender
                peer = key.b if sender == key.a else key.a
                await self._relations.load(key.sdkappid, sender, peer)
                verdict = self._relations.verdict(key.sdkappid, sender, peer)
                if isinstance(verdict, TidingsError):
                    entry.refusal = verdict
                    return
                if verdict == Verdict.DROP:  # acked as sent, stored nowhere
                    entry.decision = _DROP
                    return
            if entry.resolve_quote:
                try:
                    request.elements = await self._resolve_quote(request)
                except TidingsError as exc:
                    entry.refusal = exc
                    return
            if self._callbacks is None:
                entry.decision = ALLOW
                return
            if not known:
                settings = await self._callbacks.settings(request.key.sdkappid)
            entry.settings = settings
            before, _ = _send_events(request.key)
            if (settings is None or not settings.enabled(before)
                    or Event.BEFORE_SEND in context.forbid):
                entry.decision = ALLOW
                return
            if request.key.kind is ConversationKind.GROUP:
                assert self.writer is not None
                data = orjson.loads(group_message_data(
                    request.key.a, self.writer.group_type(request.key), request.sender,
                    request.client_msg_id, request.elements, request.cloud_custom_data,
                    context.platform, context.client_ip, time=now_ms()))
            else:
                peer = request.key.b if request.sender == request.key.a else request.key.a
                data = orjson.loads(message_data(
                    request.sender, peer, request.client_msg_id, request.elements,
                    request.cloud_custom_data, context.platform, context.client_ip,
                    time=now_ms()))
            try:
                decision = await self._callbacks.before_send(settings, data, before)
                entry.decision = self._checked(decision, request)
            except CallbackFailure as exc:
                entry.failure = str(exc)
        except Exception as exc:
            log.exception("before-send check failed")
            entry.failure = f"internal error: {type(exc).__name__}"
        finally:
            entry.ready = True
            self._drain(lane)

    async def _resolve_quote(self, request: NewMessage) -> str:
        """Fill in a reply's quote from the quoted message as it stands now."""
        elements = orjson.loads(request.elements)
        quotes = [e for e in elements if e.get("type") == "quote"]
        if len(quotes) != 1:
            raise TidingsError(ErrorCode.INVALID_MESSAGE_BODY,
                               "elements: a reply quotes exactly one message")
        quote = quotes[0]
        seq = int(quote["seq"])
        found = await self._store.membership(request.key, request.sender)
        rows = [] if found is None else await self._store.page(
            found.conversation_id, request.key, after_seq=seq - 1, up_to_seq=seq, limit=1)
        if not rows or rows[0].kind != EntryKind.MESSAGE:
            raise TidingsError(ErrorCode.MESSAGE_NOT_FOUND,
                               f"the quoted message: no message with seq {seq} in this "
                               "conversation")
        target = rows[0]
        quote.update(msg_id=target.msg_id, sender=target.sender, text=_quote_text(target),
                     state=STATES[target.state])
        return orjson.dumps(elements).decode()

    def _checked(self, decision: Decision, request: NewMessage) -> Decision:
        """A rewrite must fit the size limit like any message; if not, it
        counts as a failed callback."""
        if decision.action is Action.ALLOW and (decision.elements_json is not None
                                                or decision.cloud_custom_data is not None):
            elements = decision.elements_json or request.elements.encode()
            custom = (decision.cloud_custom_data if decision.cloud_custom_data is not None
                      else request.cloud_custom_data)
            size = len(elements) + len(custom.encode())
            if size > self._max_message_bytes:
                raise CallbackFailure(f"the rewritten message is {size} bytes; the limit is "
                                      f"{self._max_message_bytes}")
        return decision

    def _drain(self, lane: tuple[str, ConversationKey]) -> None:
        waiting = self._lanes.get(lane)
        while waiting and waiting[0].ready:
            entry = waiting.popleft()
            try:
                self._hand_on(entry)
            except Exception as exc:
                if not entry.future.done():
                    entry.future.set_exception(exc if isinstance(exc, TidingsError) else
                                               TidingsError(ErrorCode.SERVICE_UNAVAILABLE,
                                                            "not stored; retry with the same id"))
        if waiting is not None and not waiting:
            del self._lanes[lane]

    def _hand_on(self, entry: _Vetting) -> None:
        request, settings, context = entry.request, entry.settings, entry.context
        decision = entry.decision
        if entry.refusal is not None:
            raise entry.refusal
        if entry.failure is not None:
            assert settings is not None
            if settings.failure_policy is FailurePolicy.BLOCK:
                raise TidingsError(ErrorCode.CALLBACK_FAILED,
                                   "the app's before-send callback failed and its policy is "
                                   f"to block: {entry.failure}")
            log.info("app %s: before-send callback failed, letting the message through: %s",
                     request.key.sdkappid, entry.failure)
            decision = ALLOW
        assert decision is not None
        if decision.action is Action.REJECT:
            raise refusal(decision.app_code, decision.app_message,
                          "the app refused this message")
        if decision.action is Action.DROP:
            # Acked as sent, stored nowhere, delivered to no one.
            msg = StoredMessage(0, request.key, 0, request.sender, request.client_msg_id,
                                request.elements, request.cloud_custom_data, now_ms(), 0)
            dropped = Committed(request, msg, duplicate=False, dropped=True)
            if request.origin is not None:
                request.origin.ack(dropped)
            entry.future.set_result(dropped)
            return
        if decision.elements_json is not None:
            request.elements = decision.elements_json.decode()
        if decision.cloud_custom_data is not None:
            request.cloud_custom_data = decision.cloud_custom_data
        if (settings is not None and settings.enabled(_send_events(request.key)[1])
                and Event.AFTER_SEND not in context.forbid):
            request.after_send = (context.platform, context.client_ip)
        assert self.writer is not None
        _chain(self.writer.submit(request), entry.future)

    async def send(self, sender: Identity, conversation_id: str, client_msg_id: str,
                   elements_json: bytes, cloud_custom_data: str,
                   context: SendContext = NO_CONTEXT, mentions: Sequence[str] = (),
                   push: PushOptions | None = None) -> Committed:
        return await asyncio.shield(self.submit(sender, conversation_id, client_msg_id,
                                                elements_json, cloud_custom_data,
                                                context=context, mentions=mentions, push=push))

    async def import_message(self, sender: Identity, conversation_id: str, client_msg_id: str,
                             elements_json: bytes, cloud_custom_data: str, time: int,
                             mode: ImportMode) -> Committed:
        """Store a message with its original ``time`` (ms). It takes the
        conversation's next seq like any message: seq order is the truth,
        time is for display. HISTORY: counts as unread for nobody and moves no
        cursor; REALTIME: as a send (unread for the peer, the sender's cursor
        moves). Idempotent by (sender, client id), in the same space as sends."""
        if not 0 < time <= now_ms() + MAX_IMPORT_AHEAD_MS:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               "time: ms since the epoch, not in the future")
        return await asyncio.shield(self.submit(sender, conversation_id, client_msg_id,
                                                elements_json, cloud_custom_data,
                                                time=time, imported=mode))

    def _settled(self, dedup: tuple[int, str, str], future: asyncio.Future[Committed]) -> None:
        self._in_flight.pop(dedup, None)
        if future.cancelled() or future.exception() is not None:
            return
        committed = future.result()
        if committed.duplicate and committed.request.origin is not None:
            committed.request.origin.ack(committed)  # the hook acks fresh ones only
        self._recent[dedup] = committed
        if len(self._recent) > RECENT_ACKS:
            self._recent.popitem(last=False)

    def _follow(self, first: asyncio.Future[Committed], key: ConversationKey,
                origin: AckTarget | None) -> asyncio.Future[Committed]:
        """A resend while the first copy is still being committed."""
        follower: asyncio.Future[Committed] = asyncio.get_running_loop().create_future()

        def settle(f: asyncio.Future[Committed]) -> None:
            if follower.done():
                return
            if f.cancelled():
                follower.cancel()
            elif (exc := f.exception()) is not None:
                follower.set_exception(exc)
            else:
                try:
                    follower.set_result(self._repeat(f.result(), key, origin))
                except TidingsError as error:
                    follower.set_exception(error)

        first.add_done_callback(settle)
        return follower

    def _repeat(self, earlier: Committed, key: ConversationKey,
                origin: AckTarget | None) -> Committed:
        if earlier.message.key != key:
            raise TidingsError(ErrorCode.CLIENT_MSG_ID_REUSED,
                               "this client message id was already used in another conversation")
        repeated = Committed(earlier.request, earlier.message, duplicate=True,
                             dropped=earlier.dropped)
        if origin is not None:
            origin.ack(repeated)
        return repeated

    # -- recall and edit ------------------------------------------------------

    def submit_change(self, actor: Identity, conversation_id: str, seq: int, kind: EntryKind,
                      elements_json: bytes | None = None, cloud_custom_data: str | None = None,
                      origin: AckTarget | None = None) -> asyncio.Future[Committed]:
        """The sender recalls or edits their own message ``seq``, within the
        window of its kind. The future resolves with the change entry once it
        is durable (``duplicate`` for a message recalled before)."""
        key = parse_conversation_id(actor, conversation_id)
        if key.a == key.b:
            raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                               "a one-to-one conversation needs two different users")
        return self._queue_change(NewChange(
            key, self._target_seq(seq), kind, f"user:{actor.user_id}",
            *self._edit_content(kind, elements_json, cloud_custom_data),
            sender=actor.user_id, window_ms=self._windows_ms[kind],
            max_bytes=self._max_message_bytes, origin=origin,
            actor=actor.user_id if key.kind is ConversationKind.GROUP else None))

    async def change(self, actor: Identity, conversation_id: str, seq: int, kind: EntryKind,
                     elements_json: bytes | None = None,
                     cloud_custom_data: str | None = None) -> Committed:
        return await asyncio.shield(self.submit_change(actor, conversation_id, seq, kind,
                                                       elements_json, cloud_custom_data))

    async def admin_change(self, sdkappid: int, actor: str, msg_id: str, kind: EntryKind,
                           elements_json: bytes | None = None,
                           cloud_custom_data: str | None = None) -> Committed:
        """An app's admin recalls or edits any message of the app: no window,
        whoever sent it. Another app's message is "not found"."""
        conversation_number, seq = parse_msg_id(msg_id)
        content = self._edit_content(kind, elements_json, cloud_custom_data)
        key = await self._store.conversation_key(sdkappid, conversation_number)
        if key is None:
            raise TidingsError(ErrorCode.MESSAGE_NOT_FOUND, f"no message {msg_id!r}")
        return await asyncio.shield(self._queue_change(NewChange(
            key, seq, kind, f"admin:{actor}", *content, max_bytes=self._max_message_bytes)))

    def _target_seq(self, seq: int) -> int:
        if seq < 1:
            raise TidingsError(ErrorCode.INVALID_REQUEST, "seq must be 1 or more")
        if seq > MAX_SEQ:
            raise TidingsError(ErrorCode.MESSAGE_NOT_FOUND,
                               f"no message with seq {seq} in this conversation")
        return seq

    def _edit_content(self, kind: EntryKind, elements_json: bytes | None,
                      cloud_custom_data: str | None) -> tuple[str | None, str | None]:
        if kind is not EntryKind.EDIT:
            return None, None
        if elements_json is None and cloud_custom_data is None:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               "an edit needs elements, cloud_custom_data or both")
        size = len(elements_json or b"") + len((cloud_custom_data or "").encode())
        if size > self._max_message_bytes:
            raise TidingsError(ErrorCode.MESSAGE_TOO_LONG,
                               f"message is {size} bytes; the limit is {self._max_message_bytes}")
        return (None if elements_json is None else elements_json.decode()), cloud_custom_data

    def _queue_change(self, change: NewChange) -> asyncio.Future[Committed]:
        if self.writer is None:
            raise TidingsError(ErrorCode.SERVICE_UNAVAILABLE, "the server is starting")
        if (change.kind is EntryKind.RECALL and change.key.kind is ConversationKind.C2C
                and self._callbacks is not None):
            # Settings not read yet in this process: write the row anyway;
            # the dispatcher skips it if the app has the event off.
            known, settings = self._callbacks.cached(change.key.sdkappid)
            change.after_recall = not known or self._callbacks.wants(settings,
                                                                     Event.AFTER_RECALL)
        future = self.writer.submit(change)
        future.add_done_callback(_ack_repeated_change)
        return future

    def on_commit(self, batch: list[Committed]) -> None:
        """Runs right after each commit, in seq order: acks and live frames
        (``message`` for a message, ``change`` for a recall or an edit)."""
        after_send = False
        for committed in batch:
            origin = committed.request.origin
            if committed.duplicate:
                continue
            request = committed.request
            if ((isinstance(request, NewMessage) and request.after_send is not None)
                    or (isinstance(request, NewChange) and request.after_recall)):
                after_send = True
            msg = committed.message
            if origin is not None:
                origin.ack(committed)
            skip = origin.device if origin is not None else None
            if committed.recipients is not None:
                self._fan_out(msg, committed.recipients, skip)
                continue
            render = _change_frame if msg.kind else _message_frame
            for user in msg.key.members():
                self._bus.deliver(Identity(msg.key.sdkappid, user),
                                  partial(render, msg, user),
                                  conversation_id=msg.conversation_id, seq=msg.seq, skip=skip)
        if after_send and self._callbacks is not None:
            self._callbacks.wake()

    def _fan_out(self, msg: StoredMessage, members: Iterable[str],
                 skip: Subscriber | None) -> None:
        """A group entry to every connected member: one frame for all (a
        group's conversation id is the same for every member), and nothing
        at all for the members who are not connected."""
        if msg.kind == EntryKind.SYSTEM:
            frame = event_frame("system", system_view(msg))
        elif msg.kind:
            frame = _change_frame(msg, "")
        else:
            frame = _message_frame(msg, "")
        deliver, sdkappid = self._bus.deliver, msg.key.sdkappid
        for user in members:
            deliver(Identity(sdkappid, user), frame, conversation_id=msg.conversation_id,
                    seq=msg.seq, skip=skip)

    async def _member_of(self, me: Identity, key: ConversationKey) -> Membership | None:
        """The user's cursor; in a group, a refusal when not a member."""
        found = await self._store.membership(key, me.user_id)
        if found is None and key.kind is ConversationKind.GROUP:
            if await self._store.group_exists(key):
                raise TidingsError(ErrorCode.NOT_A_MEMBER, "you are not a member of this group")
            raise TidingsError(ErrorCode.NOT_FOUND, f"no group {key.a!r}")
        return found

    # -- reading ---------------------------------------------------------

    def _limit(self, limit: int | None, default: int = 50) -> int:
        if limit is None:
            return min(default, self.max_page)
        if limit < 0 or limit > self.max_page:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"limit must be between 0 and {self.max_page}")
        return limit

    async def history(self, me: Identity, conversation_id: str, *, before_seq: int | None,
                      limit: int | None) -> tuple[list[MessageView], bool]:
        """A page of messages older than ``before_seq`` (newest page when
        absent), in ascending seq order, and whether older ones remain."""
        key = parse_conversation_id(me, conversation_id)
        n = self._limit(limit)
        found = await self._member_of(me, key)
        if found is None or n == 0:
            return [], False
        if before_seq is not None:
            # Same page, but within what the database's integers can hold.
            before_seq = max(0, min(before_seq, MAX_SEQ))
        cleared = 0 if self._settings is None else (
            await self._settings.of_one(found.conversation_id, me.user_id)).cleared_seq
        rows = await self._store.page(found.conversation_id, key, before_seq=before_seq,
                                      after_seq=max(found.visible_after, cleared),
                                      limit=n + 1, newest_first=True, messages_only=True)
        more = len(rows) > n
        rows = rows[:n]
        rows.reverse()
        return await self._with_reactions(found.conversation_id, key, rows,
                                          [message_view(m, me.user_id) for m in rows]), more

    async def group_number(self, key: ConversationKey) -> int:
        """The internal number of a group's conversation (its msg ids' prefix)."""
        number = await self._store.conversation_number(key)
        if number is None:
            raise TidingsError(ErrorCode.NOT_FOUND, f"no group {key.a!r}")
        return number

    async def group_history(self, key: ConversationKey, *, before_seq: int | None,
                            limit: int | None) -> tuple[list[MessageView], bool]:
        """A page of a group's messages for the app's admin (all of them,
        whoever joined when), oldest first; 10010 for no such group."""
        n = self._limit(limit)
        number = await self._store.conversation_number(key)
        if number is None:
            raise TidingsError(ErrorCode.NOT_FOUND, f"no group {key.a!r}")
        if before_seq is not None:
            before_seq = max(0, min(before_seq, MAX_SEQ))
        rows = await self._store.page(number, key, before_seq=before_seq, limit=n + 1,
                                      newest_first=True, messages_only=True)
        more = len(rows) > n
        rows = rows[:n]
        rows.reverse()
        return [message_view(m, "") for m in rows], more

    async def conversations(self, me: Identity, limit: int | None) -> list[ConversationView]:
        """Pinned ones first, then by last activity; hidden ones left out."""
        n = self._limit(limit, 100)
        prefs = await self._settings_of(me)
        if not prefs:
            states = await self._store.conversations_of(me.sdkappid, me.user_id, limit=n)
            reads = await self._peer_reads(me, states)
            return [conversation_view(s, me.user_id, peer_reads=reads) for s in states]
        states = await self._store.conversations_of(me.sdkappid, me.user_id,
                                                    with_last_message=False)
        shown = [s for s in states if not prefs.get(s.conversation_id, DEFAULT_SETTINGS)
                 .hidden(s.last_message_seq)]
        # Stable: within pinned and unpinned, the newest activity first.
        shown.sort(key=lambda s: not prefs.get(s.conversation_id, DEFAULT_SETTINGS).pinned)
        shown = shown[:n]
        last = await self._store.last_messages(shown)
        reads = await self._peer_reads(me, shown)
        return [conversation_view(replace(s, last_message=last.get(s.conversation_id)),
                                  me.user_id, prefs.get(s.conversation_id, DEFAULT_SETTINGS),
                                  reads)
                for s in shown]

    async def mark_read(self, me: Identity, conversation_id: str, seq: int | None,
                        skip: Subscriber | None = None, *, platform: str = "",
                        client_ip: str = "") -> dict[str, Any]:
        """Move the cursor forward (never back). When it moved and the app
        has the after-read callback on, its event is queued in the same
        transaction."""
        key = parse_conversation_id(me, conversation_id)
        found = await self._member_of(me, key)
        if found is None:
            # Nothing was ever said here: nothing to read, as history says.
            return {"conversation_id": conversation_id, "read_seq": 0, "unread": 0}
        target = found.last_seq if seq is None else min(seq, found.last_seq)
        if target < 0:
            raise TidingsError(ErrorCode.INVALID_REQUEST, "seq must not be negative")
        outbox = None
        callbacks = self._callbacks
        if callbacks is not None and callbacks.wants(await callbacks.settings(me.sdkappid),
                                                     Event.AFTER_READ):
            peer = "" if key.kind is ConversationKind.GROUP else (
                key.b if me.user_id == key.a else key.a)

            def outbox(read_seq: int, read_msg_no: int,
                       total_unread: int) -> tuple[int, str, str]:
                return (me.sdkappid, Event.AFTER_READ, orjson.dumps({
                    "user_id": me.user_id, "peer": peer, "conversation_id": conversation_id,
                    "read_seq": read_seq,
                    "unread": max(0, found.last_msg_no - read_msg_no),
                    "total_unread": total_unread, "time": now_ms(), "platform": platform,
                    "client_ip": client_ip}).decode())
        read_seq, read_msg_no = await self._store.mark_read(
            found.conversation_id, me.user_id, target, outbox=outbox)
        if outbox is not None and callbacks is not None:
            callbacks.wake()
        data = {"conversation_id": conversation_id, "read_seq": read_seq,
                "unread": max(0, found.last_msg_no - read_msg_no)}
        self._bus.deliver(me, event_frame("read", data), skip=skip)
        if key.kind is ConversationKind.GROUP:
            if read_seq > found.read_seq and self.group_receipts is not None:
                await self.group_receipts.on_read(me, key, found.conversation_id,
                                                  found.read_seq, read_seq)
        elif read_seq > found.read_seq and self._relations is not None and (
                await self._relations.rules(me.sdkappid)).read_receipts:
            # A read receipt: the peer's devices learn how far this user read.
            peer = key.b if me.user_id == key.a else key.a
            self._bus.deliver(Identity(me.sdkappid, peer), event_frame("peer_read", {
                "conversation_id": key.id_for(peer), "peer_read_seq": read_seq}))
        return data

    async def sync(self, me: Identity, known: Mapping[str, int], limit: int | None
                   ) -> SyncResult:
        """What a device missed: for each conversation it names in ``known``,
        every message after the seq it names there, a page (``max_page``) at a
        time with ``more`` set while any remain; for a conversation it does not
        name, only the newest ``limit`` (older ones are there through history)."""
        tail = self._limit(limit, 20)
        budget = self.max_page * 5
        bytes_left = self._max_sync_bytes
        states = await self._store.conversations_of(me.sdkappid, me.user_id,
                                                    with_last_message=False)
        prefs = await self._settings_of(me)
        reads = await self._peer_reads(me, states)
        result = SyncResult([], [], more=False)
        # First plan what to read (seqs are dense, so each conversation's
        # count of new entries is known), then read it all in a few queries.
        plan: list[PageRange] = []
        for state in states:
            name = state.key.id_for(me.user_id)
            mine = prefs.get(state.conversation_id, DEFAULT_SETTINGS)
            result.conversations.append(conversation_view(state, me.user_id, mine, reads))
            have = known.get(name)
            # A negative seq means "from the start"; huge ones never reach SQL.
            after = max(0, state.last_seq - tail) if have is None else max(0, have)
            # From the member's join (groups), and a cleared history stays cleared.
            after = max(after, state.visible_after, mine.cleared_seq)
            if after >= state.last_seq:
                result.covered[state.conversation_id] = state.last_seq
                continue
            if budget <= 0:
                result.more = True
                continue
            take = min(self.max_page, budget, state.last_seq - after)
            budget -= take
            plan.append(PageRange(state.conversation_id, state.key, after, state.last_seq,
                                  take))
        fetched = await self._store.pages(plan)
        pages = []
        for planned in plan:
            if bytes_left <= 0:
                result.more = True
                continue
            rows = fetched[planned.conversation_id]
            kept = 0
            for m in rows:
                # Always some progress: the first entry goes in whatever its size.
                if bytes_left <= 0 and (kept or result.messages):
                    break
                bytes_left -= _entry_bytes(m)
                kept += 1
            rows = rows[:kept]
            views = [entry_view(m, me.user_id) for m in rows]
            pages.append((planned.conversation_id, planned.key, rows, views))
            result.messages.extend(views)
            if rows and rows[-1].seq < planned.up_to_seq:
                result.more = True
            else:
                result.covered[planned.conversation_id] = planned.up_to_seq
        await self._decorate(pages)
        return result

    async def unread(self, me: Identity, peers: list[str] | None) -> dict[str, Any]:
        """The user's unread messages: in total, and per conversation (those
        with unread messages, or exactly the one-to-one conversations with
        ``peers``). One row per conversation of the user is read."""
        wanted = None if peers is None else [
            f"c2c_{check_user_id(p)}" for p in dict.fromkeys(peers)]
        states = await self._store.conversations_of(me.sdkappid, me.user_id,
                                                    with_last_message=False)
        counts = {s.key.id_for(me.user_id): s.unread for s in states}
        listed = ([(c, n) for c, n in counts.items() if n > 0] if wanted is None
                  else [(c, counts.get(c, 0)) for c in wanted])
        return {"user_id": me.user_id, "total": sum(counts.values()),
                "conversations": [{"conversation_id": c, "unread": n} for c, n in listed]}


def _ack_repeated_change(future: asyncio.Future[Committed]) -> None:
    """A repeated recall is not in the commit hook's batch: ack it here."""
    if future.cancelled() or future.exception() is not None:
        return
    committed = future.result()
    if committed.duplicate and committed.request.origin is not None:
        committed.request.origin.ack(committed)

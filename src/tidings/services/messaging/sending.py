"""Sending: a message's checks (conversation, client id, size, mentions,
group membership, friendship and blocks), its dedup by (app, sender, client
msg id) against the sends in flight and the recent acks, then the writer:
straight away on the fast path, through the before-send lanes otherwise."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tidings.domain.callbacks import Event
from tidings.domain.clock import now_ms
from tidings.domain.elements import ImportMode, MessageState
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.friends import Verdict
from tidings.domain.ids import (
    MAX_CLIENT_MSG_ID,
    ConversationKey,
    ConversationKind,
    Identity,
    check_user_id,
    parse_conversation_id,
)
from tidings.domain.push import PushOptions
from tidings.domain.records import Committed, NewMessage, Request, StoredMessage
from tidings.services.messaging.context import (
    IMPORT_CONTEXT,
    NO_CONTEXT,
    AckTarget,
    SendContext,
)
from tidings.services.messaging.lanes import Lanes, send_events
from tidings.services.messaging.quotes import QUOTE_MARK_BYTES
from tidings.store.writer import MessageWriter

if TYPE_CHECKING:
    from tidings.services.account_mutes import AccountMuteService
    from tidings.services.callbacks import CallbackService
    from tidings.services.friends import Relations

RECENT_ACKS = 50_000
# Conversation ids resolved for their senders and kept (a chat's sends name
# the same few); past this many the map starts again.
KNOWN_KEYS = 4096
# An imported message may be at most this far in the future (clock skew).
MAX_IMPORT_AHEAD_MS = 60_000
# The app's server (admin API, imports, broadcasts) sends whatever the
# users' friend and block lists say.
_TRUSTED_PLATFORM = "RESTAPI"
AT_ALL = "@all"

Dedup = tuple[int, str, str]
# The before- and after-send events when the app has no callbacks to ask.
_NO_EVENTS = ("", "")
# The enum members ``submit`` compares every send with, as plain names: on
# Python 3.11 reading a member off its class (``ConversationKind.GROUP``)
# goes through ``EnumType.__getattr__``'s slot, ~60 ns a read, three a
# plain send (issue 19, perf-loop7).
_GROUP = ConversationKind.GROUP
_C2C = ConversationKind.C2C
_NOT_IMPORTED = ImportMode.NONE


# What a resend's ack needs of the first copy, kept after its commit in
# place of the ``Committed`` (its request, elements and recipients were
# 50,000 messages' worth of memory); the sender and client id are the dedup
# key's. A plain tuple of plain values (the conversation's id, its kind as a
# string, its two names, seq, time, dropped), so a collection stops tracking
# it: 50,000 entries of objects made a 34 ms gen-1 pause at 500 msg/s
# (bench/journal/perf-tail2.md); CPython untracks exact tuples only.
RecentAck = tuple[int, str, str, str, int, int, bool]


def repeat_of(recent: RecentAck, dedup: Dedup) -> Committed:
    """The repeat's answer: the ack's fields, no content (a repeat is
    answered with its ack alone: protocol.views.ack_view)."""
    conversation_id, kind, a, b, seq, created_at, dropped = recent
    sdkappid, sender, client_msg_id = dedup
    key = ConversationKey(sdkappid, ConversationKind(kind), a, b)
    request = NewMessage(key, sender, client_msg_id, "", "")
    message = StoredMessage(conversation_id, key, seq, sender, client_msg_id, "", "",
                            created_at, MessageState.NORMAL)
    return Committed(request, message, duplicate=True, dropped=dropped)


def _mentions(key: ConversationKey, mentions: Sequence[str]) -> tuple[str, ...]:
    """Mentions are for group messages: user ids, or "@all" for everyone."""
    if key.kind is not ConversationKind.GROUP:
        raise TidingsError(ErrorCode.INVALID_REQUEST, "mentions are for group messages")
    return tuple(m if m == AT_ALL else check_user_id(m) for m in dict.fromkeys(mentions))


class Sending:
    def __init__(self, max_message_bytes: int, lanes: Lanes) -> None:
        self._max_message_bytes = max_message_bytes
        self._in_flight: dict[Dedup, asyncio.Future[Committed]] = {}
        self._recent: OrderedDict[Dedup, RecentAck] = OrderedDict()
        # The lanes' own map: a send joins its lane while it holds messages.
        self._lanes = lanes.waiting
        lanes.answer(self.on_commit, self.on_refusal)
        self._vet = lanes.vet
        self.writer: MessageWriter | None = None
        self._callbacks: CallbackService | None = None
        self._relations: Relations | None = None
        # Global mutes of accounts (the runtime sets them; imports skip them).
        self.account_mutes: AccountMuteService | None = None
        # (sender, conversation id) -> its key, for ids that resolved to a
        # key a message may name: parsing one (the peer's checks, sorting
        # the pair) cost ~1.7 us a send, a dict hit ~0.2 (issue 19).
        # Keyed by the sender's plain values: a tuple holding the
        # ``Identity`` would call its Python ``__hash__`` per send.
        self._keys: dict[tuple[int, str, str], ConversationKey] = {}
        self._loop: asyncio.AbstractEventLoop | None = None  # see _future

    def bind(self, writer: MessageWriter, callbacks: CallbackService | None,
             relations: Relations | None) -> None:
        self.writer = writer
        self._callbacks = callbacks
        self._relations = relations

    def submit(self, sender: Identity, conversation_id: str, client_msg_id: str,
               elements_json: bytes, cloud_custom_data: str,
               origin: AckTarget | None = None,
               context: SendContext = NO_CONTEXT, *, time: int | None = None,
               imported: ImportMode = ImportMode.NONE,
               mentions: Sequence[str] = (),
               push: PushOptions | None = None) -> asyncio.Future[Committed]:
        """Queue a message for the next commit. Checks run now (and raise);
        the future resolves once the message is durable. ``origin`` is acked
        exactly once, in order with the live frames of the same commit, or
        told once that the send was ``refused`` after all.
        An import (admin) gives the message's own ``time``."""
        # (A conversation id that is not a string is refused by the parse.)
        key = self._keys.get((sender.sdkappid, sender.user_id, conversation_id)) if (
            type(conversation_id) is str) else None
        if key is None:
            key = self._key(sender, conversation_id)
        checked_mentions = _mentions(key, mentions) if mentions else ()
        if not client_msg_id or len(client_msg_id) > MAX_CLIENT_MSG_ID:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"client_msg_id must be 1 to {MAX_CLIENT_MSG_ID} characters")
        size = len(elements_json) + len(cloud_custom_data.encode())
        if size > self._max_message_bytes:
            raise TidingsError(ErrorCode.MESSAGE_TOO_LONG,
                               f"message is {size} bytes; the limit is {self._max_message_bytes}")
        dedup = (sender.sdkappid, sender.user_id, client_msg_id)
        recent = self._recent.get(dedup)
        if recent is not None:
            repeated = self._future()
            repeated.set_result(self._repeat(repeat_of(recent, dedup), key, origin))
            return repeated
        first = self._in_flight.get(dedup)
        if first is not None:
            return self._follow(first, key, origin)
        if self.writer is None:
            raise TidingsError(ErrorCode.SERVICE_UNAVAILABLE, "the server is starting")
        mutes = self.account_mutes
        group = key.kind is _GROUP
        if mutes is not None and mutes.in_force and imported is _NOT_IMPORTED:
            mutes.check(sender.sdkappid, sender.user_id, group)
        if group and not context.privileged:
            self.writer.precheck_send(key, sender.user_id)
        # Every field by position, in NewMessage's order (key, sender,
        # client_msg_id, elements, cloud_custom_data, origin, after_send,
        # time, imported, mentions, privileged, push): a keyword argument
        # to a dataclass costs the call a dict, ~0.2 us a send (issue 19).
        request = NewMessage(key, sender.user_id, client_msg_id, elements_json.decode(),
                             cloud_custom_data, origin, None, time, imported,
                             checked_mentions, context.privileged and group,
                             None if push is not None and push.disabled else (
                                 push.stored() if push is not None else ""))
        if imported is not _NOT_IMPORTED:
            # Imports run no message callbacks (as Tencent's importmsg).
            context = IMPORT_CONTEXT
        known, settings = (True, None) if self._callbacks is None else (
            self._callbacks.cached(sender.sdkappid))
        before, after = send_events(key) if settings is not None else _NO_EVENTS
        check_relations = False
        if (self._relations is not None and context.platform != _TRUSTED_PLATFORM
                and key.kind is _C2C):
            # Blocks and friendship: in memory, or a detour that loads them.
            verdict = self._relations.verdict(
                key.sdkappid, sender.user_id, key.b if sender.user_id == key.a else key.a)
            if isinstance(verdict, TidingsError):
                raise verdict
            check_relations = verdict != Verdict.PASS
        # ``find``, not ``in``: bytes' ``in`` first tries its operand as an
        # int and words a TypeError it then drops (~70 ns a send).
        resolve_quote = elements_json.find(QUOTE_MARK_BYTES) >= 0
        lane = (sender.user_id, key)
        lanes = self._lanes
        if known and not check_relations and not resolve_quote and not (
                lanes and lane in lanes) and not (
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
        # Settled by the writer's hooks (``on_commit``, ``on_refusal``), or
        # the lanes' for what never reaches the writer: no done-callback.
        self._in_flight[dedup] = future
        return future

    def _key(self, sender: Identity, conversation_id: str) -> ConversationKey:
        """The conversation's key, checked (raises) and kept for the next send."""
        key = parse_conversation_id(sender, conversation_id)
        if key.a == key.b:
            raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                               "a one-to-one conversation needs two different users")
        if len(self._keys) >= KNOWN_KEYS:
            self._keys.clear()
        self._keys[(sender.sdkappid, sender.user_id, conversation_id)] = key
        return key

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

    # -- dedup: a resend with the same client msg id is the same message -------

    def recent_ack(self, sender: Identity, client_msg_id: str) -> Committed | None:
        """The ack of a send by ``sender`` with this client id among the
        recent ones in this process (None: none, or forgotten)."""
        dedup = (sender.sdkappid, sender.user_id, client_msg_id)
        recent = self._recent.get(dedup)
        return None if recent is None else repeat_of(recent, dedup)

    def on_commit(self, batch: list[Committed]) -> None:
        """The writer's commit hook's part of Sending (before Delivery's):
        each send of the batch, fresh or a resend found stored, leaves the
        sends in flight for the recent acks."""
        in_flight, recent = self._in_flight, self._recent
        for committed in batch:
            request = committed.request
            if type(request) is not NewMessage:
                continue
            dedup = (request.key.sdkappid, request.sender, request.client_msg_id)
            in_flight.pop(dedup, None)
            # Only what a resend's ack needs (RecentAck): never the
            # request, whose origin holds the sending connection's session
            # (and its socket's objects). str() of the StrEnum: its value
            # as a plain str, without the enum's ``value`` property.
            msg = committed.message
            key = msg.key
            recent[dedup] = (msg.conversation_id, str(key.kind), key.a, key.b, msg.seq,
                             msg.created_at, committed.dropped)
        while len(recent) > RECENT_ACKS:
            recent.popitem(last=False)

    def on_refusal(self, request: Request, error: TidingsError) -> None:
        """The writer's refusal hook (and the lanes' for their own
        refusals): any request's origin is told, exactly once; a send
        leaves the sends in flight."""
        if type(request) is NewMessage:
            self._in_flight.pop((request.key.sdkappid, request.sender, request.client_msg_id),
                                None)
        origin = request.origin
        if origin is not None:
            origin.refused(error)

    def _future(self) -> asyncio.Future[Committed]:
        """A future on the loop, kept from the first one on:
        ``get_running_loop`` asks the kernel for the process id on each call
        (Python 3.11)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop.create_future()

    def _follow(self, first: asyncio.Future[Committed], key: ConversationKey,
                origin: AckTarget | None) -> asyncio.Future[Committed]:
        """A resend while the first copy is still being committed."""
        follower = self._future()

        def settle(f: asyncio.Future[Committed]) -> None:
            if follower.done():
                return
            if f.cancelled():
                follower.cancel()
                return
            exc = f.exception()
            if exc is None:
                try:
                    follower.set_result(self._repeat(f.result(), key, origin))
                    return
                except TidingsError as error:
                    exc = error
            follower.set_exception(exc)
            if origin is not None:
                origin.refused(exc)
                # Answered: no "exception never retrieved" (and its
                # traceback) in the log when nobody awaits the follower.
                follower.exception()

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

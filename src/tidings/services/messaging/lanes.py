"""The before-send detour: a send that cannot go straight to the writer
waits here for what it needs first (the app's before-send callback, the
friendship and block lists that were not in memory, the message a reply
quotes), then is handed on, rejected, dropped or rewritten.

Messages of one sender to one conversation reach the writer in the order
they were submitted, whatever order their callbacks answer in: each waits
in its lane until every message before it was handed on. While a lane holds
messages, later ones join it even if the callback was switched off
meanwhile (``Sending`` looks at ``Lanes.waiting``). Other senders never
wait for this lane."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

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
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.friends import Verdict
from tidings.domain.group_callbacks import GroupEvent
from tidings.domain.group_callbacks import message_data as group_message_data
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import CommitHook, Committed, NewMessage, StoredMessage
from tidings.services.messaging.context import SendContext
from tidings.services.messaging.quotes import resolve_quote
from tidings.store.messages import MessageStore
from tidings.store.writer import MessageWriter, RefusalHook

if TYPE_CHECKING:
    from tidings.services.callbacks import CallbackService
    from tidings.services.friends import Relations

log = logging.getLogger(__name__)

Lane = tuple[str, ConversationKey]
_DROP = Decision(Action.DROP)


def send_events(key: ConversationKey) -> tuple[str, str]:
    """The app's before- and after-send events for a message to ``key``."""
    if key.kind is ConversationKind.GROUP:
        return GroupEvent.BEFORE_SEND, GroupEvent.AFTER_SEND
    return Event.BEFORE_SEND, Event.AFTER_SEND


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


def _chain(source: asyncio.Future[Committed], target: asyncio.Future[Committed]) -> None:
    def copy(f: asyncio.Future[Committed]) -> None:
        if target.done():
            return
        if f.cancelled():
            target.cancel()
        elif (exc := f.exception()) is not None:
            # The writer's refusal hook answered the send: its error is
            # only for whoever awaits the future.
            target.set_exception(exc)
            target.exception()
        else:
            target.set_result(f.result())

    source.add_done_callback(copy)


class Lanes:
    def __init__(self, store: MessageStore, max_message_bytes: int) -> None:
        self._store = store
        self._max_message_bytes = max_message_bytes
        # Sends waiting, per sender and conversation, in the order they
        # were submitted (see _Vetting).
        self.waiting: dict[Lane, deque[_Vetting]] = {}
        self._writer: MessageWriter | None = None
        self._callbacks: CallbackService | None = None
        self._relations: Relations | None = None
        # What is settled here, never reaching the writer (a refusal, a
        # drop), goes to Sending's hooks as the writer's would (``answer``;
        # none until then: a refusal nobody answers fails loudly).
        self._on_commit: CommitHook | None = None
        self._on_refusal: RefusalHook | None = None

    def answer(self, on_commit: CommitHook, on_refusal: RefusalHook) -> None:
        self._on_commit = on_commit
        self._on_refusal = on_refusal

    def bind(self, writer: MessageWriter, callbacks: CallbackService | None,
             relations: Relations | None) -> None:
        self._writer = writer
        self._callbacks = callbacks
        self._relations = relations

    def vet(self, request: NewMessage, lane: Lane, context: SendContext,
            settings: CallbackSettings | None, known: bool, check_relations: bool = False,
            resolve_quote: bool = False) -> asyncio.Future[Committed]:
        """Queue ``request`` in its lane; the future resolves once it is
        durable (or dropped), or fails with the refusal."""
        entry = _Vetting(request, context, asyncio.get_running_loop().create_future(),
                         check_relations=check_relations, resolve_quote=resolve_quote)
        self.waiting.setdefault(lane, deque()).append(entry)
        entry.task = asyncio.create_task(self._ask(entry, lane, settings, known))
        return entry.future

    async def _ask(self, entry: _Vetting, lane: Lane,
                   settings: CallbackSettings | None, known: bool) -> None:
        try:
            request, context = entry.request, entry.context
            if entry.check_relations and self._relations is not None:
                key, sender = request.key, request.sender
                peer = key.b if sender == key.a else key.a
                verdict = await self._relations.judge(key.sdkappid, sender, peer)
                if isinstance(verdict, TidingsError):
                    entry.refusal = verdict
                    return
                if verdict == Verdict.DROP:  # acked as sent, stored nowhere
                    entry.decision = _DROP
                    return
            if entry.resolve_quote:
                try:
                    request.elements = await resolve_quote(self._store, request)
                except TidingsError as exc:
                    entry.refusal = exc
                    return
            if self._callbacks is None:
                entry.decision = ALLOW
                return
            if not known:
                settings = await self._callbacks.settings(request.key.sdkappid)
            entry.settings = settings
            before, _ = send_events(request.key)
            if (settings is None or not settings.enabled(before)
                    or Event.BEFORE_SEND in context.forbid):
                entry.decision = ALLOW
                return
            if request.key.kind is ConversationKind.GROUP:
                assert self._writer is not None
                data = orjson.loads(group_message_data(
                    request.key.a, self._writer.group_type(request.key), request.sender,
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

    def _drain(self, lane: Lane) -> None:
        waiting = self.waiting.get(lane)
        while waiting and waiting[0].ready:
            entry = waiting.popleft()
            try:
                self._hand_on(entry)
            except Exception as exc:
                error = exc if isinstance(exc, TidingsError) else TidingsError(
                    ErrorCode.SERVICE_UNAVAILABLE, "not stored; retry with the same id")
                assert self._on_refusal is not None, "Lanes.answer was not called"
                self._on_refusal(entry.request, error)
                if not entry.future.done():
                    entry.future.set_exception(error)
                    entry.future.exception()  # answered: see _chain
        if waiting is not None and not waiting:
            del self.waiting[lane]

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
            assert self._on_commit is not None, "Lanes.answer was not called"
            self._on_commit([dropped])
            entry.future.set_result(dropped)
            return
        if decision.elements_json is not None:
            request.elements = decision.elements_json.decode()
        if decision.cloud_custom_data is not None:
            request.cloud_custom_data = decision.cloud_custom_data
        if (settings is not None and settings.enabled(send_events(request.key)[1])
                and Event.AFTER_SEND not in context.forbid):
            request.after_send = (context.platform, context.client_ip)
        assert self._writer is not None
        _chain(self._writer.submit(request), entry.future)

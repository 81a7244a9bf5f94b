"""The message ops of the real-time protocol (docs/messages.md):
send, recall and edit, answered by the writer's ack once stored; history,
the conversation list and read. ``sync`` is the session's own: it switches
the connection's delivery mode (gateway/session.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from tidings import metrics
from tidings.domain.elements import EntryKind
from tidings.domain.ids import Identity
from tidings.domain.records import Committed
from tidings.domain.requests import SendRequest
from tidings.gateway.context import OpContext
from tidings.gateway.ops import Handler, Stored, op, stored_op, timed_op
from tidings.protocol import ops
from tidings.protocol.sends import SendData, parse_send
from tidings.services.media import names_media
from tidings.services.messaging import AckTarget


def handlers(ctx: OpContext) -> dict[str, Handler]:
    rt = ctx.runtime
    messaging = rt.messaging

    def submit(me: Identity, r: SendData, origin: AckTarget,
               elements: bytes) -> asyncio.Future[Committed]:
        return messaging.submit(
            me, r.conversation_id, r.client_msg_id, elements, r.cloud_custom_data,
            origin=origin, context=ctx.send_context, mentions=r.mentions,
            push=r.offline_push)

    async def send_prepared(me: Identity, r: SendData, origin: AckTarget,
                            elements: bytes) -> asyncio.Future[Committed]:
        prepared = await rt.media.prepare_for(me.sdkappid, me.user_id, elements)
        assert prepared is not None
        return submit(me, r, origin, prepared)

    def send(me: Identity, r: SendData, origin: AckTarget) -> Stored:
        # Only a message naming an upload waits for the store before the
        # writer; the others are handed on at once (stored_op's ``now``),
        # with no call between this one and the service's (issue 19).
        elements = r.elements
        if names_media(elements):
            return send_prepared(me, r, origin, elements)
        return messaging.submit(
            me, r.conversation_id, r.client_msg_id, elements, r.cloud_custom_data,
            origin, ctx.send_context, mentions=r.mentions, push=r.offline_push)

    def recall(me: Identity, r: ops.RecallData, origin: AckTarget) -> Stored:
        return messaging.submit_change(me, r.conversation_id, r.seq, EntryKind.RECALL,
                                       origin=origin)

    async def edit(me: Identity, r: ops.EditData,
                   origin: AckTarget) -> asyncio.Future[Committed]:
        elements = await rt.media.prepare_for(me.sdkappid, me.user_id, r.elements_json())
        return messaging.submit_change(me, r.conversation_id, r.seq, EntryKind.EDIT,
                                       elements, r.cloud_custom_data, origin=origin)

    async def history(me: Identity, r: ops.HistoryData) -> dict[str, Any]:
        if r.around_seq is not None:
            around, older, newer = await messaging.history_around(
                me, r.conversation_id, seq=r.around_seq, limit=r.limit)
            return {"messages": around, "more": older, "newer": newer}
        found, more = await messaging.history(me, r.conversation_id,
                                              before_seq=r.before_seq, limit=r.limit)
        return {"messages": found, "more": more}

    async def conversations(me: Identity, r: ops.ConversationsData) -> dict[str, Any]:
        return {"conversations": await messaging.conversations(me, r.limit)}

    return {
        # parse_send: plain text sends skip pydantic (protocol/sends.py).
        # Sending answers a send's later refusal (AckTarget.refused).
        "send": stored_op(ctx, SendRequest, send, parse=parse_send),
        "recall": stored_op(ctx, ops.RecallData, recall),
        "edit": stored_op(ctx, ops.EditData, edit),
        "history": timed_op(ctx, ops.HistoryData, history, metrics.HISTORY_LATENCY.observe),
        "conversations": op(ctx, ops.ConversationsData, conversations),
        "read": op(ctx, ops.ReadData, lambda me, r: messaging.mark_read(
            me, r.conversation_id, r.seq, skip=ctx, platform=ctx.platform,
            client_ip=ctx.client_ip)),
    }

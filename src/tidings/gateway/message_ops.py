"""The message ops of the real-time protocol (docs/messages.md):
send, recall and edit, answered by the writer's ack once stored; history,
the conversation list and read. ``sync`` is the session's own: it switches
the connection's delivery mode (gateway/session.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from tidings import metrics
from tidings.domain.elements import EntryKind
from tidings.domain.ids import Identity
from tidings.domain.records import Committed
from tidings.domain.requests import SendRequest
from tidings.gateway.context import OpContext
from tidings.gateway.ops import (
    Ack,
    Handler,
    Stored,
    immediate_op,
    op,
    stored_op,
    timed_op,
)
from tidings.protocol import ops
from tidings.protocol.frames import RequestId
from tidings.protocol.sends import SendData, parse_send
from tidings.services.media import names_media
from tidings.services.messaging import AckTarget


def handlers(ctx: OpContext) -> dict[str, Handler]:
    rt = ctx.runtime
    messaging = rt.messaging

    async def send_prepared(me: Identity, r: SendData, origin: AckTarget,
                            elements: bytes) -> asyncio.Future[Committed]:
        prepared = await rt.media.prepare_for(me.sdkappid, me.user_id, elements)
        assert prepared is not None
        return messaging.submit(
            me, r.conversation_id, r.client_msg_id, prepared, r.cloud_custom_data,
            origin, ctx.send_context, mentions=r.mentions, push=r.offline_push)

    def send(req_id: RequestId, data: dict[str, Any]) -> Awaitable[object] | None:
        # From the frame's data to the writer's queue in this one function
        # and the service's (no generic layer between: issue 19); the ack
        # and a later refusal come through ``Ack``. Only a message naming an
        # upload waits for the store before the writer.
        r = parse_send(data)
        me = ctx.identity
        assert me is not None  # the session runs ops after login only
        origin = Ack(ctx, req_id)
        elements = r.elements
        if names_media(elements):
            return send_prepared(me, r, origin, elements)
        messaging.submit(
            me, r.conversation_id, r.client_msg_id, elements, r.cloud_custom_data,
            origin, ctx.send_context, mentions=r.mentions, push=r.offline_push)
        return None

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
        return {"conversations": await messaging.conversations(me, r.limit,
                                                               r.conversation_ids)}

    return {
        # parse_send: plain text sends skip pydantic (protocol/sends.py).
        # Sending answers a send's later refusal (AckTarget.refused).
        "send": immediate_op(SendRequest, send),
        "recall": stored_op(ctx, ops.RecallData, recall),
        "edit": stored_op(ctx, ops.EditData, edit),
        "history": timed_op(ctx, ops.HistoryData, history, metrics.HISTORY_LATENCY.observe),
        "conversations": op(ctx, ops.ConversationsData, conversations),
        "read": op(ctx, ops.ReadData, lambda me, r: messaging.mark_read(
            me, r.conversation_id, r.seq, skip=ctx, platform=ctx.platform,
            client_ip=ctx.client_ip)),
    }

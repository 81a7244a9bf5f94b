"""The link ops of the real-time protocol (docs/linked-identity.md): a
home device makes and lists links and acts as its linked identities, with
conversation ids qualified by app (``app:<sdkappid>:c2c_bob``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tidings import metrics
from tidings.domain.ids import Identity
from tidings.domain.links import LinkTicketIn
from tidings.domain.records import Committed
from tidings.domain.requests import SendRequest
from tidings.gateway.context import OpContext
from tidings.gateway.ops import Ack, Handler, op, stored_op
from tidings.protocol import frames
from tidings.protocol.ops import (
    AppData,
    LinkConversationsData,
    LinkHistoryData,
    LinkMediaUrlData,
    LinkReadData,
    LinksData,
    LinkSyncData,
)
from tidings.protocol.views import ack_view
from tidings.services.links import qualify_view
from tidings.services.media import Caller
from tidings.services.messaging import AckTarget


class _QualifiedAck(Ack):
    """The writer's ack for a send as a linked identity, qualified by app."""

    __slots__ = ()

    def ack(self, committed: Committed) -> None:
        view = qualify_view(committed.message.key.sdkappid, ack_view(committed))
        self.device.reply(frames.ok(self.req_id, view))
        metrics.ACK_LATENCY.observe(time.perf_counter() - self.started)


def handlers(ctx: OpContext) -> dict[str, Handler]:
    rt = ctx.runtime

    async def history(me: Identity, r: LinkHistoryData) -> dict[str, Any]:
        if r.around_seq is not None:
            around, older, newer = await rt.linked_messaging.history_around(
                me, r.conversation_id, seq=r.around_seq, limit=r.limit)
            return {"messages": around, "more": older, "newer": newer}
        found, more = await rt.linked_messaging.history(
            me, r.conversation_id, before_seq=r.before_seq, limit=r.limit)
        return {"messages": found, "more": more}

    async def sync(me: Identity, r: LinkSyncData) -> dict[str, Any]:
        result = await rt.linked_messaging.sync(me, r.sdkappid, r.known, r.limit)
        return {"messages": result.messages, "conversations": result.conversations,
                "more": result.more}

    async def send(me: Identity, r: SendRequest,
                   origin: AckTarget) -> asyncio.Future[Committed]:
        return await rt.linked_messaging.submit(me, r.conversation_id, r.client_msg_id,
                                                r.elements_json(), r.cloud_custom_data,
                                                origin=origin, mentions=r.mentions)

    async def media_url(me: Identity, r: LinkMediaUrlData) -> dict[str, Any]:
        # As the linked identity: its uploads and those of its conversations
        # (the app's own rule), nothing else of the app.
        identity = await rt.linked_messaging.identity(me, r.sdkappid)
        return await rt.media.download_url(Caller(identity.sdkappid, identity.user_id),
                                           r.media_id, r.variant)

    return {
        "link_preview": op(ctx, LinkTicketIn, rt.links.preview),
        "link_confirm": op(ctx, LinkTicketIn, rt.links.confirm),
        "links": op(ctx, LinksData, lambda me, r: rt.links.links(me, r.sdkappid)),
        "unlink": op(ctx, AppData, lambda me, r: rt.links.unlink(me, r.sdkappid)),
        "link_conversations": op(ctx, LinkConversationsData, lambda me, r: (
            rt.linked_messaging.conversations(me, r.sdkappid, r.limit, r.conversation_ids))),
        "link_history": op(ctx, LinkHistoryData, history),
        "link_read": op(ctx, LinkReadData, lambda me, r: rt.linked_messaging.mark_read(
            me, r.conversation_id, r.seq)),
        "link_sync": op(ctx, LinkSyncData, sync),
        "link_send": stored_op(ctx, SendRequest, send, ack=_QualifiedAck),
        "link_media_url": op(ctx, LinkMediaUrlData, media_url),
    }

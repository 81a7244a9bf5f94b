"""The link ops of the real-time protocol (docs/protocol.md, "Links"): a
home device makes and lists links and acts as its linked identities, with
conversation ids qualified by app (``app:<sdkappid>:c2c_bob``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tidings.domain.ids import Identity
from tidings.domain.links import LinkTicketIn
from tidings.domain.records import Committed
from tidings.domain.requests import SendRequest
from tidings.gateway.ops import Handler, op
from tidings.protocol import frames
from tidings.protocol.frames import RequestId
from tidings.protocol.ops import (
    AppData,
    LinkConversationsData,
    LinkHistoryData,
    LinkReadData,
    LinksData,
    LinkSyncData,
)
from tidings.protocol.views import ack_view
from tidings.services.links import qualify_view

if TYPE_CHECKING:
    from tidings.bus.local import Subscriber
    from tidings.gateway.session import Session

class _QualifiedAck:
    """The writer's ack for a send as a linked identity, qualified by app."""

    __slots__ = ("device", "req_id", "session")

    def __init__(self, session: Session, req_id: RequestId) -> None:
        self.session = session
        self.device: Subscriber = session
        self.req_id = req_id

    def ack(self, committed: Committed) -> None:
        view = qualify_view(committed.message.key.sdkappid, ack_view(committed))
        self.session.reply(frames.ok(self.req_id, view))


def handlers(session: Session) -> dict[str, Handler]:
    rt = session.runtime

    async def history(me: Identity, r: LinkHistoryData) -> dict[str, Any]:
        found, more = await rt.linked_messaging.history(
            me, r.conversation_id, before_seq=r.before_seq, limit=r.limit)
        return {"messages": found, "more": more}

    async def sync(me: Identity, r: LinkSyncData) -> dict[str, Any]:
        result = await rt.linked_messaging.sync(me, r.sdkappid, r.known, r.limit)
        return {"messages": result.messages, "conversations": result.conversations,
                "more": result.more}

    async def send(req_id: RequestId, data: dict[str, Any]) -> None:
        r = SendRequest.model_validate(data)
        future = await rt.linked_messaging.submit(session.me(), r.conversation_id,
                                                  r.client_msg_id, r.elements_json(),
                                                  r.cloud_custom_data,
                                                  origin=_QualifiedAck(session, req_id),
                                                  mentions=r.mentions)
        session.answer_when_stored(req_id, future)

    return {
        "link_preview": op(session, LinkTicketIn, rt.links.preview),
        "link_confirm": op(session, LinkTicketIn, rt.links.confirm),
        "links": op(session, LinksData, lambda me, r: rt.links.links(me, r.sdkappid)),
        "unlink": op(session, AppData, lambda me, r: rt.links.unlink(me, r.sdkappid)),
        "link_conversations": op(session, LinkConversationsData, lambda me, r: (
            rt.linked_messaging.conversations(me, r.sdkappid, r.limit))),
        "link_history": op(session, LinkHistoryData, history),
        "link_read": op(session, LinkReadData, lambda me, r: rt.linked_messaging.mark_read(
            me, r.conversation_id, r.seq)),
        "link_sync": op(session, LinkSyncData, sync),
        "link_send": send,
    }

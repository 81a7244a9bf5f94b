"""The link ops of the real-time protocol (docs/protocol.md, "Links"): a
home device makes and lists links and acts as its linked identities, with
conversation ids qualified by app (``app:<sdkappid>:c2c_bob``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from tidings.domain.links import LinkTicketIn
from tidings.domain.requests import Payload, ReadRequest, SendRequest, SyncRequest
from tidings.gateway import frames
from tidings.gateway.frames import RequestId
from tidings.services.links import qualify_view
from tidings.services.messaging import ack_view
from tidings.store.writer import Committed

if TYPE_CHECKING:
    from tidings.bus.local import Subscriber
    from tidings.gateway.session import Session

Handler = Callable[[RequestId, dict[str, Any]], Awaitable[None]]


class LinksData(Payload):
    sdkappid: int | None = Field(None, ge=1)


class AppData(Payload):
    sdkappid: int = Field(ge=1)


class LinkSyncData(SyncRequest):
    sdkappid: int = Field(ge=1)


class LinkHistoryData(frames.HistoryData):
    pass


class LinkReadData(ReadRequest):
    conversation_id: str = Field(max_length=128)


class LinkConversationsData(Payload):
    sdkappid: int | None = Field(None, ge=1)
    limit: int | None = None


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

    def op(run: Callable[[dict[str, Any]], Awaitable[Any]]) -> Handler:
        async def handle(req_id: RequestId, data: dict[str, Any]) -> None:
            session.reply(frames.ok(req_id, await run(data)))
        return handle

    async def preview(data: dict[str, Any]) -> Any:
        return await rt.links.preview(session.me(), LinkTicketIn.model_validate(data))

    async def confirm(data: dict[str, Any]) -> Any:
        return await rt.links.confirm(session.me(), LinkTicketIn.model_validate(data))

    async def links(data: dict[str, Any]) -> Any:
        return await rt.links.links(session.me(), LinksData.model_validate(data).sdkappid)

    async def unlink(data: dict[str, Any]) -> Any:
        return await rt.links.unlink(session.me(), AppData.model_validate(data).sdkappid)

    async def conversations(data: dict[str, Any]) -> Any:
        r = LinkConversationsData.model_validate(data)
        return await rt.linked_messaging.conversations(session.me(), r.sdkappid, r.limit)

    async def history(data: dict[str, Any]) -> Any:
        r = LinkHistoryData.model_validate(data)
        found, more = await rt.linked_messaging.history(
            session.me(), r.conversation_id, before_seq=r.before_seq, limit=r.limit)
        return {"messages": found, "more": more}

    async def read(data: dict[str, Any]) -> Any:
        r = LinkReadData.model_validate(data)
        return await rt.linked_messaging.mark_read(session.me(), r.conversation_id, r.seq)

    async def sync(data: dict[str, Any]) -> Any:
        r = LinkSyncData.model_validate(data)
        result = await rt.linked_messaging.sync(session.me(), r.sdkappid, r.known, r.limit)
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

    return {"link_preview": op(preview), "link_confirm": op(confirm), "links": op(links),
            "unlink": op(unlink), "link_conversations": op(conversations),
            "link_history": op(history), "link_read": op(read), "link_sync": op(sync),
            "link_send": send}

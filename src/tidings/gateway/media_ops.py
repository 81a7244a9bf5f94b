"""The media ops of the real-time protocol (docs/protocol.md, "Media"):
uploads go over HTTP; over the socket a client asks for download URLs and
for what an upload is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tidings.gateway import frames
from tidings.gateway.frames import RequestId
from tidings.services.media import Caller

if TYPE_CHECKING:
    from tidings.gateway.session import Session

Handler = Callable[[RequestId, dict[str, Any]], Awaitable[None]]


class MediaUrlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    media_id: str = Field(min_length=1, max_length=64)
    variant: Literal["original", "large", "thumb", "poster"] = "original"


class MediaInfoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    media_id: str = Field(min_length=1, max_length=64)


def handlers(session: Session) -> dict[str, Handler]:
    media = session.runtime.media

    def caller() -> Caller:
        me = session.me()
        return Caller(me.sdkappid, me.user_id)

    async def media_url(req_id: RequestId, data: dict[str, Any]) -> None:
        r = MediaUrlRequest.model_validate(data)
        session.reply(frames.ok(req_id, await media.download_url(caller(), r.media_id,
                                                                 r.variant)))

    async def media_info(req_id: RequestId, data: dict[str, Any]) -> None:
        r = MediaInfoRequest.model_validate(data)
        session.reply(frames.ok(req_id, await media.info(caller(), r.media_id)))

    return {"media_url": media_url, "media_info": media_info}

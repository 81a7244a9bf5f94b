"""The media ops of the real-time protocol (docs/protocol.md, "Media"):
uploads go over HTTP; over the socket a client asks for download URLs and
for what an upload is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.domain.ids import Identity
from tidings.gateway.ops import Handler, op
from tidings.protocol.ops import MediaInfoRequest, MediaUrlRequest
from tidings.services.media import Caller

if TYPE_CHECKING:
    from tidings.gateway.session import Session


def handlers(session: Session) -> dict[str, Handler]:
    media = session.runtime.media

    def caller(me: Identity) -> Caller:
        return Caller(me.sdkappid, me.user_id)

    return {
        "media_url": op(session, MediaUrlRequest, lambda me, r: media.download_url(
            caller(me), r.media_id, r.variant)),
        "media_info": op(session, MediaInfoRequest,
                         lambda me, r: media.info(caller(me), r.media_id)),
    }

"""The media ops of the real-time protocol (docs/media.md):
uploads go over HTTP; over the socket a client asks for download URLs and
for what an upload is."""

from __future__ import annotations

from tidings.domain.ids import Identity
from tidings.gateway.context import OpContext
from tidings.gateway.ops import Handler, op
from tidings.protocol.ops import MediaInfoRequest, MediaUrlRequest
from tidings.services.media import Caller


def handlers(ctx: OpContext) -> dict[str, Handler]:
    media = ctx.runtime.media

    def caller(me: Identity) -> Caller:
        return Caller(me.sdkappid, me.user_id)

    return {
        "media_url": op(ctx, MediaUrlRequest, lambda me, r: media.download_url(
            caller(me), r.media_id, r.variant)),
        "media_info": op(ctx, MediaInfoRequest,
                         lambda me, r: media.info(caller(me), r.media_id)),
    }

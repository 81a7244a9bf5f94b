"""The push ops of the real-time protocol (docs/push.md): a device
registers or removes its push address, lists the user's, and says whether
its app is in the foreground or the background."""

from __future__ import annotations

from typing import Any

from tidings.domain.ids import Identity
from tidings.domain.push import AppStateRequest, PushRegisterRequest, PushUnregisterRequest
from tidings.gateway.context import OpContext
from tidings.gateway.ops import Handler, op
from tidings.protocol.ops import Empty


def handlers(ctx: OpContext) -> dict[str, Handler]:
    push = ctx.runtime.push

    def device_id(named: str) -> str:
        # This connection's device, unless the request names another of the user's.
        return named or ctx.device_id

    def app_state(me: Identity, r: AppStateRequest) -> dict[str, Any]:
        push.set_app_state(me, ctx, r.state)
        return {"state": r.state}

    return {
        "push_register": op(ctx, PushRegisterRequest,
                            lambda me, r: push.register(me, device_id(r.device_id), r)),
        "push_unregister": op(ctx, PushUnregisterRequest,
                              lambda me, r: push.unregister(me, device_id(r.device_id))),
        "push_devices": op(ctx, Empty, lambda me, r: push.devices(me)),
        "app_state": op(ctx, AppStateRequest, app_state),
    }

"""The push ops of the real-time protocol (docs/push.md): a device
registers or removes its push address, lists the user's, and says whether
its app is in the foreground or the background."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tidings.domain.ids import Identity
from tidings.domain.push import AppStateRequest, PushRegisterRequest, PushUnregisterRequest
from tidings.gateway.ops import Handler, op
from tidings.protocol.ops import AnyData

if TYPE_CHECKING:
    from tidings.gateway.session import Session


def handlers(session: Session) -> dict[str, Handler]:
    push = session.runtime.push

    def device_id(named: str) -> str:
        # This connection's device, unless the request names another of the user's.
        return named or session.device.get("id", "")

    def app_state(me: Identity, r: AppStateRequest) -> dict[str, Any]:
        push.set_app_state(session, r.state)
        return {"state": r.state}

    return {
        "push_register": op(session, PushRegisterRequest,
                            lambda me, r: push.register(me, device_id(r.device_id), r)),
        "push_unregister": op(session, PushUnregisterRequest,
                              lambda me, r: push.unregister(me, device_id(r.device_id))),
        "push_devices": op(session, AnyData, lambda me, r: push.devices(me)),
        "app_state": op(session, AppStateRequest, app_state),
    }

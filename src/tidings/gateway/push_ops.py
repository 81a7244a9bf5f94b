"""The push ops of the real-time protocol (docs/push.md): a device
registers or removes its push address, lists the user's, and says whether
its app is in the foreground or the background."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tidings.domain.push import AppStateRequest, PushRegisterRequest, PushUnregisterRequest
from tidings.gateway import frames
from tidings.gateway.frames import RequestId

if TYPE_CHECKING:
    from tidings.gateway.session import Session

Handler = Callable[[RequestId, dict[str, Any]], Awaitable[None]]


def handlers(session: Session) -> dict[str, Handler]:
    push = session.runtime.push

    async def register(req_id: RequestId, data: dict[str, Any]) -> None:
        req = PushRegisterRequest.model_validate(data)
        # This connection's device, unless it names another of the user's.
        device_id = req.device_id or session.device.get("id", "")
        session.reply(frames.ok(req_id, await push.register(session.me(), device_id, req)))

    async def unregister(req_id: RequestId, data: dict[str, Any]) -> None:
        req = PushUnregisterRequest.model_validate(data)
        device_id = req.device_id or session.device.get("id", "")
        session.reply(frames.ok(req_id, await push.unregister(session.me(), device_id)))

    async def devices(req_id: RequestId, data: dict[str, Any]) -> None:
        session.reply(frames.ok(req_id, await push.devices(session.me())))

    async def app_state(req_id: RequestId, data: dict[str, Any]) -> None:
        req = AppStateRequest.model_validate(data)
        push.set_app_state(session, req.state)
        session.reply(frames.ok(req_id, {"state": req.state}))

    return {"push_register": register, "push_unregister": unregister,
            "push_devices": devices, "app_state": app_state}

"""The WebSocket endpoint ``/v1/ws`` as an ASGI route."""

from __future__ import annotations

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from tidings import logs, metrics
from tidings.gateway.session import Session
from tidings.runtime import Runtime

log = logs.get_logger(__name__)


class _AsgiTransport:
    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws

    async def send(self, frame: bytes) -> None:
        # Text frames: browsers hand them to JSON.parse as they are.
        await self._ws.send_text(frame.decode())

    def send_now(self, frame: bytes) -> bool:
        return False  # an ASGI send is a coroutine: the session's writer task awaits it

    async def close(self, code: int, reason: str) -> None:
        if self._ws.application_state is WebSocketState.CONNECTED:
            await self._ws.close(code, reason)


async def websocket_endpoint(ws: WebSocket) -> None:
    runtime: Runtime = ws.app.state.runtime
    await ws.accept()
    metrics.WS_OPENED.inc()
    metrics.WS_OPEN.inc()
    session = Session(runtime, _AsgiTransport(ws))
    session.client_ip = ws.client.host if ws.client is not None else ""
    session.start()
    code: int | None = None
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                code = message.get("code")
                break
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            await session.receive(raw)
    except WebSocketDisconnect as exc:
        code = exc.code
    except RuntimeError:
        # Receiving after our own close (heartbeat, slow consumer) ends here.
        log.debug("ws_ended_after_close", session=session.id)
    finally:
        metrics.WS_OPEN.dec()
        await session.finish(code)

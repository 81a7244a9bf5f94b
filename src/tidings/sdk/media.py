"""Upload and download helpers of the client (docs/media.md).

Uploads go over HTTP to the same server as the socket (``ws[s]://host/v1/ws``
becomes ``http[s]://host``), with the client's UserSig. A file past
``part_bytes`` goes up in parts: after a broken connection the helper asks
where the upload stands and goes on from there. Download URLs come over the
socket (``media_url``) and need no credentials."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx

from tidings.domain.errors import ErrorCode, TidingsError

T = TypeVar("T")
Source = bytes | str | os.PathLike[str]

# Files up to this size go up in one request; larger ones in parts this big.
PART_BYTES = 4 * 1024 * 1024


def http_base(ws_url: str) -> str:
    base = ws_url.split("/v1/ws", 1)[0]
    if base.startswith("wss://"):
        return "https://" + base[len("wss://"):]
    if base.startswith("ws://"):
        return "http://" + base[len("ws://"):]
    return base


def _error(reply: httpx.Response) -> TidingsError:
    try:
        body = reply.json()["error"]
        error = TidingsError(ErrorCode(body["code"]), body["message"])
    except Exception:
        return TidingsError(ErrorCode.INTERNAL, f"HTTP {reply.status_code}: {reply.text[:200]}")
    error.details = {k: v for k, v in body.items() if k not in ("code", "name", "message")}
    return error


def _json(reply: httpx.Response) -> dict[str, Any]:
    if reply.status_code >= 400:
        raise _error(reply)
    doc: dict[str, Any] = reply.json()
    return doc


class _Host(Protocol):
    url: str

    async def _resolve_usersig(self) -> str: ...

    async def _call(self, op: str, data: Mapping[str, Any], handler: Callable[[Any], T],
                    within: float) -> T: ...

    request_timeout: float

    async def send(self, conversation_id: str, elements: Any, cloud_custom_data: str = "",
                   *, client_msg_id: str | None = None) -> Any: ...


class MediaMethods:
    """Mixed into :class:`tidings.sdk.Client`."""

    async def _http(self: _Host) -> httpx.AsyncClient:
        sig = await self._resolve_usersig()
        return httpx.AsyncClient(base_url=http_base(self.url), timeout=60,
                                 headers={"Authorization": f"Bearer {sig}"})

    async def upload(self, source: Source, *, name: str | None = None, kind: str | None = None,
                     duration: float = 0, part_bytes: int = PART_BYTES,
                     retries: int = 5) -> dict[str, Any]:
        """Upload a file (a path, or bytes); answers the stored upload, whose
        ``element`` is ready to send. ``kind`` ("image", "sound", "video",
        "file") makes the server refuse bytes that are not one."""
        data = source if isinstance(source, bytes) else await asyncio.to_thread(
            Path(source).read_bytes)
        if name is None:
            name = "" if isinstance(source, bytes) else Path(source).name
        params: dict[str, Any] = {"name": name, "duration": duration}
        if kind:
            params["kind"] = kind
        async with await self._http() as http:  # type: ignore[misc]
            if len(data) <= part_bytes:
                return _json(await http.post("/v1/media", params=params, content=data))
            return await _in_parts(http, data, params, part_bytes, retries)

    async def media_url(self, media_id: str, variant: str = "original") -> str:
        """A signed download URL (no credentials needed; it expires)."""
        host: Any = self
        found = await host._call("media_url", {"media_id": media_id, "variant": variant},
                                 lambda d: d, host.request_timeout)
        return http_base(host.url) + str(found["url"])

    async def media_info(self, media_id: str) -> dict[str, Any]:
        host: Any = self
        info: dict[str, Any] = await host._call("media_info", {"media_id": media_id},
                                                lambda d: d, host.request_timeout)
        return info

    async def download(self, media_id: str, variant: str = "original") -> bytes:
        url = await self.media_url(media_id, variant)
        async with httpx.AsyncClient(timeout=60) as http:
            reply = await http.get(url)
        if reply.status_code >= 400:
            raise _error(reply)
        return reply.content

    async def _send_upload(self, conversation_id: str, source: Source, kind: str,
                           name: str | None, duration: float) -> Any:
        host: Any = self
        done = await self.upload(source, name=name, kind=kind, duration=duration)
        return await host.send(conversation_id, [done["element"]])

    async def send_image(self, conversation_id: str, source: Source) -> Any:
        return await self._send_upload(conversation_id, source, "image", None, 0)

    async def send_sound(self, conversation_id: str, source: Source,
                         duration: float = 0) -> Any:
        return await self._send_upload(conversation_id, source, "sound", None, duration)

    async def send_video(self, conversation_id: str, source: Source,
                         duration: float = 0) -> Any:
        return await self._send_upload(conversation_id, source, "video", None, duration)

    async def send_file(self, conversation_id: str, source: Source,
                        name: str | None = None) -> Any:
        return await self._send_upload(conversation_id, source, "file", name, 0)


async def _in_parts(http: httpx.AsyncClient, data: bytes, params: dict[str, Any],
                    part_bytes: int, retries: int) -> dict[str, Any]:
    body = {"size": len(data), "name": params["name"], "duration": params["duration"]}
    if "kind" in params:
        body["kind"] = params["kind"]
    created = _json(await http.post("/v1/uploads", json=body))
    upload_id = created["upload_id"]
    part_bytes = min(part_bytes, int(created["part_max_bytes"]))
    offset, failures = 0, 0
    while offset < len(data):
        try:
            reply = await http.put(f"/v1/uploads/{upload_id}", params={"offset": offset},
                                   content=data[offset:offset + part_bytes])
        except httpx.TransportError:
            failures += 1
            if failures > retries:
                raise
            await asyncio.sleep(min(5.0, 0.2 * 2 ** failures))
            offset = int(_json(await http.get(f"/v1/uploads/{upload_id}"))["offset"])
            continue
        if reply.status_code == 409:
            # The server holds a different length (a part that broke off
            # after it was stored): go on from there.
            offset = int(_json(await http.get(f"/v1/uploads/{upload_id}"))["offset"])
            continue
        offset = int(_json(reply)["offset"])
    return _json(await http.post(f"/v1/uploads/{upload_id}/complete"))



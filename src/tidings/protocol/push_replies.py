"""Replies of the push ops (docs/push.md, "WebSocket ops")."""

from __future__ import annotations

from typing import Any

from typing_extensions import TypedDict

from tidings.domain.push import Channel


class PushDeviceView(TypedDict):
    """A device registered for pushes (its token is not shown)."""

    device_id: str
    channel: Channel
    private_previews: bool
    created_at: int
    updated_at: int


class PushDevicesReply(TypedDict):
    """The user's devices, and the pushes waiting to go out."""

    user_id: str
    devices: list[PushDeviceView]
    queued: list[dict[str, Any]]


class PushUnregistered(TypedDict):
    device_id: str
    removed: bool

"""The client's push registration (docs/push.md) and the app state that
decides whether a connected device still gets pushes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.sdk.session import Session


class PushMethods(Session):
    """Mixed into :class:`tidings.sdk.Client`."""

    async def register_push(self, channel: str, *, token: str = "",
                            subscription: Mapping[str, Any] | None = None,
                            private_previews: bool = False) -> dict[str, Any]:
        """Register this device's push address: an APNs or FCM ``token``, or
        a Web Push ``subscription`` (the browser's PushSubscription JSON)."""
        data: dict[str, Any] = {"channel": channel, "private_previews": private_previews}
        if token:
            data["token"] = token
        if subscription is not None:
            data["subscription"] = dict(subscription)
        return await self._op("push_register", data)

    async def unregister_push(self) -> dict[str, Any]:
        """Stop pushes to this device (call it at logout)."""
        return await self._op("push_unregister", {})

    async def push_devices(self) -> dict[str, Any]:
        return await self._op("push_devices", {})

    async def set_app_state(self, state: str) -> None:
        """"background": this device wants pushes while it stays connected;
        "foreground": it shows messages itself. Kept across reconnects."""
        if state not in ("foreground", "background"):
            raise ValueError("state: foreground or background")
        await self._op("app_state", {"state": state})
        self._app_state = state

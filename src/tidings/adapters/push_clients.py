"""The push channels' HTTP clients, made on the first push rather than at
start-up. Each httpx client loaded the system CA bundle when made, and the
channels' module imports httpx (with h2), JWT, cryptography and http_ece:
together ~0.3 s of CPU at every start, for a server that may never push
(bench/journal/startup-ci.md, "Start-up"). Each client keeps its own SSL context:
httpcore sets the ALPN protocols on the context at every connection (h2 or
not), so one shared by both clients could offer h2 to a Web Push service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.config import Settings
from tidings.domain.push import Channel, PushChannel

if TYPE_CHECKING:
    import httpx


class PushClients:
    """The channels by kind, with the two clients under them (HTTP/1.1 for
    Web Push and FCM, HTTP/2 for APNs), made by the first ``channel`` call."""

    def __init__(self, settings: Settings) -> None:
        self._cfg = settings
        self._clients: list[httpx.AsyncClient] = []
        self._channels: dict[Channel, PushChannel] = {}

    def channel(self, kind: Channel) -> PushChannel:
        if not self._channels:
            self._make()
        return self._channels[kind]

    def _make(self) -> None:
        import httpx

        from tidings.adapters.push_channels import channels

        cfg = self._cfg
        limits = httpx.Limits(max_connections=cfg.push_concurrency)
        http = httpx.AsyncClient(timeout=cfg.push_timeout, limits=limits,
                                 follow_redirects=False, trust_env=False)
        http2 = httpx.AsyncClient(http2=True, timeout=cfg.push_timeout, limits=limits,
                                  follow_redirects=False, trust_env=False)
        self._clients = [http, http2]
        self._channels = channels(http, http2, vapid_subject=cfg.push_vapid_subject,
                                  apns_url=cfg.push_apns_url, fcm_url=cfg.push_fcm_url)

    @staticmethod
    def transport_errors() -> tuple[type[Exception], ...]:
        """What a send raises when the network failed (to retry): httpx's
        errors, imported by then since a channel was made to send."""
        import httpx

        return (httpx.HTTPError, OSError)

    async def aclose(self) -> None:
        clients, self._clients, self._channels = self._clients, [], {}
        for client in clients:
            await client.aclose()

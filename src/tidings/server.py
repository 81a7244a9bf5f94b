"""Running the server process under uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from tidings.api.app import create_app
from tidings.config import Settings


def run(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
        # Heartbeats are the protocol's own (ping/pong frames), which browsers
        # can answer; WebSocket-level pings would be a second mechanism.
        ws_ping_interval=None,
        ws_ping_timeout=None,
        access_log=False,
        # The client's address (rate limits, callbacks) comes from
        # X-Forwarded-For only behind proxies named in the settings; uvicorn
        # would otherwise believe any local peer.
        proxy_headers=bool(settings.trusted_proxies.strip()),
        forwarded_allow_ips=settings.trusted_proxies.strip() or None,
        timeout_graceful_shutdown=5,
    )

"""The SDK's own client message ids rise with time (sdk/_ids.py): the
server's key of a sender's ids takes each at its last page."""

from __future__ import annotations

import asyncio
import re
import uuid

from tests.support import App, Server
from tidings.sdk import Client
from tidings.sdk._ids import new_client_msg_id

FAST = {"backoff_initial": 0.05, "backoff_max": 0.3, "connect_timeout": 5.0,
        "request_timeout": 10.0, "send_timeout": 20.0}


async def test_the_sdks_ids_rise_with_time_and_a_given_id_is_kept(server: Server) -> None:
    app: App = server.create_app("SdkIds")
    tag = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{tag}", f"bob-{tag}"
    async with Client(server.ws_url, app.sdkappid, alice, app.sig(alice), **FAST) as c:
        ids = []
        for n in range(8):
            ack = await c.send_text(f"c2c_{bob}", f"m{n}")
            assert not ack.duplicate
            ids.append(ack.client_msg_id)
            await asyncio.sleep(0.002)  # the next millisecond at least
        given = await c.send_text(f"c2c_{bob}", "mine", client_msg_id="my-own-id")
    assert given.client_msg_id == "my-own-id"
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    # Sent milliseconds apart: in the order they were made, as text too.
    assert ids == sorted(ids)


def test_ids_made_in_one_millisecond_differ() -> None:
    made = [new_client_msg_id() for _ in range(2000)]
    assert len(set(made)) == len(made)
    assert sorted(made, key=lambda i: i[:12]) == made  # the time part never goes back

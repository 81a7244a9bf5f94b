"""Live groups through the SDK: join, send with a priority, the room's
messages as ``live_message`` notices, and a client that loses its connection
joins its rooms again once it is back."""

from __future__ import annotations

import uuid

import pytest

from tests.sdk.test_client import client, names, until
from tests.support import App, Server
from tidings.sdk import ErrorCode, Notice, TidingsError


@pytest.fixture(scope="module")
def sdk_app(shared_server: Server) -> App:
    return shared_server.create_app("SdkLive")


async def test_live_room_through_the_sdk_survives_a_reconnect(server: Server,
                                                              sdk_app: App) -> None:
    a, b = names("alice", "bob")
    g = f"sdkl-{uuid.uuid4().hex[:10]}"
    heard: list[Notice] = []
    async with client(server, sdk_app, a) as alice, client(
            server, sdk_app, b, on_notice=heard.append) as bob:
        await alice.create_group("AVChatRoom", group_id=g)
        with pytest.raises(TidingsError) as refused:
            await alice.live_send(g, [{"type": "text", "text": "early"}])
        assert refused.value.code == ErrorCode.NOT_A_MEMBER
        await alice.live_join(g)
        assert (await bob.live_join(g))["member_count"] == 2
        sent = await alice.live_send(g, [{"type": "text", "text": "hi"}], priority="High")
        assert sent["priority"] == "High"
        await until(lambda: any(n.event == "live_message" for n in heard))
        msg = next(n.data for n in heard if n.event == "live_message")
        assert (msg["sender"], msg["elements"][0]["text"], msg["priority"]) == (a, "hi", "High")
        # Bob's connection drops: the server counts him out, the SDK rejoins.
        assert bob._conn is not None  # the test reaches in to cut the socket
        bob._conn.ws.transport.abort()
        await until(lambda: bob.connects == 2, within=10)
        members = await alice.live_members(g)
        assert sorted(members["members"]) == sorted([a, b])
        heard.clear()
        await alice.live_send(g, [{"type": "text", "text": "again"}])
        await until(lambda: any(n.event == "live_message" for n in heard))
        await bob.live_leave(g)
        assert (await alice.live_members(g))["members"] == [a]

"""The SDK's friend and block calls against a real server."""

from __future__ import annotations

import asyncio

import pytest

from tests.sdk.test_client import FAST, names, sdk_app  # noqa: F401 - a fixture
from tests.support import App, Server
from tidings.sdk import Client, ErrorCode, Notice, TidingsError


def pair(server: Server, app: App, alice: str, bob: str,
         heard: asyncio.Queue[Notice]) -> tuple[Client, Client]:
    """Alice, and bob who hears every notice."""
    return (Client(server.ws_url, app.sdkappid, alice, app.sig(alice), **FAST),
            Client(server.ws_url, app.sdkappid, bob, app.sig(bob), on_notice=heard.put_nowait,
                   **FAST))


async def test_friends_and_blocks_through_the_sdk(shared_server: Server,
                                                  sdk_app: App) -> None:  # noqa: F811
    alice, bob = names("alice", "bob")
    heard: asyncio.Queue[Notice] = asyncio.Queue()
    a, b = pair(shared_server, sdk_app, alice, bob, heard)
    async with a, b:
        assert await a.add_friend(bob, "hi") == "pending"
        notice = await asyncio.wait_for(heard.get(), 5)
        assert notice.event == "friend_request" and notice.data["from"] == alice
        assert [r["from"] for r in (await b.friend_requests())["incoming"]] == [alice]
        assert (await b.accept_friend(alice, "Al"))["remark"] == "Al"
        assert [f["user_id"] for f in await a.friends()] == [bob]
        assert (await a.set_friend_remark(bob, "B"))["remark"] == "B"
        assert await b.block([alice]) == {"added": [alice], "already": []}
        assert await b.blocklist() == [alice]
        ack = await a.send_text(f"c2c_{bob}", "anyone?")
        assert ack.seq == 0 and ack.msg_id == ""
        assert (await b.unblock([alice]))["removed"] == [alice]
        assert (await a.delete_friends([bob]))["deleted"] == [bob]
        assert await b.friends() == []
        with pytest.raises(TidingsError) as refused:
            await b.accept_friend(alice)
        assert refused.value.code == ErrorCode.FRIEND_REQUEST_NOT_FOUND


async def test_conversation_settings_through_the_sdk(shared_server: Server,
                                                     sdk_app: App) -> None:  # noqa: F811
    alice, bob = names("alice", "bob")
    url = shared_server.ws_url
    async with Client(url, sdk_app.sdkappid, alice, sdk_app.sig(alice), **FAST) as a:
        await a.send_text(f"c2c_{bob}", "hi")
        got = await a.set_conversation(f"c2c_{bob}", pinned=True, draft="later")
        assert got["pinned"] and got["draft"] == "later"
        (conv,) = await a.conversations()
        assert conv.pinned and conv.draft == "later" and not conv.muted
        await a.delete_conversation(f"c2c_{bob}", clear_history=True)
        assert await a.conversations() == []
        assert (await a.history(f"c2c_{bob}")).messages == []


async def test_typing_reactions_and_replies_through_the_sdk(shared_server: Server,
                                                             sdk_app: App) -> None:  # noqa: F811
    alice, bob = names("alice", "bob")
    heard: asyncio.Queue[Notice] = asyncio.Queue()
    a, b = pair(shared_server, sdk_app, alice, bob, heard)
    async with a, b:
        assert await a.typing(f"c2c_{bob}")
        assert (await asyncio.wait_for(heard.get(), 5)).event == "typing"
        first = await a.send_text(f"c2c_{bob}", "lunch?")
        assert await b.react(f"c2c_{alice}", first.seq, "👍")
        await b.reply_text(f"c2c_{alice}", first.seq, "yes")
        page = await a.history(f"c2c_{bob}")
        assert page.messages[0].reactions == [{"emoji": "👍", "count": 1, "users": [bob]}]
        assert page.messages[1].elements[0]["text"] == "lunch?"
        assert not await b.react(f"c2c_{alice}", first.seq, "👎", remove=True)

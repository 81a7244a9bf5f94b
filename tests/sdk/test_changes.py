"""The SDK and message changes: recall and edit from the Client, changes
surfaced live (``on_change``, ``entries()``) and on resync, applied to the
copies the application holds with ``Message.apply``."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.support import App, Server
from tidings.sdk import Change, Client, ErrorCode, Message, TidingsError

FAST: dict[str, Any] = {"backoff_initial": 0.05, "backoff_max": 0.3, "connect_timeout": 5.0}


@pytest.fixture(scope="module")
def sdk_app(shared_server: Server) -> App:
    return shared_server.create_app("SdkChanges")


def names(*users: str) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"{u}-{tag}" for u in users]


def client(server: Server, app: App, user: str, **options: Any) -> Client:
    return Client(server.ws_url, app.sdkappid, user, app.sig(user), **{**FAST, **options})


async def take(c: Client, n: int, within: float = 5.0) -> list[Message | Change]:
    got: list[Message | Change] = []

    async def read() -> None:
        async for entry in c.entries():
            got.append(entry)
            if len(got) == n:
                return

    await asyncio.wait_for(read(), within)
    return got


async def test_changes_live_and_on_resync(server: Server, sdk_app: App) -> None:
    a, b = names("alice", "bob")
    seen: list[Change] = []
    async with client(server, sdk_app, a) as alice, \
            client(server, sdk_app, b, on_change=seen.append) as bob:
        first = await alice.send_text(f"c2c_{b}", "first")
        second = await alice.send_text(f"c2c_{b}", "second")
        held = {m.seq: m for m in await take(bob, 2) if isinstance(m, Message)}
        assert sorted(held) == [1, 2]

        edit = await alice.edit(f"c2c_{b}", second.seq, [{"type": "text", "text": "second!"}])
        assert (edit.kind, edit.seq, edit.target_seq, edit.duplicate) == ("edit", 3, 2, False)
        [change] = await take(bob, 1)
        assert isinstance(change, Change) and change.seq == 3
        held[2] = held[2].apply(change)
        assert (held[2].text, held[2].state, held[2].change_seq) == ("second!", "edited", 3)
        assert seen == [change]
        # A change about another message leaves a copy as it is.
        assert held[1].apply(change) is held[1]

        # Bob goes away; alice recalls and edits; bob comes back with what he held.
        known = bob.known
        assert known == {f"c2c_{a}": 3}
        await bob.close()
        recall = await alice.recall(f"c2c_{b}", first.seq)
        assert recall.target is not None and recall.target.recalled
        assert (await alice.recall(f"c2c_{b}", first.seq)).duplicate is True
        await alice.edit(f"c2c_{b}", second.seq, cloud_custom_data="later")
        with pytest.raises(TidingsError) as refused:
            await alice.edit(f"c2c_{b}", first.seq, cloud_custom_data="no")
        assert refused.value.code is ErrorCode.MESSAGE_RECALLED
        # Alice's own device knows its changes: its map has no gap.
        assert alice.known == {f"c2c_{b}": 5}

    async with client(server, sdk_app, b, known=known) as bob:
        entries = await take(bob, 2)
        assert [(e.seq, type(e).__name__) for e in entries] == [(4, "Change"), (5, "Change")]
        for e in entries:
            assert isinstance(e, Change)
            held = {seq: m.apply(e) for seq, m in held.items()}
        assert (held[1].recalled, held[1].elements) == (True, [])
        assert (held[2].text, held[2].cloud_custom_data) == ("second!", "later")
        page = await bob.history(f"c2c_{a}")
        assert {m.seq: m for m in page.messages} == held
        # Someone else's message cannot be recalled.
        with pytest.raises(TidingsError) as refused:
            await bob.recall(f"c2c_{a}", 2)
        assert refused.value.code is ErrorCode.NOT_MESSAGE_SENDER
        # messages() leaves the changes out.
        async with client(server, sdk_app, a) as alice:
            await alice.edit(f"c2c_{b}", 2, cloud_custom_data="again")
            await alice.send_text(f"c2c_{b}", "third")
        msg = await asyncio.wait_for(bob.next_message(), 5)
        assert (msg.seq, msg.text) == (7, "third")

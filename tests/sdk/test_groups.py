"""Groups through the SDK: the group methods, system entries in the seq
stream (no gap for the SDK's tracker), and a client that reconnects catching
up on a group exactly."""

from __future__ import annotations

import uuid

import pytest

from tests.sdk.test_client import client, names, next_message
from tests.support import App, Server
from tidings.sdk import ErrorCode, GroupSystem, TidingsError


@pytest.fixture(scope="module")
def sdk_app(shared_server: Server) -> App:
    return shared_server.create_app("SdkGroups")


async def test_group_chat_through_the_sdk(server: Server, sdk_app: App) -> None:
    a, b = names("alice", "bob")
    g = f"sdk-{uuid.uuid4().hex[:10]}"
    seen: list[GroupSystem] = []
    async with client(server, sdk_app, a) as alice, client(
            server, sdk_app, b, on_group_system=seen.append) as bob:
        made = await alice.create_group("Work", group_id=g, members=[b], name="Pair")
        assert made["member_count"] == 2
        await alice.send_text(f"group_{g}", "hello group")
        got = await next_message(bob)
        assert (got.sender, got.conversation_id, got.text) == (a, f"group_{g}", "hello group")
        await alice.update_group(g, notification="be nice")
        await alice.mute_member(g, b, 60)
        with pytest.raises(TidingsError) as refused:
            await bob.send_text(f"group_{g}", "can I?")
        assert refused.value.code == ErrorCode.GROUP_MUTED
        await alice.mute_member(g, b, 0)
        assert (await bob.send_text(f"group_{g}", "yes")).seq == 6
        # The entries came on bob's connection before the ack of his seq 6.
        assert [s.op for s in seen] == ["created", "profile_changed", "muted", "unmuted"]
        assert seen[1].fields["changed"] == {"notification": "be nice"}
        assert bob.known[f"group_{g}"] == 6
        info = await bob.group_info(g)
        assert info["notification"] == "be nice"
        assert [x["group_id"] for x in await bob.groups()] == [g]
        members = await alice.group_members(g)
        assert {m["user_id"] for m in members["members"]} == {a, b}
        await alice.kick(g, [b])
        with pytest.raises(TidingsError) as refused:
            await bob.history(f"group_{g}")
        assert refused.value.code == ErrorCode.NOT_A_MEMBER


async def test_a_member_added_later_catches_up_from_the_join(server: Server,
                                                            sdk_app: App) -> None:
    a, b = names("alice", "bob")
    g = f"sdk-{uuid.uuid4().hex[:10]}"
    async with client(server, sdk_app, a) as alice, client(server, sdk_app, b) as bob:
        await alice.create_group("Work", group_id=g)
        for i in range(3):
            await alice.send_text(f"group_{g}", f"before {i}")
        await alice.invite(g, [b])
        await alice.send_text(f"group_{g}", "welcome")
        got = await next_message(bob)
        # The SDK found the group, caught up from the join (seq 5), no resync loop.
        assert (got.text, got.seq) == ("welcome", 6)
        assert bob.known[f"group_{g}"] == 6

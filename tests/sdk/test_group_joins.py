"""Join applications through the SDK: apply, the owner's notice, approve,
the lists of a sync answer, and a client that was away when it was kicked
stops following the group and is told so (a ``group_left`` notice)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.sdk.test_client import client, names
from tests.support import App, Server
from tidings.sdk import ErrorCode, Notice, TidingsError


@pytest.fixture(scope="module")
def sdk_app(shared_server: Server) -> App:
    return shared_server.create_app("SdkJoins")


async def wait_notice(seen: list[Notice], event: str) -> Notice:
    for _ in range(100):
        for n in seen:
            if n.event == event:
                return n
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {event} notice in {seen}")


async def test_apply_and_approve_through_the_sdk(server: Server, sdk_app: App) -> None:
    a, d = names("alice", "dave")
    g = f"sdkj-{uuid.uuid4().hex[:10]}"
    seen: list[Notice] = []
    async with client(server, sdk_app, a, on_notice=seen.append) as alice:
        await alice.create_group("Public", group_id=g)
        async with client(server, sdk_app, d) as dave:
            assert (await dave.apply_to_group(g, "hi"))["state"] == "pending"
            with pytest.raises(TidingsError) as refused:
                await dave.apply_to_group(g)
            assert refused.value.code == ErrorCode.GROUP_JOIN_REQUEST_PENDING
            notice = await wait_notice(seen, "group_join_request")
            assert (notice.data["user_id"], notice.data["message"]) == (d, "hi")
            assert [r["user_id"] for r in await alice.join_requests(g)] == [d]
            assert [r["group_id"] for r in await alice.join_requests()] == [g]
            assert [x["state"] for x in await dave.my_applications()] == ["pending"]
            answered = await alice.approve_join(g, d)
            assert answered["state"] == "approved"
            with pytest.raises(TidingsError) as refused:
                await alice.decline_join(g, d)
            assert refused.value.code == ErrorCode.GROUP_JOIN_REQUEST_HANDLED
            assert [x["group_id"] for x in await dave.groups()] == [g]


async def test_sync_lists_and_groups_left_through_the_sdk(server: Server,
                                                          sdk_app: App) -> None:
    a, c, d = names("alice", "carol", "dave")
    g = f"sdkj-{uuid.uuid4().hex[:10]}"
    async with client(server, sdk_app, a) as alice:
        await alice.create_group("Public", group_id=g, members=[c])
        await alice.send_text(f"group_{g}", "hello")
        async with client(server, sdk_app, c) as carol:
            await asyncio.wait_for(carol.next_message(), 5)
            known = carol.known
        assert known[f"group_{g}"] == 2
        await alice.kick(g, [c])
        async with client(server, sdk_app, d) as dave:
            await dave.apply_to_group(g)
    seen: list[Notice] = []
    async with client(server, sdk_app, c, known=known, on_notice=seen.append) as carol:
        left = await wait_notice(seen, "group_left")
        assert (left.data["group_id"], left.data["op"], left.data["by"]) == (g, "kicked", a)
        assert f"group_{g}" not in carol.known
    async with client(server, sdk_app, a) as alice:
        assert [r["user_id"] for r in alice.group_join_requests] == [d]
    async with client(server, sdk_app, d) as dave:
        assert [(x["group_id"], x["state"]) for x in dave.group_applications] == [
            (g, "pending")]

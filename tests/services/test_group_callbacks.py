"""Group callbacks to the app's server: before- and after-send of group
messages (Tencent's Group.CallbackBeforeSendMsg / AfterSendMsg), and the
after-events of creation, joins, exits and disbanding, durable with the
change, in both formats."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.app_server import AppServer, Call, Reply
from tests.gateway.test_history import _ok as ok
from tests.services.test_callbacks import configure, login
from tests.services.test_callbacks import server as server  # the fast-retry server
from tests.support import App, Server


@pytest.fixture
def receiver() -> Iterator[AppServer]:
    s = AppServer().start()
    yield s
    s.stop()


def group_moderator(call: Call) -> Reply:
    data = call.data
    if call.event in ("group_before_send", "Group.CallbackBeforeSendMsg"):
        text = (data["MsgBody"][0]["MsgContent"]["Text"] if "MsgBody" in data
                else data["elements"][0]["text"])
        if text.startswith("reject"):
            if "MsgBody" in data:
                return Reply(body={"ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": "no"})
            return Reply(body={"action": "reject", "message": "no"})
        if "MsgBody" in data:
            return Reply(body={"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
        return Reply(body={"action": "allow"})
    if "MsgBody" in data or "GroupId" in data:
        return Reply(body={"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
    return Reply(body={"ok": True})


async def test_group_callbacks_native(server: Server, app: App,
                                      receiver: AppServer) -> None:
    configure(server, app, url=receiver.url, events={"state_change": False})
    receiver.answer(group_moderator)
    alice, bob, carol = "alice", "bob", "carol"
    a = await login(server, app, alice)
    g = f"cb-{uuid.uuid4().hex[:8]}"
    await ok(a, "group_create", {"type": "Public", "group_id": g, "members": [bob]})
    (created,) = await receiver.wait_for("group_after_create")
    assert created.data["group_id"] == g and created.data["owner"] == alice
    assert sorted(created.data["members"]) == [alice, bob]
    assert created.data["operator"] == alice and created.data["type"] == "Public"

    sent = await a.send_text(f"group_{g}", "hello", "gm-1")
    assert sent["ok"], sent
    (before,) = await receiver.wait_for("group_before_send")
    assert (before.data["group_id"], before.data["from"], before.data["type"]) == (
        g, alice, "Public")
    (after,) = await receiver.wait_for("group_after_send")
    assert after.data["seq"] == sent["data"]["seq"] and after.data["msg_id"]
    refused = await a.send_text(f"group_{g}", "reject me", "gm-2")
    assert refused["error"]["code"] == 20006

    await ok(a, "group_invite", {"group_id": g, "user_ids": [carol]})
    (joined,) = await receiver.wait_for("group_after_join")
    assert (joined.data["join_type"], joined.data["users"]) == ("Invited", [carol])
    await ok(a, "group_kick", {"group_id": g, "user_ids": [carol]})
    (left,) = await receiver.wait_for("group_after_leave")
    assert (left.data["exit_type"], left.data["users"]) == ("Kicked", [carol])
    await ok(a, "group_disband", {"group_id": g})
    (gone,) = await receiver.wait_for("group_after_destroyed")
    assert sorted(gone.data["members"]) == [alice, bob]


async def test_group_callbacks_tencent_format(server: Server, app: App,
                                              receiver: AppServer) -> None:
    configure(server, app, url=receiver.url, format="tencent",
              events={"state_change": False})
    receiver.answer(group_moderator)
    a = await login(server, app, "alice")
    g = f"cb-{uuid.uuid4().hex[:8]}"
    await ok(a, "group_create", {"type": "Work", "group_id": g})
    (created,) = await receiver.wait_for("Group.CallbackAfterCreateGroup")
    assert created.data["GroupId"] == g and created.data["Owner_Account"] == "alice"
    assert created.data["MemberList"] == [{"Member_Account": "alice"}]
    assert (await a.send_text(f"group_{g}", "hi", "gt-1"))["ok"]
    (before,) = await receiver.wait_for("Group.CallbackBeforeSendMsg")
    assert before.data["MsgBody"] == [{"MsgType": "TIMTextElem",
                                       "MsgContent": {"Text": "hi"}}]
    (after,) = await receiver.wait_for("Group.CallbackAfterSendMsg")
    assert (after.data["GroupId"], after.data["From_Account"], after.data["MsgSeq"]) == (
        g, "alice", 2)
    assert (await a.send_text(f"group_{g}", "reject", "gt-2"))["error"]["code"] == 20006
    await ok(a, "group_invite", {"group_id": g, "user_ids": ["bob"]})
    (joined,) = await receiver.wait_for("Group.CallbackAfterNewMemberJoin")
    assert joined.data["JoinType"] == "Invited"
    assert joined.data["NewMemberList"] == [{"Member_Account": "bob"}]
    assert joined.data["Operator_Account"] == "alice"


async def test_group_callbacks_of_a_v4_send(server: Server, app: App,
                                            receiver: AppServer) -> None:
    """Issue 16: Tencent's group callbacks carry the sender's own ``Random``,
    the calling server's address as ``ClientIP`` and an ``EventTime``."""
    from tests.api.test_tencent_v4 import v4

    configure(server, app, url=receiver.url, format="tencent",
              events={"state_change": False})
    receiver.answer(group_moderator)
    v4(server, app, "im_open_login_svc/multiaccount_import", {"Accounts": ["alice", "bob"]})
    g = f"cb-{uuid.uuid4().hex[:8]}"
    made = v4(server, app, "group_open_http_svc/create_group", {
        "Type": "Public", "GroupId": g, "Owner_Account": "alice",
        "MemberList": [{"Member_Account": "bob"}]})
    assert made["ActionStatus"] == "OK", made
    sent = v4(server, app, "group_open_http_svc/send_group_msg", {
        "GroupId": g, "From_Account": "bob", "Random": 8912345,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "red packet"}}]})
    assert sent["ActionStatus"] == "OK", sent
    (before,) = await receiver.wait_for("Group.CallbackBeforeSendMsg")
    (after,) = await receiver.wait_for("Group.CallbackAfterSendMsg")
    for call in (before, after):
        assert call.data["Random"] == 8912345
        assert call.query["ClientIP"] == "127.0.0.1"
        assert isinstance(call.data["EventTime"], int) and call.data["EventTime"] > 0
    assert after.data["EventTime"] // 1000 == sent["MsgTime"]

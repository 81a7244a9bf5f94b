"""The before-apply-join callback (Tencent's Group.CallbackBeforeApplyJoinGroup)
in both formats: the app allows or refuses an application before it is
stored; an approved application is an ``Apply`` join in the after-join event."""

from __future__ import annotations

import uuid

from tests.app_server import AppServer, Call, Reply
from tests.gateway.test_changes import _code as code
from tests.gateway.test_history import _ok as ok
from tests.services.test_callbacks import configure, login
from tests.services.test_callbacks import server as server  # the fast-retry server
from tests.services.test_group_callbacks import receiver as receiver
from tests.support import App, Server


def gatekeeper(call: Call) -> Reply:
    data = call.data
    if call.event == "group_before_apply_join":
        if data["message"].startswith("reject"):
            return Reply(body={"action": "reject", "code": 7, "message": "not today"})
        return Reply(body={"action": "allow"})
    if call.event == "Group.CallbackBeforeApplyJoinGroup":
        refuse = data["ApplyMsg"].startswith("reject")
        return Reply(body={"ActionStatus": "OK", "ErrorCode": 1 if refuse else 0,
                           "ErrorInfo": "not today" if refuse else ""})
    if "GroupId" in data:
        return Reply(body={"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
    return Reply(body={"ok": True})


async def test_before_apply_join_native(server: Server, app: App,
                                        receiver: AppServer) -> None:
    configure(server, app, url=receiver.url, events={"state_change": False})
    receiver.answer(gatekeeper)
    a = await login(server, app, "alice")
    d = await login(server, app, "dave", platform="android")
    g = f"aj-{uuid.uuid4().hex[:8]}"
    await ok(a, "group_create", {"type": "Public", "group_id": g})
    refused = await d.request("group_apply", {"group_id": g, "message": "reject me"})
    assert refused["error"]["code"] == 20006
    assert (refused["error"]["app_code"], refused["error"]["app_message"]) == (7, "not today")
    (asked,) = await receiver.wait_for("group_before_apply_join")
    assert (asked.data["group_id"], asked.data["user_id"], asked.data["type"],
            asked.data["platform"]) == (g, "dave", "Public", "android")
    assert (await ok(a, "group_join_requests", {"group_id": g}))["requests"] == []
    assert (await ok(d, "group_apply", {"group_id": g, "message": "please"}))[
        "state"] == "pending"
    await ok(a, "group_join_approve", {"group_id": g, "user_id": "dave"})
    joined = [c for c in await receiver.wait_for("group_after_join")
              if c.data["group_id"] == g]
    assert (joined[0].data["join_type"], joined[0].data["users"],
            joined[0].data["operator"]) == ("Apply", ["dave"], "alice")
    # A group that takes no applications never asks the app.
    work = f"aj-{uuid.uuid4().hex[:8]}"
    await ok(a, "group_create", {"type": "Work", "group_id": work})
    before = len(receiver.calls)
    assert await code(d, "group_apply", {"group_id": work, "message": "hi"}) == 10007
    assert not [c for c in receiver.calls[before:] if c.event == "group_before_apply_join"]


async def test_before_apply_join_tencent_format(server: Server, app: App,
                                                receiver: AppServer) -> None:
    configure(server, app, url=receiver.url, format="tencent",
              events={"state_change": False})
    receiver.answer(gatekeeper)
    a = await login(server, app, "alice")
    d = await login(server, app, "dave")
    g = f"aj-{uuid.uuid4().hex[:8]}"
    await ok(a, "group_create", {"type": "Public", "group_id": g})
    assert await code(d, "group_apply", {"group_id": g, "message": "reject"}) == 20006
    (asked,) = await receiver.wait_for("Group.CallbackBeforeApplyJoinGroup")
    assert (asked.data["GroupId"], asked.data["Requestor_Account"], asked.data["ApplyMsg"],
            asked.data["Type"]) == (g, "dave", "reject", "Public")
    assert (await ok(d, "group_apply", {"group_id": g, "message": "ok"}))["state"] == "pending"

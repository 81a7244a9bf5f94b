"""Group system notifications (issue 16): Tencent's
send_group_system_notification sent as Tencent's samples, and the native
admin equivalent (POST /v1/admin/groups/{group_id}/notifications): a live
``group_system_notification`` event to the members named (or all), stored
nowhere."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from tests.api.test_tencent_v4 import v4
from tests.api.test_tencent_v4_samples import check, group_for, imported, sample
from tests.support import App, Conn, Server, error_of

G = "group_open_http_svc"
CMD = f"{G}/send_group_system_notification"


def _req(name: str, gid: str, **fields: Any) -> dict[str, Any]:
    return {**sample(name)["request"], "GroupId": gid, **fields}


def test_samples_reach_the_members_named_or_all(server: Server, app: App) -> None:
    gid = group_for(server, app, "leckie", "peter", "tommy")
    history = v4(server, app, f"{G}/group_msg_get_simple", {"GroupId": gid, "ReqMsgNumber": 20})

    async def run() -> None:
        conns = {u: await Conn.login(server, app, u) for u in ("leckie", "peter", "tommy")}
        try:
            await asyncio.to_thread(check, server, app, CMD, "send_group_system_notification_to",
                                    _req("send_group_system_notification_to", gid))
            for user in ("peter", "leckie"):
                got = await conns[user].event("group_system_notification")
                assert (got["group_id"], got["conversation_id"], got["content"]) == (
                    gid, f"group_{gid}", "Hello World")
                assert isinstance(got["time"], int)
            await asyncio.to_thread(check, server, app, CMD, "send_group_system_notification",
                                    _req("send_group_system_notification", gid,
                                         Content="to all"))
            # tommy was not named the first time: his first notification is the second.
            for user in ("tommy", "peter", "leckie"):
                got = await conns[user].event("group_system_notification")
                assert got["content"] == "to all", user
        finally:
            for conn in conns.values():
                await conn.ws.close()
    asyncio.run(run())
    # Not a message: the group's history is as it was.
    assert v4(server, app, f"{G}/group_msg_get_simple",
              {"GroupId": gid, "ReqMsgNumber": 20})["RspMsgList"] == history["RspMsgList"]


def test_native_admin_route_and_bad_requests(server: Server, app: App) -> None:
    gid = group_for(server, app, "owner", "bob")
    imported(server, app, "stranger")
    path = f"/v1/admin/groups/{quote(gid, safe='')}/notifications"

    async def run() -> None:
        bob = await Conn.login(server, app, "bob")
        try:
            with server.http(app, app.admin) as http:
                sent = await asyncio.to_thread(
                    http.post, path,
                    json={"content": "closing at 18:00", "to": ["bob", "stranger"]})
                assert sent.status_code == 200, sent.text
                # A user named who is not a member gets nothing.
                assert sent.json() == {"group_id": gid, "members": 1}
                assert (await bob.event("group_system_notification"))["content"] == (
                    "closing at 18:00")
                for body in ({"content": ""}, {"to": ["bob"]}, {"content": 5},
                             {"content": "x", "to": ["bob"] * 501}):
                    refused = await asyncio.to_thread(
                        http.post, path, json=body)
                    assert error_of(refused) == (400, 10002), body
                missing = await asyncio.to_thread(
                    http.post, "/v1/admin/groups/nosuch/notifications", json={"content": "x"})
                assert error_of(missing) == (404, 10010)
        finally:
            await bob.ws.close()
    asyncio.run(run())
    request = _req("send_group_system_notification", gid)
    assert v4(server, app, CMD, {**request, "GroupId": "nosuch"})["ErrorCode"] == 10010
    assert v4(server, app, CMD, {"GroupId": gid})["ErrorCode"] == 10004
    assert v4(server, app, CMD, {**request, "Content": ""})["ErrorCode"] == 10004

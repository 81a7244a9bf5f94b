"""Tencent's v4 group commands over the groups service: create, info,
members, messages, recall, mute, owner, base info, joined list; per-group
errors; another app's group is not there."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from tests.api.test_tencent_v4 import v4
from tests.support import App, Conn, Server

Users = Callable[[str], str]
G = "group_open_http_svc"


async def test_group_commands(server: Server, shared_app: App, other_app: App,
                              users: Users) -> None:
    app = shared_app
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    gid = f"v4-{uuid.uuid4().hex[:10]}"
    v4(server, app, "im_open_login_svc/multiaccount_import", {"Accounts": [alice, bob, carol]})
    made = v4(server, app, f"{G}/create_group", {
        "Owner_Account": alice, "Type": "Public", "GroupId": gid, "Name": "Shop",
        "MemberList": [{"Member_Account": bob}],
        "AppDefinedData": [{"Key": "tier", "Value": "gold"}]})
    assert made["ActionStatus"] == "OK" and made["GroupId"] == gid, made
    taken = v4(server, app, f"{G}/create_group", {"Type": "Public", "GroupId": gid})
    assert (taken["ActionStatus"], taken["ErrorCode"]) == ("FAIL", 10021)
    info = v4(server, app, f"{G}/get_group_info", {"GroupIdList": [gid, "nope-" + gid]})
    first, missing = info["GroupInfo"]
    assert (first["Owner_Account"], first["MemberNum"], first["Type"]) == (alice, 2, "Public")
    assert first["AppDefinedData"] == [{"Key": "tier", "Value": "gold"}]
    assert missing["ErrorCode"] == 10010
    added = v4(server, app, f"{G}/add_group_member", {
        "GroupId": gid, "MemberList": [{"Member_Account": carol}, {"Member_Account": bob}]})
    assert added["MemberList"] == [{"Member_Account": carol, "Result": 1},
                                   {"Member_Account": bob, "Result": 2}]
    b = await Conn.login(server, app, bob)
    sent = v4(server, app, f"{G}/send_group_msg", {
        "GroupId": gid, "From_Account": alice, "Random": 7,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi from alice"}}]})
    assert sent["ActionStatus"] == "OK", sent
    got = await b.event("message")
    assert (got["sender"], got["seq"]) == (alice, sent["MsgSeq"])
    # Without From_Account: the admin account itself, not a member.
    by_admin = v4(server, app, f"{G}/send_group_msg", {
        "GroupId": gid, "Random": 8,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "notice"}}]})
    assert by_admin["ActionStatus"] == "OK", by_admin
    assert (await b.event("message"))["sender"] == app.admin
    history = v4(server, app, f"{G}/group_msg_get_simple", {"GroupId": gid,
                                                            "ReqMsgNumber": 10})
    assert [m["MsgBody"][0]["MsgContent"]["Text"] for m in history["RspMsgList"]] == [
        "notice", "hi from alice"]
    assert history["IsFinished"] == 1
    recalled = v4(server, app, f"{G}/group_msg_recall", {
        "GroupId": gid, "MsgSeqList": [{"MsgSeq": sent["MsgSeq"]}, {"MsgSeq": 999}]})
    assert [r["RetCode"] for r in recalled["RecallRetList"]] == [0, 20022]
    muted = v4(server, app, f"{G}/forbid_send_msg", {"GroupId": gid,
                                                    "Members_Account": [bob], "MuteTime": 60})
    assert muted["ActionStatus"] == "OK"
    refused = await b.send_text(f"group_{gid}", "muted?")
    assert refused["error"]["code"] == 10017
    assert v4(server, app, f"{G}/change_group_owner",
              {"GroupId": gid, "NewOwner_Account": carol})["ActionStatus"] == "OK"
    assert v4(server, app, f"{G}/modify_group_base_info", {
        "GroupId": gid, "Name": "Shop 2", "ShutUpAllMember": "On"})["ActionStatus"] == "OK"
    info = v4(server, app, f"{G}/get_group_info", {"GroupIdList": [gid]})["GroupInfo"][0]
    assert (info["Name"], info["Owner_Account"], info["ShutUpAllMember"]) == (
        "Shop 2", carol, "On")
    members = v4(server, app, f"{G}/get_group_member_info", {"GroupId": gid, "Limit": 2,
                                                            "Offset": 1})
    assert members["MemberNum"] == 3 and len(members["MemberList"]) == 2
    roles = {m["Member_Account"]: m["Role"] for m in v4(
        server, app, f"{G}/get_group_member_info", {"GroupId": gid})["MemberList"]}
    assert roles == {alice: "Member", bob: "Member", carol: "Owner"}
    joined = v4(server, app, f"{G}/get_joined_group_list", {"Member_Account": bob})
    assert {"GroupId": gid, "Type": "Public", "Name": "Shop 2"} in joined["GroupIdList"]
    assert v4(server, app, f"{G}/delete_group_member",
              {"GroupId": gid, "MemberToDel_Account": [bob]})["ActionStatus"] == "OK"
    # Another app does not see it; malformed bodies are refused.
    other = v4(server, other_app, f"{G}/destroy_group", {"GroupId": gid})
    assert (other["ActionStatus"], other["ErrorCode"]) == ("FAIL", 10010)
    bad = v4(server, app, f"{G}/create_group", {"Type": "BChatRoom"})
    assert bad["ErrorCode"] == 10004
    assert v4(server, app, f"{G}/destroy_group", {"GroupId": gid})["ActionStatus"] == "OK"
    gone = v4(server, app, f"{G}/get_group_info", {"GroupIdList": [gid]})
    assert gone["GroupInfo"][0]["ErrorCode"] == 10010

"""The rest of the supported v4 commands, each sent as Tencent's own sample
request (tests/api/tencent_samples/, with its source) to a fresh app that
holds what the sample names; the answer has the fields of Tencent's sample
answer, and what the command did reads back through the native API or v4."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.test_tencent_v4 import v4
from tests.api.test_tencent_v4_samples import check, group_for, imported, sample
from tests.support import App, Conn, Server

G = "group_open_http_svc"


def req(name: str, **fields: Any) -> dict[str, Any]:
    return {**sample(name)["request"], **fields}


def test_accounts_and_profiles(server: Server, app: App) -> None:
    imported(server, app, "UserID_1", "id1", "id2")
    checked = check(server, app, "im_open_login_svc/account_check", "account_check")
    assert [r["AccountStatus"] for r in checked["ResultItem"]] == ["Imported", "NotImported"]
    deleted = check(server, app, "im_open_login_svc/account_delete", "account_delete")
    assert [r["ResultCode"] for r in deleted["ResultItem"]] == [0, 70107]
    state = check(server, app, "openim/querystate", "querystate_old")
    assert [(r["To_Account"], r["State"]) for r in state["QueryResult"]] == [
        ("id1", "Offline"), ("id2", "Offline")]
    assert state["ErrorList"] == [{"To_Account": "id3", "ErrorCode": 70107}]
    imported(server, app, "id")
    check(server, app, "profile/portrait_set", "portrait_set")
    with server.http(app, app.admin) as http:
        assert http.get("/v1/admin/profiles/id").json()["nickname"] == "MyNickName"


def test_one_to_one_commands(server: Server, app: App) -> None:
    imported(server, app, "lumotuwe1", "lumotuwe2")
    check(server, app, "openim/importmsg", "importmsg")
    roam = v4(server, app, "openim/admin_getroammsg", {
        "Operator_Account": "lumotuwe1", "Peer_Account": "lumotuwe2", "MaxCnt": 10,
        "MinTime": 0, "MaxTime": 2**32 - 1})
    [imported_msg] = roam["MsgList"]
    assert (imported_msg["MsgTimeStamp"], imported_msg["MsgRandom"]) == (1556178721, 1287657)
    again = check(server, app, "openim/importmsg", "importmsg")  # idempotent
    assert again["ActionStatus"] == "OK"
    imported(server, app, "dramon1", "dramon2", "teacher")
    sent = v4(server, app, "openim/sendmsg", {
        "From_Account": "dramon2", "To_Account": "dramon1", "MsgRandom": 1,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]})
    unread = check(server, app, "openim/get_c2c_unread_msg_num", "get_c2c_unread_msg_num")
    assert unread["C2CUnreadMsgNumList"] == [{"Peer_Account": "dramon2", "C2CUnreadMsgNum": 1},
                                             {"Peer_Account": "teacher", "C2CUnreadMsgNum": 0}]
    check(server, app, "openim/admin_set_msg_read", "admin_set_msg_read",
          req("admin_set_msg_read", Report_Account="dramon1", Peer_Account="dramon2"))
    assert v4(server, app, "openim/get_c2c_unread_msg_num",
              {"To_Account": "dramon1"})["AllC2CUnreadMsgNum"] == 0
    check(server, app, "openim/modify_c2c_msg", "modify_c2c_msg",
          req("modify_c2c_msg", From_Account="dramon2", To_Account="dramon1",
              MsgKey=sent["MsgKey"]))
    with server.http(app, app.admin) as http:
        page = http.get("/v1/admin/conversations/dramon1/c2c_dramon2/messages").json()
    [edited] = page["messages"]
    assert (edited["elements"], edited["cloud_custom_data"]) == (
        [{"type": "text", "text": "hello"}], "your cloud custom data")
    check(server, app, "openim/admin_msgwithdraw", "admin_msgwithdraw",
          req("admin_msgwithdraw", From_Account="dramon2", To_Account="dramon1",
              MsgKey=sent["MsgKey"]))
    with server.http(app, app.admin) as http:
        page = http.get("/v1/admin/conversations/dramon1/c2c_dramon2/messages").json()
    assert page["messages"][0]["state"] == "recalled"


def test_group_commands(server: Server, app: App) -> None:
    imported(server, app, "leckie", "peter", "tommy", "jared")
    made = check(server, app, f"{G}/create_group", "create_group")
    gid = made["GroupId"]
    info = v4(server, app, f"{G}/get_group_info", {"GroupIdList": [gid]})["GroupInfo"][0]
    assert (info["Name"], info["Introduction"], info["ApplyJoinOption"]) == (
        "TestGroup", "This is group Introduction", "FreeAccess")
    v4(server, app, f"{G}/add_group_member", {"GroupId": gid, "MemberList": [
        {"Member_Account": u} for u in ("peter", "tommy", "jared")]})
    joined = check(server, app, f"{G}/get_joined_group_list", "get_joined_group_list")
    assert [g["GroupId"] for g in joined["GroupIdList"]] == [gid]
    for text in ("one", "two"):
        v4(server, app, f"{G}/send_group_msg", {"GroupId": gid, "From_Account": "peter",
                                                "Random": 1, "MsgBody": [
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]})
    listed = check(server, app, f"{G}/group_msg_get_simple", "group_msg_get_simple",
                   req("group_msg_get_simple", GroupId=gid))
    seqs = [m["MsgSeq"] for m in listed["RspMsgList"]]
    assert [m["MsgBody"][0]["MsgContent"]["Text"] for m in listed["RspMsgList"]] == [
        "two", "one"]
    recalled = check(server, app, f"{G}/group_msg_recall", "group_msg_recall",
                     req("group_msg_recall", GroupId=gid,
                         MsgSeqList=[{"MsgSeq": seqs[0]}, {"MsgSeq": 10_000}]))
    assert [r["RetCode"] for r in recalled["RecallRetList"]] == [0, 20022]
    check(server, app, f"{G}/modify_group_base_info", "modify_group_base_info",
          req("modify_group_base_info", GroupId=gid))
    info = v4(server, app, f"{G}/get_group_info", {"GroupIdList": [gid]})["GroupInfo"][0]
    assert (info["Name"], info["MuteAllMember"], info["ApplyJoinOption"]) == (
        "NewName", "On", "NeedPermission")
    check(server, app, f"{G}/change_group_owner", "change_group_owner",
          req("change_group_owner", GroupId=gid))
    check(server, app, f"{G}/delete_group_member", "delete_group_member",
          req("delete_group_member", GroupId=gid))
    roles = v4(server, app, f"{G}/get_role_in_group", {
        "GroupId": gid, "User_Account": ["peter", "leckie", "tommy", "jared"]})
    assert [r["Role"] for r in roles["UserIdList"]] == ["Owner", "Member", "NotMember",
                                                        "NotMember"]
    check(server, app, f"{G}/destroy_group", "destroy_group", req("destroy_group", GroupId=gid))
    gone = v4(server, app, f"{G}/get_group_info", {"GroupIdList": [gid]})
    assert gone["GroupInfo"][0]["ErrorCode"] == 10010
    other = group_for(server, app, "leckie")
    assert other != gid


def test_friend_update_and_recentcontact_delete(server: Server, app: App) -> None:
    imported(server, app, "id", "id1", "id2")
    v4(server, app, "sns/friend_import", {"From_Account": "id", "AddFriendItem": [
        {"To_Account": "id1", "AddSource": "AddSource_Type_Web"}]})
    updated = check(server, app, "sns/friend_update", "sns_friend_update")
    assert updated["ResultItem"] == [{"To_Account": "id1", "ResultCode": 0, "ResultInfo": ""}]
    with server.http(app, app.admin) as http:
        friends = http.get("/v1/admin/users/id/friends").json()["friends"]
    assert [(f["user_id"], f["remark"]) for f in friends] == [("id1", "remark1")]
    stranger = v4(server, app, "sns/friend_update", {"From_Account": "id", "UpdateItem": [
        {"To_Account": "id2", "SnsItem": [{"Tag": "Tag_SNS_IM_Remark", "Value": "x"}]}]})
    assert (stranger["ResultItem"][0]["ResultCode"], stranger["Fail_Account"]) == (
        31704, ["id2"])

    gid = group_for(server, app, "id1", "id")
    sent = v4(server, app, "openim/sendmsg", {
        "From_Account": "id2", "To_Account": "id1", "MsgRandom": 3,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]})
    assert sent["ActionStatus"] == "OK", sent

    def listed() -> set[tuple[int, str]]:
        found = v4(server, app, "recentcontact/get_list", {"From_Account": "id1"})
        return {(s["Type"], s.get("To_Account") or s["GroupId"]) for s in found["SessionItem"]}

    v4(server, app, f"{G}/send_group_msg", {"GroupId": gid, "From_Account": "id", "Random": 4,
                                            "MsgBody": [{"MsgType": "TIMTextElem",
                                                         "MsgContent": {"Text": "g"}}]})
    assert listed() == {(1, "id2"), (2, gid)}
    check(server, app, "recentcontact/delete", "recentcontact_delete")
    assert listed() == {(2, gid)}
    with server.http(app, app.admin) as http:  # ClearRamble 1: id1's history is gone
        page = http.get("/v1/admin/conversations/id1/c2c_id2/messages").json()
    assert page["messages"] == []
    check(server, app, "recentcontact/delete", "recentcontact_delete_group",
          req("recentcontact_delete_group", ToGroupid=gid))
    assert listed() == set()


async def test_modify_group_msg_and_online_member_num(server: Server, app: App) -> None:
    gid = group_for(server, app, "leckie", "peter")
    sent = v4(server, app, f"{G}/send_group_msg", {
        "GroupId": gid, "From_Account": "peter", "Random": 1,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "helo"}}]})
    peter = await Conn.login(server, app, "peter")
    await asyncio.to_thread(check, server, app, "openim/modify_group_msg", "modify_group_msg",
                            req("modify_group_msg", GroupId=gid, MsgSeq=sent["MsgSeq"]))
    change = await peter.event("change")
    assert change["target"]["elements"] == [{"type": "text", "text": "hello"}]
    assert change["target"]["cloud_custom_data"] == "your cloud custom data"
    nogroup = v4(server, app, "openim/modify_group_msg",
                 req("modify_group_msg", GroupId="nope", MsgSeq=1))
    assert nogroup["ErrorCode"] == 10010
    live = v4(server, app, f"{G}/create_group", {"Type": "AVChatRoom", "Name": "Stage"})
    assert live["ActionStatus"] == "OK", live
    assert (await peter.request("live_join", {"group_id": live["GroupId"]}))["ok"]
    online = await asyncio.to_thread(check, server, app, f"{G}/get_online_member_num",
                                     "get_online_member_num",
                                     req("get_online_member_num", GroupId=live["GroupId"]))
    assert online["OnlineMemberNum"] == 1
    public = v4(server, app, f"{G}/get_online_member_num", {"GroupId": gid})
    assert (public["ActionStatus"], public["ErrorCode"]) == ("FAIL", 10004)
    await peter.close()

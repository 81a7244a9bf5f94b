"""More of Tencent's v4 group commands (roles, member profile, mutes, the
app's groups, imports, unread counts), each sent as Tencent's own sample
(tests/api/tencent_samples/, with their source), answered in the shape of
Tencent's sample answer, and read back through the native API."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from tests.api.test_tencent_v4 import v4
from tests.api.test_tencent_v4_samples import check, group_for, imported, sample
from tests.support import App, Conn, Server

G = "group_open_http_svc"


def as_sample(name: str, gid: str, **fields: Any) -> dict[str, Any]:
    return {**sample(name)["request"], "GroupId": gid, **fields}


def native_members(server: Server, app: App, gid: str) -> dict[str, dict[str, Any]]:
    with server.http(app, app.admin) as http:
        reply = http.get(f"/v1/admin/groups/{quote(gid, safe='')}/members")
    assert reply.status_code == 200, reply.text
    return {m["user_id"]: m for m in reply.json()["members"]}


def test_roles_member_profile_and_mutes(server: Server, app: App) -> None:
    gid = group_for(server, app, "leckie", "peter", "bob")
    roles = check(server, app, f"{G}/get_role_in_group", "get_role_in_group",
                  as_sample("get_role_in_group", gid))
    assert roles["UserIdList"] == [{"Member_Account": "leckie", "Role": "Owner"},
                                   {"Member_Account": "peter", "Role": "Member"},
                                   {"Member_Account": "wesley", "Role": "NotMember"}]
    check(server, app, f"{G}/modify_group_member_info", "modify_group_member_info",
          as_sample("modify_group_member_info", gid))
    check(server, app, f"{G}/modify_group_member_info", "modify_group_member_info_namecard",
          as_sample("modify_group_member_info_namecard", gid))
    check(server, app, f"{G}/modify_group_member_info", "modify_group_member_info_mute",
          as_sample("modify_group_member_info_mute", gid))
    bob = native_members(server, app, gid)["bob"]
    assert (bob["role"], bob["name_card"]) == ("Admin", "bob") and bob["muted_until"] > 0
    muted = check(server, app, f"{G}/get_group_shutted_uin", "get_group_shutted_uin",
                  as_sample("get_group_shutted_uin", gid))
    assert [m["Member_Account"] for m in muted["MutedAccountList"]] == ["bob"]
    assert muted["MutedAccountList"][0]["MutedUntil"] == bob["muted_until"] // 1000
    v4(server, app, f"{G}/modify_group_member_info", {"GroupId": gid,
                                                      "Member_Account": "bob", "MuteTime": 0})
    assert v4(server, app, f"{G}/get_group_shutted_uin",
              {"GroupId": gid})["MutedAccountList"] == []
    stranger = v4(server, app, f"{G}/modify_group_member_info", {
        "GroupId": gid, "Member_Account": "wesley", "NameCard": "w"})
    assert (stranger["ActionStatus"], stranger["ErrorCode"]) == ("FAIL", 10011)
    nogroup = v4(server, app, f"{G}/get_role_in_group", as_sample("get_role_in_group", "nope"))
    assert nogroup["ErrorCode"] == 10010


def test_app_groups_and_imports(server: Server, app: App) -> None:
    imported(server, app, "leckie", "tommy", "peter")
    made = check(server, app, f"{G}/import_group", "import_group")
    assert made["GroupId"] == "MyFirstGroup"
    other = group_for(server, app, "peter")
    listed = check(server, app, f"{G}/get_appid_group_list", "get_appid_group_list")
    assert (listed["TotalCount"], listed["Next"]) == (2, 0)
    assert {g["GroupId"] for g in listed["GroupIdList"]} == {"MyFirstGroup", other}
    first = v4(server, app, f"{G}/get_appid_group_list", {"Limit": 1})
    assert (len(first["GroupIdList"]), first["Next"]) == (1, 1)
    rest = v4(server, app, f"{G}/get_appid_group_list", {"Limit": 1, "Next": first["Next"]})
    assert (len(rest["GroupIdList"]), rest["Next"]) == (1, 0)
    assert v4(server, app, f"{G}/get_appid_group_list",
              {"GroupType": "Work"})["TotalCount"] == 0

    members = check(server, app, f"{G}/import_group_member", "import_group_member",
                    as_sample("import_group_member", "MyFirstGroup"))
    assert members["MemberList"] == [{"Member_Account": "tommy", "Result": 1},
                                     {"Member_Account": "jared", "Result": 0}]
    assert native_members(server, app, "MyFirstGroup")["tommy"]["role"] == "Admin"
    v4(server, app, f"{G}/add_group_member", {"GroupId": "MyFirstGroup",
                                              "MemberList": [{"Member_Account": "peter"}]})
    request = as_sample("import_group_msg", "MyFirstGroup")
    done = check(server, app, f"{G}/import_group_msg", "import_group_msg", request)
    assert [(r["MsgTime"], r["Result"]) for r in done["ImportMsgResult"]] == [
        (1620808101, 0), (1620892821, 0)]
    again = v4(server, app, f"{G}/import_group_msg", request)
    assert [r["MsgSeq"] for r in again["ImportMsgResult"]] == [
        r["MsgSeq"] for r in done["ImportMsgResult"]]  # the same messages
    history = v4(server, app, f"{G}/group_msg_get_simple",
                 {"GroupId": "MyFirstGroup", "ReqMsgNumber": 10})
    assert [(m["From_Account"], m["MsgTimeStamp"]) for m in history["RspMsgList"]] == [
        ("peter", 1620892821), ("leckie", 1620808101)]
    assert history["RspMsgList"][1]["MsgRandom"] == 8912345


def test_set_unread_msg_num(server: Server, app: App) -> None:
    gid = group_for(server, app, "owner", "bob")
    for i in range(3):
        v4(server, app, f"{G}/send_group_msg", {
            "GroupId": gid, "From_Account": "owner", "Random": i,
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": str(i)}}]})

    def unread() -> int:
        with server.http(app, app.admin) as http:
            found = http.get("/v1/admin/users/bob/conversations").json()["conversations"]
        return int(next(c["unread"] for c in found if c["conversation_id"] == f"group_{gid}"))

    assert unread() == 3
    request = {**as_sample("set_unread_msg_num", gid), "UnreadMsgNum": 1}
    check(server, app, f"{G}/set_unread_msg_num", "set_unread_msg_num", request)
    assert unread() == 1
    check(server, app, f"{G}/set_unread_msg_num", "set_unread_msg_num",
          as_sample("set_unread_msg_num", gid, UnreadMsgNum=0))
    assert unread() == 0


async def test_delete_group_msg_by_sender_recalls_them(server: Server, app: App) -> None:
    gid = group_for(server, app, "owner", "leckie")
    for i, sender in enumerate(("leckie", "owner", "leckie")):
        sent = v4(server, app, f"{G}/send_group_msg", {
            "GroupId": gid, "From_Account": sender, "Random": i,
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": f"m{i}"}}]})
        assert sent["ActionStatus"] == "OK", sent
    owner = await Conn.login(server, app, "owner")
    await asyncio.to_thread(check, server, app, f"{G}/delete_group_msg_by_sender",
                            "delete_group_msg_by_sender",
                            as_sample("delete_group_msg_by_sender", gid))
    recalled = [(await owner.event("change"))["target"]["seq"] for _ in range(2)]
    listed = v4(server, app, f"{G}/group_msg_get_simple", {"GroupId": gid, "ReqMsgNumber": 10})
    flags = {m["MsgSeq"]: (m["From_Account"], m["IsPlaceMsg"]) for m in listed["RspMsgList"]}
    assert sorted(s for s, (who, _) in flags.items() if who == "leckie") == sorted(recalled)
    assert {who: placed for who, placed in flags.values()} == {"leckie": 1, "owner": 0}
    await owner.close()


def test_group_message_receipts(server: Server, app: App) -> None:
    gid = group_for(server, app, "owner", "test1", "test3", "test4")
    sent = v4(server, app, f"{G}/send_group_msg", {
        "GroupId": gid, "From_Account": "owner", "Random": 1,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "read me"}}]})
    assert sent["ActionStatus"] == "OK", sent
    v4(server, app, f"{G}/set_unread_msg_num", {"GroupId": gid, "Member_Account": "test1",
                                                "UnreadMsgNum": 0})
    seq = sent["MsgSeq"]
    got = check(server, app, f"{G}/get_group_msg_receipt", "get_group_msg_receipt",
                as_sample("get_group_msg_receipt", gid,
                          MsgSeqList=[{"MsgSeq": seq}, {"MsgSeq": seq + 50}]))
    assert [(r["MsgSeq"], r["Code"], r["ReadNum"], r["UnreadNum"])
            for r in got["GroupMsgReceiptList"]] == [(seq, 0, 1, 2), (seq + 50, 20022, 0, 0)]
    first = check(server, app, f"{G}/get_group_msg_receipt_detail",
                  "get_group_msg_receipt_detail",
                  as_sample("get_group_msg_receipt_detail", gid, MsgSeq=seq, Count=1))
    assert (first["UnreadList"], first["IsFinish"]) == ([{"Unread_Account": "test3"}], 0)
    rest = v4(server, app, f"{G}/get_group_msg_receipt_detail", as_sample(
        "get_group_msg_receipt_detail", gid, MsgSeq=seq, Count=1, Cursor=first["Cursor"]))
    assert (rest["UnreadList"], rest["IsFinish"]) == ([{"Unread_Account": "test4"}], 1)
    read = v4(server, app, f"{G}/get_group_msg_receipt_detail", as_sample(
        "get_group_msg_receipt_detail", gid, MsgSeq=seq, Filter=0))
    assert read["ReadList"] == [{"Read_Account": "test1"}]

"""Tencent's own samples, sent as they are: each request in
tests/api/tencent_samples/ (copied from Tencent's page, named in its
``source``) goes to a fresh app set up to hold what the sample names, and the
answer must have every field of Tencent's sample answer, with the same JSON
types (and lists of items shaped as Tencent's). Beside the shapes, each test
checks what the bug it came with was about (issue 16)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests import media_files
from tests.api.test_tencent_v4 import v4
from tests.support import App, Conn, Server

SAMPLES = Path(__file__).parent / "tencent_samples"
G = "group_open_http_svc"
# Tencent's text for a client to display: Tidings does not answer it.
NEVER_ANSWERED = {"ErrorDisplay"}


def sample(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    assert doc["source"].startswith("https://"), name
    return doc


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return type(value).__name__


def assert_shape(got: object, want: object, where: str = "answer",
                 optional: frozenset[str] = frozenset()) -> None:
    """``got`` has every field of ``want`` (but ``optional`` ones), with the
    same JSON type; each item of a list matches one of ``want``'s items."""
    assert _kind(got) == _kind(want), f"{where}: {_kind(got)}, Tencent's is {_kind(want)}"
    if isinstance(want, dict):
        assert isinstance(got, dict)
        for key, value in want.items():
            if key in optional or key in NEVER_ANSWERED:
                continue
            assert key in got, f"{where}.{key}: missing (got {sorted(got)})"
            assert_shape(got[key], value, f"{where}.{key}", optional)
    elif isinstance(want, list) and want and isinstance(got, list):
        for i, item in enumerate(got):
            misfits = []
            for candidate in want:
                try:
                    assert_shape(item, candidate, f"{where}[{i}]", optional)
                    break
                except AssertionError as exc:
                    misfits.append(str(exc))
            else:
                raise AssertionError(f"{where}[{i}]: {item} is shaped as none of Tencent's "
                                     f"items: {misfits}")


def check(server: Server, app: App, path: str, name: str,
          request: dict[str, Any] | None = None) -> dict[str, Any]:
    """Send the sample's request (or a variant of it) and check the answer's shape."""
    doc = sample(name)
    got = v4(server, app, path, doc["request"] if request is None else request)
    assert got["ActionStatus"] == "OK", got
    assert_shape(got, doc["response"], optional=frozenset(doc.get("optional", ())))
    return got


def imported(server: Server, app: App, *users: str) -> None:
    for user in users:
        done = v4(server, app, "im_open_login_svc/account_import", {"UserID": user})
        assert done["ActionStatus"] == "OK", done


# -- accounts --------------------------------------------------------------------------


def test_multiaccount_import_takes_both_of_tencents_forms(server: Server, app: App) -> None:
    old = check(server, app, "im_open_login_svc/multiaccount_import", "multiaccount_import")
    assert old["FailAccounts"] == []
    listed = v4(server, app, "im_open_login_svc/account_check", {"CheckItem": [
        {"UserID": u} for u in ("test1", "test5", "test6")]})
    assert [r["AccountStatus"] for r in listed["ResultItem"]] == [
        "Imported", "Imported", "NotImported"]
    new = check(server, app, "im_open_login_svc/multiaccount_import",
                "multiaccount_import_accountlist")
    assert new["FailAccounts"] == []
    # The id given twice is imported once, with its last values.
    with server.http(app, app.admin) as http:
        profile = http.get("/v1/admin/profiles/UserID_002").json()
    assert (profile["nickname"], profile["avatar_url"]) == ("Nick_001", "http://www.qq.com")
    # An id that cannot be imported is listed; the others are imported.
    some = v4(server, app, "im_open_login_svc/multiaccount_import",
              {"Accounts": ["fine-1", "x" * 33, "fine-2"]})
    assert (some["ActionStatus"], some["FailAccounts"]) == ("OK", ["x" * 33])
    checked = v4(server, app, "im_open_login_svc/account_check",
                 {"CheckItem": [{"UserID": "fine-1"}, {"UserID": "fine-2"}]})
    assert {r["AccountStatus"] for r in checked["ResultItem"]} == {"Imported"}
    empty = v4(server, app, "im_open_login_svc/multiaccount_import", {})
    assert (empty["ActionStatus"], empty["ErrorCode"]) == ("FAIL", 70402)


async def test_older_field_names(server: Server, app: App) -> None:
    check(server, app, "im_open_login_svc/account_import", "account_import_identifier")
    with server.http(app, app.admin) as http:
        assert http.get("/v1/admin/profiles/test").json()["nickname"] == "test"
    conn = await Conn.login(server, app, "test")
    await asyncio.to_thread(check, server, app, "im_open_login_svc/kick", "kick_identifier")
    code, _ = await asyncio.wait_for(conn.closed, 5)
    assert code == 4005
    imported(server, app, "peter", "leckie", "owner")
    made = v4(server, app, f"{G}/create_group", {
        "Type": "Public", "GroupId": "@TGS#2C5SZEAEF".replace("@TGS#", "g-"),
        "Owner_Account": "owner",
        "MemberList": [{"Member_Account": "peter"}, {"Member_Account": "leckie"}]})
    assert made["ActionStatus"] == "OK", made
    request = {**sample("forbid_send_msg_shutuptime")["request"], "GroupId": made["GroupId"]}
    await asyncio.to_thread(check, server, app, f"{G}/forbid_send_msg",
                            "forbid_send_msg_shutuptime", request)
    members = v4(server, app, f"{G}/get_group_member_info", {"GroupId": made["GroupId"]})
    muted = {m["Member_Account"]: m["MuteUntil"] for m in members["MemberList"]}
    assert muted["peter"] > 0 and muted["leckie"] > 0 and muted["owner"] == 0


async def test_querystate_lists_accounts_never_imported(server: Server, app: App) -> None:
    imported(server, app, "id1", "id2")
    conn = await Conn.login(server, app, "id1")
    got = await asyncio.to_thread(check, server, app, "openim/querystate", "querystate")
    assert [(r["To_Account"], r["Status"], r["State"]) for r in got["QueryResult"]] == [
        ("id1", "Online", "Online"), ("id2", "Offline", "Offline")]
    assert got["ErrorList"] == [{"To_Account": "id4", "ErrorCode": 70107}]
    await conn.close()


def test_portrait_get_answers_the_tags_it_knows(server: Server, app: App) -> None:
    imported(server, app, "id1")
    v4(server, app, "profile/portrait_set", {"From_Account": "id1", "ProfileItem": [
        {"Tag": "Tag_Profile_IM_Nick", "Value": "NickNameTest1"},
        {"Tag": "Tag_Profile_Custom_Test", "Value": "Custom Data1"}]})
    got = check(server, app, "profile/portrait_get", "portrait_get")
    assert got["UserProfileItem"][0]["ProfileItem"][0] == {
        "Tag": "Tag_Profile_IM_Nick", "Value": "NickNameTest1"}
    mixed = v4(server, app, "profile/portrait_get", {
        "To_Account": ["id1"],
        "TagList": ["Tag_Profile_IM_Nick", "Tag_Profile_IM_MsgSettings", "Tag_Nope"]})
    assert mixed["ActionStatus"] == "OK"
    assert mixed["UserProfileItem"][0]["ProfileItem"] == [
        {"Tag": "Tag_Profile_IM_Nick", "Value": "NickNameTest1"}]
    assert [(e["Tag"], e["ErrorCode"]) for e in mixed["ErrorList"]] == [
        ("Tag_Profile_IM_MsgSettings", 40001), ("Tag_Nope", 40001)]


# -- one-to-one messages ---------------------------------------------------------------

T0 = 1_700_000_100_000  # a fixed server time (ms), at the start of a dedup window


def history(server: Server, app: App, user: str, peer: str) -> list[dict[str, Any]]:
    with server.http(app, app.admin) as http:
        page = http.get(f"/v1/admin/conversations/{user}/c2c_{peer}/messages").json()
    return list(page["messages"])


def test_sendmsg_dedup_window_and_accounts(server: Server, app: App,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tidings.api.tencent_v4_messages.now_ms", lambda: T0)
    doc = sample("sendmsg")
    refused = v4(server, app, "openim/sendmsg", doc["request"])
    assert (refused["ActionStatus"], refused["ErrorCode"]) == ("FAIL", 20003)  # no accounts
    imported(server, app, "lumotuwe1")
    refused = v4(server, app, "openim/sendmsg", doc["request"])
    assert (refused["ActionStatus"], refused["ErrorCode"]) == ("FAIL", 90012)
    imported(server, app, "lumotuwe2")
    first = check(server, app, "openim/sendmsg", "sendmsg")
    assert isinstance(first["MsgSeq"], int)
    # The same MsgRandom and content within the second: the same message.
    assert check(server, app, "openim/sendmsg", "sendmsg")["MsgKey"] == first["MsgKey"]
    # The same MsgRandom with other content is another message, stored.
    other = {**doc["request"], "MsgBody": [{"MsgType": "TIMTextElem",
                                            "MsgContent": {"Text": "another one"}}]}
    second = check(server, app, "openim/sendmsg", "sendmsg", other)
    assert second["MsgKey"] != first["MsgKey"]
    # Into the next second, right after the first: still within the window.
    monkeypatch.setattr("tidings.api.tencent_v4_messages.now_ms", lambda: T0 + 1000)
    assert check(server, app, "openim/sendmsg", "sendmsg")["MsgKey"] == first["MsgKey"]
    # Past Tencent's window (a second), the same MsgRandom and content is new.
    monkeypatch.setattr("tidings.api.tencent_v4_messages.now_ms", lambda: T0 + 2000)
    third = check(server, app, "openim/sendmsg", "sendmsg")
    assert third["MsgKey"] not in (first["MsgKey"], second["MsgKey"])
    texts = [m["elements"][0]["text"] for m in history(server, app, "lumotuwe1", "lumotuwe2")]
    assert texts == ["hi, beauty", "another one", "hi, beauty"]
    # The sender's MsgRandom is what reads back.
    roam = v4(server, app, "openim/admin_getroammsg", {
        "Operator_Account": "lumotuwe1", "Peer_Account": "lumotuwe2", "MaxCnt": 10,
        "MinTime": 0, "MaxTime": 2**32 - 1})
    assert {m["MsgRandom"] for m in roam["MsgList"]} == {doc["request"]["MsgRandom"]}


def test_batchsendmsg_lists_accounts_never_imported(server: Server, app: App) -> None:
    doc = sample("batchsendmsg")
    imported(server, app, "dave", "bonnie")
    got = check(server, app, "openim/batchsendmsg", "batchsendmsg")
    assert got["ErrorList"] == [{"To_Account": "rong", "ErrorCode": 70107}] and got["MsgKey"]
    assert [m["sender"] for m in history(server, app, "bonnie", "dave")] == ["dave"]
    nobody = v4(server, app, "openim/batchsendmsg", {**doc["request"], "To_Account": ["rong"]})
    assert (nobody["ActionStatus"], nobody["ErrorCode"]) == ("FAIL", 90012)


def test_admin_getroammsg_pages_as_tencents_sample(server: Server, app: App) -> None:
    doc = sample("admin_getroammsg")
    imported(server, app, "user1", "user2")
    for random, sender, to, at in ((11, "user1", "user2", 1584669601),
                                   (12, "user2", "user1", 1584669602),
                                   (13, "user1", "user2", 1584669680),
                                   (14, "user1", "user2", 1584673300)):  # after MaxTime
        done = v4(server, app, "openim/importmsg", {
            "SyncFromOldSystem": 2, "From_Account": sender, "To_Account": to,
            "MsgRandom": random, "MsgTimeStamp": at,
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": f"msg {random}"}}]})
        assert done["ActionStatus"] == "OK", done
    got = check(server, app, "openim/admin_getroammsg", "admin_getroammsg")
    assert (got["Complete"], got["MsgCnt"]) == (1, 3)
    listed = [(m["MsgTimeStamp"], m["MsgRandom"], m["From_Account"], m["To_Account"])
              for m in got["MsgList"]]
    assert listed == [(1584669601, 11, "user1", "user2"), (1584669602, 12, "user2", "user1"),
                      (1584669680, 13, "user1", "user2")]
    assert (got["LastMsgTime"], got["LastMsgKey"]) == (1584669601, got["MsgList"][0]["MsgKey"])
    # Paging as the sample says: the newest first, then MaxTime = LastMsgTime.
    page = v4(server, app, "openim/admin_getroammsg", {**doc["request"], "MaxCnt": 2})
    assert (page["Complete"], [m["MsgRandom"] for m in page["MsgList"]]) == (0, [12, 13])
    rest = v4(server, app, "openim/admin_getroammsg", {
        **doc["request"], "MaxCnt": 2, "MaxTime": page["LastMsgTime"],
        "LastMsgKey": page["LastMsgKey"]})
    assert (rest["Complete"], [m["MsgRandom"] for m in rest["MsgList"]]) == (1, [11])
    # A recalled message is listed with MsgFlagBits 8, as Tencent's.
    key = got["MsgList"][0]["MsgKey"]
    assert v4(server, app, "openim/admin_msgwithdraw", {
        "From_Account": "user1", "To_Account": "user2", "MsgKey": key})["ActionStatus"] == "OK"
    again = v4(server, app, "openim/admin_getroammsg", doc["request"])
    first = again["MsgList"][0]
    assert (first["MsgFlagBits"], first["MsgBody"]) == (8, [])


async def test_external_media_by_url(server: Server, app: App, other_app: App) -> None:
    imported(server, app, "u1", "u2")
    image = {"MsgType": "TIMImageElem", "MsgContent": {
        "UUID": "1853095_26D0F1D0-CDN.jpg", "ImageFormat": 1, "ImageInfoArray": [
            {"Type": 1, "Size": 1853095, "Width": 2448, "Height": 3264,
             "URL": "https://cdn.example.com/a/original.jpg"},
            {"Type": 3, "Size": 2000, "Width": 120, "Height": 160,
             "URL": "https://cdn.example.com/a/thumb.jpg"}]}}
    sound = {"MsgType": "TIMSoundElem", "MsgContent": {
        "UUID": "sound0001", "Url": "http://cdn.example.com/a.m4a", "Size": 4000, "Second": 3,
        "Download_Flag": 2}}
    b = await Conn.login(server, app, "u2")
    sent = await asyncio.to_thread(v4, server, app, "openim/sendmsg", {
        "From_Account": "u1", "To_Account": "u2", "MsgRandom": 5, "MsgBody": [image, sound]})
    assert sent["ActionStatus"] == "OK", sent
    live = await b.event("message")
    assert live["elements"][0]["media_id"] == "1853095_26D0F1D0-CDN.jpg"
    assert live["elements"][1]["url"] == "http://cdn.example.com/a.m4a"
    roam = await asyncio.to_thread(v4, server, app, "openim/admin_getroammsg", {
        "Operator_Account": "u2", "Peer_Account": "u1", "MaxCnt": 5, "MinTime": 0,
        "MaxTime": 2**32 - 1})
    assert roam["MsgList"][0]["MsgBody"] == [image, sound]  # delivered unchanged
    await b.close()
    bad_url = {"MsgType": "TIMSoundElem", "MsgContent": {"Url": "javascript:alert(1)"}}
    bad_size = {"MsgType": "TIMFileElem", "MsgContent": {"Url": "https://x.example/f",
                                                          "FileSize": "12"}}
    for element, code in ((bad_url, 90002), (bad_size, 90002)):
        refused = v4(server, app, "openim/sendmsg", {
            "From_Account": "u1", "To_Account": "u2", "MsgRandom": 6, "MsgBody": [element]})
        assert (refused["ActionStatus"], refused["ErrorCode"]) == ("FAIL", code), refused
    # An upload of another app is not the app's to send.
    with server.http(other_app, "mallory") as m:
        reply = m.post("/v1/media", content=media_files.png())
        assert reply.status_code == 200, reply.text
        theirs = reply.json()["media_id"]
    stolen = {"MsgType": "TIMFileElem", "MsgContent": {"UUID": theirs,
                                                        "Url": "https://x.example/f"}}
    refused = v4(server, app, "openim/sendmsg", {
        "From_Account": "u1", "To_Account": "u2", "MsgRandom": 7, "MsgBody": [stolen]})
    assert (refused["ActionStatus"], refused["ErrorCode"]) == ("FAIL", 95003), refused
    assert len(history(server, app, "u1", "u2")) == 1


# -- groups and conversations ----------------------------------------------------------


def group_for(server: Server, app: App, owner: str, *members: str) -> str:
    imported(server, app, owner, *members)
    made = v4(server, app, f"{G}/create_group", {
        "Owner_Account": owner, "Type": "Public", "Name": "MyFirstGroup",
        "MemberList": [{"Member_Account": m} for m in members]})
    assert made["ActionStatus"] == "OK", made
    return str(made["GroupId"])


def test_send_group_msg_dedup_window(server: Server, app: App,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tidings.api.tencent_v4_messages.now_ms", lambda: T0)
    gid = group_for(server, app, "owner", "leckie")
    request = {**sample("send_group_msg")["request"], "GroupId": gid}
    first = check(server, app, f"{G}/send_group_msg", "send_group_msg", request)
    assert check(server, app, f"{G}/send_group_msg", "send_group_msg",
                 request)["MsgSeq"] == first["MsgSeq"]
    other = {**request, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "2"}}]}
    assert check(server, app, f"{G}/send_group_msg", "send_group_msg",
                 other)["MsgSeq"] > first["MsgSeq"]
    # Within Tencent's five minutes the same, across a five-minute slot's
    # edge too (the first was acked just now); after them, a new message.
    for at in (299_000, 301_000):
        monkeypatch.setattr("tidings.api.tencent_v4_messages.now_ms", lambda at=at: T0 + at)
        assert check(server, app, f"{G}/send_group_msg", "send_group_msg",
                     request)["MsgSeq"] == first["MsgSeq"]
    monkeypatch.setattr("tidings.api.tencent_v4_messages.now_ms", lambda: T0 + 600_000)
    after = check(server, app, f"{G}/send_group_msg", "send_group_msg", request)
    assert after["MsgSeq"] > first["MsgSeq"]
    listed = v4(server, app, f"{G}/group_msg_get_simple", {"GroupId": gid, "ReqMsgNumber": 10})
    assert {m["MsgRandom"] for m in listed["RspMsgList"]} == {request["Random"]}


def test_group_info_and_members_as_tencents_samples(server: Server, app: App) -> None:
    gid = group_for(server, app, "leckie", "peter")
    sent = v4(server, app, f"{G}/send_group_msg", {
        "GroupId": gid, "From_Account": "peter", "Random": 1,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}]})
    assert sent["ActionStatus"] == "OK", sent
    info = check(server, app, f"{G}/get_group_info", "get_group_info", {"GroupIdList": [gid]})
    group = info["GroupInfo"][0]
    assert (group["Appid"], group["NextMsgSeq"], group["LastMsgTime"]) == (
        app.sdkappid, sent["MsgSeq"] + 1, sent["MsgTime"])
    assert group["MuteAllMember"] == group["ShutUpAllMember"] == "Off"
    members = {m["Member_Account"]: m for m in group["MemberList"]}
    assert members["peter"]["LastSendMsgTime"] == sent["MsgTime"]
    assert members["peter"]["MsgSeq"] == sent["MsgSeq"]  # the sender has read its own
    assert (members["leckie"]["Role"], members["leckie"]["LastSendMsgTime"]) == ("Owner", 0)
    filtered = v4(server, app, f"{G}/get_group_info", {
        **sample("get_group_info")["request"], "GroupIdList": [gid],
        "ResponseFilter": {"GroupBaseInfoFilter": ["Name"], "MemberInfoFilter": ["Role"]}})
    only = filtered["GroupInfo"][0]
    assert (only["Name"], "Type" in only) == ("MyFirstGroup", False)
    assert {tuple(sorted(m)) for m in only["MemberList"]} == {("Member_Account", "Role")}
    request = {**sample("get_group_member_info")["request"], "GroupId": gid}
    listed = check(server, app, f"{G}/get_group_member_info", "get_group_member_info", request)
    assert {m["Member_Account"]: m["LastSendMsgTime"] for m in listed["MemberList"]} == {
        "leckie": 0, "peter": sent["MsgTime"]}


def test_add_group_member_refuses_accounts_never_imported(server: Server, app: App) -> None:
    gid = group_for(server, app, "owner", "tommy")
    v4(server, app, f"{G}/delete_group_member", {"GroupId": gid,
                                                 "MemberToDel_Account": ["tommy"]})
    request = {**sample("add_group_member")["request"], "GroupId": gid}
    got = check(server, app, f"{G}/add_group_member", "add_group_member", request)
    assert got["MemberList"] == [{"Member_Account": "tommy", "Result": 1},
                                 {"Member_Account": "jared", "Result": 0}]
    nobody = v4(server, app, f"{G}/add_group_member", {
        "GroupId": gid, "MemberList": [{"Member_Account": "jared"}]})
    assert (nobody["ActionStatus"], nobody["ErrorCode"]) == ("FAIL", 10019)
    made = v4(server, app, f"{G}/create_group", {"Type": "Public",
                                                 "MemberList": [{"Member_Account": "jared"}]})
    assert (made["ActionStatus"], made["ErrorCode"]) == ("FAIL", 10019)


def test_recentcontact_lists_groups(server: Server, app: App) -> None:
    gid = group_for(server, app, "id1", "id2")
    for body in ({"From_Account": "id2", "To_Account": "id1", "MsgRandom": 1},
                 {"GroupId": gid, "From_Account": "id2", "Random": 2}):
        path = "openim/sendmsg" if "To_Account" in body else f"{G}/send_group_msg"
        done = v4(server, app, path, {**body, "MsgBody": [
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]})
        assert done["ActionStatus"] == "OK", done
    got = check(server, app, "recentcontact/get_list", "recentcontact_get_list")
    assert [(s["Type"], s.get("To_Account"), s.get("GroupId"), s["TopFlag"])
            for s in got["SessionItem"]] == [(2, None, gid, 0), (1, "id2", None, 0)]

"""Tencent Cloud IM's v4 REST API on Tidings: the same URL shape, query
string and admin UserSig (signed by the official TLSSigAPIv2), always HTTP
200 with ActionStatus/ErrorCode/ErrorInfo; each command acts through the
same services as the native API, so both views agree."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support import App, Conn, Server

Users = Callable[[str], str]


def v4(server: Server, app: App, path: str, body: Any, *, identifier: str | None = None,
       usersig: str | None = None, sdkappid: int | None = None,
       raw: bytes | None = None) -> dict[str, Any]:
    who = identifier if identifier is not None else app.admin
    params = {"sdkappid": str(sdkappid if sdkappid is not None else app.sdkappid),
              "identifier": who, "usersig": usersig if usersig is not None else app.sig(who),
              "random": str(random.randrange(2**32)), "contenttype": "json"}
    reply = httpx.post(f"{server.base_url}/v4/{path}", params=params, timeout=10,
                       content=raw if raw is not None else None,
                       json=body if raw is None else None)
    assert reply.status_code == 200, reply.text
    doc: dict[str, Any] = reply.json()
    assert doc["ActionStatus"] in ("OK", "FAIL") and isinstance(doc["ErrorInfo"], str)
    assert (doc["ActionStatus"] == "OK") == (doc["ErrorCode"] == 0), doc
    return doc


def native_existing(server: Server, app: App, *user_ids: str) -> list[str]:
    with server.http(app, app.admin) as http:
        found: list[str] = http.post("/v1/admin/accounts/check",
                                     json={"user_ids": list(user_ids)}).json()["existing"]
    return found


def test_accounts(server: Server, shared_app: App, users: Users) -> None:
    alice, bob, carol, zoe = users("alice"), users("bob"), users("carol"), users("zoe")
    done = v4(server, shared_app, "im_open_login_svc/account_import",
              {"UserID": alice, "Nick": "Alice", "FaceUrl": "https://a.example/a.png"})
    assert done == {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
    many = v4(server, shared_app, "im_open_login_svc/multiaccount_import",
              {"AccountList": [{"UserID": bob}, {"UserID": carol, "Nick": "Carol"}]})
    assert many["FailAccounts"] == []
    assert native_existing(server, shared_app, alice, bob, carol, zoe) == [alice, bob, carol]
    with server.http(shared_app, shared_app.admin) as http:
        profile = http.get(f"/v1/admin/profiles/{alice}").json()
    assert (profile["nickname"], profile["avatar_url"]) == ("Alice", "https://a.example/a.png")

    checked = v4(server, shared_app, "im_open_login_svc/account_check",
                 {"CheckItem": [{"UserID": zoe}, {"UserID": alice}]})
    assert [(r["UserID"], r["AccountStatus"]) for r in checked["ResultItem"]] == [
        (zoe, "NotImported"), (alice, "Imported")]
    deleted = v4(server, shared_app, "im_open_login_svc/account_delete",
                 {"DeleteItem": [{"UserID": bob}, {"UserID": zoe}]})
    assert [(r["UserID"], r["ResultCode"]) for r in deleted["ResultItem"]] == [
        (bob, 0), (zoe, 70107)]
    assert native_existing(server, shared_app, bob) == []
    # The old form of multiaccount_import: a list of ids.
    old = v4(server, shared_app, "im_open_login_svc/multiaccount_import",
             {"Accounts": [zoe]})
    assert old["ActionStatus"] == "OK" and native_existing(server, shared_app, zoe) == [zoe]


async def test_querystate_and_kick(server: Server, shared_app: App, users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    await asyncio.to_thread(v4, server, shared_app, "im_open_login_svc/multiaccount_import",
                            {"Accounts": [alice, bob]})
    conn = await Conn.open(server)
    login = await conn.request("login", {"sdkappid": shared_app.sdkappid, "user_id": alice,
                                         "usersig": shared_app.sig(alice),
                                         "device": {"platform": "iOS", "id": "p1"}})
    assert login["ok"], login
    state = await asyncio.to_thread(v4, server, shared_app, "openim/querystate",
                                    {"To_Account": [alice, bob], "IsNeedDetail": 1})
    assert state["QueryResult"] == [
        {"To_Account": alice, "Status": "Online", "State": "Online",
         "Detail": [{"Platform": "iOS", "Status": "Online"}]},
        {"To_Account": bob, "Status": "Offline", "State": "Offline", "Detail": []}]
    kicked = await asyncio.to_thread(v4, server, shared_app, "im_open_login_svc/kick",
                                     {"UserID": alice})
    assert kicked["ActionStatus"] == "OK"
    code, _ = await asyncio.wait_for(conn.closed, 5)
    assert code == 4005
    after = await asyncio.to_thread(v4, server, shared_app, "openim/query_online_status",
                                    {"To_Account": [alice]})
    assert after["QueryResult"] == [{"To_Account": alice, "Status": "Offline",
                                     "State": "Offline"}]


def test_portraits(server: Server, shared_app: App, users: Users) -> None:
    alice, ghost = users("alice"), users("ghost")
    v4(server, shared_app, "im_open_login_svc/account_import", {"UserID": alice})
    done = v4(server, shared_app, "profile/portrait_set", {"From_Account": alice, "ProfileItem": [
        {"Tag": "Tag_Profile_IM_Nick", "Value": "Alice"},
        {"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Female"},
        {"Tag": "Tag_Profile_IM_BirthDay", "Value": 19900419},
        {"Tag": "Tag_Profile_IM_AllowType", "Value": "AllowType_Type_AllowAny"},
        {"Tag": "Tag_Profile_IM_Level", "Value": 5},
        {"Tag": "Tag_Profile_Custom_rating", "Value": "4.9"}]})
    assert done["ActionStatus"] == "OK", done
    # The native API reads what v4 wrote ...
    with server.http(shared_app, shared_app.admin) as http:
        native = http.get(f"/v1/admin/profiles/{alice}").json()
        assert (native["nickname"], native["gender"], native["birthday"], native["level"],
                native["allow_type"], native["custom"]) == (
            "Alice", "female", 19900419, 5, "allow_any", {"rating": "4.9"})
        # ... and v4 reads what the native API wrote.
        assert http.patch(f"/v1/admin/profiles/{alice}",
                          json={"signature": "hi", "gender": "male"}).status_code == 200
    got = v4(server, shared_app, "profile/portrait_get", {
        "To_Account": [alice, ghost],
        "TagList": ["Tag_Profile_IM_Nick", "Tag_Profile_IM_Gender",
                    "Tag_Profile_IM_SelfSignature", "Tag_Profile_IM_AllowType",
                    "Tag_Profile_Custom_rating", "Tag_Profile_Custom_absent"]})
    assert got["UserProfileItem"] == [
        {"To_Account": alice, "ResultCode": 0, "ResultInfo": "", "ProfileItem": [
            {"Tag": "Tag_Profile_IM_Nick", "Value": "Alice"},
            {"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Male"},
            {"Tag": "Tag_Profile_IM_SelfSignature", "Value": "hi"},
            {"Tag": "Tag_Profile_IM_AllowType", "Value": "AllowType_Type_AllowAny"},
            {"Tag": "Tag_Profile_Custom_rating", "Value": "4.9"}]},
        {"To_Account": ghost, "ResultCode": 40003, "ResultInfo": "the account does not exist",
         "ProfileItem": []}]


@pytest.mark.parametrize(("path", "body", "code"), [
    ("profile/portrait_set", {"From_Account": "x", "ProfileItem": [
        {"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Other"}]}, 40001),
    ("profile/portrait_set", {"From_Account": "x", "ProfileItem": [
        {"Tag": "Tag_Profile_IM_Nope", "Value": "v"}]}, 40001),
    ("profile/portrait_set", {"From_Account": "x", "ProfileItem": [
        {"Tag": "Tag_Profile_IM_Level", "Value": -1}]}, 40001),
    ("profile/portrait_set", {"From_Account": "x", "ProfileItem": []}, 40001),
    ("profile/portrait_set", {"From_Account": "nobody-here", "ProfileItem": [
        {"Tag": "Tag_Profile_IM_Nick", "Value": "n"}]}, 40003),
    ("profile/portrait_get", {"To_Account": ["x"], "TagList": []}, 40001),
    ("im_open_login_svc/account_import", {"Nick": "no id"}, 70402),
    ("im_open_login_svc/account_import", {"UserID": "x" * 33}, 70402),
    ("im_open_login_svc/account_check", {"CheckItem": [{"UserID": "a"}] * 101}, 70402),
    ("im_open_login_svc/account_check", {"CheckItem": "a"}, 70402),
    ("openim/querystate", {"To_Account": []}, 90010),
    ("openim/querystate", {"To_Account": [""]}, 90010),
    ("nosuch/command", {}, 60020),
])
def test_bad_requests_fail_with_tencent_codes(server: Server, shared_app: App, path: str,
                                              body: dict[str, Any], code: int) -> None:
    got = v4(server, shared_app, path, body)
    assert (got["ActionStatus"], got["ErrorCode"]) == ("FAIL", code), got
    assert got["ErrorInfo"]


def test_credentials(server: Server, shared_app: App, other_app: App, users: Users) -> None:
    alice = users("alice")
    body = {"CheckItem": [{"UserID": alice}]}
    path = "im_open_login_svc/account_check"
    assert v4(server, shared_app, path, body)["ActionStatus"] == "OK"
    cases = [
        (dict(identifier=alice), 70403),  # a user, not an admin
        (dict(usersig="garbage"), 70003),
        (dict(usersig=""), 70003),
        (dict(usersig=other_app.sig(other_app.admin)), 70014),  # another app's ticket
        (dict(sdkappid=other_app.sdkappid), 70014),
        (dict(usersig=shared_app.sig(alice)), 70013),  # the ticket names another user
    ]
    for options, code in cases:
        got = v4(server, shared_app, path, body, **options)  # type: ignore[arg-type]
        assert (got["ActionStatus"], got["ErrorCode"]) == ("FAIL", code), (options, got)
    # The other app's admin imports into its own app, never into ours.
    bob = users("bob")
    got = v4(server, other_app, "im_open_login_svc/account_import", {"UserID": bob})
    assert got["ActionStatus"] == "OK"
    assert native_existing(server, shared_app, bob) == []
    assert native_existing(server, other_app, bob) == [bob]
    bad_json = v4(server, shared_app, path, None, raw=b"{nope")
    assert (bad_json["ActionStatus"], bad_json["ErrorCode"]) == ("FAIL", 90001)
    not_object = v4(server, shared_app, path, None, raw=b"[1]")
    assert bad_json["ActionStatus"] == not_object["ActionStatus"] == "FAIL"


TEXT_BODY = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello from v4"}}]


async def test_messages_through_v4_and_natively(server: Server, shared_app: App, users: Users,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tidings.api.tencent_v4_messages.now_ms", lambda: 1_700_000_000_000)
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    v4(server, shared_app, "im_open_login_svc/multiaccount_import",
       {"Accounts": [alice, bob, carol]})
    phone = await Conn.login(server, shared_app, bob)
    sent = await asyncio.to_thread(v4, server, shared_app, "openim/sendmsg", {
        "SyncOtherMachine": 2, "From_Account": alice, "To_Account": bob,
        "MsgRandom": 1234, "MsgBody": TEXT_BODY, "CloudCustomData": "order-1"})
    assert sent["ActionStatus"] == "OK", sent
    live = await phone.event("message")
    assert live["elements"] == [{"type": "text", "text": "hello from v4"}]
    assert (live["sender"], live["cloud_custom_data"]) == (alice, "order-1")
    assert sent["MsgKey"] == live["msg_id"] and sent["MsgTime"] == live["time"] // 1000
    # The same MsgRandom and content again (within Tencent's second) is the
    # same message.
    again = await asyncio.to_thread(v4, server, shared_app, "openim/sendmsg", {
        "From_Account": alice, "To_Account": bob, "MsgRandom": 1234, "MsgBody": TEXT_BODY,
        "CloudCustomData": "order-1"})
    assert again["MsgKey"] == sent["MsgKey"]
    await phone.no_event("message")

    # A native send reads back through v4 with Tencent's element names.
    assert (await phone.send_text(f"c2c_{alice}", "native reply"))["ok"]
    roam = await asyncio.to_thread(v4, server, shared_app, "openim/admin_getroammsg", {
        "Operator_Account": alice, "Peer_Account": bob, "MaxCnt": 10,
        "MinTime": 0, "MaxTime": 2**32 - 1})
    assert roam["Complete"] == 1 and roam["MsgCnt"] == 2
    assert [(m["From_Account"], m["MsgBody"]) for m in roam["MsgList"]] == [
        (alice, TEXT_BODY),
        (bob, [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "native reply"}}])]
    first = await asyncio.to_thread(v4, server, shared_app, "openim/admin_getroammsg", {
        "Operator_Account": alice, "Peer_Account": bob, "MaxCnt": 1,
        "MinTime": 0, "MaxTime": 2**32 - 1})
    assert first["Complete"] == 0 and first["MsgCnt"] == 1
    rest = await asyncio.to_thread(v4, server, shared_app, "openim/admin_getroammsg", {
        "Operator_Account": alice, "Peer_Account": bob, "MaxCnt": 1, "MinTime": 0,
        "MaxTime": 2**32 - 1, "LastMsgKey": first["LastMsgKey"]})
    assert [m["MsgKey"] for m in rest["MsgList"]] == [sent["MsgKey"]]

    unread = await asyncio.to_thread(v4, server, shared_app, "openim/get_c2c_unread_msg_num",
                                     {"To_Account": alice, "Peer_Account": [bob, carol]})
    assert unread["AllC2CUnreadMsgNum"] == 1
    assert unread["C2CUnreadMsgNumList"] == [{"Peer_Account": bob, "C2CUnreadMsgNum": 1},
                                             {"Peer_Account": carol, "C2CUnreadMsgNum": 0}]
    done = await asyncio.to_thread(v4, server, shared_app, "openim/admin_set_msg_read",
                                   {"Report_Account": alice, "Peer_Account": bob})
    assert done["ActionStatus"] == "OK"
    unread = await asyncio.to_thread(v4, server, shared_app, "openim/get_c2c_unread_msg_num",
                                     {"To_Account": alice})
    assert unread["AllC2CUnreadMsgNum"] == 0

    # Edit and recall by MsgKey reach the devices as change events.
    edited = await asyncio.to_thread(v4, server, shared_app, "openim/modify_c2c_msg", {
        "From_Account": alice, "To_Account": bob, "MsgKey": sent["MsgKey"],
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "edited"}}]})
    assert edited["ActionStatus"] == "OK", edited
    change = await phone.event("change")
    assert change["target"]["elements"] == [{"type": "text", "text": "edited"}]
    withdrawn = await asyncio.to_thread(v4, server, shared_app, "openim/admin_msgwithdraw", {
        "From_Account": alice, "To_Account": bob, "MsgKey": sent["MsgKey"]})
    assert withdrawn["ActionStatus"] == "OK", withdrawn
    assert (await phone.event("change"))["target"]["state"] == "recalled"

    # Batch: one result per refused recipient; imports do not count as unread.
    batch = await asyncio.to_thread(v4, server, shared_app, "openim/batchsendmsg", {
        "From_Account": alice, "To_Account": [bob, carol, ""], "MsgRandom": 7,
        "MsgBody": TEXT_BODY})
    assert batch["ActionStatus"] == "OK" and batch["MsgKey"]
    assert [e["To_Account"] for e in batch["ErrorList"]] == [""]
    imported = await asyncio.to_thread(v4, server, shared_app, "openim/importmsg", {
        "SyncFromOldSystem": 2, "From_Account": carol, "To_Account": alice,
        "MsgRandom": 9, "MsgTimeStamp": 1_600_000_000, "MsgBody": TEXT_BODY})
    assert imported["ActionStatus"] == "OK", imported
    with server.http(shared_app, shared_app.admin) as http:
        page = http.get(f"/v1/admin/conversations/{alice}/c2c_{carol}/messages").json()
    assert [m["time"] for m in page["messages"]][-1] == 1_600_000_000_000
    contacts = await asyncio.to_thread(v4, server, shared_app, "recentcontact/get_list",
                                       {"From_Account": alice, "TimeStamp": 0, "StartIndex": 0})
    assert {c["To_Account"] for c in contacts["SessionItem"]} == {bob, carol}
    assert contacts["CompleteFlag"] == 1
    await phone.close()


@pytest.mark.parametrize(("body", "code"), [
    ({"From_Account": "a", "To_Account": "b", "MsgRandom": 1, "MsgBody": []}, 90002),
    ({"From_Account": "a", "To_Account": "b", "MsgRandom": 1,
      "MsgBody": [{"MsgType": "TIMNopeElem", "MsgContent": {}}]}, 90002),
    ({"From_Account": "a", "To_Account": "b", "MsgRandom": -1, "MsgBody": TEXT_BODY}, 90010),
    ({"From_Account": "a", "To_Account": "a", "MsgRandom": 1, "MsgBody": TEXT_BODY}, 10009),
    ({"From_Account": "a", "MsgRandom": 1, "MsgBody": TEXT_BODY}, 90010),
    ({"From_Account": "a", "To_Account": "b", "MsgRandom": 1, "MsgBody": TEXT_BODY,
      "ForbidCallbackControl": ["Nope"]}, 90010),
])
def test_bad_sends_change_nothing(server: Server, shared_app: App, body: dict[str, Any],
                                  code: int) -> None:
    v4(server, shared_app, "im_open_login_svc/multiaccount_import", {"Accounts": ["a", "b"]})
    got = v4(server, shared_app, "openim/sendmsg", body)
    assert (got["ActionStatus"], got["ErrorCode"]) == ("FAIL", code), got

"""Tencent's v4 relationship commands (``sns``) over the friends service,
each sent as Tencent's own sample (tests/api/tencent_samples/sns_*.json, with
their source), answered in the shape of Tencent's sample answer; what they
do is read back through the native API (one implementation)."""

from __future__ import annotations

from tests.api.test_tencent_v4 import v4
from tests.api.test_tencent_v4_samples import check, imported, sample
from tests.support import App, Server


def native_friends(server: Server, app: App, user: str) -> dict[str, str]:
    with server.http(app, app.admin) as http:
        reply = http.get(f"/v1/admin/users/{user}/friends")
    assert reply.status_code == 200, reply.text
    return {f["user_id"]: f["remark"] for f in reply.json()["friends"]}


def test_friends(server: Server, app: App) -> None:
    imported(server, app, "id", "id1", "id2", "id4")
    added = check(server, app, "sns/friend_add", "sns_friend_add")
    assert added["ResultItem"] == [{"To_Account": "id1", "ResultCode": 0, "ResultInfo": ""}]
    assert "Fail_Account" not in added
    assert native_friends(server, app, "id") == {"id1": "remark1"}
    assert native_friends(server, app, "id1") == {"id": ""}  # Add_Type_Both
    # Without ForceAddFlags it is a request: pending until id4 accepts.
    asked = v4(server, app, "sns/friend_add", {"From_Account": "id", "AddFriendItem": [
        {"To_Account": "id4", "AddSource": "AddSource_Type_Web"}]})
    assert [r["ResultCode"] for r in asked["ResultItem"]] == [30539]
    assert asked["Fail_Account"] == ["id4"]
    # Import: one way, without asking; an account never imported fails alone.
    got = check(server, app, "sns/friend_import", "sns_friend_import")
    assert [(r["To_Account"], r["ResultCode"]) for r in got["ResultItem"]] == [
        ("id1", 0), ("id2", 0), ("id3", 30003)]
    assert got["Fail_Account"] == ["id3"]
    assert set(native_friends(server, app, "id")) == {"id1", "id2"}
    assert native_friends(server, app, "id2") == {}
    imported(server, app, "id3")
    v4(server, app, "sns/friend_import", {"From_Account": "id3", "AddFriendItem": [
        {"To_Account": "id", "AddSource": "AddSource_Type_Web"}]})
    checked = check(server, app, "sns/friend_check", "sns_friend_check")
    assert [(r["To_Account"], r["Relation"]) for r in checked["InfoItem"]] == [
        ("id1", "CheckResult_Type_BothWay"), ("id2", "CheckResult_Type_AWithB"),
        ("id3", "CheckResult_Type_BWithA"), ("id4", "CheckResult_Type_NoRelation"),
        ("id5", "CheckResult_Type_NoRelation")]
    listed = check(server, app, "sns/friend_get", "sns_friend_get")
    assert (listed["FriendNum"], listed["CompleteFlag"]) == (2, 1)
    tags = {i["To_Account"]: {v["Tag"]: v["Value"] for v in i["ValueItem"]}
            for i in listed["UserDataItem"]}
    assert tags["id1"]["Tag_SNS_IM_Remark"] == "remark1"
    assert tags["id2"]["Tag_SNS_IM_AddSource"] == "AddSource_Type_XXXXXXXX"
    deleted = check(server, app, "sns/friend_delete", "sns_friend_delete")
    assert [(r["To_Account"], r["ResultCode"]) for r in deleted["ResultItem"]] == [
        ("id1", 0), ("id2", 0), ("id3", 31704)]
    assert native_friends(server, app, "id") == {} == native_friends(server, app, "id1")
    v4(server, app, "sns/friend_import", {"From_Account": "id", "AddFriendItem": [
        {"To_Account": u, "AddSource": "AddSource_Type_Web"} for u in ("id1", "id2")]})
    check(server, app, "sns/friend_delete_all", "sns_friend_delete_all")
    assert native_friends(server, app, "id") == {}


def test_friend_get_list(server: Server, app: App) -> None:
    imported(server, app, "UserID_1", "UserID_2")
    v4(server, app, "profile/portrait_set", {"From_Account": "UserID_2", "ProfileItem": [
        {"Tag": "Tag_Profile_IM_Nick", "Value": "nick_2"},
        {"Tag": "Tag_Profile_Custom_Test", "Value": "custom_profile_2"}]})
    v4(server, app, "sns/friend_import", {"From_Account": "UserID_1", "AddFriendItem": [
        {"To_Account": "UserID_2", "Remark": "remark_2", "AddSource": "AddSource_Type_Web"}]})
    got = check(server, app, "sns/friend_get_list", "sns_friend_get_list")
    values = {v["Tag"]: v["Value"] for v in got["InfoItem"][0]["SnsProfileItem"]}
    assert values == {"Tag_SNS_IM_Remark": "remark_2", "Tag_Profile_IM_Nick": "nick_2",
                      "Tag_Profile_IM_Image": "",
                      "Tag_Profile_Custom_Test": "custom_profile_2"}
    stranger = v4(server, app, "sns/friend_get_list", {
        **sample("sns_friend_get_list")["request"], "To_Account": ["UserID_1x"]})
    assert stranger["InfoItem"][0]["ResultCode"] == 31704


def test_blocklist(server: Server, app: App) -> None:
    imported(server, app, "id", "id1", "id2", "id3", "id4")
    added = check(server, app, "sns/black_list_add", "sns_black_list_add")
    assert [r["ResultCode"] for r in added["ResultItem"]] == [0, 0, 0]
    again = check(server, app, "sns/black_list_add", "sns_black_list_add")
    assert again["Fail_Account"] == ["id1", "id2", "id3"]
    with server.http(app, app.admin) as http:
        native = http.get("/v1/admin/users/id/blocks").json()
    assert {b["user_id"] for b in native["blocked"]} == {"id1", "id2", "id3"}
    v4(server, app, "sns/black_list_add", {"From_Account": "id1", "To_Account": ["id"]})
    v4(server, app, "sns/black_list_add", {"From_Account": "id4", "To_Account": ["id"]})
    checked = check(server, app, "sns/black_list_check", "sns_black_list_check")
    assert [r["Relation"] for r in checked["BlackListCheckItem"]] == [
        "BlackCheckResult_Type_BothWay", "BlackCheckResult_Type_AWithB",
        "BlackCheckResult_Type_AWithB", "BlackCheckResult_Type_BWithA",
        "BlackCheckResult_Type_NO"]
    page = check(server, app, "sns/black_list_get", "sns_black_list_get")
    assert {b["To_Account"] for b in page["BlackListItem"]} == {"id1", "id2", "id3"}
    assert (page["StartIndex"], page["CurruentSequence"]) == (0, 3)
    first = v4(server, app, "sns/black_list_get", {"From_Account": "id", "StartIndex": 0,
                                                   "MaxLimited": 2})
    assert (len(first["BlackListItem"]), first["StartIndex"]) == (2, 2)
    removed = check(server, app, "sns/black_list_delete", "sns_black_list_delete")
    assert "Fail_Account" not in removed
    again = v4(server, app, "sns/black_list_delete", sample("sns_black_list_delete")["request"])
    assert again["Fail_Account"] == ["id1", "id2", "id3"]

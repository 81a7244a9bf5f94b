"""Global mutes of accounts (issue 16): Tencent's openconfigsvr/setnospeaking
and getnospeaking sent as Tencent's samples, the native admin equivalent
(PUT/GET /v1/admin/accounts/{user_id}/mute), and the send path refusing a
muted account's sends through the native protocol and v4 alike."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.test_tencent_v4 import v4
from tests.api.test_tencent_v4_samples import check, group_for, imported, sample
from tests.support import App, Conn, Server, error_of
from tidings.domain.clock import now_ms

G = "group_open_http_svc"
C = "openconfigsvr"


def _text(text: str) -> list[dict[str, Any]]:
    return [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]


def _sendmsg(server: Server, app: App, sender: str, to: str) -> dict[str, Any]:
    return v4(server, app, "openim/sendmsg", {"From_Account": sender, "To_Account": to,
                                              "MsgRandom": 7, "MsgBody": _text("hi")})


def _send_group(server: Server, app: App, sender: str, gid: str) -> dict[str, Any]:
    return v4(server, app, f"{G}/send_group_msg", {"GroupId": gid, "From_Account": sender,
                                                   "Random": 8, "MsgBody": _text("hi")})


def test_samples_mute_both_kinds_of_send(server: Server, app: App) -> None:
    gid = group_for(server, app, "owner", "lumotuwe")
    imported(server, app, "peer")
    check(server, app, f"{C}/setnospeaking", "setnospeaking")
    got = check(server, app, f"{C}/getnospeaking", "getnospeaking")
    # Forever stays forever; a timed mute counts down from the 7200 s it was set to.
    assert got["C2CmsgNospeakingTime"] == 4294967295
    assert 7000 < got["GroupmsgNospeakingTime"] <= 7200
    assert _sendmsg(server, app, "lumotuwe", "peer")["ErrorCode"] == 20012
    assert _send_group(server, app, "lumotuwe", gid)["ErrorCode"] == 10017

    async def native() -> None:
        conn = await Conn.login(server, app, "lumotuwe")
        try:
            assert (await conn.send_text("c2c_peer", "hi"))["error"]["code"] == 20012
            assert (await conn.send_text(f"group_{gid}", "hi"))["error"]["code"] == 10017
        finally:
            await conn.ws.close()
    asyncio.run(native())
    with server.http(app, app.admin) as http:
        # Nothing was stored by the refused sends.
        page = http.get("/v1/admin/conversations/peer/c2c_lumotuwe/messages").json()
        assert page["messages"] == []
        # The native admin API: one kind unmuted, the other kept.
        unmuted = http.put("/v1/admin/accounts/lumotuwe/mute", json={"c2c_seconds": 0})
        assert unmuted.status_code == 200, unmuted.text
        assert unmuted.json()["c2c_seconds"] == 0 and unmuted.json()["group_seconds"] > 7000
    assert _sendmsg(server, app, "lumotuwe", "peer")["ActionStatus"] == "OK"
    assert _send_group(server, app, "lumotuwe", gid)["ErrorCode"] == 10017
    assert v4(server, app, f"{C}/setnospeaking", {"Set_Account": "lumotuwe",
                                                  "GroupmsgNospeakingTime": 0})["ErrorCode"] == 0
    assert _send_group(server, app, "lumotuwe", gid)["ActionStatus"] == "OK"
    assert v4(server, app, f"{C}/getnospeaking", {"Get_Account": "lumotuwe"})[
        "GroupmsgNospeakingTime"] == 0


def test_a_mute_ends_by_itself(server: Server, app: App,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    imported(server, app, "ann", "ben")
    with server.http(app, app.admin) as http:
        set_ = http.put("/v1/admin/accounts/ann/mute", json={"c2c_seconds": 60})
        assert set_.json() == {"user_id": "ann", "c2c_seconds": 60, "group_seconds": 0}
        assert _sendmsg(server, app, "ann", "ben")["ErrorCode"] == 20012
        later = now_ms() + 61_000
        monkeypatch.setattr("tidings.services.account_mutes.now_ms", lambda: later)
        assert http.get("/v1/admin/accounts/ann/mute").json()["c2c_seconds"] == 0
        assert _sendmsg(server, app, "ann", "ben")["ActionStatus"] == "OK"


def test_bad_requests_change_nothing(server: Server, app: App) -> None:
    imported(server, app, "lumotuwe")
    request = sample("setnospeaking")["request"]
    assert v4(server, app, f"{C}/setnospeaking", {"Set_Account": "lumotuwe"})[
        "ErrorCode"] == 130008
    assert v4(server, app, f"{C}/setnospeaking", {"C2CmsgNospeakingTime": 5})[
        "ErrorCode"] == 130004
    assert v4(server, app, f"{C}/setnospeaking", {**request, "Set_Account": "never"})[
        "ErrorCode"] == 70107
    assert v4(server, app, f"{C}/setnospeaking", {**request, "C2CmsgNospeakingTime": -1})[
        "ActionStatus"] == "FAIL"
    assert v4(server, app, f"{C}/getnospeaking", {})["ErrorCode"] == 130002
    with server.http(app, app.admin) as http:
        for body in ({}, {"c2c_seconds": -1}, {"group_seconds": 2**32}, {"c2c_seconds": "5"}):
            assert error_of(http.put("/v1/admin/accounts/lumotuwe/mute", json=body)) == (
                400, 10002), body
        assert http.get("/v1/admin/accounts/lumotuwe/mute").json() == {
            "user_id": "lumotuwe", "c2c_seconds": 0, "group_seconds": 0}

"""The client ids that the v4 API makes for live sends (``sendmsg``,
``batchsendmsg``, ``send_group_msg``) rise with time, whatever the
sender's ``MsgRandom``, so a sender's next id lands on the last pages of
the dedup key; a retry within Tencent's window is still the same message,
the random still reads back as ``MsgRandom``, and imports keep the form
earlier versions stored (their idempotence has no window)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tests.api.test_tencent_v4 import v4
from tests.support import App, Server

Users = Callable[[str], str]
G = "group_open_http_svc"
T = 1_765_200_000_000  # the first millisecond of a second and of a 5-minute slot


def _text(text: str) -> list[dict[str, object]]:
    return [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]


def _stored_ids(server: Server, app: App, user: str, conversation: str) -> list[str]:
    with server.http(app, app.admin) as http:
        page = http.get(f"/v1/admin/conversations/{user}/{conversation}/messages")
    assert page.status_code == 200, page.text
    return [m["client_msg_id"] for m in page.json()["messages"]]


def _clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    now = [T]
    monkeypatch.setattr("tidings.api.tencent_v4_messages.now_ms", lambda: now[0])
    return now


def test_c2c_and_batch_ids_rise_and_keep_their_random(
        server: Server, shared_app: App, users: Users, monkeypatch: pytest.MonkeyPatch) -> None:
    app, now = shared_app, _clock(monkeypatch)
    alice, bob = users("alice"), users("bob")
    far = (users("far") + "x" * 32)[:32]  # the longest user id: 32 bytes
    v4(server, app, "im_open_login_svc/multiaccount_import", {"Accounts": [alice, bob, far]})

    def send(random: int, text: str) -> dict[str, object]:
        sent = v4(server, app, "openim/sendmsg", {"From_Account": alice, "To_Account": bob,
                                                  "MsgRandom": random, "MsgBody": _text(text)})
        assert sent["ActionStatus"] == "OK", sent
        return sent

    first = send(2**32 - 1, "one")  # the largest random, then the smallest
    now[0] = T + 1_000
    second = send(0, "two")
    now[0] = T + 1_500
    assert send(0, "two")["MsgKey"] == second["MsgKey"]  # a retry in Tencent's second
    assert first["MsgKey"] != second["MsgKey"]
    ids = _stored_ids(server, app, alice, f"c2c_{bob}")
    assert len(ids) == 2 and ids == sorted(ids), ids  # rising, not by the random
    assert all(i.startswith("v4.") and len(i) <= 64 for i in ids), ids

    now[0] = T + 3_000
    batch = v4(server, app, "openim/batchsendmsg", {
        "From_Account": alice, "To_Account": [bob, far], "MsgRandom": 2**32 - 2,
        "MsgBody": _text("to all")})
    assert batch["ActionStatus"] == "OK" and batch["ErrorList"] == [], batch
    (to_far,) = _stored_ids(server, app, alice, f"c2c_{far}")
    ids = _stored_ids(server, app, alice, f"c2c_{bob}")
    # Per recipient "<id>:<recipient>", whole even for a 32-byte user id
    # (else a digest of both: random, and MsgRandom lost), after the earlier ones.
    assert to_far.startswith("v4.") and to_far.endswith(f":{far}") and len(to_far) <= 64
    assert ids[2] == to_far.removesuffix(f":{far}") + f":{bob}"
    assert ids == sorted(ids) and ids[1] < to_far, ids

    def randoms(peer: str) -> list[int]:
        roam = v4(server, app, "openim/admin_getroammsg", {
            "Operator_Account": alice, "Peer_Account": peer, "MaxCnt": 10,
            "MinTime": 0, "MaxTime": 2**32 - 1})
        return [m["MsgRandom"] for m in roam["MsgList"]]

    assert randoms(bob) == [2**32 - 1, 0, 2**32 - 2]
    assert randoms(far) == [2**32 - 2]


def test_group_ids_rise_by_five_minute_slots(server: Server, shared_app: App, users: Users,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    app, now = shared_app, _clock(monkeypatch)
    alice, bob = users("alice"), users("bob")
    gid = f"v4-{uuid.uuid4().hex[:10]}"
    v4(server, app, "im_open_login_svc/multiaccount_import", {"Accounts": [alice, bob]})
    made = v4(server, app, f"{G}/create_group", {
        "Owner_Account": alice, "Type": "Public", "GroupId": gid,
        "MemberList": [{"Member_Account": bob}]})
    assert made["ActionStatus"] == "OK", made

    def send(random: int, text: str) -> int:
        sent = v4(server, app, f"{G}/send_group_msg", {
            "GroupId": gid, "From_Account": alice, "Random": random, "MsgBody": _text(text)})
        assert sent["ActionStatus"] == "OK", sent
        return int(sent["MsgSeq"])

    first = send(9, "a")
    now[0] = T + 300_000  # the next five-minute slot
    second = send(1, "b")
    now[0] = T + 400_000
    assert send(1, "b") == second  # a retry within the slot
    assert second == first + 1
    ids = _stored_ids(server, app, alice, f"group_{gid}")
    assert len(ids) == 2 and ids == sorted(ids) and ids[0].startswith("v4."), ids
    got = v4(server, app, f"{G}/group_msg_get_simple", {"GroupId": gid, "ReqMsgNumber": 10})
    assert [m["MsgRandom"] for m in got["RspMsgList"]] == [1, 9]  # newest first


def test_imports_keep_the_form_earlier_versions_stored(server: Server, shared_app: App,
                                                       users: Users) -> None:
    """An import is idempotent at any later time: its id is what earlier
    versions made for it (``v4~<random>~<digest>``), so importing again
    after an upgrade still finds it."""
    app = shared_app
    alice, carol = users("alice"), users("carol")
    v4(server, app, "im_open_login_svc/multiaccount_import", {"Accounts": [alice, carol]})
    for _ in range(2):
        done = v4(server, app, "openim/importmsg", {
            "SyncFromOldSystem": 2, "From_Account": carol, "To_Account": alice,
            "MsgRandom": 4242, "MsgTimeStamp": 1_600_000_000, "MsgBody": _text("old")})
        assert done["ActionStatus"] == "OK", done
    (stored,) = _stored_ids(server, app, alice, f"c2c_{carol}")
    assert stored.startswith("v4~4242~") and len(stored) == 48, stored

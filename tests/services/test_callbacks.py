"""Callbacks against a real server and a real local app server: before-send
(allow, reject, drop, rewrite; over WebSocket and REST; both formats; the
order of a sender's messages; timeouts, garbage, redirects and the failure
policies) and the after-callbacks (after send, after read, state changes)
from the durable outbox."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.app_server import AppServer, Call, Reply, closed_port
from tests.conftest import BACKENDS, database_url
from tests.pg import Cluster
from tests.support import App, Conn, InProcessServer, Server
from tidings.sdk import verify_callback, verify_tencent_sign

# Retries come quickly in tests.
FAST = {"TIDINGS_CALLBACK_RETRY_BASE": "0.2", "TIDINGS_CALLBACK_RETRY_CAP": "0.5",
        "TIDINGS_CALLBACK_POLL_INTERVAL": "0.1", "TIDINGS_CALLBACK_APP_CONCURRENCY": "4"}
TEXT = [{"type": "text", "text": "hello"}]


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, pg_cluster: Cluster | None,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = InProcessServer(tmp_path_factory.mktemp("server"),
                        database_url(str(request.param), pg_cluster),
                        dict(FAST))
    s.start()
    yield s
    s.stop()


@pytest.fixture
def app_server() -> Iterator[AppServer]:
    s = AppServer().start()
    yield s
    s.stop()


def configure(server: Server, app: App, **body: Any) -> dict[str, Any]:
    with server.http(app, app.admin) as http:
        reply = http.put("/v1/admin/callbacks", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def login(server: Server, app: App, user: str, platform: str = "ios") -> Conn:
    conn = await Conn.open(server)
    reply = await conn.request("login", {"sdkappid": app.sdkappid, "user_id": user,
                                         "usersig": app.sig(user),
                                         "device": {"platform": platform, "id": f"{user}-1"}})
    assert reply["ok"], reply
    assert (await conn.request("sync", {}))["ok"]
    return conn


def text_of(call: Call) -> str:
    """The first text of a before-send request, in either format."""
    data = call.data
    if "MsgBody" in data:
        return str(data["MsgBody"][0]["MsgContent"]["Text"])
    return str(data["elements"][0]["text"])


def history(server: Server, app: App, user: str, peer: str) -> list[dict[str, Any]]:
    with server.http(app, user) as http:
        reply = http.get(f"/v1/conversations/c2c_{peer}/messages")
    assert reply.status_code == 200, reply.text
    return reply.json()["messages"]  # type: ignore[no-any-return]


def deliveries(server: Server, app: App, **params: Any) -> list[dict[str, Any]]:
    with server.http(app, app.admin) as http:
        reply = http.get("/v1/admin/callbacks/deliveries", params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()["deliveries"]  # type: ignore[no-any-return]


async def poll(check: Callable[[], Any], timeout: float = 10,  # noqa: ASYNC109
               what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await asyncio.sleep(0.05)


# -- before send ---------------------------------------------------------------------


def native_moderator(call: Call) -> Reply:
    if call.event != "before_send":
        return Reply(body={"ok": True})
    text = text_of(call)
    if text.startswith("reject"):
        return Reply(body={"action": "reject", "code": 4001, "message": "no phone numbers"})
    if text.startswith("drop"):
        return Reply(body={"action": "drop"})
    if text.startswith("rewrite"):
        return Reply(body={"action": "allow", "elements": [{"type": "text", "text": "***"}],
                           "cloud_custom_data": "moderated"})
    if text.startswith("bad rewrite"):
        return Reply(body={"action": "allow", "elements": [{"type": "text", "text": ""}]})
    return Reply(body={"action": "allow"})


async def test_before_send_allow_reject_drop_rewrite_over_websocket(
        server: Server, app: App, app_server: AppServer) -> None:
    settings = configure(server, app, url=app_server.url, events={"after_send": False})
    app_server.answer(native_moderator)
    alice, bob = await login(server, app, "alice"), await login(server, app, "bob", "android")

    ok = await alice.send_text("c2c_bob", "allowed", "m-allow")
    assert ok["ok"] and ok["data"]["seq"] == 1, ok
    assert (await bob.event("message"))["elements"] == [{"type": "text", "text": "allowed"}]

    refused = await alice.send_text("c2c_bob", "reject me", "m-reject")
    assert refused["ok"] is False
    assert refused["error"] == {"code": 20006, "name": "callback_rejected",
                                "message": "no phone numbers", "app_code": 4001,
                                "app_message": "no phone numbers"}

    dropped = await alice.send_text("c2c_bob", "drop me", "m-drop")
    assert dropped["ok"], dropped
    assert dropped["data"]["seq"] == 0 and dropped["data"]["msg_id"] == ""
    assert dropped["data"]["duplicate"] is False
    # The same id again: the same answer, and the app is not asked twice.
    asked = len(app_server.of("before_send"))
    again = await alice.send_text("c2c_bob", "drop me", "m-drop")
    assert again["data"] == {**dropped["data"], "duplicate": True}
    assert len(app_server.of("before_send")) == asked

    rewritten = await alice.send_text("c2c_bob", "rewrite my number 555-1234", "m-rewrite")
    assert rewritten["ok"] and rewritten["data"]["seq"] == 2, rewritten
    got = await bob.event("message")
    assert got["elements"] == [{"type": "text", "text": "***"}]
    assert got["cloud_custom_data"] == "moderated"

    # An invalid rewrite is a failed callback: the policy (allow) lets the original through.
    bad = await alice.send_text("c2c_bob", "bad rewrite", "m-bad")
    assert bad["ok"] and bad["data"]["seq"] == 3, bad
    assert (await bob.event("message"))["elements"] == [{"type": "text", "text": "bad rewrite"}]
    await bob.no_event("message", 0.2)  # neither the rejected nor the dropped one came

    stored = history(server, app, "bob", "alice")
    assert [(m["seq"], m["elements"][0]["text"]) for m in stored] == [
        (1, "allowed"), (2, "***"), (3, "bad rewrite")]
    # A rejected message may be sent again (the app is asked again).
    assert (await alice.send_text("c2c_bob", "reject again", "m-reject"))["ok"] is False

    # What the app server saw: signed requests with the message and where it came from.
    first = app_server.of("before_send")[0]
    doc = verify_callback(settings["token"], first.body, first.headers["x-tidings-signature"])
    assert doc["event"] == "before_send" and doc["sdkappid"] == app.sdkappid
    assert doc["data"]["from"] == "alice" and doc["data"]["to"] == "bob"
    assert doc["data"]["conversation_id"] == "c2c_bob"
    assert doc["data"]["client_msg_id"] == "m-allow" and doc["data"]["seq"] == 0
    assert doc["data"]["platform"] == "ios" and doc["data"]["client_ip"] == "127.0.0.1"
    assert first.headers["x-tidings-event-id"] == doc["event_id"]
    await alice.close()
    await bob.close()


def tencent_moderator(call: Call) -> Reply:
    if "Before" not in call.event:
        return Reply(body={"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
    text = text_of(call)
    if text == "reject":
        return Reply(body={"ActionStatus": "OK", "ErrorCode": 120005, "ErrorInfo": "blocked"})
    if text == "plain reject":
        return Reply(body={"ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": "not allowed"})
    if text == "drop":
        return Reply(body={"ActionStatus": "OK", "ErrorCode": 2, "ErrorInfo": ""})
    if text == "rewrite":
        return Reply(body={"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
                           "MsgBody": [{"MsgType": "TIMFaceElem",
                                        "MsgContent": {"Index": 7, "Data": "smile"}}],
                           "CloudCustomData": "cc"})
    return Reply(body={"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})


def rest_send(server: Server, app: App, user: str, peer: str, text: str,
              cid: str) -> httpx.Response:
    with server.http(app, user) as http:
        return http.post("/v1/messages", json={"conversation_id": f"c2c_{peer}",
                                               "client_msg_id": cid,
                                               "elements": [{"type": "text", "text": text}]})


async def test_before_send_over_rest_in_the_tencent_format(
        server: Server, app: App, app_server: AppServer) -> None:
    settings = configure(server, app, url=app_server.url, format="tencent",
                         events={"after_send": False, "state_change": False})
    app_server.answer(tencent_moderator)

    ok = rest_send(server, app, "alice", "bob", "fine", "t-1")
    assert ok.status_code == 200 and ok.json()["seq"] == 1, ok.text
    refused = rest_send(server, app, "alice", "bob", "reject", "t-2")
    assert refused.status_code == 403
    assert refused.json()["error"] == {"code": 20006, "name": "callback_rejected",
                                       "message": "blocked", "app_code": 120005,
                                       "app_message": "blocked"}
    plain = rest_send(server, app, "alice", "bob", "plain reject", "t-2b")
    assert plain.status_code == 403 and "app_code" not in plain.json()["error"]
    dropped = rest_send(server, app, "alice", "bob", "drop", "t-3")
    assert dropped.status_code == 200 and dropped.json()["seq"] == 0, dropped.text
    rewritten = rest_send(server, app, "alice", "bob", "rewrite", "t-4")
    assert rewritten.json()["seq"] == 2
    stored = history(server, app, "alice", "bob")
    assert stored[-1]["elements"] == [{"type": "face", "index": 7, "data": "smile"}]
    assert stored[-1]["cloud_custom_data"] == "cc" and len(stored) == 2

    call = app_server.of("C2C.CallbackBeforeSendMsg")[0]
    assert call.query["SdkAppid"] == str(app.sdkappid) and call.query["contenttype"] == "json"
    assert call.query["OptPlatform"] == "REST" and call.query["ClientIP"] == "127.0.0.1"
    verify_tencent_sign(settings["token"], call.query["RequestTime"], call.query["Sign"])
    body = call.doc
    assert body["CallbackCommand"] == "C2C.CallbackBeforeSendMsg"
    assert (body["From_Account"], body["To_Account"], body["MsgId"]) == ("alice", "bob", "t-1")
    assert body["MsgBody"] == [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "fine"}}]


async def test_a_senders_messages_keep_their_order_whatever_order_answers_come_in(
        server: Server, app: App, app_server: AppServer) -> None:
    configure(server, app, url=app_server.url, timeout_ms=5000, events={"after_send": False})
    count = 8

    def slow_first(call: Call) -> Reply:
        text = text_of(call) if call.event == "before_send" else ""
        if text.startswith("m"):  # m0 answers last, m7 first
            return Reply(body={"action": "allow"}, delay=(count - int(text[1:])) * 0.2)
        return Reply(body={"action": "allow"})

    app_server.answer(slow_first)
    alice, carol = await login(server, app, "alice"), await login(server, app, "carol")
    sends = [asyncio.create_task(alice.send_text("c2c_bob", f"m{i}", f"o-{i}"))
             for i in range(count)]
    await app_server.wait_for("before_send", count)
    # Another sender is not held up by alice's slow callbacks.
    started = time.monotonic()
    other = await carol.send_text("c2c_dave", "quick", "q-1")
    assert other["ok"]
    assert not any(s.done() for s in sends), "alice's first answer is the slowest"
    acks = await asyncio.gather(*sends)
    assert time.monotonic() - started > 0.3  # alice waited for her slowest answer
    assert [a["data"]["seq"] for a in acks] == list(range(1, count + 1)), acks
    assert [m["elements"][0]["text"] for m in history(server, app, "alice", "bob")] == [
        f"m{i}" for i in range(count)]
    await alice.close()
    await carol.close()


async def test_a_hanging_app_server_holds_a_message_no_longer_than_the_timeout(
        server: Server, app: App, app_server: AppServer) -> None:
    configure(server, app, url=app_server.url, timeout_ms=300,
              events={"after_send": False, "state_change": False})
    app_server.answer(lambda call: Reply(body={"action": "reject"}, delay=3))
    alice, bob = await login(server, app, "alice"), await login(server, app, "bob")

    started = time.monotonic()
    passed = await alice.send_text("c2c_bob", "through", "h-1")
    assert passed["ok"] and passed["data"]["seq"] == 1, passed
    assert time.monotonic() - started < 2.0
    assert (await bob.event("message"))["elements"][0]["text"] == "through"

    configure(server, app, failure_policy="block")
    started = time.monotonic()
    blocked = await alice.send_text("c2c_bob", "held", "h-2")
    assert blocked["ok"] is False and blocked["error"]["code"] == 50004, blocked
    assert "no answer within 300 ms" in blocked["error"]["message"]
    assert time.monotonic() - started < 2.0
    await bob.no_event("message", 0.2)
    await alice.close()
    await bob.close()


async def test_garbage_errors_and_redirects_meet_the_failure_policy(
        server: Server, app: App, app_server: AppServer) -> None:
    configure(server, app, url=app_server.url, failure_policy="block",
              events={"after_send": False, "state_change": False})
    answers = {
        "http 500": Reply(status=500, body={"action": "allow"}),
        "not json": Reply(body="<html>fine</html>"),
        "no action": Reply(body={"result": "ok"}),
        "array": Reply(body="[]"),
        "redirect": Reply(status=302, body="",
                          headers={"Location": app_server.url.replace("/im/", "/elsewhere/")}),
        "too big": Reply(body={"action": "allow", "pad": "x" * 70_000}),
    }
    app_server.answer(lambda call: answers.get(text_of(call), Reply(body={"action": "allow"})))
    for i, text in enumerate(answers):
        reply = rest_send(server, app, "alice", "bob", text, f"g-{i}")
        assert reply.status_code == 503, (text, reply.text)
        assert reply.json()["error"]["code"] == 50004, text
    assert all(c.path == "/im/callback" for c in app_server.calls)  # no redirect followed
    assert history(server, app, "alice", "bob") == []

    configure(server, app, failure_policy="allow")
    for i, text in enumerate(answers):
        reply = rest_send(server, app, "alice", "bob", text, f"g-{i}")
        assert reply.status_code == 200, (text, reply.text)
    # Nobody listening at all: also a failure, let through.
    configure(server, app, url=f"http://127.0.0.1:{closed_port()}/cb")
    assert rest_send(server, app, "alice", "bob", "refused", "g-x").status_code == 200
    assert len(history(server, app, "alice", "bob")) == len(answers) + 1


# -- after-callbacks ---------------------------------------------------------------------


async def test_after_send_is_delivered_once_with_the_stored_message(
        server: Server, app: App, app_server: AppServer) -> None:
    settings = configure(server, app, url=app_server.url,
                         events={"before_send": False, "state_change": False})
    alice = await login(server, app, "alice")
    acks = [(await alice.send_text("c2c_bob", f"after {i}", f"a-{i}"))["data"] for i in range(3)]
    calls = await app_server.wait_for("after_send", 3)
    docs = [verify_callback(settings["token"], c.body, c.headers["x-tidings-signature"])
            for c in calls]
    by_seq = {d["data"]["seq"]: d for d in docs}
    for ack in acks:
        data = by_seq[ack["seq"]]["data"]
        assert data["msg_id"] == ack["msg_id"] and data["time"] == ack["time"]
        assert data["client_msg_id"] == ack["client_msg_id"] and data["from"] == "alice"
        assert data["elements"] == [{"type": "text", "text": f"after {ack['seq'] - 1}"}]
        assert by_seq[ack["seq"]]["time"] == ack["time"]
    # Acknowledged: recorded as delivered, never sent again.
    rows = await poll(lambda: [r for r in deliveries(server, app, status="delivered")
                               if r["event"] == "after_send"] if len(
        [r for r in deliveries(server, app, status="delivered")
         if r["event"] == "after_send"]) == 3 else None, what="3 delivered")
    assert all(r["attempts"] == 1 and r["last_error"] == "" for r in rows)
    assert {r["event_id"] for r in rows} == {d["event_id"] for d in docs}
    await asyncio.sleep(0.5)  # a few dispatcher rounds
    assert len(app_server.of("after_send")) == 3
    # A resend of a stored message makes no new event.
    again = await alice.send_text("c2c_bob", "after 0", "a-0")
    assert again["data"]["duplicate"] is True
    await app_server.wait_for("after_send", 3)
    await alice.close()


async def test_after_send_is_retried_while_the_app_server_is_down(
        server: Server, app: App, app_server: AppServer) -> None:
    configure(server, app, url=app_server.url, events={"before_send": False,
                                                       "state_change": False})
    app_server.stop()
    ack = rest_send(server, app, "alice", "bob", "are you there", "r-1").json()

    def retried() -> Any:
        rows = [r for r in deliveries(server, app) if r["event"] == "after_send"]
        return rows if rows and rows[0]["attempts"] >= 2 else None

    [row] = await poll(retried, what="two failed attempts")
    assert row["status"] == "pending" and row["last_error"] and row["next_attempt_at"]
    app_server.start()  # same port
    [call] = await app_server.wait_for("after_send")
    assert call.data["seq"] == ack["seq"]
    [row] = await poll(lambda: deliveries(server, app, status="delivered"), what="delivered")
    assert row["attempts"] >= 3 and row["last_error"] == "" and row["delivered_at"]


async def test_an_app_server_that_hangs_does_not_hold_up_other_apps(
        server: Server, app_server: AppServer) -> None:
    slow, quick = server.create_app("Slow"), server.create_app("Quick")
    hanging = AppServer().start()
    hanging.answer(lambda call: Reply(delay=5))
    try:
        configure(server, slow, url=hanging.url, timeout_ms=2000,
                  events={"before_send": False, "state_change": False})
        configure(server, quick, url=app_server.url,
                  events={"before_send": False, "state_change": False})
        for i in range(10):
            assert rest_send(server, slow, "alice", "bob", "x", f"s-{i}").status_code == 200
        await hanging.wait_for("after_send", 4)  # its concurrency limit (4 here), all hanging
        started = time.monotonic()
        rest_send(server, quick, "alice", "bob", "quick one", "q-1")
        await app_server.wait_for("after_send", 1, timeout=5)
        assert time.monotonic() - started < 1.5
        assert len(hanging.of("after_send")) == 4
    finally:
        hanging.stop()


async def test_state_changes_and_reads_reach_the_app(
        server: Server, app: App, app_server: AppServer) -> None:
    configure(server, app, url=app_server.url, events={"before_send": False})
    alice = await login(server, app, "alice", "ios")
    [login_event] = await app_server.wait_for("state_change")
    data = login_event.data
    assert (data["user_id"], data["action"], data["reason"]) == ("alice", "login", "Register")
    assert data["platform"] == "ios" and data["device_id"] == "alice-1"
    rest_send(server, app, "bob", "alice", "one", "u-1")
    rest_send(server, app, "bob", "alice", "two", "u-2")
    rest_send(server, app, "carol", "alice", "three", "u-3")
    read = await alice.request("read", {"conversation_id": "c2c_bob", "seq": 1})
    assert read["ok"], read
    [report] = await app_server.wait_for("after_read")
    assert report.data["user_id"] == "alice" and report.data["peer"] == "bob"
    assert report.data["read_seq"] == 1 and report.data["unread"] == 1
    assert report.data["total_unread"] == 2  # one from bob, one from carol
    # Reading again where the cursor already is changes nothing: no event.
    assert (await alice.request("read", {"conversation_id": "c2c_bob", "seq": 1}))["ok"]
    await alice.close()
    [_, logout] = await app_server.wait_for("state_change", 2)
    assert (logout.data["action"], logout.data["reason"]) == ("logout", "Unregister")
    assert len(app_server.of("after_read")) == 1

    again = await login(server, app, "alice")
    await app_server.wait_for("state_change", 3)
    with server.http(app, app.admin) as http:
        assert http.post("/v1/admin/accounts/alice/kick").status_code == 200
    events = await app_server.wait_for("state_change", 4)
    assert (events[-1].data["action"], events[-1].data["reason"]) == ("logout", "Kicked")
    await again.close()


async def test_admin_sends_run_the_callbacks_unless_forbidden(
        server: Server, app: App, app_server: AppServer) -> None:
    configure(server, app, url=app_server.url, events={"state_change": False})
    app_server.answer(native_moderator)

    def send(cid: str, **extra: Any) -> httpx.Response:
        with server.http(app, app.admin) as http:
            return http.post("/v1/admin/messages", json={
                "from": "shop", "conversation_id": "c2c_alice", "client_msg_id": cid,
                "elements": TEXT, **extra})

    assert send("f-1").status_code == 200
    await app_server.wait_for("after_send", 1)
    assert [c.data["client_msg_id"] for c in app_server.of("before_send")] == ["f-1"]
    assert app_server.of("before_send")[0].data["platform"] == "RESTAPI"
    assert send("f-2", forbid_callbacks=["before_send"]).status_code == 200
    await app_server.wait_for("after_send", 2)
    assert send("f-3", forbid_callbacks=["after_send"]).status_code == 200
    assert send("f-4", forbid_callbacks=["before_send", "after_send"]).status_code == 200
    with server.http(app, app.admin) as http:
        batch = http.post("/v1/admin/messages/batch", json={
            "from": "shop", "to": ["bob", "carol"], "client_msg_id": "f-5",
            "elements": TEXT, "forbid_callbacks": ["after_send"]})
        assert all(r["error"] is None for r in batch.json()["results"])
        bad = http.post("/v1/admin/messages", json={
            "from": "shop", "conversation_id": "c2c_alice", "client_msg_id": "f-6",
            "elements": TEXT, "forbid_callbacks": ["everything"]})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == 10002
    await asyncio.sleep(0.5)  # let any wrongly queued after-send arrive
    assert sorted(c.data["client_msg_id"] for c in app_server.of("before_send")) == [
        "f-1", "f-3", "f-5:bob", "f-5:carol"]
    assert sorted(c.data["client_msg_id"] for c in app_server.of("after_send")) == [
        "f-1", "f-2"]
    # A rejection reaches the admin as it reaches a user.
    with server.http(app, app.admin) as http:
        refused = http.post("/v1/admin/messages", json={
            "from": "shop", "conversation_id": "c2c_alice", "client_msg_id": "f-7",
            "elements": [{"type": "text", "text": "reject this"}]})
    assert refused.status_code == 403 and refused.json()["error"]["app_code"] == 4001


async def test_apps_without_callbacks_send_nothing(server: Server, app: App,
                                                   app_server: AppServer) -> None:
    other = server.create_app("Other")
    configure(server, other, url=app_server.url)
    alice = await login(server, app, "alice")
    assert (await alice.send_text("c2c_bob", "quiet", uuid.uuid4().hex))["ok"]
    assert (await alice.request("read", {"conversation_id": "c2c_bob"}))["ok"]
    await alice.close()
    await asyncio.sleep(0.3)
    assert app_server.calls == []
    assert deliveries(server, app) == []


async def test_after_recall_goes_out_once_for_each_recall(
        server: Server, app: App, app_server: AppServer) -> None:
    settings = configure(server, app, url=app_server.url,
                         events={"before_send": False, "after_send": False,
                                 "state_change": False})
    alice = await login(server, app, "alice")
    mine = (await alice.send_text("c2c_bob", "oops", "r-1"))["data"]
    other = (await alice.send_text("c2c_bob", "kept", "r-2"))["data"]
    recalled = await alice.request("recall", {"conversation_id": "c2c_bob",
                                              "seq": mine["seq"]})
    assert recalled["ok"], recalled
    # Recalling again answers the first recall and makes no second event.
    again = await alice.request("recall", {"conversation_id": "c2c_bob", "seq": mine["seq"]})
    assert again["ok"] and again["data"]["duplicate"] is True
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10, headers={
            "Authorization": f"Bearer {app.sig(app.admin)}"}) as http:
        done = await http.post(f"/v1/admin/messages/{other['msg_id']}/recall")
        assert done.status_code == 200, done.text
    calls = await app_server.wait_for("after_recall", 2)
    docs = [verify_callback(settings["token"], c.body, c.headers["x-tidings-signature"])
            for c in calls]
    by_id = {d["data"]["msg_id"]: d["data"] for d in docs}
    assert by_id[mine["msg_id"]]["recalled_by"] == "sender"
    assert by_id[other["msg_id"]]["recalled_by"] == "admin"
    assert {d["from"] for d in by_id.values()} == {"alice"}
    assert {d["to"] for d in by_id.values()} == {"bob"}
    await asyncio.sleep(0.5)  # a few dispatcher rounds
    assert len(app_server.of("after_recall")) == 2
    # Switched off: no more events.
    configure(server, app, events={"after_recall": False})
    third = (await alice.send_text("c2c_bob", "third", "r-3"))["data"]
    assert (await alice.request("recall", {"conversation_id": "c2c_bob",
                                           "seq": third["seq"]}))["ok"]
    await asyncio.sleep(0.5)
    assert len(app_server.of("after_recall")) == 2
    await alice.close()

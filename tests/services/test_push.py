"""Push for receivers who are offline, against a real server and a local
HTTP server that stands for the push services: Web Push (the test decrypts
what it receives with the subscription's keys and checks the VAPID
signature), APNs and FCM (request shapes, JWTs checked with the test keys)
and the app's own server through the offline_push callback. The bad cases:
a channel that is down, a token gone, a muted conversation, a message read
or recalled before its push goes out, a crash right after the ack."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.app_server import AppServer, Call, Reply
from tests.conftest import BACKENDS, database_url
from tests.pg import Cluster
from tests.push_support import (
    FAST,
    Browser,
    b64,
    calls_to,
    login,
    off_curve,
    ok,
    wait_calls,
)
from tests.support import App, Conn, InProcessServer, Server, error_of


@pytest.fixture(scope="module")
def services() -> Iterator[AppServer]:
    """The push services (Web Push endpoints, APNs, FCM and its token
    endpoint) on one local HTTP server; each test scripts its answers."""
    s = AppServer().start()
    yield s
    s.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, pg_cluster: Cluster | None, services: AppServer,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = InProcessServer(tmp_path_factory.mktemp("server"),
                        database_url(str(request.param), pg_cluster),
                        {**FAST, "TIDINGS_PUSH_APNS_URL": f"http://127.0.0.1:{services.port}/apns",
                         "TIDINGS_PUSH_FCM_URL": f"http://127.0.0.1:{services.port}/fcm"})
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def shared_app(server: Server) -> App:
    return server.create_app("Shared")


@pytest.fixture(scope="module")
def other_app(server: Server) -> App:
    return server.create_app("Other")


@pytest.fixture
def push(services: AppServer) -> Iterator[AppServer]:
    services.answer(lambda call: Reply(201, b""))
    yield services
    services.answer(lambda call: Reply(201, b""))


async def subscribe(server: Server, app: App, user: str, browser: Browser, *,
                    private: bool = False, stay: bool = False) -> Conn | None:
    """Register the browser for ``user`` over the socket, then leave (or stay)."""
    conn = await login(server, app, user)
    await ok(conn, "push_register", {"channel": "webpush",
                                     "subscription": browser.subscription(),
                                     "private_previews": private})
    if stay:
        return conn
    await conn.close()
    return None


def admin_put(server: Server, app: App, body: dict[str, Any]) -> dict[str, Any]:
    with server.http(app, app.admin) as http:
        reply = http.put("/v1/admin/push", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def queued(server: Server, app: App, user: str) -> dict[str, Any]:
    with server.http(app, app.admin) as http:
        reply = http.get(f"/v1/admin/push/users/{user}")
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def settle(check: Callable[[], bool], timeout: float = 10) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


# -- Web Push ----------------------------------------------------------------------


async def test_webpush_end_to_end(server: Server, shared_app: App, push: AppServer,
                                  users: Callable[[str], str]) -> None:
    alice, bob = users("alice"), users("bob")
    browser = Browser.new(push)
    await subscribe(server, shared_app, bob, browser)
    a = await login(server, shared_app, alice)
    ack = await a.send_text(f"c2c_{bob}", "hi")
    assert ack["ok"]
    [call] = await wait_calls(push, browser.path)
    note = browser.read(call)
    assert note["body"] == f"{alice}: hi"
    assert note["badge"] == 1
    assert note["conversation_id"] == f"c2c_{alice}"
    assert note["msg_id"] == ack["data"]["msg_id"]
    # The VAPID signature verifies with the app's public key, for this origin.
    with server.http(shared_app, bob) as http:
        public = http.get("/v1/push/vapid").json()["public_key"]
    scheme, params = call.headers["authorization"].split(" ", 1)
    fields = dict(p.split("=", 1) for p in params.split(","))
    assert scheme == "vapid" and fields["k"] == public
    point = base64.urlsafe_b64decode(public + "==")
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    claims = jwt.decode(fields["t"], key, algorithms=["ES256"],
                        audience=f"http://127.0.0.1:{push.port}")
    assert claims["sub"].startswith("mailto:")
    # A second message: the badge counts both unread.
    await a.send_text(f"c2c_{bob}", "there?")
    calls = await wait_calls(push, browser.path, 2)
    assert browser.read(calls[1])["badge"] == 2
    await a.close()


async def test_foreground_device_gets_no_push_background_does(
        server: Server, shared_app: App, push: AppServer, users: Callable[[str], str]) -> None:
    alice, bob = users("alice"), users("bob")
    browser = Browser.new(push)
    b = await subscribe(server, shared_app, bob, browser, stay=True)
    assert b is not None
    a = await login(server, shared_app, alice)
    await a.send_text(f"c2c_{bob}", "you are here")
    await b.event("message")
    await asyncio.sleep(0.6)
    assert calls_to(push, browser.path) == []
    assert await ok(b, "app_state", {"state": "background"}) == {"state": "background"}
    await a.send_text(f"c2c_{bob}", "now you are away")
    [call] = await wait_calls(push, browser.path)
    assert browser.read(call)["body"] == f"{alice}: now you are away"
    await ok(b, "app_state", {"state": "foreground"})
    await a.send_text(f"c2c_{bob}", "back again")
    await asyncio.sleep(0.6)
    assert len(calls_to(push, browser.path)) == 1
    bad = await b.request("app_state", {"state": "asleep"})
    assert not bad["ok"] and bad["error"]["code"] == 10002
    await a.close()
    await b.close()


async def test_a_deleted_or_disabled_account_gets_no_push(
        server: Server, shared_app: App, push: AppServer, users: Callable[[str], str]) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    bob_browser, carol_browser = Browser.new(push), Browser.new(push)
    await subscribe(server, shared_app, bob, bob_browser)
    await subscribe(server, shared_app, carol, carol_browser)
    a = await login(server, shared_app, alice)
    with server.http(shared_app, shared_app.admin) as admin:
        assert admin.post("/v1/admin/accounts/delete",
                          json={"user_ids": [bob]}).status_code == 200
        assert admin.post(f"/v1/admin/accounts/{carol}/disable").status_code == 200
    await a.send_text(f"c2c_{bob}", "are you there?")
    await a.send_text(f"c2c_{carol}", "and you?")
    await asyncio.sleep(1.0)
    assert calls_to(push, bob_browser.path) == calls_to(push, carol_browser.path) == []
    # Enabled again: pushed as before.
    with server.http(shared_app, shared_app.admin) as admin:
        assert admin.post(f"/v1/admin/accounts/{carol}/enable").status_code == 200
    await a.send_text(f"c2c_{carol}", "back?")
    [call] = await wait_calls(push, carol_browser.path)
    assert carol_browser.read(call)["body"] == f"{alice}: back?"
    await a.close()


async def test_muted_conversation_gets_no_push(server: Server, shared_app: App,
                                               push: AppServer,
                                               users: Callable[[str], str]) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    browser = Browser.new(push)
    b = await subscribe(server, shared_app, bob, browser, stay=True)
    assert b is not None
    a = await login(server, shared_app, alice)
    c = await login(server, shared_app, carol)
    await a.send_text(f"c2c_{bob}", "while bob is here")
    await b.event("message")
    await ok(b, "conversation_set", {"conversation_id": f"c2c_{alice}", "muted": True})
    await b.close()
    await a.send_text(f"c2c_{bob}", "muted one")
    await c.send_text(f"c2c_{bob}", "not muted")
    [call] = await wait_calls(push, browser.path)
    assert browser.read(call)["body"] == f"{carol}: not muted"
    await asyncio.sleep(0.5)
    assert len(calls_to(push, browser.path)) == 1
    await a.close()
    await c.close()


async def test_push_options_and_private_previews(server: Server, shared_app: App,
                                                 push: AppServer,
                                                 users: Callable[[str], str]) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    plain, private = Browser.new(push), Browser.new(push)
    await subscribe(server, shared_app, bob, plain)
    await subscribe(server, shared_app, carol, private, private=True)
    a = await login(server, shared_app, alice)
    silent = await a.request("send", {
        "conversation_id": f"c2c_{bob}", "client_msg_id": uuid.uuid4().hex,
        "elements": [{"type": "text", "text": "no push"}],
        "offline_push": {"disabled": True}})
    assert silent["ok"], silent
    titled = await a.request("send", {
        "conversation_id": f"c2c_{bob}", "client_msg_id": uuid.uuid4().hex,
        "elements": [{"type": "text", "text": "secret code 1234"}],
        "offline_push": {"title": "Shop", "text": "Your code is here", "ext": "{\"go\":1}"}})
    assert titled["ok"], titled
    [call] = await wait_calls(push, plain.path)
    note = plain.read(call)
    assert (note["title"], note["body"], note["ext"]) == ("Shop", "Your code is here",
                                                         "{\"go\":1}")
    assert note["badge"] == 2  # the silent message is unread all the same
    await a.send_text(f"c2c_{carol}", "my secret")
    [hidden] = await wait_calls(push, private.path)
    assert private.read(hidden)["body"] == "New message"
    bad = await a.request("send", {
        "conversation_id": f"c2c_{bob}", "client_msg_id": uuid.uuid4().hex,
        "elements": [{"type": "text", "text": "x"}], "offline_push": {"title": 5}})
    assert not bad["ok"] and bad["error"]["code"] == 10002
    await a.close()


async def test_group_push_text(server: Server, shared_app: App, push: AppServer,
                               users: Callable[[str], str]) -> None:
    alice, bob = users("alice"), users("bob")
    browser = Browser.new(push)
    await subscribe(server, shared_app, bob, browser)
    a = await login(server, shared_app, alice)
    with server.http(shared_app, shared_app.admin) as http:
        assert http.patch(f"/v1/admin/profiles/{alice}",
                          json={"nickname": "Alice"}).status_code == 200
    group = f"g{uuid.uuid4().hex[:10]}"
    await ok(a, "group_create", {"type": "Work", "group_id": group, "name": "Team",
                                 "members": [bob]})
    sent = await a.request("send", {
        "conversation_id": f"group_{group}", "client_msg_id": uuid.uuid4().hex,
        "elements": [{"type": "image", "variants": [
            {"kind": "original", "url": "https://img.example/1.png"}]}]})
    assert sent["ok"], sent
    [call] = await wait_calls(push, browser.path)
    note = browser.read(call)
    assert note["body"] == "Alice (Team): [Image]"
    assert note["conversation_id"] == f"group_{group}"
    await a.close()


# -- the bad cases -----------------------------------------------------------------


async def test_channel_down_is_retried(server: Server, shared_app: App, push: AppServer,
                                       users: Callable[[str], str]) -> None:
    alice, bob = users("alice"), users("bob")
    browser = Browser.new(push)
    await subscribe(server, shared_app, bob, browser)
    answers = iter([503, 503])
    push.answer(lambda call: Reply(next(answers, 201), b""))
    a = await login(server, shared_app, alice)
    await a.send_text(f"c2c_{bob}", "eventually")
    calls = await wait_calls(push, browser.path, 3)
    assert [browser.read(c)["body"] for c in calls] == [f"{alice}: eventually"] * 3
    await settle(lambda: queued(server, shared_app, bob)["queued"] == [])
    await asyncio.sleep(0.5)
    assert len(calls_to(push, browser.path)) == 3
    await a.close()


async def test_channel_down_for_good_gives_up(server: Server, shared_app: App,
                                              push: AppServer,
                                              users: Callable[[str], str]) -> None:
    alice, bob = users("alice"), users("bob")
    browser = Browser.new(push)
    await subscribe(server, shared_app, bob, browser)
    push.answer(lambda call: Reply(500, b"down"))
    a = await login(server, shared_app, alice)
    await a.send_text(f"c2c_{bob}", "lost cause")
    await wait_calls(push, browser.path, 4)
    await settle(lambda: [q["status"] for q in queued(server, shared_app, bob)["queued"]]
                 == ["failed"])
    entry = queued(server, shared_app, bob)["queued"][0]
    assert entry["attempts"] == 4 and "gave up" in entry["last_error"]
    await asyncio.sleep(0.5)
    assert len(calls_to(push, browser.path)) == 4
    await a.close()


async def test_token_gone_removes_the_device(server: Server, shared_app: App,
                                             push: AppServer,
                                             users: Callable[[str], str]) -> None:
    alice, bob = users("alice"), users("bob")
    browser = Browser.new(push)
    await subscribe(server, shared_app, bob, browser)
    push.answer(lambda call: Reply(410, b"gone"))
    a = await login(server, shared_app, alice)
    await a.send_text(f"c2c_{bob}", "anyone?")
    await wait_calls(push, browser.path)
    await settle(lambda: queued(server, shared_app, bob)["devices"] == [])
    await a.send_text(f"c2c_{bob}", "still?")
    await asyncio.sleep(0.5)
    assert len(calls_to(push, browser.path)) == 1
    await a.close()


@pytest.mark.parametrize("change", ["read", "recall"])
async def test_read_or_recalled_before_the_push_goes_out(
        make_server: Callable[..., Server], push: AppServer, users: Callable[[str], str],
        change: str) -> None:
    # A retry comes ~2 s after the first failure: the read or recall is first.
    server = make_server(push_allow_http="1", push_retry_base="2",
                         push_poll_interval="0.1")
    shared_app = server.create_app()
    alice, bob = users("alice"), users("bob")
    browser = Browser.new(push)
    await subscribe(server, shared_app, bob, browser)
    push.answer(lambda call: Reply(503, b""))
    a = await login(server, shared_app, alice)
    ack = await a.send_text(f"c2c_{bob}", "oops")
    await wait_calls(push, browser.path)  # the first attempt failed: it waits to retry
    if change == "read":
        with server.http(shared_app, bob) as http:
            assert http.post(f"/v1/conversations/c2c_{alice}/read", json={}).status_code == 200
    else:
        await ok(a, "recall", {"conversation_id": f"c2c_{bob}", "seq": ack["data"]["seq"]})
    push.answer(lambda call: Reply(201, b""))
    await settle(lambda: queued(server, shared_app, bob)["queued"] == [])
    assert len(calls_to(push, browser.path)) == 1
    await a.close()


# -- the app's own server ------------------------------------------------------------


async def test_callback_channel(server: Server, app: App, users: Callable[[str], str]) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    app_server = AppServer().start()
    try:
        with server.http(app, app.admin) as http:
            assert http.put("/v1/admin/callbacks",
                            json={"url": app_server.url}).status_code == 200
        assert admin_put(server, app, {"use_callback": True})["use_callback"] is True
        a = await login(server, app, alice)
        group = f"g{uuid.uuid4().hex[:10]}"
        await ok(a, "group_create", {"type": "Work", "group_id": group, "name": "Ops",
                                     "members": [bob, carol]})
        ack = await a.send_text(f"group_{group}", "standup")
        [call] = await app_server.wait_for("offline_push")
        data = call.data
        assert data["from"] == alice and data["group_id"] == group
        assert data["text"] == f"{alice} (Ops): standup"
        assert data["msg_id"] == ack["data"]["msg_id"]
        assert sorted(r["user_id"] for r in data["receivers"]) == sorted([bob, carol])
        assert {r["badge"] for r in data["receivers"]} == {1}
        # Off again: nothing more goes to the app's server.
        admin_put(server, app, {"use_callback": False})
        await a.send_text(f"group_{group}", "again")
        await asyncio.sleep(0.6)
        assert len(app_server.of("offline_push")) == 1
        await a.close()
    finally:
        app_server.stop()


# -- APNs and FCM --------------------------------------------------------------------


def apns_key() -> tuple[str, ec.EllipticCurvePublicKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, key.public_key()


async def test_apns(server: Server, app: App, push: AppServer,
                    users: Callable[[str], str]) -> None:
    alice, bob = users("alice"), users("bob")
    b = await login(server, app, bob, "iphone")
    refused = await b.request("push_register", {"channel": "apns", "token": "ab" * 32})
    assert not refused["ok"] and refused["error"]["code"] == 95100
    pem, public = apns_key()
    view = admin_put(server, app, {"apns": {"key_id": "KEY123", "team_id": "TEAM9",
                                            "topic": "com.example.shop", "key": pem}})
    assert view["apns"] == {"configured": True, "key_id": "KEY123", "team_id": "TEAM9",
                            "topic": "com.example.shop"}
    token = uuid.uuid4().hex * 2
    await ok(b, "push_register", {"channel": "apns", "token": token})
    await b.close()
    a = await login(server, app, alice)
    await a.send_text(f"c2c_{bob}", "ping")
    [call] = await wait_calls(push, f"/apns/3/device/{token}")
    assert call.headers["apns-topic"] == "com.example.shop"
    assert call.headers["apns-push-type"] == "alert"
    scheme, bearer = call.headers["authorization"].split(" ")
    assert scheme == "bearer"
    assert jwt.get_unverified_header(bearer)["kid"] == "KEY123"
    assert jwt.decode(bearer, public, algorithms=["ES256"])["iss"] == "TEAM9"
    body = call.doc
    assert body["aps"]["alert"]["body"] == f"{alice}: ping"
    assert body["aps"]["badge"] == 1
    # 410 Unregistered: the token is removed.
    push.answer(lambda c: Reply(410, {"reason": "Unregistered"}))
    await a.send_text(f"c2c_{bob}", "pong?")
    await wait_calls(push, f"/apns/3/device/{token}", 2)
    await settle(lambda: queued(server, app, bob)["devices"] == [])
    await a.close()


async def test_fcm(server: Server, app: App, push: AppServer,
                   users: Callable[[str], str]) -> None:
    alice, bob = users("alice"), users("bob")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    # The push services outlive the test (and run for both databases): ids of its own.
    project, grant_path = f"shop-{uuid.uuid4().hex[:8]}", f"/oauth/{uuid.uuid4().hex}/token"
    account = {"type": "service_account", "project_id": project,
               "client_email": f"push@{project}.iam.example", "private_key": pem,
               "token_uri": f"http://127.0.0.1:{push.port}{grant_path}"}
    assert admin_put(server, app, {"fcm": account})["fcm"] == {"configured": True,
                                                                "project_id": project}
    send_path = f"/fcm/v1/projects/{project}/messages:send"
    gone = False

    def answer(call: Call) -> Reply:
        if call.path == grant_path:
            return Reply(200, {"access_token": "ya29.test", "expires_in": 3600})
        if gone:
            return Reply(404, {"error": {"code": 404, "status": "NOT_FOUND", "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                 "errorCode": "UNREGISTERED"}]}})
        return Reply(200, {"name": "projects/shop-1/messages/1"})

    push.answer(answer)
    token = f"fcm-{uuid.uuid4().hex}"
    b = await login(server, app, bob, "pixel")
    await ok(b, "push_register", {"channel": "fcm", "token": token})
    await b.close()
    a = await login(server, app, alice)
    await a.send_text(f"c2c_{bob}", "hello android")
    [grant] = await wait_calls(push, grant_path)
    form = dict(p.split("=", 1) for p in grant.body.decode().split("&"))
    assert form["grant_type"] == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
    claims = jwt.decode(form["assertion"], key.public_key(), algorithms=["RS256"],
                        audience=account["token_uri"])
    assert claims["iss"] == account["client_email"]
    [call] = await wait_calls(push, send_path)
    assert call.headers["authorization"] == "Bearer ya29.test"
    message = call.doc["message"]
    assert message["token"] == token
    assert message["notification"]["body"] == f"{alice}: hello android"
    assert message["data"]["badge"] == "1"
    gone = True
    await a.send_text(f"c2c_{bob}", "are you there")
    await wait_calls(push, send_path, 2)
    await settle(lambda: queued(server, app, bob)["devices"] == [])
    assert len(calls_to(push, grant_path)) == 1  # the access token is reused
    await a.close()


# -- registration: REST, bad input, apps apart ----------------------------------------


async def test_a_key_off_the_curve_is_refused_over_the_socket(
        server: Server, shared_app: App, push: AppServer,
        users: Callable[[str], str]) -> None:
    """``keys.p256dh`` that is 65 bytes from 0x04 but not a point of P-256
    could never encrypt a push: refused with 95101, nothing stored, the
    device's good subscription kept; a real point registers and is pushed to."""
    alice, bob = users("alice"), users("bob")
    browser = Browser.new(push)
    not_a_point = browser.subscription()
    not_a_point["keys"]["p256dh"] = b64(off_curve())
    b = await login(server, shared_app, bob)
    refused = await b.request("push_register", {"channel": "webpush",
                                                "subscription": not_a_point})
    assert not refused["ok"], refused
    assert refused["error"]["code"] == 95101
    assert refused["error"]["name"] == "invalid_push_token"
    assert "not on the curve" in refused["error"]["message"]
    assert (await ok(b, "push_devices", {}))["devices"] == []
    assert queued(server, shared_app, bob)["devices"] == []
    await ok(b, "push_register", {"channel": "webpush", "subscription": browser.subscription()})
    refused = await b.request("push_register", {"channel": "webpush",
                                                "subscription": not_a_point})
    assert refused["error"]["code"] == 95101
    await b.close()
    a = await login(server, shared_app, alice)
    await a.send_text(f"c2c_{bob}", "still reaches the good key")
    [call] = await wait_calls(push, browser.path)
    assert browser.read(call)["body"] == f"{alice}: still reaches the good key"
    await a.close()


async def test_rest_registration_and_bad_input(server: Server, shared_app: App,
                                               other_app: App, push: AppServer,
                                               users: Callable[[str], str]) -> None:
    bob = users("bob")
    browser = Browser.new(push)
    with server.http(shared_app, bob) as http:
        reply = http.put("/v1/push/devices", json={
            "channel": "webpush", "device_id": "laptop", "subscription": browser.subscription()})
        assert reply.status_code == 200, reply.text
        assert reply.json()["device_id"] == "laptop"
        assert [d["device_id"] for d in http.get("/v1/push/devices").json()["devices"]] == [
            "laptop"]
        bad_key = browser.subscription()
        bad_key["keys"]["p256dh"] = b64(b"short")
        not_a_point = browser.subscription()
        not_a_point["keys"]["p256dh"] = b64(off_curve())
        for body, code in [
            ({"channel": "webpush", "device_id": "x", "subscription": bad_key}, 95101),
            ({"channel": "webpush", "device_id": "x", "subscription": not_a_point}, 95101),
            # Over the registered device too: it keeps its good subscription.
            ({"channel": "webpush", "device_id": "laptop", "subscription": not_a_point}, 95101),
            ({"channel": "webpush", "device_id": "x", "token": "abc"}, 95101),
            ({"channel": "apns", "device_id": "x", "token": "not hex!"}, 95101),
            ({"channel": "fcm", "device_id": "x", "token": "abc"}, 95100),
            ({"channel": "sms", "device_id": "x", "token": "abc"}, 10002),
            ({"channel": "webpush", "subscription": browser.subscription()}, 10002),
            ({"channel": "webpush", "device_id": "x", "subscription": {
                **browser.subscription(), "endpoint": "ftp://push.example/1"}}, 95101),
        ]:
            assert error_of(http.put("/v1/push/devices", json=body))[1] == code, body
        refused = http.put("/v1/push/devices", json={
            "channel": "webpush", "device_id": "x", "subscription": not_a_point})
        assert error_of(refused) == (400, 95101)
        assert refused.json()["error"]["name"] == "invalid_push_token"
        assert "not on the curve" in refused.json()["error"]["message"]
        assert error_of(http.put("/v1/push/devices", content=b"{not json"))[1] in (90001,
                                                                                  10002)
        assert error_of(http.delete("/v1/push/devices/nope")) == (404, 10010)
        # Nothing of that was stored.
        assert len(http.get("/v1/push/devices").json()["devices"]) == 1
        assert error_of(http.get("/v1/admin/push"))[0] == 403
    # Another app's admin does not see this user's devices.
    assert queued(server, other_app, bob)["devices"] == []
    with server.http(shared_app, shared_app.admin) as http:
        for body in [{"apns": {"key_id": "K", "team_id": "T", "topic": "x", "key": "junk"}},
                     {"vapid_subject": "http://insecure"}, {"private_previews": "yes"}]:
            assert error_of(http.put("/v1/admin/push", json=body))[1] == 10002, body
    # The same subscription registered by another account moves there.
    other = users("carol")
    with server.http(shared_app, other) as http:
        assert http.put("/v1/push/devices", json={
            "channel": "webpush", "device_id": "laptop",
            "subscription": browser.subscription()}).status_code == 200
    assert queued(server, shared_app, bob)["devices"] == []
    with server.http(shared_app, other) as http:
        assert http.delete("/v1/push/devices/laptop").json() == {"device_id": "laptop",
                                                                 "removed": True}
        assert http.get("/v1/push/devices").json()["devices"] == []


# -- durability ----------------------------------------------------------------------


@pytest.mark.process_server("kill -9: only a process can be killed mid-write")
async def test_push_survives_a_crash_right_after_the_ack(
        make_server: Callable[..., Server], push: AppServer,
        users: Callable[[str], str]) -> None:
    # The push is decided two seconds after the commit: the process dies first.
    server = make_server(push_allow_http="1", push_delay="2", push_poll_interval="0.1")
    app = server.create_app()
    alice, bob = users("alice"), users("bob")
    browser = Browser.new(push)
    await subscribe(server, app, bob, browser)
    a = await login(server, app, alice)
    assert (await a.send_text(f"c2c_{bob}", "before the crash"))["ok"]
    server.kill9()
    await a.close()
    assert calls_to(push, browser.path) == []
    server.start()
    [call] = await wait_calls(push, browser.path)
    assert browser.read(call)["body"] == f"{alice}: before the crash"
    await asyncio.sleep(0.5)  # decided once: no second push for the redone step
    assert len(calls_to(push, browser.path)) == 1
    # The push worker's writes are not synced on SQLite (store/push.py
    # PushStore._write): once its send is recorded, a kill -9 loses none of
    # them, and nothing is pushed again.
    await settle(lambda: queued(server, app, bob)["queued"] == [])
    server.kill9()
    server.start()
    await asyncio.sleep(0.5)
    assert len(calls_to(push, browser.path)) == 1


# -- the other surfaces: Tencent v4, the CLI, the SDK ----------------------------------


async def test_tencent_sendmsg_offline_push_info(server: Server, app: App, push: AppServer,
                                                 users: Callable[[str], str]) -> None:
    from tests.api.test_tencent_v4 import v4

    alice, bob = users("alice"), users("bob")
    browser = Browser.new(push)
    await subscribe(server, app, bob, browser)
    # The v4 API, as Tencent's, sends between imported accounts.
    v4(server, app, "im_open_login_svc/multiaccount_import", {"Accounts": [alice, bob]})
    body = {"From_Account": alice, "To_Account": bob, "MsgRandom": 1,
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "quiet"}}],
            "OfflinePushInfo": {"PushFlag": 1}}
    assert v4(server, app, "openim/sendmsg", body)["ActionStatus"] == "OK"
    body.update(MsgRandom=2, OfflinePushInfo={"PushFlag": 0, "Title": "Shop",
                                              "Desc": "A parcel", "Ext": "e1"})
    assert v4(server, app, "openim/sendmsg", body)["ActionStatus"] == "OK"
    [call] = await wait_calls(push, browser.path)
    note = browser.read(call)
    assert (note["title"], note["body"], note["ext"]) == ("Shop", "A parcel", "e1")
    # Tencent's number for a bad field.
    body.update(MsgRandom=3, OfflinePushInfo={"Title": "x" * 200})
    assert v4(server, app, "openim/sendmsg", body)["ErrorCode"] == 90010
    body.update(MsgRandom=4, OfflinePushInfo="nope")
    assert v4(server, app, "openim/sendmsg", body)["ErrorCode"] == 90010
    await asyncio.sleep(0.5)
    assert len(calls_to(push, browser.path)) == 1


async def test_only_a_batch_that_wrote_jobs_wakes_the_worker(
        server: Server, app: App, push: AppServer, users: Callable[[str], str]) -> None:
    """Each wake of the push worker reads the store: history imports into an
    app that pushes write no job, and wake nothing (the hook used to guess
    from the request, and woke the worker after each of them); a live
    message still wakes it, and its push goes out."""
    from tests.api.test_tencent_v4 import v4

    alice, bob = users("alice"), users("bob")
    browser = Browser.new(push)
    await subscribe(server, app, bob, browser)
    v4(server, app, "im_open_login_svc/multiaccount_import", {"Accounts": [alice, bob]})
    assert isinstance(server, InProcessServer)
    wakes = server.push_wakes()
    text = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "old"}}]
    for n in range(4):
        imported = await asyncio.to_thread(v4, server, app, "openim/importmsg", {
            "SyncFromOldSystem": 2, "From_Account": alice, "To_Account": bob,
            "MsgRandom": n, "MsgTimeStamp": 1_600_000_000 + n, "MsgBody": text})
        assert imported["ActionStatus"] == "OK", imported
    assert wakes == []
    body = {"From_Account": alice, "To_Account": bob, "MsgRandom": 9,
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "new"}}]}
    assert (await asyncio.to_thread(v4, server, app, "openim/sendmsg", body))[
        "ActionStatus"] == "OK"
    [call] = await wait_calls(push, browser.path)
    assert browser.read(call)["body"] == f"{alice}: new"
    assert len(wakes) == 1
    await asyncio.sleep(0.3)  # the imports got no push meanwhile
    assert len(calls_to(push, browser.path)) == 1


async def test_an_app_that_does_not_push_gets_no_jobs(server: Server, app: App,
                                                    users: Callable[[str], str]) -> None:
    """An app with no device and no callback channel: once a job was decided
    "no", its messages write no jobs and wake nothing, also past
    app_cache_ttl (2 s; the answer is renewed before it expires: it used to
    expire, and then each message made a job and woke the worker until one
    was decided again)."""
    alice, bob = users("alice"), users("bob")
    assert isinstance(server, InProcessServer)
    wakes = server.push_wakes()
    a = await login(server, app, alice)
    for n in range(100):  # the first jobs wake the worker until it decided one
        woken = len(wakes)
        await a.send_text(f"c2c_{bob}", f"first {n}")  # the hook ran before the ack
        if len(wakes) == woken:
            break
        await asyncio.sleep(0.05)
    assert wakes, "the first message's job woke the worker"
    quiet = len(wakes)
    until = time.monotonic() + 2.6  # past app_cache_ttl
    n = 0
    while time.monotonic() < until:
        n += 1
        await a.send_text(f"c2c_{bob}", f"later {n}")
        await asyncio.sleep(0.2)
    assert len(wakes) == quiet
    await a.close()


async def test_cli_push_settings(server: Server, app: App, push: AppServer,
                                 users: Callable[[str], str], tmp_path: Any) -> None:
    alice, bob = users("alice"), users("bob")
    shown = orjson.loads(server.cli("app", "push", str(app.sdkappid)).stdout)
    assert shown["private_previews"] is False and shown["apns"]["configured"] is False
    pem, _ = apns_key()
    key_file = tmp_path / "AuthKey.p8"
    key_file.write_text(pem)
    changed = orjson.loads(server.cli(
        "app", "push", str(app.sdkappid), "--private-previews", "--apns-key-file",
        str(key_file), "--apns-key-id", "K1", "--apns-team-id", "T1",
        "--apns-topic", "com.example.app").stdout)
    assert changed["private_previews"] is True and changed["apns"]["configured"] is True
    assert pem not in str(changed)
    half = server.cli("app", "push", str(app.sdkappid), "--apns-key-id", "K2", check=False)
    assert half.returncode == 1 and "apns" in half.stderr.lower()
    key_file.write_text("not a key")
    junk = server.cli("app", "push", str(app.sdkappid), "--apns-key-file", str(key_file),
                      "--apns-key-id", "K", "--apns-team-id", "T", "--apns-topic", "t",
                      check=False)
    assert junk.returncode == 1
    assert server.cli("app", "push", "1", check=False).returncode == 2
    # The running server uses the new settings at once: previews are private.
    browser = Browser.new(push)
    await subscribe(server, app, bob, browser)
    a = await login(server, app, alice)
    await a.send_text(f"c2c_{bob}", "top secret")
    [call] = await wait_calls(push, browser.path)
    assert browser.read(call)["body"] == "New message"
    await a.close()


async def test_sdk(server: Server, shared_app: App, push: AppServer,
                   users: Callable[[str], str]) -> None:
    from tidings.sdk import Client

    alice, bob = users("alice"), users("bob")
    browser = Browser.new(push)
    async with Client(server.ws_url, shared_app.sdkappid, bob, shared_app.sig(bob),
                      device_id="bob-laptop") as b:
        registered = await b.register_push("webpush", subscription=browser.subscription())
        assert registered["device_id"] == "bob-laptop"
        assert [d["channel"] for d in (await b.push_devices())["devices"]] == ["webpush"]
        await b.set_app_state("background")
        with pytest.raises(ValueError):
            await b.set_app_state("asleep")
        async with Client(server.ws_url, shared_app.sdkappid, alice,
                          shared_app.sig(alice)) as a:
            await a.send_text(f"c2c_{bob}", "psst", offline_push={"title": "Note"})
            [call] = await wait_calls(push, browser.path)
            assert browser.read(call)["title"] == "Note"
            await b.unregister_push()
            assert (await b.push_devices())["devices"] == []
            await a.send_text(f"c2c_{bob}", "gone quiet")
            await asyncio.sleep(0.5)
            assert len(calls_to(push, browser.path)) == 1


async def test_an_idle_process_alone_reads_no_queue(server: Server) -> None:
    """A process alone is woken for each row queued and sleeps until its
    queued work comes due (services/idle.py): idle, its push worker and
    callbacks dispatcher read nothing (each polled its queue every poll
    interval, 0.1 s here: about ten reads each in this second). The tests
    above have them do their work: retries on time, jobs when written."""
    assert isinstance(server, InProcessServer)
    reads = server.queue_reads()
    await asyncio.sleep(1.0)
    assert reads == {"due_jobs": [], "due_sends": [], "due": []}

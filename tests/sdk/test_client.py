"""The Python SDK against a real server: chat, devices, tickets, reconnects."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import TLSSigAPIv2 as official_module  # type: ignore[import-untyped]
from TLSSigAPIv2 import TLSSigAPIv2

from tests.support import App, Server
from tidings.domain import usersig as domain_usersig
from tidings.sdk import (
    Client,
    ClientClosed,
    ErrorCode,
    Message,
    ReadState,
    TidingsError,
    sign_usersig,
)
from tidings.sdk._state import SeqTracker, Verdict

# Small backoff so that reconnects take a fraction of a second in tests.
FAST: dict[str, Any] = {"backoff_initial": 0.05, "backoff_max": 0.3, "connect_timeout": 5.0,
                        "request_timeout": 10.0, "send_timeout": 20.0}
MakeServer = Callable[..., Server]


@pytest.fixture(scope="module")
def sdk_app(shared_server: Server) -> App:
    """One app for the module; tests keep apart by user ids."""
    return shared_server.create_app("SdkTests")


def names(*users: str) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"{u}-{tag}" for u in users]


def client(server: Server, app: App, user: str, **options: Any) -> Client:
    return Client(server.ws_url, app.sdkappid, user, app.sig(user), **{**FAST, **options})


async def next_message(c: Client, within: float = 5.0) -> Message:
    return await asyncio.wait_for(c.next_message(), within)


async def no_message(c: Client, wait: float = 0.3) -> None:
    try:
        got = await asyncio.wait_for(c.next_message(), wait)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected message: {got}")


async def until(predicate: Callable[[], bool], within: float = 5.0) -> float:
    """Wait for a condition; returns how long it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > within:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def rest(server: Server, app: App, user: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, timeout=10,
                             headers={"Authorization": f"Bearer {app.sig(user)}"})


async def rest_send(http: httpx.AsyncClient, conversation_id: str, text: str,
                    client_msg_id: str | None = None) -> dict[str, Any]:
    reply = await http.post("/v1/messages", json={
        "conversation_id": conversation_id, "client_msg_id": client_msg_id or uuid.uuid4().hex,
        "elements": [{"type": "text", "text": text}]})
    assert reply.status_code == 200, reply.text
    doc: dict[str, Any] = reply.json()
    return doc


def decode_ticket(ticket: str) -> dict[str, Any]:
    raw = base64.b64decode(ticket.translate(str.maketrans("*-_", "+/=")))
    doc: dict[str, Any] = json.loads(zlib.decompress(raw))
    return doc


@pytest.fixture
def resume_if_stopped() -> Iterator[list[int]]:
    """Pids a test stopped with SIGSTOP; resumed whatever happens."""
    stopped: list[int] = []
    yield stopped
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


class Cutter:
    """A TCP relay to the server that can lose what the server says, then
    cut every connection: an ack lost on the way, as on a flaky network."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.swallow = False
        self._links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Cutter:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()

    def cut(self) -> None:
        for down, up in self._links:
            down.transport.abort()
            up.transport.abort()
        self._links.clear()

    async def _link(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._links.append((client_w, server_w))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       from_server: bool) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    if not (from_server and self.swallow):
                        dst.write(data)
                        await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(client_r, server_w, False), pipe(server_r, client_w, True))


# -- no server needed ------------------------------------------------------------


def test_an_ack_past_a_gap_does_not_advance_the_known_seq() -> None:
    t = SeqTracker({"c2c_bob": 3})
    t.own("c2c_bob", 5)  # our send was stored as 5; bob's 4 is still on its way
    assert t.snapshot() == {"c2c_bob": 3}
    assert t.offer("c2c_bob", 6) is Verdict.GAP
    assert t.offer("c2c_bob", 4) is Verdict.NEW
    assert t.snapshot() == {"c2c_bob": 5}  # 4 closed the gap up to our own 5
    assert t.offer("c2c_bob", 5) is Verdict.DUPLICATE
    assert t.offer("c2c_bob", 6) is Verdict.NEW
    t.own("c2c_new", 1)  # a conversation that we start
    assert t.get("c2c_new") == 1


def test_sign_usersig_matches_the_official_library(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
    fixed = 1_700_000_000
    monkeypatch.setattr(time, "time", lambda: fixed)
    assert official_module.time.time() == fixed  # the official lib reads the same clock
    for user, expire in (("alice", 3600), ("用户-7", 180 * 86400)):
        ours = decode_ticket(sign_usersig(1400000001, key, user, expire))
        theirs = decode_ticket(TLSSigAPIv2(1400000001, key).gen_sig(user, expire))
        assert ours == theirs
        # And both are the MAC of Tencent's documented text, recomputed here.
        text = (f"TLS.identifier:{user}\nTLS.sdkappid:1400000001\nTLS.time:{fixed}\n"
                f"TLS.expire:{expire}\n")
        mac = base64.b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha256).digest())
        assert ours["TLS.sig"] == mac.decode()
    # Same default lifetime as gen_sig.
    assert (decode_ticket(sign_usersig(1, key, "a"))["TLS.expire"]
            == decode_ticket(TLSSigAPIv2(1, key).gen_sig("a"))["TLS.expire"] == 180 * 86400)


# -- against a shared server -------------------------------------------------------


async def test_tickets_from_either_signer_log_in_and_bad_ones_are_refused(
        server: Server, sdk_app: App) -> None:
    official, ours, other = names("official", "ours", "other")
    async with Client(server.ws_url, sdk_app.sdkappid, official, sdk_app.sig(official),
                      **FAST) as c:
        assert c.connected and c.session_id is not None
    sig = sign_usersig(sdk_app.sdkappid, sdk_app.secret_key, ours)
    async with Client(server.ws_url, sdk_app.sdkappid, ours, sig, **FAST) as c:
        ack = await c.send_text(f"c2c_{official}", "signed by the SDK")
        assert ack.seq == 1
    cases = [
        (sign_usersig(sdk_app.sdkappid, "not-the-key", other), other,
         ErrorCode.USERSIG_BAD_SIGNATURE),
        (sdk_app.sig(other), ours, ErrorCode.USERSIG_USER_MISMATCH),
        (domain_usersig.sign(sdk_app.sdkappid, sdk_app.secret_key, other, 60,
                             now=int(time.time()) - 3600), other, ErrorCode.USERSIG_EXPIRED),
    ]
    for ticket, user, code in cases:
        bad = Client(server.ws_url, sdk_app.sdkappid, user, ticket, **FAST)
        with pytest.raises(TidingsError) as refused:
            async with bad:
                pass
        assert refused.value.code == code
        with pytest.raises(ClientClosed):
            await bad.send_text("c2c_x", "no")


async def test_two_users_chat(server: Server, sdk_app: App) -> None:
    a, b = names("alice", "bob")
    async with client(server, sdk_app, a) as alice, client(server, sdk_app, b) as bob:
        ack = await alice.send_text(f"c2c_{b}", "hi bob")
        assert (ack.conversation_id, ack.seq, ack.duplicate) == (f"c2c_{b}", 1, False)
        got = await next_message(bob)
        assert (got.sender, got.conversation_id, got.seq, got.text) == (a, f"c2c_{a}", 1, "hi bob")
        assert got.msg_id == ack.msg_id and got.client_msg_id == ack.client_msg_id
        reply = await bob.send(f"c2c_{a}", elements=[
            {"type": "text", "text": "hi "}, {"type": "text", "text": "alice"},
            {"type": "custom", "data": '{"order": 42}'}], cloud_custom_data="shop:42")
        got = await next_message(alice)  # her own "hi bob" is an ack, not a message
        assert (got.sender, got.seq, got.text) == (b, 2, "hi alice")
        assert got.elements[2] == {"type": "custom", "data": '{"order": 42}', "desc": "",
                                   "ext": "", "sound": ""}
        assert got.cloud_custom_data == "shop:42" and got.msg_id == reply.msg_id
        # A resend with the same client id is the same message.
        again = await alice.send_text(f"c2c_{b}", "hi bob", client_msg_id=ack.client_msg_id)
        assert again.duplicate and (again.msg_id, again.seq) == (ack.msg_id, ack.seq)
        await no_message(bob)

        page = await alice.history(f"c2c_{b}")
        assert [m.seq for m in page.messages] == [1, 2] and not page.more
        older = await alice.history(f"c2c_{b}", before_seq=2, limit=1)
        assert [m.text for m in older.messages] == ["hi bob"] and not older.more
        newest = await alice.history(f"c2c_{b}", limit=1)
        assert [m.seq for m in newest.messages] == [2] and newest.more
        around = await alice.history(f"c2c_{b}", around_seq=1, limit=1)
        assert [m.seq for m in around.messages] == [1] and not around.more and around.newer

        (conv,) = await alice.conversations()
        assert (conv.conversation_id, conv.last_seq, conv.unread) == (f"c2c_{b}", 2, 1)
        assert conv.last_message is not None and conv.last_message.text == "hi alice"
        read = await alice.mark_read(f"c2c_{b}")
        assert read == ReadState(f"c2c_{b}", 2, 0)
        assert (await alice.conversations())[0].unread == 0

        with pytest.raises(TidingsError) as refused:
            await alice.send_text("bob-without-prefix", "x")
        assert refused.value.code == ErrorCode.INVALID_CONVERSATION_ID
        with pytest.raises(TidingsError) as refused:
            await alice.send(f"c2c_{b}", elements=[{"type": "nonsense"}])
        # (90002 is what the server is moving to; 10002 what docs/protocol.md says.)
        assert refused.value.code in (ErrorCode.INVALID_MESSAGE_BODY, ErrorCode.INVALID_REQUEST)
        assert refused.value.message.startswith("elements.0")
        assert (await alice.send_text(f"c2c_{b}", "still fine")).seq == 3
        assert (await next_message(bob)).seq == 3
        assert alice.known == {f"c2c_{b}": 3} and bob.known == {f"c2c_{a}": 3}
        assert alice.connects == 1


async def test_a_client_given_several_urls_uses_the_next_when_one_does_not_answer(
        server: Server, sdk_app: App) -> None:
    """The processes of a cluster: the first URL's process is gone (nobody
    listens there), so the client connects to the second and works there."""
    from tests.pg import free_port

    a, b = names("alice", "bob")
    dead = f"ws://127.0.0.1:{free_port()}/v1/ws"
    with pytest.raises(ValueError, match="at least one"):
        Client([], sdk_app.sdkappid, a, sdk_app.sig(a))
    async with Client([dead, server.ws_url], sdk_app.sdkappid, a, sdk_app.sig(a),
                      **FAST) as alice, client(server, sdk_app, b) as bob:
        assert alice.url == server.ws_url and alice.urls == (dead, server.ws_url)
        ack = await alice.send_text(f"c2c_{b}", "through the second")
        got = await next_message(bob)
        assert (got.sender, got.seq, got.text) == (a, ack.seq, "through the second")


async def test_a_resync_after_a_gap_reconnects_to_the_same_url(
        server: Server, sdk_app: App, caplog: pytest.LogCaptureFixture) -> None:
    """A gap (in a cluster: two processes' entries crossing) ends the
    connection to resync; the process was well, so the client comes back
    to it, not to the next URL (here nobody listens there)."""
    from tests.pg import free_port

    a, b = names("alice", "bob")
    dead = f"ws://127.0.0.1:{free_port()}/v1/ws"
    caplog.set_level("INFO", logger="tidings.sdk")
    async with Client([server.ws_url, dead], sdk_app.sdkappid, a, sdk_app.sig(a),
                      **FAST) as alice, client(server, sdk_app, b) as bob:
        await bob.send_text(f"c2c_{a}", "one")
        assert (await next_message(alice)).seq == 1
        alice._tracker.set_base(f"c2c_{b}", 0)  # as if seq 1 had not come: 2 is past a gap
        await bob.send_text(f"c2c_{a}", "two")
        got = await next_message(alice)
        assert (got.seq, got.text) == (1, "one")  # the resync brings both, in order
        got = await next_message(alice)
        assert (got.seq, got.text) == (2, "two")
        assert alice.connects == 2 and alice.url == server.ws_url
        assert not [r for r in caplog.records if "connection failed" in r.getMessage()]


async def test_every_device_of_a_user_follows_the_chat(server: Server, sdk_app: App) -> None:
    a, b = names("alice", "bob")
    reads: asyncio.Queue[ReadState] = asyncio.Queue()
    phone_reads: list[ReadState] = []
    async with (client(server, sdk_app, a, on_read=phone_reads.append) as phone,
                client(server, sdk_app, a, on_read=reads.put_nowait) as laptop,
                client(server, sdk_app, b) as bob):
        ack = await phone.send_text(f"c2c_{b}", "from my phone")
        own = await next_message(laptop)
        assert (own.sender, own.conversation_id, own.seq) == (a, f"c2c_{b}", ack.seq)
        assert (await next_message(bob)).msg_id == ack.msg_id
        await bob.send_text(f"c2c_{a}", "got it")
        for device in (phone, laptop):
            got = await next_message(device)  # the phone's first is bob's, not its own
            assert (got.sender, got.seq) == (b, 2)
        await phone.mark_read(f"c2c_{b}")
        assert await asyncio.wait_for(reads.get(), 5) == ReadState(f"c2c_{b}", 2, 0)
        assert phone_reads == []  # the device that moved the cursor is not told


async def test_a_send_whose_ack_was_lost_is_resent_with_its_id_and_stored_once(
        server: Server, sdk_app: App) -> None:
    a, b = names("alice", "bob")
    async with (Cutter(server.port) as relay,
                Client(f"ws://127.0.0.1:{relay.port}/v1/ws", sdk_app.sdkappid, a,
                       sdk_app.sig(a), **FAST) as alice,
                client(server, sdk_app, b) as bob):
        await alice.send_text(f"c2c_{b}", "first")
        assert (await next_message(bob)).seq == 1
        relay.swallow = True
        sending = asyncio.create_task(alice.send_text(f"c2c_{b}", "ack lost",
                                                      client_msg_id=f"lost-{a}"))
        stored = await next_message(bob)  # the server committed and acked it...
        await asyncio.sleep(0.2)
        assert not sending.done()  # ...but the ack never reached alice
        relay.swallow = False
        relay.cut()
        ack = await asyncio.wait_for(sending, 10)  # resent after the reconnect
        assert ack.duplicate and (ack.seq, ack.msg_id) == (stored.seq, stored.msg_id) == (
            2, ack.msg_id)
        assert alice.connects == 2
        # The resync brought her own message back: it is reported by the ack, not
        # as an incoming message, and it does not leave a gap behind.
        await no_message(alice)
        await no_message(bob)
        assert alice.known == {f"c2c_{b}": 2}
        await bob.send_text(f"c2c_{a}", "got it once")
        got = await next_message(alice)
        assert (got.seq, got.text) == (3, "got it once")
        page = await bob.history(f"c2c_{a}")
        assert [m.text for m in page.messages] == ["first", "ack lost", "got it once"]


# -- servers of their own: restarts and heartbeats ----------------------------------


@pytest.mark.process_server("kill -9: only a process can be killed mid-write")
async def test_after_kill9_clients_resync_exactly_and_a_send_made_meanwhile_goes_once(
        make_server: MakeServer) -> None:
    server = make_server()
    app = server.create_app()
    gate = asyncio.Event()
    gate.set()

    async def alice_sig() -> str:  # lets the test hold alice back from reconnecting
        await gate.wait()
        return app.sig("alice")

    async def collect(c: Client, count: int) -> list[Message]:
        return [await next_message(c) for _ in range(count)]

    async with (Client(server.ws_url, app.sdkappid, "alice", alice_sig, **FAST) as alice,
                client(server, app, "bob") as bob_sdk, rest(server, app, "bob") as bob_rest):
        for i in range(1, 4):
            await rest_send(bob_rest, "c2c_alice", f"m{i}")
        to_alice = await collect(alice, 3)
        to_bob = await collect(bob_sdk, 3)  # his own, sent from another "device"
        assert alice.known == {"c2c_bob": 3} and bob_sdk.known == {"c2c_alice": 3}

        gate.clear()
        server.kill9()
        await until(lambda: not alice.connected and not bob_sdk.connected)
        sending = asyncio.create_task(bob_sdk.send_text("c2c_alice", "sdk while down",
                                                        client_msg_id="sdk-1"))
        await asyncio.sleep(0.3)  # reconnect attempts fail meanwhile
        assert not sending.done()
        await asyncio.to_thread(server.start)
        for i in range(4, 31):  # while alice is away: more than a sync's default tail
            await rest_send(bob_rest, "c2c_alice", f"m{i}", client_msg_id=f"id-{i}")
        await rest_send(bob_rest, "c2c_alice", "m30", client_msg_id="id-30")  # a retried call
        ack = await asyncio.wait_for(sending, 15)
        assert not ack.duplicate and ack.client_msg_id == "sdk-1"
        assert not alice.connected

        async def more_while_she_resyncs() -> None:
            for i in range(31, 41):
                await rest_send(bob_rest, "c2c_alice", f"m{i}")

        racing = asyncio.create_task(more_while_she_resyncs())
        gate.set()
        to_alice += await collect(alice, 38)
        await racing
        to_bob += await collect(bob_sdk, 37)
        await no_message(alice)
        await no_message(bob_sdk)

        assert [m.seq for m in to_alice] == list(range(1, 42))
        rest_texts = [f"m{i}" for i in range(1, 41)]
        assert [m.text for m in to_alice if m.seq != ack.seq] == rest_texts
        assert [m.text for m in to_alice if m.seq == ack.seq] == ["sdk while down"]
        # Bob's SDK device: every message of his other device once, not its own send.
        assert [m.seq for m in to_bob] == [s for s in range(1, 42) if s != ack.seq]
        assert [m.text for m in to_bob] == rest_texts
        assert alice.connects == 2 and alice.known == {"c2c_bob": 41}
        assert bob_sdk.known == {"c2c_alice": 41}

        again = await bob_sdk.send_text("c2c_alice", "sdk while down", client_msg_id="sdk-1")
        assert again.duplicate and (again.msg_id, again.seq) == (ack.msg_id, ack.seq)
        page = await alice.history("c2c_bob")
        assert [m.seq for m in page.messages] == list(range(1, 42))
        await no_message(alice)


@pytest.mark.process_server("SIGSTOP: a server that stops answering, as only a process can")
async def test_heartbeats_keep_an_idle_client_and_silence_makes_it_reconnect(
        make_server: MakeServer, backend: str, resume_if_stopped: list[int]) -> None:
    if backend != "sqlite":
        pytest.skip("heartbeats do not touch the store; once is enough")
    server = make_server(heartbeat_interval="0.3", heartbeat_timeout="1")
    app = server.create_app()
    async with client(server, app, "alice") as alice, client(server, app, "bob") as bob:
        session = alice.session_id
        await asyncio.sleep(2.5)  # idle: the server pings and alice answers
        assert alice.connected and alice.connects == 1 and alice.session_id == session
        await bob.send_text("c2c_alice", "still there?")
        assert (await next_message(alice)).text == "still there?"

        # A server that says nothing at all (stopped, not closed) is dead to her.
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGSTOP)
        resume_if_stopped.append(server.process.pid)
        took = await until(lambda: not alice.connected, within=4)
        assert took < 2.5
        os.kill(server.process.pid, signal.SIGCONT)
        await until(lambda: alice.connected and bob.connected, within=10)
        assert alice.connects == 2 and alice.session_id != session
        await bob.send_text("c2c_alice", "welcome back")
        got = await next_message(alice)
        assert (got.seq, got.text) == (2, "welcome back")
        await no_message(alice)


async def test_profiles_through_the_sdk(shared_server: Server, sdk_app: App) -> None:
    alice, bob = names("alice", "bob")
    with shared_server.http(sdk_app, sdk_app.admin) as http:
        assert http.patch(f"/v1/admin/profiles/{bob}", json={"nickname": "Bob"}
                          ).status_code == 404  # bob does not exist yet
        assert http.post("/v1/admin/accounts/import", json={"accounts": [
            {"user_id": bob, "nickname": "Bob"}]}).status_code == 200
    async with client(shared_server, sdk_app, alice) as c:
        mine = await c.set_profile(signature="hello", gender="male")
        assert (mine["user_id"], mine["signature"], mine["gender"]) == (alice, "hello", "male")
        assert await c.profile() == mine
        found = await c.profiles([bob, "nobody"])
        assert [p["nickname"] for p in found["profiles"]] == ["Bob"]
        assert found["missing"] == ["nobody"]
        with pytest.raises(TidingsError) as refused:
            await c.set_profile(nickname="Bobby")
        assert refused.value.code == ErrorCode.PROFILE_FIELD_READ_ONLY

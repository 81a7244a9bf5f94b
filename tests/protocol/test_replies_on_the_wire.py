"""Every reply the schema types is what the server answers: real ops on a
real server, each reply checked against its declared schema, strictly (a
key the schema does not declare is a failure too, since a client generated
from the schema would not know it). The TypeScript SDK's types come from
these declarations."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from tests.gateway.test_links import ticket
from tests.media_files import png
from tests.push_support import Browser
from tests.support import App, Conn, Server
from tidings.protocol import schema as protocol_module


@cache
def protocol_schema() -> dict[str, Any]:
    # Built once: the whole document is pydantic's work of ~1 s on a loaded
    # machine, and the test checks ~60 replies against it.
    return protocol_module.protocol_schema()


def problems(value: Any, schema: dict[str, Any], defs: dict[str, Any], at: str) -> list[str]:
    """Where ``value`` departs from ``schema`` (the keywords pydantic emits)."""
    if "$ref" in schema:
        return problems(value, defs[schema["$ref"].rsplit("/", 1)[1]], defs, at)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        each = [problems(value, b, defs, at) for b in branches]
        return [] if any(not f for f in each) else min(each, key=len)
    if "const" in schema and value != schema["const"]:
        return [f"{at}: {value!r} is not {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: {value!r} is not one of {schema['enum']}"]
    kind = schema.get("type")
    checks = {"string": str, "boolean": bool, "object": dict, "array": list, "null": type(None)}
    if kind in ("integer", "number"):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and (
            kind == "number" or float(value).is_integer())
        return [] if ok else [f"{at}: {value!r} is not an {kind}"]
    if kind in checks and not isinstance(value, checks[kind]):
        return [f"{at}: {value!r} is not a {kind}"]
    found: list[str] = []
    if kind == "array":
        for i, item in enumerate(value):
            found += problems(item, schema.get("items", {}), defs, f"{at}[{i}]")
    extra = schema.get("additionalProperties")
    if kind == "object" and isinstance(extra, dict):
        for k, v in value.items():
            found += problems(v, extra, defs, f"{at}.{k}")
    if kind == "object" and "properties" in schema:
        props = schema["properties"]
        if extra is not True:
            found += [f"{at}.{k}: not declared" for k in value if k not in props]
        found += [f"{at}.{k}: missing" for k in schema.get("required", []) if k not in value]
        for k, v in value.items():
            if k in props:
                found += problems(v, props[k], defs, f"{at}.{k}")
    return found


def web_push_subscription() -> dict[str, Any]:
    return Browser("https://push.example.org/wp/wire", ec.generate_private_key(ec.SECP256R1()),
                   os.urandom(16)).subscription()


def check(op: str, reply: dict[str, Any]) -> None:
    assert reply["ok"], reply
    schema = protocol_schema()
    declared = schema["ops"][op]["reply"]
    assert problems(reply["data"], declared, schema["$defs"], op) == []


async def test_the_typed_replies_are_what_the_server_answers(server: Server, app: App) -> None:
    typed = set(n for n, op in protocol_schema()["ops"].items() if "reply" in op)
    # Every op declares its reply but pong (a client's answer to the server's ping).
    assert set(protocol_schema()["ops"]) - typed == {"pong"}
    checked: set[str] = set()

    async def run(conn: Conn, op: str, data: dict[str, Any]) -> dict[str, Any]:
        reply = await conn.request(op, data)
        check(op, reply)
        checked.add(op)
        return dict(reply["data"])

    alice = await Conn.login(server, app, "alice")
    bob = await Conn.login(server, app, "bob")
    fresh = await Conn.open(server)
    await run(fresh, "login", {"sdkappid": app.sdkappid, "user_id": "alice",
                               "usersig": app.sig("alice")})
    await run(fresh, "sync", {"known": {}})
    await run(fresh, "ping", {})
    sent = await run(alice, "send", {"conversation_id": "c2c_bob", "client_msg_id": "w-1",
                                     "elements": [{"type": "text", "text": "hi"}]})
    await run(alice, "send", {"conversation_id": "c2c_bob", "client_msg_id": "w-2",
                              "elements": [{"type": "quote", "seq": sent["seq"]},
                                           {"type": "text", "text": "again"}]})
    await run(alice, "edit", {"conversation_id": "c2c_bob", "seq": sent["seq"],
                              "elements": [{"type": "text", "text": "hi!"}]})
    await run(alice, "recall", {"conversation_id": "c2c_bob", "seq": sent["seq"]})
    await run(bob, "history", {"conversation_id": "c2c_alice"})
    await run(bob, "conversations", {})
    await run(bob, "read", {"conversation_id": "c2c_alice"})
    await run(bob, "sync", {"known": {}})
    await run(bob, "conversation_set", {"conversation_id": "c2c_alice", "pinned": True,
                                        "draft": "later"})
    await run(bob, "conversation_hide", {"conversation_id": "c2c_alice"})
    await run(bob, "conversation_delete", {"conversation_id": "c2c_alice",
                                           "clear_history": True})
    await run(alice, "typing", {"conversation_id": "c2c_bob"})
    await run(bob, "reaction_add", {"conversation_id": "c2c_alice", "seq": 2, "emoji": "+1"})
    await run(bob, "reaction_remove", {"conversation_id": "c2c_alice", "seq": 2, "emoji": "+1"})
    await run(alice, "search", {"q": "again"})
    await run(alice, "friend_add", {"user_id": "bob", "wording": "hi"})
    await run(bob, "friend_requests", {})
    await run(bob, "friend_accept", {"user_id": "alice"})
    await run(alice, "friends", {})
    await run(alice, "friend_remark", {"user_id": "bob", "remark": "B"})
    await run(alice, "block", {"user_ids": ["carol"]})
    await run(alice, "group_create", {"type": "Public", "group_id": "wire", "name": "W",
                                      "members": ["bob"], "join_option": "NeedPermission"})
    await run(alice, "group_invite", {"group_id": "wire", "user_ids": ["carol", "bob"]})
    await run(bob, "group_info", {"group_id": "wire"})
    await run(bob, "group_members", {"group_id": "wire", "limit": 2})
    await run(bob, "group_list", {})
    await run(bob, "profile_get", {"user_ids": ["alice", "nobody"]})
    await run(bob, "profile_set", {"allow_type": "allow_any", "gender": "female"})
    dave = await Conn.login(server, app, "dave")
    await run(dave, "group_apply", {"group_id": "wire", "message": "hi"})
    await run(dave, "group_applications", {})
    await run(alice, "group_join_requests", {"group_id": "wire"})
    await run(alice, "group_join_decline", {"group_id": "wire", "user_id": "dave"})
    await run(dave, "group_apply", {"group_id": "wire"})
    await run(alice, "group_join_approve", {"group_id": "wire", "user_id": "dave"})
    said = await alice.request("send", {"conversation_id": "group_wire", "client_msg_id": "g-1",
                                        "elements": [{"type": "text", "text": "x"}]})
    await run(alice, "group_receipts", {"group_id": "wire", "seqs": [said["data"]["seq"]]})
    await run(alice, "group_readers", {"group_id": "wire", "seq": said["data"]["seq"],
                                       "read": False})
    await run(alice, "group_mute", {"group_id": "wire", "user_id": "bob", "seconds": 60})
    await run(alice, "group_mute_all", {"group_id": "wire", "mute_all": True})
    await run(alice, "group_set_role", {"group_id": "wire", "user_id": "bob", "role": "Admin"})
    await run(alice, "group_set_name_card", {"group_id": "wire", "name_card": "boss"})
    await run(alice, "group_kick", {"group_id": "wire", "user_ids": ["dave", "erin"]})
    await run(alice, "friend_delete", {"user_ids": ["bob", "erin"]})
    await run(alice, "group_create", {"type": "AVChatRoom", "group_id": "wire-live"})
    await run(alice, "live_join", {"group_id": "wire-live"})
    await run(alice, "live_send", {"group_id": "wire-live", "client_msg_id": "l-1",
                                   "elements": [{"type": "text", "text": "x"}]})
    await run(alice, "live_members", {"group_id": "wire-live"})
    await run(alice, "live_leave", {"group_id": "wire-live"})
    await run(alice, "group_create", {"type": "Public", "group_id": "wire-open",
                                      "join_option": "FreeAccess"})
    await run(bob, "group_join", {"group_id": "wire-open"})
    await run(dave, "group_apply", {"group_id": "wire-open"})
    await run(alice, "group_update", {"group_id": "wire-open", "name": "O", "introduction": "i"})
    await run(alice, "group_transfer", {"group_id": "wire-open", "new_owner": "bob"})
    await run(alice, "group_leave", {"group_id": "wire-open"})
    await run(bob, "group_disband", {"group_id": "wire-open"})
    await run(dave, "friend_add", {"user_id": "alice"})
    await run(dave, "friend_withdraw", {"user_id": "alice"})
    await run(dave, "friend_add", {"user_id": "alice"})
    await run(alice, "friend_decline", {"user_id": "dave"})
    await run(fresh, "push_register", {"channel": "webpush", "device_id": "wire-dev",
                                       "subscription": web_push_subscription()})
    await run(fresh, "push_devices", {})
    await run(fresh, "push_unregister", {"device_id": "wire-dev"})
    await run(alice, "blocklist", {})
    await run(alice, "unblock", {"user_ids": ["carol", "erin"]})
    await run(alice, "app_state", {"state": "background"})
    with server.http(app, "alice") as http:
        media_id = http.post("/v1/media", params={"name": "a.bin"}, content=b"\x00" * 64
                             ).json()["media_id"]
    await run(alice, "media_url", {"media_id": media_id})
    await run(alice, "media_info", {"media_id": media_id})
    with server.http(app, "alice") as http:
        image_id = http.post("/v1/media", params={"name": "p.png"}, content=png()
                             ).json()["media_id"]
    image = await run(alice, "media_info", {"media_id": image_id})
    assert image["kind"] == "image" and "thumb" in image["variants"]
    # A hosted (home) account links its identities in the app: bob with a
    # chat action, then (replacing it) erin with a friend request to alice.
    home = server.home_app()
    mine = await Conn.login(server, home, "h-wire")
    chat = {"sdkappid": app.sdkappid, "ticket": ticket(app, "bob"), "to": "alice"}
    seen = await run(mine, "link_preview", chat)
    assert seen["linked"] is False and seen["action"] == "chat"
    await run(mine, "link_preview", {"sdkappid": app.sdkappid, "ticket": ticket(app, "bob")})
    made = await run(mine, "link_confirm", chat)
    assert made["action"]["conversation_id"] == f"app:{app.sdkappid}:c2c_alice"
    await run(mine, "link_send", {"conversation_id": made["action"]["conversation_id"],
                                  "client_msg_id": "k-1",
                                  "elements": [{"type": "text", "text": "linked"}]})
    listed = await run(mine, "link_conversations", {})
    assert listed["apps"][0]["conversations"][0]["peer_card"]["user_id"] == "alice"
    await run(mine, "link_history", {"conversation_id": made["action"]["conversation_id"]})
    await run(mine, "link_history", {"conversation_id": made["action"]["conversation_id"],
                                     "around_seq": 1})
    sent = await alice.request("send", {"conversation_id": "c2c_bob", "client_msg_id": "img-1",
                                        "elements": [image["element"]]})
    assert sent["ok"], sent
    await run(mine, "link_media_url", {"sdkappid": app.sdkappid, "media_id": image_id,
                                       "variant": "thumb"})
    await run(mine, "link_read", {"conversation_id": made["action"]["conversation_id"]})
    await run(mine, "link_sync", {"sdkappid": app.sdkappid, "known": {}})
    friend = {"sdkappid": app.sdkappid, "ticket": ticket(app, "erin"), "to": "alice",
              "action": "friend"}
    assert (await run(mine, "link_preview", friend))["replaces"] == "bob"
    befriended = await run(mine, "link_confirm", friend)
    assert befriended["link"]["replaced"] == "bob" and befriended["action"]["action"] == "friend"
    await run(mine, "links", {})
    await run(mine, "unlink", {"sdkappid": app.sdkappid})
    assert typed - checked == set()
    await mine.ws.close()
    for conn in (alice, bob, fresh, dave):
        await conn.ws.close()

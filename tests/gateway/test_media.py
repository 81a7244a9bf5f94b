"""Media over the WebSocket protocol: a group message carrying an upload,
``media_url`` and ``media_info`` for members, non-members, later joiners of a
group that hides earlier history, and bad input."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests import media_files
from tests.support import App, Conn, Server


async def ok(conn: Conn, op: str, data: dict[str, Any]) -> dict[str, Any]:
    reply = await conn.request(op, data)
    assert reply["ok"], reply
    return dict(reply["data"])


async def code(conn: Conn, op: str, data: dict[str, Any]) -> int:
    reply = await conn.request(op, data)
    assert not reply["ok"], reply
    return int(reply["error"]["code"])


async def test_group_media_for_members_only(server: Server, shared_app: App,
                                            users: Callable[[str], str]) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    work = f"w{uuid.uuid4().hex[:10]}"
    with server.http(shared_app, alice) as http:
        doc = http.post("/v1/media", content=media_files.png()).json()
    a = await Conn.login(server, shared_app, alice)
    b = await Conn.login(server, shared_app, bob)
    c = await Conn.login(server, shared_app, carol)
    try:
        await ok(a, "group_create", {"type": "Work", "group_id": work, "members": [bob]})
        await ok(a, "send", {"conversation_id": f"group_{work}", "client_msg_id": "m1",
                             "elements": [doc["element"]]})
        got = await ok(b, "media_url", {"media_id": doc["media_id"], "variant": "thumb"})
        assert got["variant"] == "thumb" and got["expires_at"] > 0
        thumb = await asyncio.to_thread(httpx.get, server.base_url + got["url"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
        info = await ok(b, "media_info", {"media_id": doc["media_id"]})
        assert info["element"] == doc["element"]
        assert await code(c, "media_url", {"media_id": doc["media_id"]}) == 95009
        assert await code(c, "media_info", {"media_id": doc["media_id"]}) == 95009
        # Carol joins a Work group (invited): Work groups show new members
        # no earlier history, so the earlier upload stays closed to her.
        await ok(a, "group_invite", {"group_id": work, "user_ids": [carol]})
        assert await code(c, "media_url", {"media_id": doc["media_id"]}) == 95009
        await ok(a, "send", {"conversation_id": f"group_{work}", "client_msg_id": "m2",
                             "elements": [doc["element"]]})
        assert (await ok(c, "media_url", {"media_id": doc["media_id"]}))["url"]
        # Bad input: a stable code, never a crash.
        assert await code(b, "media_url", {"media_id": doc["media_id"],
                                           "variant": "huge"}) == 10002
        assert await code(b, "media_url", {"media_id": 7}) == 10002
        assert await code(b, "media_url", {"media_id": "x", "extra": 1}) == 10002
        assert await code(b, "media_url", {"media_id": "no/such"}) == 95003
        assert await code(b, "media_url", {"media_id": "mNoSuchUpload"}) == 95003
    finally:
        for conn in (a, b, c):
            await conn.close()

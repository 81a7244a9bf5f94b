"""Message retention per app, end to end: the window set through the admin
API and the CLI, and the collector on a server that runs it often. Old
messages (made old by moving their time back, as if the days had passed)
leave history, search and sync with their reactions, search rows and media;
newer ones stay, seqs carry on, unread counts stay right."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests import media_files
from tests.support import Conn, Server, count_texts_sql, error_of
from tidings.store.engine import open_database
from tidings.store.retention import RetentionStore

DAY_MS = 86_400_000


def _url(server: Server) -> str:
    return server.database_url or (
        f"sqlite+aiosqlite:///{(server.data_dir / 'tidings.db').resolve()}")


async def _age(server: Server, sdkappid: int, up_to_seq: int, days: int) -> None:
    """Move the first entries of every conversation of the app ``days`` back."""
    engine = create_async_engine(_url(server))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "UPDATE messages SET created_at = created_at - :ms"
                " WHERE sdkappid = :app AND seq <= :seq"),
                {"ms": days * DAY_MS, "app": sdkappid, "seq": up_to_seq})
    finally:
        await engine.dispose()


def _seqs(http: httpx.Client, conversation_id: str) -> list[int]:
    reply = http.get(f"/v1/conversations/{conversation_id}/messages")
    assert reply.status_code == 200, reply.text
    return [m["seq"] for m in reply.json()["messages"]]


def _until(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _unread(admin: httpx.Client, user: str) -> int:
    reply = admin.get(f"/v1/admin/users/{user}/unread")
    assert reply.status_code == 200, reply.text
    return int(reply.json()["total"])


def _synced_messages(data: dict[str, Any]) -> list[dict[str, Any]]:
    return list(data["messages"])


async def test_old_messages_expire_with_what_hangs_off_them(
        make_server: Callable[..., Server], users: Callable[[str], str]) -> None:
    server = make_server(retention_interval="0.3", media_grace="3", media_gc_interval="0.3")
    app = server.create_app()
    alice, bob = users("alice"), users("bob")
    with server.http(app, alice) as a, server.http(app, bob) as b, \
            server.http(app, app.admin) as admin:
        def send(element: dict[str, Any], tag: str) -> int:
            reply = a.post("/v1/messages", json={"conversation_id": f"c2c_{bob}",
                                                 "client_msg_id": tag, "elements": [element]})
            assert reply.status_code == 200, reply.text
            return int(reply.json()["seq"])

        upload = a.post("/v1/media", content=media_files.png(33, 21))
        assert upload.status_code == 200, upload.text
        image = upload.json()
        seqs = [send({"type": "text", "text": "ancient apple"}, "m1"),
                send(image["element"], "m2"),
                send({"type": "text", "text": "ancient pear"}, "m3"),
                send({"type": "text", "text": "fresh kiwi"}, "m4"),
                send({"type": "text", "text": "fresh plum"}, "m5")]
        assert seqs == [1, 2, 3, 4, 5]
        assert b.post(f"/v1/conversations/c2c_{alice}/messages/1/reactions",
                      json={"emoji": "👍"}).status_code == 200
        assert b.post(f"/v1/conversations/c2c_{alice}/read", json={"seq": 1}).status_code == 200
        assert _unread(admin, bob) == 4

        # Bad windows are refused with 10002 and change nothing.
        assert admin.get("/v1/admin/settings/retention").json() == {"retention_days": 0}
        for bad in (-1, 3651, "30", 1.5, None):
            assert error_of(admin.put("/v1/admin/settings/retention",
                                      json={"retention_days": bad}))[1] == 10002, bad
        assert admin.get("/v1/admin/settings/retention").json() == {"retention_days": 0}

        await _age(server, app.sdkappid, 3, 40)
        # Nothing expires while the app keeps messages for ever (the default).
        await asyncio.sleep(1)
        assert _seqs(b, f"c2c_{alice}") == [1, 2, 3, 4, 5]

        reply = admin.put("/v1/admin/settings/retention", json={"retention_days": 30})
        assert reply.status_code == 200 and reply.json() == {"retention_days": 30}
        _until(lambda: _seqs(b, f"c2c_{alice}") == [4, 5], "old messages did not expire")
        assert _seqs(a, f"c2c_{bob}") == [4, 5]
        older = b.get(f"/v1/conversations/c2c_{alice}/messages", params={"before_seq": 5})
        assert [m["seq"] for m in older.json()["messages"]] == [4]
        assert older.json()["more"] is False

        # Search finds only what is left; the reaction and search rows are gone.
        found = b.get("/v1/search", params={"q": "ancient"})
        assert found.status_code == 200 and found.json()["results"] == []
        assert len(b.get("/v1/search", params={"q": "fresh"}).json()["results"]) == 2
        assert await server.sql("SELECT count(*) FROM message_reactions") == 0
        assert await server.sql(count_texts_sql(not server.database_url)) == 2
        assert await server.sql("SELECT count(*) FROM media_refs") == 0

        # The image only an expired message carried is collected.
        _until(lambda: a.get(f"/v1/media/{image['media_id']}/info").status_code == 404,
               "the expired message's media was not collected")

        # Unread counts did not move; reading onto an expired seq counts right.
        assert _unread(admin, bob) == 4
        assert b.post(f"/v1/conversations/c2c_{alice}/read", json={"seq": 3}).status_code == 200
        assert _unread(admin, bob) == 2

        # Seqs carry on; a sync from scratch or from an old cursor sees what is left.
        assert send({"type": "text", "text": "fresh fig"}, "m6") == 6
        assert _unread(admin, bob) == 3
        for known in ({}, {f"c2c_{alice}": 1}, {f"c2c_{alice}": 4}):
            conn = await Conn.login(server, app, bob, known=known)
            try:
                synced = [m["seq"] for m in _synced_messages(conn.last_sync)]
            finally:
                await conn.close()
            start = known.get(f"c2c_{alice}", 0)
            assert synced == [s for s in (4, 5, 6) if s > start], (known, conn.last_sync)


def test_cli_sets_the_window_and_refuses_a_negative_one(server: Server) -> None:
    app = server.create_app("Keeper")
    done = server.cli("app", "update", str(app.sdkappid), "--retention-days", "90")
    assert '"retention_days": 90' in done.stdout
    refused = server.cli("app", "update", str(app.sdkappid), "--retention-days", "-5",
                         check=False)
    assert refused.returncode != 0 and "retention_days" in refused.stderr
    assert "Traceback" not in refused.stderr
    with server.http(app, app.admin) as admin:
        assert admin.get("/v1/admin/settings/retention").json() == {"retention_days": 90}
    server.cli("app", "update", str(app.sdkappid), "--retention-days", "0")
    with server.http(app, app.admin) as admin:
        assert admin.get("/v1/admin/settings/retention").json() == {"retention_days": 0}


async def test_a_run_cut_short_is_finished_by_the_next(
        make_server: Callable[..., Server], users: Callable[[str], str]) -> None:
    """Each batch is a transaction of its own: what a run killed after one
    batch leaves (a shorter prefix expired) is consistent, and the next run
    carries on from it."""
    server = make_server(retention_interval="0.3")
    app = server.create_app()
    alice, bob = users("alice"), users("bob")
    with server.http(app, alice) as a, server.http(app, bob) as b, \
            server.http(app, app.admin) as admin:
        for i in range(5):
            reply = a.post("/v1/messages", json={
                "conversation_id": f"c2c_{bob}", "client_msg_id": f"m{i}",
                "elements": [{"type": "text", "text": f"note {i}"}]})
            assert reply.status_code == 200, reply.text
        await _age(server, app.sdkappid, 4, 10)
        cid = await server.sql("SELECT conversation_id FROM messages WHERE sdkappid = :app"
                               " LIMIT 1", app=app.sdkappid)
        db = open_database(_url(server))
        try:
            # One batch of two, as a run that died after its first commit.
            before = int(time.time() * 1000) - 5 * DAY_MS
            assert await RetentionStore(db).expire_batch(cid, before, 2) == 2
        finally:
            await db.dispose()
        assert _seqs(b, f"c2c_{alice}") == [3, 4, 5]
        assert await server.sql("SELECT expired_seq FROM conversations WHERE id = :c",
                                c=cid) == 2
        assert _unread(admin, bob) == 5
        assert admin.put("/v1/admin/settings/retention",
                         json={"retention_days": 5}).status_code == 200
        _until(lambda: _seqs(b, f"c2c_{alice}") == [5], "the next run did not carry on")
        assert await server.sql("SELECT expired_seq FROM conversations WHERE id = :c",
                                c=cid) == 4
        assert b.post(f"/v1/conversations/c2c_{alice}/read", json={"seq": 4}).status_code == 200
        assert _unread(admin, bob) == 1
        # When the last one expires too, the conversation stays listed (its
        # cursors and counts live on) without a last message.
        await _age(server, app.sdkappid, 5, 10)
        _until(lambda: _seqs(b, f"c2c_{alice}") == [], "the last message did not expire")
        listed = b.get("/v1/conversations")
        assert listed.status_code == 200, listed.text
        [conversation] = listed.json()["conversations"]
        assert (conversation["last_seq"], conversation["last_message"]) == (5, None)
        assert _unread(admin, bob) == 1
        assert b.post(f"/v1/conversations/c2c_{alice}/read").status_code == 200
        assert _unread(admin, bob) == 0

"""The built-in home app: made on first start, one only, kept across restarts,
and a full app whose users chat like any app's."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from tests.support import Conn, Server


def _listed(server: Server) -> list[dict[str, object]]:
    return list(json.loads(server.cli("app", "list").stdout))


def test_home_app_is_made_once_and_kept(make_server: Callable[..., Server]) -> None:
    server = make_server(home_app_name="Messenger")
    try:
        first = httpx.get(f"{server.base_url}/v1/home").json()
        assert first["name"] == "Messenger" and first["icon_url"] == ""
        server.create_app("ShopX")
        kinds = sorted((a["kind"], a["name"]) for a in _listed(server))  # type: ignore[type-var]
        assert kinds == [("app", "ShopX"), ("home", "Messenger")]
    finally:
        server.stop()

    server.extra_env["TIDINGS_HOME_APP_NAME"] = "Renamed"  # the setting names a new one only
    server.start()
    try:
        again = httpx.get(f"{server.base_url}/v1/home").json()
        assert again == first
        assert [a["kind"] for a in _listed(server)].count("home") == 1
    finally:
        server.stop()


async def test_home_users_chat_like_any_apps_users(server: Server,
                                                   users: Callable[[str], str]) -> None:
    home = server.home_app()
    alice, bob = users("alice"), users("bob")
    a = await Conn.login(server, home, alice)
    b = await Conn.login(server, home, bob)
    try:
        sent = await a.send_text(f"c2c_{bob}", "hello from home")
        got = await b.event("message")
        assert sent["ok"] and got["seq"] == sent["data"]["seq"]
        assert got["elements"][0]["text"] == "hello from home"
    finally:
        await a.close()
        await b.close()


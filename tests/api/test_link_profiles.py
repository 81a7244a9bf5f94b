"""The profile callback of linked identities: an app that opts in answers
the nickname and avatar of its users' cards; answers are cached for its time
to live; a failed callback falls back to the stored profile; off by default."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from TLSSigAPIv2 import TLSSigAPIv2

from tests.app_server import AppServer, Call, Reply
from tests.support import App, Server, error_of
from tidings.domain import link_tickets

Users = Callable[[str], str]


@pytest.fixture
def app_server() -> Iterator[AppServer]:
    s = AppServer().start()
    yield s
    s.stop()


def ticket(app: App, user: str, expire: int) -> str:
    return str(TLSSigAPIv2(app.sdkappid, app.secret_key).gen_sig_with_userbuf(
        user, expire, link_tickets.LINK_PURPOSE))


async def test_cards_come_from_the_profile_callback_when_the_app_opts_in(
        server: Server, app_server: AppServer, users: Users) -> None:
    shop, home = server.create_app("ShopX"), server.home_app()
    bob, carol = users("bob"), users("carol")
    failing = {"on": False}

    def answer(call: Call) -> Reply:
        if call.event != "profile_lookup":
            return Reply(body={"ok": True})
        if failing["on"]:
            return Reply(status=500)
        return Reply(body={"profiles": [{"user_id": bob, "nickname": "Bob (from ShopX)",
                                         "avatar_url": "https://shopx.example/bob.png"},
                                        {"user_id": "someone-else", "nickname": "ignored"}]})

    app_server.answer(answer)
    with server.http(shop, shop.admin) as admin:
        assert admin.put("/v1/admin/callbacks", json={"url": app_server.url}).status_code == 200
        assert admin.post("/v1/admin/accounts/import", json={"accounts": [
            {"user_id": bob, "nickname": "Bob (stored)"},
            {"user_id": carol, "nickname": "Carol (stored)"}]}).status_code == 200
        assert admin.get("/v1/admin/link-settings").json() == {"profile_callback": False,
                                                               "profile_ttl": 300}
    lifetimes = iter(range(300, 100, -1))
    with server.http(home, users("h")) as me:
        def preview(user: str, to: str) -> dict[str, Any]:
            reply = me.post("/v1/links/preview", json={
                "sdkappid": shop.sdkappid, "ticket": ticket(shop, user, next(lifetimes)),
                "to": to})
            assert reply.status_code == 200, reply.text
            return reply.json()  # type: ignore[no-any-return]

        # Off by default: the stored profiles, and no lookup at all.
        assert preview(carol, bob)["target"]["nickname"] == "Bob (stored)"
        assert app_server.of("profile_lookup") == []

        with server.http(shop, shop.admin) as admin:
            on = admin.put("/v1/admin/link-settings", json={"profile_callback": True,
                                                             "profile_ttl": 60})
            assert on.json() == {"profile_callback": True, "profile_ttl": 60}
            assert error_of(admin.put("/v1/admin/link-settings",
                                      json={"profile_callback": "yes"}))[1] == 10002
            assert error_of(admin.put("/v1/admin/link-settings", json={
                "profile_callback": True, "profile_ttl": 0}))[1] == 10002
        seen = preview(carol, bob)
        assert seen["target"] == {"user_id": bob, "nickname": "Bob (from ShopX)",
                                  "avatar_url": "https://shopx.example/bob.png"}
        # Not named in the answer: the stored profile.
        assert seen["user"]["nickname"] == "Carol (stored)"
        calls = app_server.of("profile_lookup")
        assert len(calls) == 1 and sorted(calls[0].data["user_ids"]) == sorted([carol, bob])
        assert set(calls[0].data) == {"user_ids"}  # nothing about the home account
        # Cached for the ttl: no second lookup.
        assert preview(carol, bob)["target"]["nickname"] == "Bob (from ShopX)"
        assert len(app_server.of("profile_lookup")) == 1

        # A failing callback: the stored profile, never an error.
        failing["on"] = True
        with server.http(shop, shop.admin) as admin:  # a new setting drops the cache
            admin.put("/v1/admin/link-settings", json={"profile_callback": True})
        assert preview(carol, bob)["target"]["nickname"] == "Bob (stored)"
        assert len(app_server.of("profile_lookup")) == 2

"""Home accounts with a username and password: register, sign in, connect
with the UserSig like any app's user, profile, finding people, and the
abuse cases (enumeration, brute force, bad input)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.home_support import (
    bearer,
    connect,
    home_server,
    mailbox,
    ok,
    register,
    sign_in,
    unique,
    webhook,
)
from tests.support import Server, error_of, openapi_doc

__all__ = ["home_server", "mailbox", "webhook"]


def test_register_sign_in_and_chat(home_server: Server) -> None:
    server = home_server
    name = unique("ana")
    made = register(server, name.upper())  # usernames are case-insensitive
    home = httpx.get(f"{server.base_url}/v1/home").json()
    assert made["sdkappid"] == home["sdkappid"] and made["created"] is True
    # The user id is opaque: nothing of the username in it.
    assert name not in made["user_id"] and made["user_id"].startswith("h")
    assert len(made["session_id"]) == 32 and made["expires_at"] > 0
    again = ok(sign_in(server, name, "correct horse 1"))
    assert again["user_id"] == made["user_id"] and again["created"] is False
    assert again["session_id"] != made["session_id"]

    me = ok(httpx.get(f"{server.base_url}/v1/home/me", headers=bearer(again)))
    assert me == {"user_id": made["user_id"], "username": name, "email": None, "phone": None,
                  "has_password": True, "display_name": "", "avatar_url": "",
                  "created_at": me["created_at"]}
    # The same ticket works on the ordinary client API of the home app.
    profile = ok(httpx.get(f"{server.base_url}/v1/profile", headers=bearer(again)))
    assert profile["user_id"] == made["user_id"]
    spec = openapi_doc(server.base_url)
    for path in ("/v1/home/register", "/v1/home/sign-in/password", "/v1/home/codes",
                 "/v1/home/sign-in/code", "/v1/home/sign-out", "/v1/home/sign-out-everywhere",
                 "/v1/home/me", "/v1/home/password", "/v1/home/users/{username}"):
        assert path in spec["paths"], path


async def test_home_accounts_connect_and_chat_like_any_app_user(home_server: Server) -> None:
    server = home_server
    a = register(server, unique("alma"))
    b = register(server, unique("bert"))
    conns = []
    for who in (a, b):
        conns.append(await connect(server, who, sync=True))
    try:
        sent = await conns[0].send_text(f"c2c_{b['user_id']}", "hello from a home account")
        got = await conns[1].event("message")
        assert sent["ok"] and got["sender"] == a["user_id"]
    finally:
        for conn in conns:
            await conn.close()


def test_unknown_user_and_wrong_password_answer_alike(home_server: Server) -> None:
    server = home_server
    name = unique("carla")
    register(server, name)
    answers = [sign_in(server, name, "wrong password"),
               sign_in(server, unique("nobody"), "wrong password"),
               sign_in(server, "No Such Name!", "wrong password")]
    bodies = {(r.status_code, r.text) for r in answers}
    assert len(bodies) == 1, bodies
    assert error_of(answers[0]) == (401, 96000)


def test_unknown_user_costs_a_password_verification_too(
        make_server: Callable[..., Server]) -> None:
    """Not a speed target: a ratio that shows the unknown username does the
    same argon2 work (skipping it would be ~100 times faster), with the
    real parameters (the other tests hash cheaply)."""
    server = make_server(home_argon2_time_cost="3", home_argon2_memory_kib="65536",
                         home_argon2_parallelism="4", home_attempts_per_ip="100000")
    name = unique("timo")
    register(server, name)

    def fastest(username: str) -> float:
        times = []
        for _ in range(3):
            answer = sign_in(server, username, "wrong password")
            assert error_of(answer) == (401, 96000)
            times.append(answer.elapsed.total_seconds())
        return min(times)

    wrong, unknown = fastest(name), fastest(unique("nobody"))
    assert unknown > 0.3 * wrong, (unknown, wrong)


def test_password_lockout_per_username_known_or_not(make_server: Callable[..., Server]
                                                    ) -> None:
    server = make_server(home_password_tries="3", home_lockout_seconds="600")
    name = unique("dora")
    register(server, name)
    for username in (name, unique("ghost")):
        for _ in range(3):
            assert error_of(sign_in(server, username, "bad guess 123")) == (401, 96000)
        locked = sign_in(server, username, "correct horse 1")
        assert error_of(locked) == (429, 96001)
        assert 0 < locked.json()["error"]["retry_after"] <= 600
    # Another username is not locked, and a success resets the count.
    other = unique("ella")
    register(server, other)
    assert error_of(sign_in(server, other, "bad guess 123")) == (401, 96000)
    ok(sign_in(server, other))
    for _ in range(2):
        assert error_of(sign_in(server, other, "bad guess 123")) == (401, 96000)
    ok(sign_in(server, other))


def test_attempts_per_client_ip(make_server: Callable[..., Server]) -> None:
    server = make_server(home_attempts_per_ip="3")
    for _ in range(3):
        assert error_of(sign_in(server, unique("x"), "bad guess 123")) == (401, 96000)
    limited = sign_in(server, unique("x"), "bad guess 123")
    assert error_of(limited) == (429, 10005) and limited.json()["error"]["retry_after"] > 0


def test_forwarded_for_counts_only_behind_a_trusted_proxy(
        make_server: Callable[..., Server]) -> None:
    untrusted = make_server(home_attempts_per_ip="2")
    for i in range(2):
        sign_in_from = httpx.post(f"{untrusted.base_url}/v1/home/sign-in/password",
                                  json={"username": "zed", "password": "bad guess 123"},
                                  headers={"X-Forwarded-For": f"10.0.0.{i}"})
        assert error_of(sign_in_from)[1] == 96000
    spoofed = httpx.post(f"{untrusted.base_url}/v1/home/sign-in/password",
                         json={"username": "zed", "password": "bad guess 123"},
                         headers={"X-Forwarded-For": "10.0.0.9"})
    assert error_of(spoofed) == (429, 10005)  # the header did not make a new client

    proxied = make_server(home_attempts_per_ip="2", trusted_proxies="127.0.0.1")
    for i in range(4):
        answer = httpx.post(f"{proxied.base_url}/v1/home/sign-in/password",
                            json={"username": f"zed{i}", "password": "bad guess 123"},
                            headers={"X-Forwarded-For": f"203.0.113.7, 10.0.0.{i}"})
        assert error_of(answer) == (401, 96000)  # each a client of its own
    for _ in range(2):
        httpx.post(f"{proxied.base_url}/v1/home/sign-in/password",
                   json={"username": "zed", "password": "bad guess 123"},
                   headers={"X-Forwarded-For": "10.0.0.50"})
    third = httpx.post(f"{proxied.base_url}/v1/home/sign-in/password",
                       json={"username": "zed", "password": "bad guess 123"},
                       headers={"X-Forwarded-For": "10.0.0.50"})
    assert error_of(third) == (429, 10005)


def test_registration_refusals_change_nothing(home_server: Server) -> None:
    server = home_server
    url = f"{server.base_url}/v1/home/register"
    name = unique("finn")
    register(server, name)
    assert error_of(httpx.post(url, json={"username": name.upper(),
                                          "password": "another pass"})) == (409, 96003)
    assert error_of(httpx.post(url, json={"username": unique("g"),
                                          "password": "short"})) == (400, 96004)
    fresh = unique("hugo")
    assert error_of(httpx.post(url, json={"username": fresh,
                                          "password": fresh.upper()})) == (400, 96004)
    for bad in ("ab", "-dash", "has space", "x" * 33, "dot.", "ünï"):
        assert error_of(httpx.post(url, json={"username": bad,
                                              "password": "long enough"})) == (400, 96006)
    assert error_of(httpx.post(url, content=b"{not json",
                               headers={"Content-Type": "application/json"})) == (400, 90001)
    assert error_of(httpx.post(url, json={"username": 5, "password": "long enough"})) == (
        400, 10002)
    assert error_of(httpx.post(url, json={"username": unique("i"), "password": "long enough",
                                          "admin": True})) == (400, 10002)
    assert error_of(httpx.post(url, json={"username": unique("j"),
                                          "password": "p" * 1025})) == (400, 10002)
    # None of the refused names exists now.
    assert error_of(sign_in(server, fresh, fresh.upper())) == (401, 96000)


def test_profile_and_finding_people(home_server: Server) -> None:
    server = home_server
    ana = register(server, unique("ivy"))
    bob_name = unique("jon")
    bob = register(server, bob_name)
    changed = ok(httpx.patch(f"{server.base_url}/v1/home/me", headers=bearer(bob),
                             json={"display_name": "Jon B.", "avatar_url": "https://a.test/j.png"}))
    assert changed["display_name"] == "Jon B." and changed["avatar_url"] == "https://a.test/j.png"
    card = ok(httpx.get(f"{server.base_url}/v1/home/users/{bob_name.upper()}",
                        headers=bearer(ana)))
    assert card == {"user_id": bob["user_id"], "username": bob_name, "display_name": "Jon B.",
                    "avatar_url": "https://a.test/j.png"}
    assert error_of(httpx.get(f"{server.base_url}/v1/home/users/{unique('nobody')}",
                              headers=bearer(ana))) == (404, 10010)
    assert error_of(httpx.get(f"{server.base_url}/v1/home/users/{bob_name}")) == (401, 70002)
    # A new username frees the old one; a taken one is refused.
    renamed = unique("jonny")
    assert ok(httpx.patch(f"{server.base_url}/v1/home/me", headers=bearer(bob),
                          json={"username": renamed}))["username"] == renamed
    ana_me = ok(httpx.get(f"{server.base_url}/v1/home/me", headers=bearer(ana)))
    assert error_of(httpx.patch(f"{server.base_url}/v1/home/me", headers=bearer(ana),
                                json={"username": renamed})) == (409, 96003)
    assert error_of(httpx.patch(f"{server.base_url}/v1/home/me", headers=bearer(ana),
                                json={"display_name": 7})) == (400, 10002)
    assert ok(httpx.get(f"{server.base_url}/v1/home/me", headers=bearer(ana))) == ana_me
    ok(sign_in(server, renamed))
    assert error_of(sign_in(server, bob_name)) == (401, 96000)


def test_another_apps_ticket_is_not_a_home_sign_in(home_server: Server) -> None:
    app = home_server.create_app("Shop")
    headers = {"Authorization": f"Bearer {app.sig('alice')}"}
    for method, path in (("GET", "/v1/home/me"), ("POST", "/v1/home/sign-out"),
                         ("POST", "/v1/home/sign-out-everywhere")):
        answer = httpx.request(method, f"{home_server.base_url}{path}", headers=headers)
        assert error_of(answer) == (401, 70014)
    home = home_server.home_app()
    plain = {"Authorization": f"Bearer {home.sig('administrator')}"}
    # A home ticket its operator signed (no sign-in session) cannot sign out.
    assert error_of(httpx.post(f"{home_server.base_url}/v1/home/sign-out",
                               headers=plain)) == (403, 96008)
    assert error_of(httpx.get(f"{home_server.base_url}/v1/home/me",
                              headers=plain)) == (404, 10010)

"""The ``tidings`` command line: creating and inspecting apps, rotating keys,
signing tickets, all while a server runs on the same data; and clear,
non-zero refusals of bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support import App, Conn, Server, run_cli
from tidings.domain import usersig

# The CLI's own tests: the command and the server it changes are separate
# processes on one database, as an operator runs them (and the app fixture
# makes its app through the CLI too).
pytestmark = pytest.mark.process_server("the CLI and the server as two processes")

HEX64 = re.compile(r"[0-9a-f]{64}")


def cli_json(server: Server, *args: str) -> dict[str, object]:
    doc = json.loads(server.cli(*args, process=True).stdout)
    assert isinstance(doc, dict)
    return doc


async def test_app_create_is_usable_at_once_on_the_running_server(server: Server) -> None:
    created = cli_json(server, "app", "create", "--name", "ShopX",
                       "--icon-url", "https://shop.example/icon.png")
    sdkappid = created["sdkappid"]
    assert isinstance(sdkappid, int) and not isinstance(sdkappid, bool)
    assert created["name"] == "ShopX"
    assert created["icon_url"] == "https://shop.example/icon.png"
    assert created["admin"] == "administrator"
    assert isinstance(created["secret_key"], str) and HEX64.fullmatch(created["secret_key"])
    app = App(sdkappid, created["secret_key"], "administrator")
    # No restart: a ticket signed by Tencent's library with the printed key works now.
    with server.http(app, "alice") as http:
        assert http.get("/v1/conversations").json() == {"conversations": []}
    conn = await Conn.open(server)
    login = await conn.request("login", {"sdkappid": sdkappid, "user_id": "alice",
                                         "usersig": app.sig("alice")})
    assert login["ok"], login
    await conn.close()

    shown = cli_json(server, "app", "show", str(sdkappid))
    assert shown["sdkappid"] == sdkappid and shown["name"] == "ShopX"
    assert shown["icon_url"] == "https://shop.example/icon.png"
    assert shown["admins"] == ["administrator"]
    assert isinstance(shown["created_at"], int)
    [key] = shown["keys"]  # type: ignore[misc]
    assert key["secret_key"] == created["secret_key"] and key["retired_at"] is None

    listed = json.loads(server.cli("app", "list", process=True).stdout)
    [entry] = [a for a in listed if a["sdkappid"] == sdkappid]
    assert entry["name"] == "ShopX" and entry["admins"] == ["administrator"]
    assert "keys" not in entry  # keys are shown one app at a time
    assert created["secret_key"] not in json.dumps(listed)


def test_app_create_with_admin(server: Server) -> None:
    created = cli_json(server, "app", "create", "--name", "Game", "--admin", "boss")
    assert created["admin"] == "boss" and created["icon_url"] == ""
    shown = cli_json(server, "app", "show", str(created["sdkappid"]))
    assert shown["admins"] == ["boss"]


def test_unknown_app_exits_non_zero_with_json_error(server: Server) -> None:
    for args in (("app", "show", "999"), ("app", "rotate-key", "999", "--retire-old"),
                 ("usersig", "--sdkappid", "999", "--user", "alice")):
        result = server.cli(*args, check=False, process=True)
        assert result.returncode != 0, args
        assert result.stdout == "", args
        error = json.loads(result.stderr)
        assert "999" in error["error"], (args, error)


def test_rotate_key_and_retire(server: Server, app: App) -> None:
    sdkappid = str(app.sdkappid)
    rotated = cli_json(server, "app", "rotate-key", sdkappid)
    assert set(rotated) == {"sdkappid", "secret_key"} and rotated["sdkappid"] == app.sdkappid
    new_key = rotated["secret_key"]
    assert isinstance(new_key, str) and HEX64.fullmatch(new_key) and new_key != app.secret_key
    # Both keys sign tickets the running server takes.
    for key in (app.secret_key, new_key):
        with server.http(App(app.sdkappid, key, app.admin), "alice") as http:
            assert http.get("/v1/conversations").status_code == 200
    retired = cli_json(server, "app", "rotate-key", sdkappid, "--retire-old")
    assert retired == {"sdkappid": app.sdkappid, "retired": 1}
    again = cli_json(server, "app", "rotate-key", sdkappid, "--retire-old")
    assert again == {"sdkappid": app.sdkappid, "retired": 0}  # the newest key always stays
    keys = cli_json(server, "app", "show", sdkappid)["keys"]
    assert [(k["secret_key"], k["retired_at"] is None) for k in keys] == [  # type: ignore[attr-defined]
        (app.secret_key, False), (new_key, True)]


async def test_usersig_command_signs_tickets_the_server_accepts(server: Server,
                                                                 app: App) -> None:
    ticket = server.cli("usersig", "--sdkappid", str(app.sdkappid), "--user", "carol",
                        process=True).stdout.strip()
    claims = usersig.parse(ticket)
    assert (claims.identifier, claims.sdkappid) == ("carol", app.sdkappid)
    assert claims.expire == 180 * 86400
    usersig.verify(claims, [app.secret_key])
    headers = {"Authorization": f"Bearer {ticket}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as http:
        sent = await http.post("/v1/messages", json={
            "conversation_id": "c2c_dave", "client_msg_id": "c-1",
            "elements": [{"type": "text", "text": "signed by the CLI"}]})
    assert sent.status_code == 200, sent.text
    with server.http(app, "dave") as http:
        [msg] = http.get("/v1/conversations/c2c_carol/messages").json()["messages"]
    assert msg["sender"] == "carol"
    conn = await Conn.open(server)
    login = await conn.request("login", {"sdkappid": app.sdkappid, "user_id": "carol",
                                         "usersig": ticket})
    assert login["ok"], login
    await conn.close()
    short = server.cli("usersig", "--sdkappid", str(app.sdkappid), "--user", "用户",
                       "--expire", "60", process=True).stdout.strip()
    claims = usersig.parse(short)
    assert claims.expire == 60 and claims.identifier == "用户"


def test_bad_cli_input_is_refused_clearly(tmp_path: Path) -> None:
    """Refusals happen before anything is written (no server needed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env["TIDINGS_DATA_DIR"] = str(tmp_path / "data")
    cases: list[tuple[tuple[str, ...], str]] = [
        (("app", "create", "--name", ""), "--name"),
        (("app", "create", "--name", "n" * 65), "--name"),
        (("app", "create", "--name", "Ok", "--icon-url", "u" * 513), "--icon-url"),
        (("app", "create", "--name", "Ok", "--icon-url", "http://shop.example/i.png"),
         "--icon-url: icon_url: an https URL"),
        (("app", "create", "--name", "   "), "--name: name: 1 to 64 characters"),
        (("app", "create", "--name", "Ok", "--admin", "x" * 33), "--admin"),
        (("app", "create", "--name", "Ok", "--admin", " boss"), "--admin"),
        (("usersig", "--sdkappid", "1400000000", "--user", ""), "--user"),
        (("usersig", "--sdkappid", "1400000000", "--user", "é" * 17), "--user"),
        (("usersig", "--sdkappid", "1400000000", "--user", "u", "--expire", "0"), "--expire"),
        (("app", "rotate-key", "not-a-number"), "Invalid value for 'sdkappid'"),
        (("app", "create"), "--name"),
    ]

    def run(args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        return run_cli(env, *args, check=False)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, [args for args, _ in cases]))
    for (args, mention), result in zip(cases, results, strict=True):
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert mention in result.stderr, (args, result.stderr)
        assert result.stdout == "", (args, result.stdout)
    # Nothing was created by any of them.
    assert json.loads(run_cli(env, "app", "list").stdout) == []

"""The TypeScript SDK (clients/typescript) in Node: its tests (node --test)
check the heartbeat watchdog and the healing of a gap against a scripted
server, then, against a real ``tidings serve``, send and receive one-to-one
and in groups, page history, read, recall, edit, react, upload and download,
use friends, blocks, search, profiles, hosted accounts, links, join
applications and push registration, refuse bad input with clear errors, and
resync exactly after the server is killed (kill -9) and restarted under a
sending client. This test builds the package when needed, starts the server
and an app, and hands them to node through the environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.clients.control import control_server
from tests.clients.node import NODE, NPM, PACKAGE, ensure_ready
from tests.support import Server

pytestmark = pytest.mark.skipif(NODE is None or NPM is None, reason="Node.js is not installed")

# The Node tests, by name: each must have run and passed (a file that fails
# to load, or a test renamed without this list, fails here).
NODE_TESTS = (
    "a silent server is left and the client reconnects; pings are answered",
    "a gap in the live stream: the client resyncs and hands over each message once, in order",
    "entries that cross wait for the one missing; a gap still open after gapWait resyncs",
    "several URLs: a drop moves to the next, a refused one is passed over, a resync stays",
    "hosted accounts on several base URLs: a call no process answers goes through the next",
    "the seq tracker: an own ack past a gap waits until the gap closes",
    "an expired ticket is replaced once through getUserSig; one refused again fails the connect",
    "known stores: the in-memory one keeps copies; the Web Storage one reads back only a valid map",
    "one-to-one: each side gets the other's messages once, in order",
    "a group: the creator's messages reach every member once",
    "history pages back, oldest first; read and the conversation list",
    "a list answer read before live events keeps them: a message, its unread count, a read, a pin",
    "a read state older than the cursor held changes nothing (markRead's answer, overtaken)",
    "a hide that came while the list was asked for stays undone by a newer message the answer has",
    "a conversation not held: a message shows it at once, then its state comes from the server",
    "beyond the list's limit: a message brings the conversation with the server's unread count",
    "recall, edit and reactions reach the peer as changes and events",
    "bad input: clear errors before sending, stable codes from the server",
    "a refused ticket: a bad one fails the connect with its code; an expired one is refreshed",
    "a client resumed from its saved known map gets what it missed, changes included, once",
    "a page reloaded with a known store resumes where it stood: what it missed once, nothing again",
    "a member added later catches up from the join, not before it",
    "an upload in parts reports its progress; the peer downloads the same bytes",
    "an upload whose connection breaks goes on from where the server stands",
    "friends and blocks, typing and settings from another device",
    "a hosted account registers, signs in, chats and signs out",
    "a hosted account links an app identity, chats as it, asks by id, and unlinks",
    "join applications: apply, the owner's event, approve, then a member",
    "push: a Web Push subscription registers, lists and unregisters; a bad key is refused",
    "kill -9 and restart under a sending client: nothing acked lost, nothing twice",
)


@pytest.mark.process_server("kill -9 under a sending client: only a process can be killed")
def test_the_node_tests_of_the_typescript_sdk_pass_against_a_real_server(
        make_server: object, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the SDK's behaviour does not depend on the store; once is enough")
    ensure_ready()
    server: Server = make_server()  # type: ignore[operator]
    app = server.create_app()
    with control_server(server, app) as control:
        env = dict(os.environ, TIDINGS_WS_URL=server.ws_url,
                   TIDINGS_SDKAPPID=str(app.sdkappid), TIDINGS_CONTROL=control)
        result = subprocess.run(
            [str(NODE), "--test", "--test-concurrency=1", "--test-timeout=90000",
             "--test-reporter=tap", "test/offline.test.mjs", "test/chat.test.mjs",
             "test/features.test.mjs", "test/resync.test.mjs"],
            cwd=PACKAGE, env=env, capture_output=True, text=True, timeout=110)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    passed = set(re.findall(r"^\s*ok \d+ - (.+?)\s*$", out, re.M))
    assert set(NODE_TESTS) <= passed, out[-6000:]
    assert not re.search(r"^\s*not ok", out, re.M), out[-6000:]


def test_node_imports_the_packed_package_by_its_name(tmp_path: Path) -> None:
    """What ``npm pack`` makes (what a registry would serve) installs with no
    dependency and imports by name in Node, with its types beside it."""
    ensure_ready()
    packed = subprocess.run([str(NPM), "pack", "--pack-destination", str(tmp_path), "--json"],
                            cwd=PACKAGE, capture_output=True, text=True, timeout=120, check=True)
    tarball = tmp_path / json.loads(packed.stdout)[0]["filename"]
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name": "app", "private": true, "type": "module"}')
    subprocess.run([str(NPM), "install", "--offline", "--no-audit", "--no-fund", str(tarball)],
                   cwd=app, capture_output=True, text=True, timeout=120, check=True)
    installed = app / "node_modules"
    assert sorted(p.name for p in installed.iterdir() if not p.name.startswith(".")) == [
        "tidings-client"]
    assert (installed / "tidings-client" / "dist" / "index.d.ts").exists()
    script = ("import { Client, ErrorCodes, InvalidArgumentError } from 'tidings-client';"
              "try { new Client({ url: 'http://x', sdkappid: 1, userId: 'a', userSig: 's' }); }"
              "catch (e) { console.log(e instanceof InvalidArgumentError, "
              "ErrorCodes.group_muted); }")
    ran = subprocess.run([str(NODE), "--input-type=module", "-e", script], cwd=app,
                         capture_output=True, text=True, timeout=60)
    assert ran.stdout.strip() == "true 10017", ran.stderr
    # A TypeScript app (strict, Node's module resolution) gets the protocol's
    # types through the package's "types" export, with its field names.
    (app / "main.ts").write_text(
        'import { Client, type MessageView, type Ops } from "tidings-client";\n'
        "export function wire(c: Client): Promise<Ops['send']['reply']> {\n"
        "  c.on('message', (m: MessageView) => console.log(m.conversation_id, m.seq));\n"
        "  // @ts-expect-error: the wire objects keep the protocol's names\n"
        "  c.on('message', (m) => console.log(m.conversationId));\n"
        "  return c.sendText('c2c_bob', 'hi');\n"
        "}\n")
    tsc = PACKAGE / "node_modules" / "typescript" / "bin" / "tsc"
    checked = subprocess.run(
        [str(NODE), str(tsc), "--noEmit", "--strict", "--module", "nodenext",
         "--moduleResolution", "nodenext", "--target", "es2022", "--lib", "es2022,dom",
         "main.ts"], cwd=app, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr

"""A small HTTP server beside the server under test, for code that is not
Python (the TypeScript SDK's Node tests, a browser page): it signs UserSigs
as an app's server would (``GET /usersig?user=U[&expire=S]``) and link
tickets for its users (``GET /linkticket?user=U``), kills, drains and
restarts the Tidings process (``POST /kill9``, ``POST /drain``: SIGTERM,
answered once it exited, ``POST /start``; ``?node=I`` picks one of a
cluster's processes), and serves the files it is given (the SDK's bundle,
a page) on the same origin."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.support import App, Server
from tidings.sdk import sign_link_ticket

_TYPES = {".js": "text/javascript", ".html": "text/html", ".mjs": "text/javascript"}


@contextmanager
def control_server(server: Server | Sequence[Server], app: App,
                   files: Mapping[str, Path | bytes] | None = None) -> Iterator[str]:
    served = dict(files or {})
    servers = [server] if isinstance(server, Server) else list(server)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test's output is the node runner's

        def _answer(self, status: int, body: bytes, kind: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/usersig":
                query = parse_qs(url.query)
                user = query.get("user", [""])[0]
                expire = int(query.get("expire", ["86400"])[0])
                self._answer(200, app.sig(user, expire).encode())
                return
            if url.path == "/linkticket":
                user = parse_qs(url.query).get("user", [""])[0]
                self._answer(200, sign_link_ticket(app.sdkappid, app.secret_key, user).encode())
                return
            found = served.get(url.path)
            if found is None:
                self._answer(404, b"not found")
                return
            body = found if isinstance(found, bytes) else found.read_bytes()
            self._answer(200, body, _TYPES.get(Path(url.path).suffix, "application/octet-stream"))

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            action = url.path
            target = servers[int(parse_qs(url.query).get("node", ["0"])[0])]
            try:
                if action == "/kill9":
                    target.kill9()
                elif action == "/drain":
                    target.stop()
                elif action == "/start":
                    target.start()
                else:
                    self._answer(404, b"not found")
                    return
            except AssertionError as exc:
                self._answer(500, str(exc).encode())
                return
            self._answer(200, b"done")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, name="control-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)

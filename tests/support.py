"""What the tests drive: a real ``tidings serve`` process and raw clients."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets
from TLSSigAPIv2 import TLSSigAPIv2

from tests.pg import free_port

CHEAP_ARGON2 = {"TIDINGS_HOME_ARGON2_TIME_COST": "1", "TIDINGS_HOME_ARGON2_MEMORY_KIB": "1024",
                "TIDINGS_HOME_ARGON2_PARALLELISM": "1"}


def run_cli(env: Mapping[str, str], *args: str, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "tidings", *args], env=dict(env),
                            capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"tidings {' '.join(args)} failed: {result.stderr}")
    return result


@dataclass
class App:
    sdkappid: int
    secret_key: str
    admin: str

    def sig(self, user_id: str, expire: int = 86400) -> str:
        """A ticket made by Tencent's own library, as an app server would."""
        return str(TLSSigAPIv2(self.sdkappid, self.secret_key).gen_sig(user_id, expire))


@dataclass
class Server:
    data_dir: Path
    database_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"TIDINGS_DATA_DIR": str(self.data_dir), "TIDINGS_PORT": str(self.port),
                    "TIDINGS_HOST": "127.0.0.1", "TIDINGS_LOG_LEVEL": "warning"})
        # Cheap password hashing: argon2id with its real parameters (64 MiB,
        # 3 passes, 4 lanes) takes both CPUs for a good part of a second per
        # sign-in, which slowed every other test running beside and made the
        # suite's timing-sensitive tests fail. The test of the unknown-user
        # timing, which needs the real cost, sets it back.
        env.update(CHEAP_ARGON2)
        if self.database_url:
            env["TIDINGS_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen([sys.executable, "-m", "tidings", "serve"],
                                        env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90  # a loaded 2-core machine starts slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.process.kill()  # leave no orphan behind
        self.process.wait()
        raise AssertionError(f"server did not come up: {self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def log_tail(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli(self.env, *args, check=check)

    async def sql(self, query: str, **params: Any) -> Any:
        """The first column of the first row of a read-only query against
        the server's database (to count stored rows)."""
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        url = self.database_url or (
            f"sqlite+aiosqlite:///{(self.data_dir / 'tidings.db').resolve()}")
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text(query), params)).scalar()
        finally:
            await engine.dispose()

    def create_app(self, name: str = "ShopX") -> App:
        doc = json.loads(self.cli("app", "create", "--name", name).stdout)
        return App(doc["sdkappid"], doc["secret_key"], doc["admin"])

    def home_app(self) -> App:
        """The built-in home app, with a live key read through the CLI (as
        the server itself signs its hosted accounts' tickets)."""
        sdkappid = httpx.get(f"{self.base_url}/v1/home", timeout=10).json()["sdkappid"]
        doc = json.loads(self.cli("app", "show", str(sdkappid)).stdout)
        key = next(k["secret_key"] for k in doc["keys"] if k["retired_at"] is None)
        return App(sdkappid, key, doc["admins"][0])

    def http(self, app: App | None = None, user: str | None = None) -> httpx.Client:
        headers = {}
        if app is not None and user is not None:
            headers["Authorization"] = f"Bearer {app.sig(user)}"
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)


def error_of(reply: httpx.Response) -> tuple[int, int]:
    """The HTTP status and the Tidings code of an error answer (checked to
    have the documented shape)."""
    body = reply.json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"] and body["error"]["name"]
    return reply.status_code, body["error"]["code"]


class Conn:
    """A raw protocol client: requests matched by id, events kept in order."""

    _ids = itertools.count(1)

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._waiting: dict[object, asyncio.Future[dict[str, Any]]] = {}
        self.orphans: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())
        self.closed: asyncio.Future[tuple[int | None, str]] = (
            asyncio.get_running_loop().create_future())

    @classmethod
    async def open(cls, server: Server) -> Conn:
        return cls(await websockets.connect(server.ws_url, max_size=2**22))

    @classmethod
    async def login(cls, server: Server, app: App, user: str, *, sync: bool = True,
                    known: dict[str, int] | None = None) -> Conn:
        conn = await cls.open(server)
        reply = await conn.request("login", {"sdkappid": app.sdkappid, "user_id": user,
                                             "usersig": app.sig(user)})
        assert reply["ok"], reply
        if sync:
            synced = await conn.request("sync", {"known": known or {}})
            assert synced["ok"], synced
            conn.last_sync = synced["data"]
        return conn

    last_sync: dict[str, Any] = {}  # noqa: RUF012 - set per connection by login()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                doc = orjson.loads(raw)
                if "event" in doc:
                    await self.events.put(doc)
                elif doc.get("re") in self._waiting:
                    self._waiting.pop(doc["re"]).set_result(doc)
                else:
                    self.orphans.append(doc)
        except websockets.ConnectionClosed:
            pass
        finally:
            rcvd = self.ws.protocol.close_rcvd
            if not self.closed.done():
                self.closed.set_result((rcvd.code if rcvd else None,
                                        rcvd.reason if rcvd else ""))

    async def send_raw(self, raw: str | bytes) -> None:
        await self.ws.send(raw)

    async def request(self, op: str, data: dict[str, Any] | None = None,
                      timeout: float = 10) -> dict[str, Any]:  # noqa: ASYNC109
        req_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[req_id] = future
        frame: dict[str, Any] = {"op": op, "id": req_id}
        if data is not None:
            frame["data"] = data
        await self.ws.send(orjson.dumps(frame).decode())
        return await asyncio.wait_for(future, timeout)

    async def send_text(self, conversation_id: str, text: str,
                        client_msg_id: str | None = None) -> dict[str, Any]:
        return await self.request("send", {
            "conversation_id": conversation_id,
            "client_msg_id": client_msg_id or uuid.uuid4().hex,
            "elements": [{"type": "text", "text": text}],
        })

    async def event(self, name: str = "message",
                    timeout: float = 5) -> dict[str, Any]:  # noqa: ASYNC109
        """The next event of that name (pings and others in between are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            doc = await asyncio.wait_for(self.events.get(), max(left, 0.001))
            if doc["event"] == name:
                return doc["data"]  # type: ignore[no-any-return]

    async def no_event(self, name: str = "message", wait: float = 0.3) -> None:
        """Assert that no such event arrives within ``wait`` seconds."""
        try:
            got = await self.event(name, wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected {name} event: {got}")

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()

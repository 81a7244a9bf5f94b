"""The SDK's media helpers against a real server: send an image, a sound and
a file, read them back by signed URL over the socket op, and a large upload
in parts that goes on after the connection breaks (a proxy cuts it once)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from tests import media_files
from tests.pg import free_port
from tests.sdk.test_changes import FAST, names
from tests.support import App, Server
from tidings.sdk import Client, ErrorCode, TidingsError


@pytest.fixture(scope="module")
def sdk_app(shared_server: Server) -> App:
    return shared_server.create_app("SdkMedia")


def client(url: str, app: App, user: str) -> Client:
    return Client(url, app.sdkappid, user, app.sig(user), **FAST)


async def test_send_and_read_media(server: Server, sdk_app: App, tmp_path: Any) -> None:
    a, b, c = names("alice", "bob", "carol")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(media_files.jpeg(640, 480))
    async with client(server.ws_url, sdk_app, a) as alice, \
            client(server.ws_url, sdk_app, b) as bob, client(server.ws_url, sdk_app, c) as carol:
        await alice.send_image(f"c2c_{b}", photo)
        await alice.send_sound(f"c2c_{b}", media_files.wav(0.5))
        await alice.send_file(f"c2c_{b}", media_files.SCRIPT, name="notes.html")
        got = [await asyncio.wait_for(bob.next_message(), 10) for _ in range(3)]
        image, sound, file = (m.elements[0] for m in got)
        assert image["type"] == "image" and image["variants"][0]["width"] == 640
        assert sound["type"] == "sound" and sound["duration"] == 0.5
        assert file["type"] == "file" and file["name"] == "notes.html"
        assert await bob.download(image["media_id"]) == (
            await alice.download(image["media_id"]))
        assert await bob.download(file["media_id"]) == media_files.SCRIPT
        info = await bob.media_info(sound["media_id"])
        assert info["kind"] == "sound" and info["mime"] == "audio/wav"
        with pytest.raises(TidingsError) as refused:
            await carol.media_url(image["media_id"])
        assert refused.value.code == ErrorCode.MEDIA_FORBIDDEN
        with pytest.raises(TidingsError) as wrong:
            await alice.upload(media_files.SCRIPT, kind="image")
        assert wrong.value.code == ErrorCode.MEDIA_TYPE_MISMATCH


class CuttingProxy:
    """Forwards TCP to the server; the first HTTP (not WebSocket) connection
    that carries more than ``cut_after`` bytes is cut there, once."""

    def __init__(self, target_port: int, cut_after: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.cut_after = cut_after
        self.cuts = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       watch: bool) -> None:
            sent, plain = 0, None
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    if watch:
                        if plain is None:
                            plain = b"upgrade: websocket" not in data.lower()
                        sent += len(data)
                        if plain and self.cuts == 0 and sent > self.cut_after:
                            self.cuts += 1
                            dst.write(data[:len(data) - (sent - self.cut_after)])
                            await dst.drain()
                            writer.transport.abort()
                            up_w.transport.abort()
                            return
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_w, True), pipe(up_r, writer, False))


async def test_large_upload_goes_on_after_a_broken_connection(server: Server,
                                                              sdk_app: App) -> None:
    a, b = names("alice", "bob")
    data = media_files.wav(40.0)  # ~640 kB, in parts of 128 kB
    proxy = CuttingProxy(server.port, cut_after=300_000)
    await proxy.start()
    try:
        url = f"ws://127.0.0.1:{proxy.port}/v1/ws"
        async with client(url, sdk_app, a) as alice, client(server.ws_url, sdk_app, b) as bob:
            done = await alice.upload(data, name="long.wav", part_bytes=128 * 1024)
            assert proxy.cuts == 1
            assert done["size"] == len(data) and done["duration"] == 40.0
            await alice.send(f"c2c_{b}", [done["element"]])
            message = await asyncio.wait_for(bob.next_message(), 10)
            assert await bob.download(message.elements[0]["media_id"]) == data
    finally:
        await proxy.stop()

"""Collection of media that nothing carries any more, and uploads without
ffmpeg/ffprobe: on a server with a short grace period, a fast collector, and the
ffmpeg paths pointing to missing binaries."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests import media_files
from tests.support import Server, error_of

# Sniffs as MP4 (an ``ftyp`` box); only ffprobe could tell it is no real video.
FAKE_MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 400


def _gone(http: httpx.Client, media_id: str, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if http.get(f"/v1/media/{media_id}/info").status_code == 404:
            return True
        time.sleep(0.2)
    return False


def test_unreferenced_recalled_and_abandoned_media_are_collected(
        make_server: Callable[..., Server], users: Callable[[str], str]) -> None:
    # A grace period short enough to wait out, long enough for an upload to
    # be sent before it passes (the grace is what keeps a fresh upload).
    server = make_server(media_grace="5", media_gc_interval="0.3", media_upload_ttl="1",
                         ffmpeg_path="/nonexistent/ffmpeg", ffprobe_path="/nonexistent/ffprobe")
    app = server.create_app()
    alice, bob = users("alice"), users("bob")
    with server.http(app, alice) as a:
        def up(data: bytes, **params: Any) -> dict[str, Any]:
            reply = a.post("/v1/media", content=data, params=params)
            assert reply.status_code == 200, reply.text
            return dict(reply.json())

        def send(element: dict[str, Any], tag: str) -> int:
            reply = a.post("/v1/messages", json={"conversation_id": f"c2c_{bob}",
                                                 "client_msg_id": tag, "elements": [element]})
            assert reply.status_code == 200, reply.text
            return int(reply.json()["seq"])

        kept_bytes, lost_bytes = media_files.wav(0.3), media_files.wav(0.4)
        # Sent at once: carried, so never collected.
        kept = up(kept_bytes)
        send(kept["element"], "kept")
        recalled = up(media_files.png(41, 31))
        seq = send(recalled["element"], "recalled")
        lost = up(lost_bytes)
        unfinished = a.post("/v1/uploads", json={"size": 1000}).json()["upload_id"]

        assert _gone(a, lost["media_id"])
        assert error_of(a.get(f"/v1/media/{lost['media_id']}/url")) == (404, 95003)
        assert a.get(f"/v1/media/{recalled['media_id']}/info").status_code == 200
        assert a.post(f"/v1/conversations/c2c_{bob}/messages/{seq}/recall").status_code == 200
        assert _gone(a, recalled["media_id"])
        deadline = time.monotonic() + 20
        while a.get(f"/v1/uploads/{unfinished}").status_code != 404:
            assert time.monotonic() < deadline, "the abandoned upload was not collected"
            time.sleep(0.2)
        # The carried upload stays readable, its blob too; the lost one's blob is gone.
        time.sleep(1)
        assert a.get(f"/v1/media/{kept['media_id']}/info").status_code == 200
        url = a.get(f"/v1/media/{kept['media_id']}/url").json()["url"]
        assert httpx.get(server.base_url + url).content == kept_bytes
        blobs = server.data_dir / "media"
        assert list(blobs.rglob(hashlib.sha256(kept_bytes).hexdigest()))
        assert not list(blobs.rglob(hashlib.sha256(lost_bytes).hexdigest()))
        assert not list((server.data_dir / "uploads").glob(f"{unfinished}*"))


def test_video_without_ffmpeg_has_no_poster(make_server: Callable[..., Server],
                                            users: Callable[[str], str]) -> None:
    server = make_server(ffmpeg_path="/nonexistent/ffmpeg", ffprobe_path="/nonexistent/ffprobe")
    app = server.create_app()
    with server.http(app, users("alice")) as a:
        reply = a.post("/v1/media", content=FAKE_MP4, params={"duration": 3.5})
        assert reply.status_code == 200, reply.text
        doc = reply.json()
        assert (doc["kind"], doc["duration"], doc["variants"]) == ("video", 3.5, {})
        assert "poster_url" not in doc["element"] or doc["element"]["poster_url"] == ""
        assert error_of(a.get(f"/v1/media/{doc['media_id']}/url",
                              params={"variant": "poster"})) == (404, 95003)

"""The S3-compatible media backend, against a real S3 API on 127.0.0.1 (moto
in server mode, started here): the same uploads and downloads as on disk."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests import media_files
from tests.pg import free_port
from tests.support import Server, error_of


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError("the S3 test server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_uploads_and_downloads_through_s3(make_server: Callable[..., Server], s3_url: str,
                                          users: Callable[[str], str]) -> None:
    import boto3

    bucket = f"tidings-{users('b').lower()}"[:63]
    server = make_server(media_backend="s3", s3_endpoint_url=s3_url, s3_bucket=bucket,
                         s3_access_key="test", s3_secret_key="test", s3_prefix="m/")
    app = server.create_app()
    alice, bob = users("alice"), users("bob")
    image, sound = media_files.jpeg(800, 600), media_files.wav(0.5)
    with server.http(app, alice) as a, server.http(app, bob) as b:
        doc = a.post("/v1/media", content=image, params={"name": "p.jpg"}).json()
        assert doc["kind"] == "image" and set(doc["variants"]) == {"thumb"}
        snd = a.post("/v1/media", content=sound).json()
        reply = a.post("/v1/messages", json={
            "conversation_id": f"c2c_{bob}", "client_msg_id": "s3-1",
            "elements": [doc["element"], snd["element"]]})
        assert reply.status_code == 200, reply.text
        url = b.get(f"/v1/media/{doc['media_id']}/url").json()["url"]
        got = httpx.get(server.base_url + url)
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        assert len(got.content) == doc["size"]
        url = b.get(f"/v1/media/{snd['media_id']}/url").json()["url"]
        part = httpx.get(server.base_url + url, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == sound[10:20]
        with server.http(app, users("carol")) as c:
            assert error_of(c.get(f"/v1/media/{snd['media_id']}/url")) == (403, 95009)
    # Stored in the bucket by content hash, nothing on local disk.
    s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert f"m/{hashlib.sha256(sound).hexdigest()}" in keys
    assert len(keys) == 3  # the image (location stripped), its thumbnail, the sound
    assert not (server.data_dir / "media").exists()

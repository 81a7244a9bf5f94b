"""Media over REST, end to end with real files: uploads (whole and in parts,
resumed after a broken connection), types from the bytes, image versions and
location stripping, limits, signed expiring downloads for members only,
ranges, the elements that messages carry (native and Tencent), recall."""

from __future__ import annotations

import hashlib
import io
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image

from tests import media_files
from tests.api.test_tencent_v4 import v4
from tests.support import App, Server, error_of
from tidings.domain.media import url_signature


def upload(http: httpx.Client, data: bytes, **params: Any) -> httpx.Response:
    return http.post("/v1/media", content=data, params=params)


def stored(http: httpx.Client, data: bytes, **params: Any) -> dict[str, Any]:
    reply = upload(http, data, **params)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def download(server: Server, http: httpx.Client, media_id: str, variant: str = "original",
             headers: dict[str, str] | None = None) -> httpx.Response:
    url = http.get(f"/v1/media/{media_id}/url", params={"variant": variant})
    assert url.status_code == 200, url.text
    # A signed URL works without any credentials.
    return httpx.get(server.base_url + url.json()["url"], headers=headers or {}, timeout=10)


def send(http: httpx.Client, to: str, element: dict[str, Any], tag: str) -> dict[str, Any]:
    reply = http.post("/v1/messages", json={"conversation_id": f"c2c_{to}",
                                            "client_msg_id": tag, "elements": [element]})
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def test_jpeg_upload_versions_location_and_member_download(
        server: Server, shared_app: App, users: Callable[[str], str]) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    original = media_files.jpeg()
    with server.http(shared_app, alice) as a, server.http(shared_app, bob) as b, \
            server.http(shared_app, carol) as c:
        doc = stored(a, original, name="holiday.jpg")
        assert (doc["kind"], doc["mime"], doc["format"]) == ("image", "image/jpeg", "jpg")
        assert (doc["width"], doc["height"]) == (1600, 1200)
        assert set(doc["variants"]) == {"large", "thumb"}
        assert max(doc["variants"]["large"]["width"], doc["variants"]["large"]["height"]) == 1280
        assert max(doc["variants"]["thumb"]["width"], doc["variants"]["thumb"]["height"]) == 256
        element = doc["element"]
        assert element["type"] == "image" and element["media_id"] == doc["media_id"]
        assert [v["kind"] for v in element["variants"]] == ["original", "large", "thumb"]

        # The uploader reads it; the location is gone, the rest of EXIF stays.
        got = download(server, a, doc["media_id"])
        assert got.status_code == 200
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-disposition"].startswith("inline")
        assert len(got.content) == doc["size"]
        exif = Image.open(io.BytesIO(got.content)).getexif()
        assert media_files.GPS_IFD not in exif and exif[0x010F] == "TidingsCam"

        # Bob is nobody's member yet: refused. Once a message carries it, he reads it.
        assert error_of(b.get(f"/v1/media/{doc['media_id']}/url")) == (403, 95009)
        ack = send(a, bob, element, f"img-{alice}")
        thumb = download(server, b, doc["media_id"], "thumb")
        assert thumb.status_code == 200
        assert Image.open(io.BytesIO(thumb.content)).size == (
            doc["variants"]["thumb"]["width"], doc["variants"]["thumb"]["height"])
        # The message carries what the upload returned, in history too.
        history = b.get(f"/v1/conversations/c2c_{alice}/messages").json()["messages"]
        assert history[-1]["elements"][0] == element
        # Carol, not in the conversation, may not read it, nor send it on.
        assert error_of(c.get(f"/v1/media/{doc['media_id']}/url")) == (403, 95009)
        reply = c.post("/v1/messages", json={"conversation_id": f"c2c_{alice}",
                                             "client_msg_id": f"steal-{carol}",
                                             "elements": [element]})
        assert error_of(reply) == (403, 95009)
        # Bob may forward it (he can read it), and then Carol can read it.
        send(b, carol, element, f"fwd-{bob}")
        assert download(server, c, doc["media_id"]).status_code == 200

        # Recalled: the conversation no longer carries it.
        recall = a.post(f"/v1/conversations/c2c_{bob}/messages/{ack['seq']}/recall")
        assert recall.status_code == 200, recall.text
        with server.http(shared_app, users("dave")) as d:
            assert error_of(d.get(f"/v1/media/{doc['media_id']}/url")) == (403, 95009)


def test_client_claims_are_replaced_by_what_was_stored(
        server: Server, shared_app: App, users: Callable[[str], str]) -> None:
    alice, bob = users("alice"), users("bob")
    with server.http(shared_app, alice) as a:
        doc = stored(a, media_files.png(), name="dot.png")
        assert "large" not in doc["variants"]
        lying = {"type": "image", "media_id": doc["media_id"], "format": "gif",
                 "variants": [{"kind": "original", "url": "https://evil.example/x.png",
                               "width": 9999, "height": 1, "size": 1}]}
        send(a, bob, lying, f"lie-{alice}")
        sent = a.get(f"/v1/conversations/c2c_{bob}/messages").json()["messages"][-1]
        assert sent["elements"][0] == doc["element"]
        # A sound element cannot carry an image upload.
        reply = a.post("/v1/messages", json={
            "conversation_id": f"c2c_{bob}", "client_msg_id": f"wrong-{alice}",
            "elements": [{"type": "sound", "media_id": doc["media_id"], "url": "x"}]})
        assert error_of(reply) == (400, 90002)
        # Elements by plain URL (no upload) pass as they are.
        plain = {"type": "image", "media_id": "", "format": "jpg",
                 "variants": [{"kind": "original", "url": "https://cdn.example/a.jpg",
                               "width": 10, "height": 10, "size": 100}]}
        send(a, bob, plain, f"plain-{alice}")
        sent = a.get(f"/v1/conversations/c2c_{bob}/messages").json()["messages"][-1]
        assert sent["elements"][0]["variants"][0]["url"] == "https://cdn.example/a.jpg"
        # An unknown upload id is refused.
        reply = a.post("/v1/messages", json={
            "conversation_id": f"c2c_{bob}", "client_msg_id": f"unknown-{alice}",
            "elements": [{"type": "file", "media_id": "mNoSuchUpload", "url": "x"}]})
        assert error_of(reply) == (404, 95003)


def test_script_named_jpg_is_refused_as_image_and_served_as_attachment(
        server: Server, shared_app: App, users: Callable[[str], str]) -> None:
    alice = users("alice")
    with server.http(shared_app, alice) as a:
        assert error_of(upload(a, media_files.SCRIPT, name="cat.jpg", kind="image")) == (
            415, 95002)
        doc = stored(a, media_files.SCRIPT, name="cat.jpg")
        assert (doc["kind"], doc["mime"]) == ("file", "application/octet-stream")
        assert doc["element"]["type"] == "file" and doc["element"]["name"] == "cat.jpg"
        got = download(server, a, doc["media_id"])
        assert got.status_code == 200 and got.content == media_files.SCRIPT
        assert got.headers["content-type"] == "application/octet-stream"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-disposition"].startswith("attachment;")
        assert "sandbox" in got.headers["content-security-policy"]
        # A real image asked for as a file stays a file (an attachment).
        as_file = stored(a, media_files.png(), kind="file", name="pic.png")
        assert as_file["kind"] == "file" and as_file["variants"] == {}
        got = download(server, a, as_file["media_id"])
        assert got.headers["content-disposition"].startswith("attachment;")
        # Not decodable although it starts like a JPEG.
        broken = b"\xff\xd8\xff\xe0" + b"\x00" * 200
        assert error_of(upload(a, broken, kind="image")) == (415, 95002)


def test_app_limits_size_and_kinds(server: Server, app: App, users: Callable[[str], str]
                                   ) -> None:
    alice = users("alice")
    with server.http(app, app.admin) as admin, server.http(app, alice) as a:
        assert admin.get("/v1/admin/media/settings").json() == {
            "max_bytes": 100 * 1024 * 1024, "kinds": ["file", "image", "sound", "video"],
            "keep_location": False}
        assert error_of(a.get("/v1/admin/media/settings"))[0] == 403
        bad = admin.put("/v1/admin/media/settings", json={"kinds": ["pictures"]})
        assert error_of(bad) == (400, 10002)
        assert error_of(admin.put("/v1/admin/media/settings", json={"max_bytes": 5}))[1] == 10002
        done = admin.put("/v1/admin/media/settings",
                         json={"max_bytes": 4096, "kinds": ["image", "sound"]})
        assert done.json() == {"max_bytes": 4096, "kinds": ["image", "sound"],
                               "keep_location": False}
        # Over the limit: refused from Content-Length, before the bytes.
        assert error_of(upload(a, b"\x89PNG\r\n\x1a\n" + b"0" * 5000)) == (413, 95001)
        # Over the limit without a Content-Length (chunked): refused while reading.
        chunks = iter([b"x" * 3000, b"x" * 3000])
        assert error_of(a.post("/v1/media", content=chunks)) == (413, 95001)
        assert error_of(a.post("/v1/uploads", json={"size": 5000})) == (413, 95001)
        # A kind the app does not take.
        assert error_of(upload(a, media_files.SCRIPT)) == (415, 95000)
        assert stored(a, media_files.png())["kind"] == "image"
        assert error_of(a.post("/v1/uploads", json={"size": 10, "kind": "video"})) == (
            415, 95000)


def test_keep_location_setting(server: Server, app: App, users: Callable[[str], str]) -> None:
    with server.http(app, app.admin) as admin, server.http(app, users("alice")) as a:
        admin.put("/v1/admin/media/settings", json={"keep_location": True})
        doc = stored(a, media_files.jpeg(400, 300))
        got = download(server, a, doc["media_id"])
        assert media_files.GPS_IFD in Image.open(io.BytesIO(got.content)).getexif()


def test_signed_urls_expire_and_cannot_be_forged(
        server: Server, shared_app: App, users: Callable[[str], str]) -> None:
    alice = users("alice")
    with server.http(shared_app, alice) as a:
        doc = stored(a, media_files.png())
        url = a.get(f"/v1/media/{doc['media_id']}/url").json()["url"]
        query = parse_qs(urlsplit(url).query)
        path = urlsplit(url).path
        # Another variant or another time with the same signature: refused.
        for change in ({"variant": "thumb"}, {"expires": str(int(query["expires"][0]) + 9)}):
            params = {k: v[0] for k, v in query.items()} | change
            assert error_of(httpx.get(server.base_url + path, params=params)) == (403, 95005)
        # Signed with the server's own key, but past its time.
        key = (server.data_dir / "media-url.key").read_text().strip().encode()
        past = int(time.time()) - 5
        params = {"variant": "original", "expires": str(past),
                  "sig": url_signature(key, doc["media_id"], "original", past)}
        assert error_of(httpx.get(server.base_url + path, params=params)) == (403, 95004)
        # No signature at all.
        assert error_of(httpx.get(server.base_url + path))[0] == 400
        # The lasting URL a message carries redirects a reader to a signed one.
        moved = a.get(doc["url"], follow_redirects=False)
        assert moved.status_code == 307 and "/content?" in moved.headers["location"]
        assert error_of(httpx.get(server.base_url + doc["url"])) == (401, 70002)


def test_other_apps_media_is_unknown(server: Server, shared_app: App, other_app: App,
                                     users: Callable[[str], str]) -> None:
    alice, mallory = users("alice"), users("mallory")
    with server.http(shared_app, alice) as a, server.http(other_app, mallory) as m:
        doc = stored(a, media_files.png())
        assert error_of(m.get(f"/v1/media/{doc['media_id']}/url")) == (404, 95003)
        assert error_of(m.get(f"/v1/media/{doc['media_id']}/info")) == (404, 95003)
        reply = m.post("/v1/messages", json={"conversation_id": f"c2c_{alice}",
                                             "client_msg_id": f"x-{mallory}",
                                             "elements": [doc["element"]]})
        assert error_of(reply) == (404, 95003)
    # Nor through the Tencent API of the other app: a batch, a group send or
    # an edit naming the upload is refused whole and stores nothing.
    victim, group = users("victim"), f"steal-{mallory}"
    element = {"MsgType": "TIMFileElem", "MsgContent": {
        "UUID": doc["media_id"], "Url": "https://elsewhere/x", "FileSize": 1,
        "FileName": "x.png"}}
    with server.http(other_app, other_app.admin) as admin:
        assert admin.post("/v1/admin/groups", json={
            "type": "Work", "group_id": group, "owner": mallory}).status_code == 200
        for path, body in (
                ("openim/batchsendmsg", {"From_Account": mallory, "To_Account": [victim],
                                         "MsgRandom": 9, "MsgBody": [element]}),
                ("group_open_http_svc/send_group_msg", {
                    "GroupId": group, "From_Account": mallory, "Random": 9,
                    "MsgBody": [element]})):
            refused = v4(server, other_app, path, body)
            assert refused["ActionStatus"] == "FAIL", (path, refused)
        assert admin.get(f"/v1/admin/users/{victim}/conversations").json()[
            "conversations"] == []
    history = v4(server, other_app, "group_open_http_svc/group_msg_get_simple",
                 {"GroupId": group, "ReqMsgNumber": 20})
    assert history["RspMsgList"] == [], history


def test_sound_duration_and_ranges(server: Server, shared_app: App,
                                   users: Callable[[str], str]) -> None:
    alice, bob = users("alice"), users("bob")
    sound = media_files.wav(1.5)
    with server.http(shared_app, alice) as a, server.http(shared_app, bob) as b:
        doc = stored(a, sound, name="note.wav")
        assert (doc["kind"], doc["mime"], doc["duration"]) == ("sound", "audio/wav", 1.5)
        assert doc["element"] == {"type": "sound", "media_id": doc["media_id"],
                                  "url": doc["url"], "size": len(sound), "duration": 1.5}
        send(a, bob, doc["element"], f"snd-{alice}")
        part = download(server, b, doc["media_id"], headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == sound[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(sound)}"
        tail = download(server, b, doc["media_id"], headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == sound[-10:]
        bad = download(server, b, doc["media_id"], headers={"Range": f"bytes={len(sound)}-"})
        assert error_of(bad) == (416, 95011)
        whole = download(server, b, doc["media_id"])
        assert whole.status_code == 200 and whole.content == sound
        assert whole.headers["accept-ranges"] == "bytes"
        # The Tencent-compatible view of the same message: a TIMSoundElem.
        roam = v4(server, shared_app, "openim/admin_getroammsg", {
            "Operator_Account": alice, "Peer_Account": bob, "MaxCnt": 10, "MinTime": 0,
            "MaxTime": 2**32 - 1})
        assert roam["MsgList"][-1]["MsgBody"] == [{"MsgType": "TIMSoundElem", "MsgContent": {
            "UUID": doc["media_id"], "Url": doc["url"], "Size": len(sound), "Second": 1.5,
            "Download_Flag": 2}}]
        # The app's server sends the upload through Tencent's sendmsg: what it
        # claims is replaced by what was stored.
        sent = v4(server, shared_app, "openim/sendmsg", {
            "From_Account": bob, "To_Account": alice, "MsgRandom": 7, "MsgBody": [
                {"MsgType": "TIMFileElem", "MsgContent": {
                    "UUID": doc["media_id"], "Url": "https://elsewhere/x", "FileSize": 1,
                    "FileName": "memo.wav"}}]})
        assert sent["ActionStatus"] == "OK", sent
        last = a.get(f"/v1/conversations/c2c_{bob}/messages").json()["messages"][-1]
        assert last["elements"] == [{"type": "file", "media_id": doc["media_id"],
                                     "url": doc["url"], "name": "memo.wav",
                                     "size": len(sound)}]


def test_same_bytes_are_stored_once(server: Server, shared_app: App,
                                    users: Callable[[str], str]) -> None:
    data = media_files.wav(0.25, rate=4000)
    with server.http(shared_app, users("alice")) as a, \
            server.http(shared_app, users("bob")) as b:
        one, two = stored(a, data), stored(b, data)
    assert one["media_id"] != two["media_id"]
    digest = hashlib.sha256(data).hexdigest()
    files = list((server.data_dir / "media").rglob(digest))
    assert len(files) == 1 and files[0].read_bytes() == data


def _broken_put(server: Server, path: str, sig: str, declared: int, sent: bytes) -> None:
    """A PUT whose connection breaks after ``len(sent)`` of ``declared`` bytes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall((f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Authorization: Bearer {sig}\r\nContent-Length: {declared}\r\n"
                   "Content-Type: application/octet-stream\r\n\r\n").encode() + sent)
        time.sleep(0.3)


def test_upload_in_parts_resumes_after_a_broken_connection(
        server: Server, shared_app: App, users: Callable[[str], str]) -> None:
    alice, bob = users("alice"), users("bob")
    data = media_files.wav(20.0)  # ~320 kB
    with server.http(shared_app, alice) as a, server.http(shared_app, bob) as b:
        created = a.post("/v1/uploads", json={"size": len(data), "name": "long.wav"})
        assert created.status_code == 200, created.text
        upload_id = created.json()["upload_id"]
        assert created.json()["offset"] == 0
        done = a.put(f"/v1/uploads/{upload_id}", params={"offset": 0}, content=data[:100_000])
        assert done.json()["offset"] == 100_000
        # Not all bytes yet.
        assert error_of(a.post(f"/v1/uploads/{upload_id}/complete")) == (409, 95008)
        # The connection breaks halfway through the second part.
        _broken_put(server, f"/v1/uploads/{upload_id}?offset=100000", shared_app.sig(alice),
                    100_000, data[100_000:150_000])
        for _ in range(50):
            status = a.get(f"/v1/uploads/{upload_id}").json()
            if status["offset"] == 100_000:
                break
            time.sleep(0.1)
        assert status["offset"] == 100_000
        # Another user cannot see or feed it.
        assert error_of(b.get(f"/v1/uploads/{upload_id}")) == (404, 95010)
        # Resuming from the wrong place says where to resume.
        wrong = a.put(f"/v1/uploads/{upload_id}", params={"offset": 150_000}, content=b"x")
        assert error_of(wrong) == (409, 95006) and wrong.json()["error"]["offset"] == 100_000
        # Past the declared size.
        assert error_of(a.put(f"/v1/uploads/{upload_id}", params={"offset": 100_000},
                              content=data[100_000:] + b"extra")) == (413, 95001)
        assert a.put(f"/v1/uploads/{upload_id}", params={"offset": 100_000},
                     content=data[100_000:]).json()["offset"] == len(data)
        doc = a.post(f"/v1/uploads/{upload_id}/complete").json()
        assert doc["kind"] == "sound" and doc["size"] == len(data)
        assert doc["duration"] == 20.0
        assert download(server, a, doc["media_id"]).content == data
        # Finished: it is no longer an unfinished upload.
        assert error_of(a.get(f"/v1/uploads/{upload_id}")) == (404, 95010)


def test_parts_refuse_wrong_bytes_early_and_count_open_uploads(
        server: Server, shared_app: App, users: Callable[[str], str]) -> None:
    alice = users("alice")
    with server.http(shared_app, alice) as a:
        created = a.post("/v1/uploads", json={"size": 10_000, "kind": "image"}).json()
        first = a.put(f"/v1/uploads/{created['upload_id']}", params={"offset": 0},
                      content=media_files.SCRIPT[:100])
        assert error_of(first) == (415, 95002)
        # Refused uploads do not stay open.
        assert error_of(a.get(f"/v1/uploads/{created['upload_id']}")) == (404, 95010)
        ids = []
        for _ in range(20):
            reply = a.post("/v1/uploads", json={"size": 100})
            assert reply.status_code == 200, reply.text
            ids.append(reply.json()["upload_id"])
        assert error_of(a.post("/v1/uploads", json={"size": 100})) == (429, 95007)
        assert a.delete(f"/v1/uploads/{ids[0]}").status_code == 200
        assert a.post("/v1/uploads", json={"size": 100}).status_code == 200
        assert error_of(a.post("/v1/uploads", json={"size": 0}))[1] == 10002
        assert error_of(a.post("/v1/uploads", content=b"{nope",
                               headers={"Content-Type": "application/json"}))[1] == 90001


def test_api_key_admin_uploads_and_reads_any(server: Server, app: App,
                                             users: Callable[[str], str]) -> None:
    key = server.cli("app", "api-key", "create", str(app.sdkappid), "--name", "m")
    token = key.stdout.split('"key": "')[1].split('"')[0] if '"key"' in key.stdout else (
        key.stdout.strip().split()[-1])
    alice = users("alice")
    with httpx.Client(base_url=server.base_url,
                      headers={"Authorization": f"ApiKey {token}"}) as admin, \
            server.http(app, alice) as a:
        doc = admin.post("/v1/media", content=media_files.png()).json()
        assert doc["kind"] == "image"
        mine = stored(a, media_files.wav(0.1))
        assert admin.get(f"/v1/media/{mine['media_id']}/url").status_code == 200
        # The admin sends the upload as alice.
        sent = admin.post("/v1/admin/messages", json={
            "from": alice, "conversation_id": f"c2c_{users('bob')}",
            "client_msg_id": "adm-1", "elements": [doc["element"]]})
        assert sent.status_code == 200, sent.text


def test_mp4_poster_and_duration(server: Server, shared_app: App,
                                 users: Callable[[str], str], tmp_path: Path) -> None:
    if not media_files.has_ffmpeg():
        pytest.skip("ffmpeg is not installed (scripts/test installs it when root)")
    alice = users("alice")
    clip = media_files.mp4(tmp_path)
    with server.http(shared_app, alice) as a:
        doc = stored(a, clip, name="clip.mp4")
        assert (doc["kind"], doc["mime"]) == ("video", "video/mp4")
        assert doc["duration"] == pytest.approx(2.0, abs=0.2)
        poster = doc["variants"]["poster"]
        assert (poster["width"], poster["height"]) == (320, 240)
        element = doc["element"]
        assert element["poster_media_id"] == doc["media_id"] and element["poster_format"] == "jpg"
        got = download(server, a, doc["media_id"], "poster")
        assert got.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(got.content)).size == (320, 240)
        part = download(server, a, doc["media_id"], headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == clip[:100]

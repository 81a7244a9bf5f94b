"""Uploads, downloads and collection of media (docs/media.md).

An upload is written to a work file first (whole, or part by part with its
received length durable in ``media_uploads``), then typed from its bytes,
measured and given its variants, stored by content hash, and only then
recorded: a crash at any point leaves either nothing or a finished upload
(plus, at worst, an unreferenced file that the next upload of the same
bytes reuses). Downloads go through short-lived signed URLs handed out to
those who may read the upload."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from tidings.adapters import media_probe
from tidings.adapters.media_blobs import BlobStore, LocalBlobStore, S3BlobStore, fsync_dir
from tidings.config import Settings
from tidings.domain.clock import now_ms
from tidings.domain.elements import ELEMENTS
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.media import (
    SNIFF_BYTES,
    MediaKind,
    MediaPolicy,
    Sniffed,
    check_kind,
    check_url,
    clean_name,
    sniff,
    url_signature,
    valid_media_id,
)
from tidings.store.media import MediaRow, MediaStore, PolicyRow, UploadRow

log = logging.getLogger(__name__)

# Which element type carries which kind of upload (a file element carries any).
_ELEMENT_KINDS = {"image": MediaKind.IMAGE, "sound": MediaKind.SOUND,
                  "video": MediaKind.VIDEO, "file": None}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who uploads or asks: a user of the app, or its admin (by API key, or
    by an admin account's UserSig: then ``owner`` is that user id)."""

    sdkappid: int
    owner: str
    admin: bool = False


@dataclass(frozen=True, slots=True)
class Download:
    digest: str
    size: int
    mime: str
    # "inline" for images, sounds and videos; else an attachment.
    disposition: str
    name: str
    expires: int


def parse_kinds(text: str) -> frozenset[MediaKind]:
    kinds = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            kinds.add(MediaKind(part))
        except ValueError:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"unknown media kind {part!r}; kinds are image, sound, video, "
                               "file") from None
    return frozenset(kinds)


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(SNIFF_BYTES)


class MediaService:
    def __init__(self, store: MediaStore, blobs: BlobStore, settings: Settings,
                 work_dir: Path, url_secret: bytes) -> None:
        self._store = store
        self.blobs = blobs
        self._cfg = settings
        self._work = work_dir
        self._secret = url_secret
        self._default = MediaPolicy(settings.media_max_bytes, parse_kinds(settings.media_kinds),
                                    settings.media_keep_location)
        # Storing a blob and counting it, and removing an unused one, never
        # interleave (else a blob could vanish under a new upload).
        self._blob_lock = asyncio.Lock()
        self._upload_locks: dict[str, asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def create(cls, store: MediaStore, settings: Settings) -> MediaService:
        data = settings.data_dir
        data.mkdir(parents=True, exist_ok=True)
        blobs: BlobStore
        if settings.media_backend == "s3":
            blobs = S3BlobStore(endpoint_url=settings.s3_endpoint_url,
                                bucket=settings.s3_bucket, region=settings.s3_region,
                                access_key=settings.s3_access_key,
                                secret_key=settings.s3_secret_key, prefix=settings.s3_prefix)
        else:
            blobs = LocalBlobStore(settings.media_dir or data / "media")
        work = data / "uploads"
        work.mkdir(parents=True, exist_ok=True)
        return cls(store, blobs, settings, work, _url_secret(settings))

    # -- life --------------------------------------------------------------------

    async def start(self) -> None:
        if isinstance(self.blobs, S3BlobStore):
            await self.blobs.ensure_bucket()
        self._task = asyncio.create_task(self._collect_loop(), name="media-collector")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- limits --------------------------------------------------------------------

    async def policy(self, sdkappid: int) -> MediaPolicy:
        row = await self._store.policy(sdkappid)
        if row is None:
            return self._default
        return MediaPolicy(row.max_bytes, parse_kinds(row.kinds), row.keep_location)

    async def settings_of(self, sdkappid: int) -> dict[str, Any]:
        return policy_view(await self.policy(sdkappid))

    async def set_policy(self, sdkappid: int, max_bytes: int | None, kinds: list[str] | None,
                         keep_location: bool | None) -> dict[str, Any]:
        now = await self.policy(sdkappid)
        chosen = now.kinds if kinds is None else parse_kinds(",".join(kinds))
        new = PolicyRow(now.max_bytes if max_bytes is None else max_bytes,
                        ",".join(sorted(k.value for k in chosen)),
                        now.keep_location if keep_location is None else keep_location)
        await self._store.set_policy(sdkappid, new, now_ms())
        return policy_view(await self.policy(sdkappid))

    # -- uploads in parts ------------------------------------------------------------

    def _part_path(self, upload_id: str) -> Path:
        return self._work / f"{upload_id}.part"

    async def create_upload(self, caller: Caller, size: int, name: str,
                            kind: MediaKind | None, duration: float) -> dict[str, Any]:
        policy = await self.policy(caller.sdkappid)
        policy.check_size(size)
        if kind is not None:
            policy.check_kind(kind)
        row = UploadRow("u" + secrets.token_urlsafe(15), caller.sdkappid, caller.owner,
                        "" if kind is None else kind.value, clean_name(name), size, 0,
                        int(duration * 1000), now_ms())
        if not await self._store.create_upload(row, self._cfg.media_max_open_uploads):
            raise TidingsError(ErrorCode.TOO_MANY_UPLOADS,
                               f"you have {self._cfg.media_max_open_uploads} unfinished "
                               "uploads; finish or cancel one first")
        self._part_path(row.id).touch()
        return self._upload_view(row, 0)

    def _upload_view(self, row: UploadRow, received: int) -> dict[str, Any]:
        return {"upload_id": row.id, "size": row.size, "offset": received,
                "part_max_bytes": self._cfg.media_part_max_bytes,
                "expires_at": row.created_at + int(self._cfg.media_upload_ttl * 1000)}

    async def _own_upload(self, caller: Caller, upload_id: str) -> UploadRow:
        row = await self._store.upload(upload_id) if valid_media_id(upload_id) else None
        if row is None or row.sdkappid != caller.sdkappid or row.owner != caller.owner:
            raise TidingsError(ErrorCode.UPLOAD_NOT_FOUND,
                               f"no unfinished upload {upload_id!r} of yours")
        return row

    async def upload_status(self, caller: Caller, upload_id: str) -> dict[str, Any]:
        row = await self._own_upload(caller, upload_id)
        return self._upload_view(row, row.received)

    async def put_part(self, caller: Caller, upload_id: str, offset: int,
                       body: AsyncIterator[bytes]) -> dict[str, Any]:
        """Append the bytes at ``offset``, which must be where the upload
        stands (``GET`` tells after a broken connection). The new length is
        recorded only once the bytes are on disk (fsync)."""
        # One request at a time per upload (of the caller's: no lock for
        # made-up ids); the lock goes with the upload (complete, cancel,
        # collection).
        await self._own_upload(caller, upload_id)
        async with self._upload_locks.setdefault(upload_id, asyncio.Lock()):
            row = await self._own_upload(caller, upload_id)
            if offset != row.received:
                raise TidingsError(ErrorCode.UPLOAD_OFFSET_MISMATCH,
                                   f"the upload stands at {row.received} bytes; send "
                                   f"from there (not {offset})",
                                   {"offset": row.received})
            limit = min(self._cfg.media_part_max_bytes, row.size - row.received)
            path = self._part_path(upload_id)
            f = await asyncio.to_thread(open, path, "r+b")
            try:
                # A crash after writing but before recording leaves
                # bytes past ``received``: they are cut off.
                await asyncio.to_thread(f.truncate, row.received)
                f.seek(row.received)
                written = await _copy_limited(body, f, limit, row.size - row.received,
                                              self._cfg.media_part_max_bytes)
                await asyncio.to_thread(_flush, f)
            finally:
                f.close()
            received = row.received + written
            if row.received < SNIFF_BYTES and (received >= SNIFF_BYTES
                                               or received == row.size):
                try:
                    await self._check_head(caller, row, path)
                except TidingsError:
                    # It can never complete: do not keep it open.
                    await self._store.drop_upload(upload_id)
                    await asyncio.to_thread(path.unlink, True)
                    raise
            await self._store.set_received(upload_id, received, now_ms())
            return self._upload_view(row, received)

    async def _check_head(self, caller: Caller, row: UploadRow, path: Path) -> None:
        """Refuse early a first part whose bytes cannot be what was asked."""
        found = sniff(await asyncio.to_thread(_head, path))
        kind = check_kind(MediaKind(row.kind) if row.kind else None, found)
        (await self.policy(caller.sdkappid)).check_kind(kind)

    async def complete(self, caller: Caller, upload_id: str) -> dict[str, Any]:
        await self._own_upload(caller, upload_id)
        async with self._upload_locks.setdefault(upload_id, asyncio.Lock()):
            row = await self._own_upload(caller, upload_id)
            if row.received != row.size:
                raise TidingsError(ErrorCode.UPLOAD_INCOMPLETE,
                                   f"the upload has {row.received} of {row.size} bytes",
                                   {"offset": row.received})
            path = self._part_path(upload_id)
            stored = await self._finish(caller, path, row.name,
                                        MediaKind(row.kind) if row.kind else None,
                                        row.duration_ms, upload_id)
        await asyncio.to_thread(path.unlink, True)
        self._upload_locks.pop(upload_id, None)
        return self.media_view(stored)

    async def abort(self, caller: Caller, upload_id: str) -> None:
        await self._own_upload(caller, upload_id)
        await self._store.drop_upload(upload_id)
        await asyncio.to_thread(self._part_path(upload_id).unlink, True)
        self._upload_locks.pop(upload_id, None)

    # -- whole uploads -------------------------------------------------------------

    async def upload(self, caller: Caller, body: AsyncIterator[bytes], length: int | None,
                     name: str, kind: MediaKind | None, duration: float) -> dict[str, Any]:
        """One request with the whole file (``length`` from Content-Length,
        when sent, is checked before anything is read)."""
        policy = await self.policy(caller.sdkappid)
        if length is not None:
            policy.check_size(length)
        if kind is not None:
            policy.check_kind(kind)
        path = self._work / f"w{secrets.token_urlsafe(12)}.tmp"
        try:
            f = await asyncio.to_thread(open, path, "wb")
            try:
                written = await _copy_limited(body, f, policy.max_bytes, None,
                                              policy.max_bytes, too_large=True)
            finally:
                f.close()
            if written == 0:
                raise TidingsError(ErrorCode.INVALID_REQUEST, "the upload is empty")
            stored = await self._finish(caller, path, clean_name(name), kind,
                                        int(duration * 1000), None)
        finally:
            await asyncio.to_thread(path.unlink, True)
        return self.media_view(stored)

    # -- finishing ------------------------------------------------------------------

    async def _finish(self, caller: Caller, path: Path, name: str, asked: MediaKind | None,
                      claimed_ms: int, upload_id: str | None) -> MediaRow:
        policy = await self.policy(caller.sdkappid)
        found = sniff(await asyncio.to_thread(_head, path))
        kind = check_kind(asked, found)
        policy.check_kind(kind)
        workdir = self._work / f"p{secrets.token_urlsafe(9)}"
        workdir.mkdir()
        try:
            return await self._measure_and_store(caller, path, name, kind, found, policy,
                                                 claimed_ms, upload_id, workdir)
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _measure_and_store(self, caller: Caller, path: Path, name: str,
                                 kind: MediaKind, found: Sniffed, policy: MediaPolicy,
                                 claimed_ms: int, upload_id: str | None,
                                 workdir: Path) -> MediaRow:
        cfg = self._cfg
        probed = media_probe.Probed()
        if kind is MediaKind.IMAGE:
            probed = await asyncio.to_thread(
                media_probe.probe_image, path, found.format, keep_location=policy.keep_location,
                large_px=cfg.media_large_px, thumb_px=cfg.media_thumb_px, workdir=workdir)
        elif kind is MediaKind.SOUND:
            probed.duration_ms = (await asyncio.to_thread(media_probe.sound_duration_ms, path)
                                  or claimed_ms)
        elif kind is MediaKind.VIDEO:
            measured = await asyncio.to_thread(media_probe.video_duration_ms, path,
                                               cfg.ffprobe_path)
            probed.duration_ms = claimed_ms if measured is None else measured
            if measured is not None:
                poster = await asyncio.to_thread(media_probe.video_poster, path,
                                                 cfg.ffmpeg_path, measured, cfg.media_large_px,
                                                 workdir)
                if poster is not None:
                    probed.variants["poster"] = poster
        original = probed.cleaned or path
        digest, size = await asyncio.to_thread(_hash_file, original)
        policy.check_size(size)
        files = {digest: original}
        sizes = {digest: size}
        variants: dict[str, dict[str, Any]] = {}
        for label, variant in probed.variants.items():
            v_digest, v_size = await asyncio.to_thread(_hash_file, variant.path)
            files[v_digest] = variant.path
            sizes[v_digest] = v_size
            variants[label] = {"hash": v_digest, "size": v_size, "width": variant.width,
                               "height": variant.height, "mime": variant.mime}
        row = MediaRow("m" + secrets.token_urlsafe(15), caller.sdkappid, caller.owner,
                       kind.value, found.mime, found.format, name, size, digest, probed.width,
                       probed.height, probed.duration_ms, variants, now_ms())
        async with self._blob_lock:
            for blob_digest, blob_path in files.items():
                await self.blobs.put(blob_digest, blob_path)
            await self._store.add_media(row, sizes, upload_id)
        return row

    # -- views and URLs --------------------------------------------------------------

    def media_url(self, media_id: str, variant: str = "original") -> str:
        """The lasting URL a message carries; a member trades it (with their
        UserSig) for a signed download URL."""
        suffix = "" if variant == "original" else f"?variant={variant}"
        return f"{self._cfg.media_public_url}/v1/media/{media_id}{suffix}"

    def signed_url(self, media_id: str, variant: str, expires: int) -> str:
        sig = url_signature(self._secret, media_id, variant, expires)
        return (f"{self._cfg.media_public_url}/v1/media/{media_id}/content?variant={variant}"
                f"&expires={expires}&sig={sig}")

    def media_view(self, row: MediaRow) -> dict[str, Any]:
        variants = {label: {"url": self.media_url(row.id, label), "size": v["size"],
                            "width": v["width"], "height": v["height"], "mime": v["mime"]}
                    for label, v in row.variants.items()}
        return {"media_id": row.id, "kind": row.kind, "mime": row.mime, "format": row.format,
                "name": row.name, "size": row.size, "width": row.width, "height": row.height,
                "duration": row.duration_ms / 1000, "url": self.media_url(row.id),
                "variants": variants, "created_at": row.created_at,
                "element": self.element_of(row)}

    def element_of(self, row: MediaRow, element_type: str | None = None,
                   name: str = "") -> dict[str, Any]:
        """The message element that carries an upload, from what was stored."""
        kind = element_type or ("file" if row.kind == MediaKind.FILE else row.kind)
        url = self.media_url(row.id)
        if kind == "image":
            large = row.variants.get("large")
            thumb = row.variants["thumb"]
            original = {"kind": "original", "url": url, "width": row.width,
                        "height": row.height, "size": row.size}
            return {"type": "image", "media_id": row.id, "format": row.format, "variants": [
                original,
                {"kind": "large", "url": self.media_url(row.id, "large") if large else url,
                 "width": large["width"] if large else row.width,
                 "height": large["height"] if large else row.height,
                 "size": large["size"] if large else row.size},
                {"kind": "thumb", "url": self.media_url(row.id, "thumb"),
                 "width": thumb["width"], "height": thumb["height"], "size": thumb["size"]}]}
        if kind == "sound":
            return {"type": "sound", "media_id": row.id, "url": url, "size": row.size,
                    "duration": row.duration_ms / 1000}
        if kind == "video":
            element: dict[str, Any] = {
                "type": "video", "media_id": row.id, "url": url, "format": row.format,
                "size": row.size, "duration": row.duration_ms / 1000}
            poster = row.variants.get("poster")
            if poster is not None:
                element.update(poster_url=self.media_url(row.id, "poster"),
                               poster_width=poster["width"], poster_height=poster["height"],
                               poster_media_id=row.id, poster_size=poster["size"],
                               poster_format="jpg")
            return element
        return {"type": "file", "media_id": row.id, "url": url, "name": name or row.name,
                "size": row.size}

    async def download_url(self, caller: Caller, media_id: str,
                           variant: str) -> dict[str, Any]:
        row = await self._readable(caller, media_id)
        if variant != "original" and variant not in row.variants and not (
                variant == "large" and row.kind == MediaKind.IMAGE):
            raise TidingsError(ErrorCode.MEDIA_NOT_FOUND,
                               f"upload {media_id!r} has no {variant!r} version")
        expires = int(time.time()) + self._cfg.media_url_ttl
        return {"url": self.signed_url(media_id, variant, expires), "expires_at": expires,
                "media_id": media_id, "variant": variant}

    async def _readable(self, caller: Caller, media_id: str) -> MediaRow:
        row = await self._store.get(caller.sdkappid, media_id) if valid_media_id(
            media_id) else None
        if row is None:
            raise TidingsError(ErrorCode.MEDIA_NOT_FOUND, f"no upload {media_id!r}")
        if not caller.admin and not await self._store.readable(
                caller.sdkappid, caller.owner, [media_id]):
            raise TidingsError(ErrorCode.MEDIA_FORBIDDEN,
                               "only the uploader, the members of a conversation that carries "
                               "this upload, and the app's admins may read it")
        return row

    async def info(self, caller: Caller, media_id: str) -> dict[str, Any]:
        return self.media_view(await self._readable(caller, media_id))

    async def open_download(self, media_id: str, variant: str, expires: int,
                            sig: str) -> Download:
        check_url(self._secret, media_id, variant, expires, sig, int(time.time()))
        row = await self._store.get_any(media_id)
        if row is None:
            raise TidingsError(ErrorCode.MEDIA_NOT_FOUND, "this upload was removed")
        name = row.name or f"{row.id}.{row.format or 'bin'}"
        if variant == "original" or (variant == "large" and "large" not in row.variants):
            digest, size, mime = row.hash, row.size, row.mime
        elif variant in row.variants:
            v = row.variants[variant]
            digest, size, mime = v["hash"], v["size"], v["mime"]
        else:
            raise TidingsError(ErrorCode.MEDIA_NOT_FOUND, f"no {variant!r} version")
        playable = row.kind in (MediaKind.IMAGE, MediaKind.SOUND, MediaKind.VIDEO) or (
            variant != "original")
        if not playable:
            mime = "application/octet-stream"
        return Download(digest, size, mime, "inline" if playable else "attachment", name,
                        expires)

    # -- messages ---------------------------------------------------------------------

    async def prepare_for(self, sdkappid: int, user_id: str | None,
                          elements_json: bytes | None) -> bytes | None:
        """``prepare`` for a user (``user_id``) or the app's admin (None)."""
        if elements_json is None or b'media_id":"' not in elements_json:
            return elements_json
        caller = Caller(sdkappid, user_id or "", admin=user_id is None)
        return await self.prepare(caller, elements_json)

    async def prepare(self, caller: Caller, elements_json: bytes) -> bytes:
        """A message's elements with every upload they name checked and filled
        in from what was stored (URLs, sizes, dimensions, durations): an
        upload of another app is unknown (95003); one the sender may not read
        is refused (95009); an element of the wrong type for the upload is
        90002. Elements that name no upload (plain URLs) pass as they are."""
        if b'media_id":"' not in elements_json:
            return elements_json
        elements = orjson.loads(elements_json)
        ids = [e["media_id"] for e in elements
               if isinstance(e, dict) and e.get("type") in _ELEMENT_KINDS and e.get("media_id")]
        if not ids:
            return elements_json
        rows = await self._store.get_many(caller.sdkappid,
                                          [i for i in ids if valid_media_id(i)])
        missing = [i for i in ids if i not in rows]
        if missing:
            raise TidingsError(ErrorCode.MEDIA_NOT_FOUND, f"no upload {missing[0]!r}")
        if not caller.admin:
            readable = await self._store.readable(caller.sdkappid, caller.owner, list(rows))
            refused = [i for i in ids if i not in readable]
            if refused:
                raise TidingsError(ErrorCode.MEDIA_FORBIDDEN,
                                   f"you may not send upload {refused[0]!r}: it is neither "
                                   "yours nor in a conversation of yours")
        out = []
        for i, element in enumerate(elements):
            media_id = element.get("media_id") if isinstance(element, dict) else None
            if not media_id or element.get("type") not in _ELEMENT_KINDS:
                out.append(element)
                continue
            row = rows[media_id]
            wants = _ELEMENT_KINDS[element["type"]]
            if wants is not None and row.kind != wants:
                raise TidingsError(ErrorCode.INVALID_MESSAGE_BODY,
                                   f"elements[{i}]: upload {media_id!r} is a {row.kind}, not "
                                   f"a {wants.value}")
            out.append(self.element_of(row, element["type"], element.get("name", "")))
        return ELEMENTS.dump_json(ELEMENTS.validate_python(out))

    # -- collection -------------------------------------------------------------------

    async def collect(self) -> dict[str, int]:
        """Remove what nothing needs any more: unfinished uploads idle past
        ``media_upload_ttl``, uploads that no stored entry carries past
        ``media_grace``, then the blobs no upload uses."""
        now = now_ms()
        done = {"uploads": 0, "media": 0, "blobs": 0}
        for upload_id in await self._store.stale_uploads(
                now - int(self._cfg.media_upload_ttl * 1000)):
            if await self._store.drop_upload(upload_id):
                await asyncio.to_thread(self._part_path(upload_id).unlink, True)
                self._upload_locks.pop(upload_id, None)
                done["uploads"] += 1
        for row in await self._store.collectable(now - int(self._cfg.media_grace * 1000)):
            if await self._store.drop_media(row):
                done["media"] += 1
        async with self._blob_lock:
            for digest in await self._store.unused_blobs():
                # File first: a crash leaves a row that the next round removes.
                await self.blobs.delete(digest)
                if await self._store.drop_blob(digest):
                    done["blobs"] += 1
        return done

    async def _collect_loop(self) -> None:
        while True:
            await asyncio.sleep(self._cfg.media_gc_interval)
            try:
                done = await self.collect()
                if any(done.values()):
                    log.info("media collected: %s", done)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("media collection failed; retrying next round")


def policy_view(policy: MediaPolicy) -> dict[str, Any]:
    return {"max_bytes": policy.max_bytes,
            "kinds": sorted(k.value for k in policy.kinds),
            "keep_location": policy.keep_location}


def _flush(f: Any) -> None:
    f.flush()
    os.fsync(f.fileno())


async def _copy_limited(body: AsyncIterator[bytes], f: Any, limit: int, expected: int | None,
                        part_max: int, *, too_large: bool = False) -> int:
    """Copy the request body into ``f``, refusing as soon as it passes
    ``limit`` (nothing past it is read)."""
    written = 0
    async for chunk in body:
        if not chunk:
            continue
        if written + len(chunk) > limit:
            if too_large:
                raise TidingsError(ErrorCode.MEDIA_TOO_LARGE,
                                   f"the file is larger than this app takes ({limit} bytes)")
            raise TidingsError(ErrorCode.MEDIA_TOO_LARGE,
                               f"a part may carry at most {limit} bytes here (the upload's "
                               f"remaining {expected} bytes, at most {part_max} a part)")
        await asyncio.to_thread(f.write, chunk)
        written += len(chunk)
    return written


def _url_secret(settings: Settings) -> bytes:
    if settings.media_url_secret:
        return settings.media_url_secret.encode()
    path = settings.data_dir / "media-url.key"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(32))
        os.replace(tmp, path)
        fsync_dir(path.parent)
    return path.read_text().strip().encode()


def content_disposition(kind: str, name: str) -> str:
    return f"{kind}; filename*=UTF-8''{quote(name, safe='')}"


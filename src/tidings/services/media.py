"""Uploads, downloads and collection of media (docs/media.md).

An upload is written to a work file first (whole, or part by part with its
received length durable in ``media_uploads``), then typed from its bytes,
measured and given its variants, stored by content hash, and only then
recorded: a crash at any point leaves either nothing or a finished upload
(plus, at worst, an unreferenced file that the next upload of the same
bytes reuses). Downloads go through short-lived signed URLs handed out to
those who may read the upload.

Uploads are in ``media_uploads``, what clients see of them (URLs, views,
elements) in ``media_views``, the work files in ``media_files``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson

from tidings.adapters.media_blobs import BlobStore, LocalBlobStore, S3BlobStore
from tidings.config import Settings
from tidings.domain.clock import now_ms
from tidings.domain.elements import ELEMENTS
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.media import MediaKind, MediaPolicy, check_url, media_ids, valid_media_id
from tidings.services.media_files import url_secret
from tidings.services.media_uploads import Caller, Uploads
from tidings.services.media_views import Download, MediaViews, content_disposition, policy_view
from tidings.store.media import MediaRow, MediaStore, PolicyRow

# Callers import these from here (api/media.py, gateway/media_ops.py).
__all__ = ["Caller", "Download", "MediaService", "content_disposition", "names_media",
           "parse_kinds", "policy_view"]

log = logging.getLogger(__name__)

# Which element type carries which kind of upload (a file element carries any).
_ELEMENT_KINDS = {"image": MediaKind.IMAGE, "sound": MediaKind.SOUND,
                  "video": MediaKind.VIDEO, "file": None}


def names_media(elements_json: bytes) -> bool:
    """Whether a message's elements may name an upload (then ``prepare``
    reads the store); most messages do not, and skip it without an await.
    ``find``, not ``in`` (once a message): bytes' ``in`` first tries its
    operand as an int and words a TypeError it then drops (~70 ns)."""
    return elements_json.find(b'media_id":"') >= 0


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


class MediaService:
    def __init__(self, store: MediaStore, blobs: BlobStore, settings: Settings,
                 work_dir: Path, url_secret: bytes) -> None:
        self._store = store
        self.blobs = blobs
        self._cfg = settings
        self._secret = url_secret
        self._default = MediaPolicy(settings.media_max_bytes, parse_kinds(settings.media_kinds),
                                    settings.media_keep_location)
        self._views = MediaViews(settings.media_public_url, url_secret)
        # Storing a blob and counting it, and removing an unused one, never
        # interleave (else a blob could vanish under a new upload).
        self._blob_lock = asyncio.Lock()
        self._uploads = Uploads(store, blobs, settings, work_dir, self.policy, self._views,
                                self._blob_lock)
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
        return cls(store, blobs, settings, work, url_secret(settings))

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

    # -- uploads (services/media_uploads.py) ------------------------------------------

    async def create_upload(self, caller: Caller, size: int, name: str,
                            kind: MediaKind | None, duration: float) -> dict[str, Any]:
        return await self._uploads.create_upload(caller, size, name, kind, duration)

    async def upload_status(self, caller: Caller, upload_id: str) -> dict[str, Any]:
        return await self._uploads.upload_status(caller, upload_id)

    async def put_part(self, caller: Caller, upload_id: str, offset: int,
                       body: AsyncIterator[bytes]) -> dict[str, Any]:
        return await self._uploads.put_part(caller, upload_id, offset, body)

    async def complete(self, caller: Caller, upload_id: str) -> dict[str, Any]:
        return await self._uploads.complete(caller, upload_id)

    async def abort(self, caller: Caller, upload_id: str) -> None:
        await self._uploads.abort(caller, upload_id)

    async def upload(self, caller: Caller, body: AsyncIterator[bytes], length: int | None,
                     name: str, kind: MediaKind | None, duration: float) -> dict[str, Any]:
        return await self._uploads.upload(caller, body, length, name, kind, duration)

    # -- views and downloads (services/media_views.py) -------------------------------

    def media_url(self, media_id: str, variant: str = "original") -> str:
        return self._views.media_url(media_id, variant)

    def signed_url(self, media_id: str, variant: str, expires: int) -> str:
        return self._views.signed_url(media_id, variant, expires)

    def media_view(self, row: MediaRow) -> dict[str, Any]:
        return self._views.media_view(row)

    def element_of(self, row: MediaRow, element_type: str | None = None,
                   name: str = "") -> dict[str, Any]:
        return self._views.element_of(row, element_type, name)

    async def download_url(self, caller: Caller, media_id: str,
                           variant: str) -> dict[str, Any]:
        row = await self._readable(caller, media_id)
        if variant != "original" and variant not in row.variants and not (
                variant == "large" and row.kind == MediaKind.IMAGE):
            raise TidingsError(ErrorCode.MEDIA_NOT_FOUND,
                               f"upload {media_id!r} has no {variant!r} version")
        expires = int(time.time()) + self._cfg.media_url_ttl
        return {"url": self._views.signed_url(media_id, variant, expires), "expires_at": expires,
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
        return self._views.media_view(await self._readable(caller, media_id))

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
                          elements_json: bytes | None, *,
                          external: bool = False) -> bytes | None:
        """``prepare`` for a user (``user_id``) or the app's admin (None)."""
        if elements_json is None or not names_media(elements_json):
            return elements_json
        caller = Caller(sdkappid, user_id or "", admin=user_id is None)
        return await self.prepare(caller, elements_json, external=external)

    async def uploads_named(self, sdkappid: int, elements_json: bytes) -> set[str]:
        """Which ids that these elements name are uploads of the app."""
        ids = media_ids(elements_json)
        return set(await self._store.get_many(sdkappid, list(ids))) if ids else set()

    async def prepare(self, caller: Caller, elements_json: bytes, *,
                      external: bool = False) -> bytes:
        """A message's elements with every upload they name checked and filled
        in from what was stored (URLs, sizes, dimensions, durations): an
        upload of another app is unknown (95003); one the sender may not read
        is refused (95009); an element of the wrong type for the upload is
        90002. Elements that name no upload (plain URLs) pass as they are;
        with ``external`` (the Tencent API), so do elements whose id is the
        app's own (no upload of any app has it)."""
        if not names_media(elements_json):
            return elements_json
        elements = orjson.loads(elements_json)
        ids = [e["media_id"] for e in elements
               if isinstance(e, dict) and e.get("type") in _ELEMENT_KINDS and e.get("media_id")]
        if not ids:
            return elements_json
        rows = await self._store.get_many(caller.sdkappid,
                                          [i for i in ids if valid_media_id(i)])
        missing = [i for i in ids if i not in rows]
        if missing and external:
            # The app's own media, named by the app's own id (Tencent's UUID),
            # pass as they are; an id of another app's upload is refused, as
            # the app cannot have it.
            missing = [i for i in missing
                       if valid_media_id(i) and await self._store.get_any(i) is not None]
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
            if not media_id or element.get("type") not in _ELEMENT_KINDS or media_id not in rows:
                out.append(element)
                continue
            row = rows[media_id]
            wants = _ELEMENT_KINDS[element["type"]]
            if wants is not None and row.kind != wants:
                raise TidingsError(ErrorCode.INVALID_MESSAGE_BODY,
                                   f"elements[{i}]: upload {media_id!r} is a {row.kind}, not "
                                   f"a {wants.value}")
            out.append(self._views.element_of(row, element["type"], element.get("name", "")))
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
                await asyncio.to_thread(self._uploads.part_path(upload_id).unlink, True)
                self._uploads.locks.pop(upload_id, None)
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

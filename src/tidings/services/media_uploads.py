"""Uploads (docs/media.md): in parts, each part's length recorded only once
its bytes are on disk, or whole in one request; then finishing: typed from
its bytes, measured and given its variants (``adapters/media_probe``),
stored by content hash (``adapters/media_blobs``) and only then recorded."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tidings import metrics
from tidings.adapters.media_blobs import BlobStore
from tidings.config import Settings
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.media import (
    SNIFF_BYTES,
    MediaKind,
    MediaPolicy,
    Sniffed,
    check_kind,
    clean_name,
    sniff,
    valid_media_id,
)
from tidings.services.media_files import copy_limited, flush, hash_file, head
from tidings.services.media_views import MediaViews
from tidings.store.media import MediaRow, MediaStore, UploadRow


@dataclass(frozen=True, slots=True)
class Caller:
    """Who uploads or asks: a user of the app, or its admin (by API key, or
    by an admin account's UserSig: then ``owner`` is that user id)."""

    sdkappid: int
    owner: str
    admin: bool = False


class Uploads:
    def __init__(self, store: MediaStore, blobs: BlobStore, settings: Settings, work_dir: Path,
                 policy: Callable[[int], Awaitable[MediaPolicy]], views: MediaViews,
                 blob_lock: asyncio.Lock) -> None:
        self._store = store
        self.blobs = blobs
        self._cfg = settings
        self._work = work_dir
        self._policy = policy
        self._views = views
        # Shared with collection (services/media.py): storing a blob and
        # counting it, and removing an unused one, never interleave.
        self._blob_lock = blob_lock
        # One request at a time per upload.
        self.locks: dict[str, asyncio.Lock] = {}

    def part_path(self, upload_id: str) -> Path:
        return self._work / f"{upload_id}.part"

    async def create_upload(self, caller: Caller, size: int, name: str,
                            kind: MediaKind | None, duration: float) -> dict[str, Any]:
        policy = await self._policy(caller.sdkappid)
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
        self.part_path(row.id).touch()
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
        async with self.locks.setdefault(upload_id, asyncio.Lock()):
            row = await self._own_upload(caller, upload_id)
            if offset != row.received:
                raise TidingsError(ErrorCode.UPLOAD_OFFSET_MISMATCH,
                                   f"the upload stands at {row.received} bytes; send "
                                   f"from there (not {offset})",
                                   {"offset": row.received})
            limit = min(self._cfg.media_part_max_bytes, row.size - row.received)
            path = self.part_path(upload_id)
            f = await asyncio.to_thread(open, path, "r+b")
            try:
                # A crash after writing but before recording leaves
                # bytes past ``received``: they are cut off.
                await asyncio.to_thread(f.truncate, row.received)
                f.seek(row.received)
                written = await copy_limited(body, f, limit, row.size - row.received,
                                             self._cfg.media_part_max_bytes)
                await asyncio.to_thread(flush, f)
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
        found = sniff(await asyncio.to_thread(head, path))
        kind = check_kind(MediaKind(row.kind) if row.kind else None, found)
        (await self._policy(caller.sdkappid)).check_kind(kind)

    async def complete(self, caller: Caller, upload_id: str) -> dict[str, Any]:
        await self._own_upload(caller, upload_id)
        async with self.locks.setdefault(upload_id, asyncio.Lock()):
            row = await self._own_upload(caller, upload_id)
            if row.received != row.size:
                raise TidingsError(ErrorCode.UPLOAD_INCOMPLETE,
                                   f"the upload has {row.received} of {row.size} bytes",
                                   {"offset": row.received})
            path = self.part_path(upload_id)
            stored = await self._finish(caller, path, row.name,
                                        MediaKind(row.kind) if row.kind else None,
                                        row.duration_ms, upload_id)
        await asyncio.to_thread(path.unlink, True)
        self.locks.pop(upload_id, None)
        return self._views.media_view(stored)

    async def abort(self, caller: Caller, upload_id: str) -> None:
        await self._own_upload(caller, upload_id)
        await self._store.drop_upload(upload_id)
        await asyncio.to_thread(self.part_path(upload_id).unlink, True)
        self.locks.pop(upload_id, None)

    # -- whole uploads -------------------------------------------------------------

    async def upload(self, caller: Caller, body: AsyncIterator[bytes], length: int | None,
                     name: str, kind: MediaKind | None, duration: float) -> dict[str, Any]:
        """One request with the whole file (``length`` from Content-Length,
        when sent, is checked before anything is read)."""
        policy = await self._policy(caller.sdkappid)
        if length is not None:
            policy.check_size(length)
        if kind is not None:
            policy.check_kind(kind)
        path = self._work / f"w{secrets.token_urlsafe(12)}.tmp"
        try:
            f = await asyncio.to_thread(open, path, "wb")
            try:
                written = await copy_limited(body, f, policy.max_bytes, None,
                                             policy.max_bytes, too_large=True)
            finally:
                f.close()
            if written == 0:
                raise TidingsError(ErrorCode.INVALID_REQUEST, "the upload is empty")
            stored = await self._finish(caller, path, clean_name(name), kind,
                                        int(duration * 1000), None)
        finally:
            await asyncio.to_thread(path.unlink, True)
        return self._views.media_view(stored)

    # -- finishing ------------------------------------------------------------------

    async def _finish(self, caller: Caller, path: Path, name: str, asked: MediaKind | None,
                      claimed_ms: int, upload_id: str | None) -> MediaRow:
        policy = await self._policy(caller.sdkappid)
        found = sniff(await asyncio.to_thread(head, path))
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
        # Imported at the first upload: Pillow and mutagen cost every
        # process's start ~15 ms, and most never see an upload.
        from tidings.adapters import media_probe

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
        digest, size = await asyncio.to_thread(hash_file, original)
        policy.check_size(size)
        files = {digest: original}
        sizes = {digest: size}
        variants: dict[str, dict[str, Any]] = {}
        for label, variant in probed.variants.items():
            v_digest, v_size = await asyncio.to_thread(hash_file, variant.path)
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
        metrics.MEDIA_BYTES.inc(size)
        return row

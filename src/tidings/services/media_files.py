"""The work files of uploads, handled off the event loop by the callers
(``asyncio.to_thread``) except the body copy: hashing, the head that is
sniffed, copying a request body under a limit, fsync; and the key that signs
download URLs, kept in the data directory unless configured."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tidings.adapters.media_blobs import fsync_dir
from tidings.config import Settings
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.media import SNIFF_BYTES


def hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(SNIFF_BYTES)


def flush(f: Any) -> None:
    f.flush()
    os.fsync(f.fileno())


async def copy_limited(body: AsyncIterator[bytes], f: Any, limit: int, expected: int | None,
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


def url_secret(settings: Settings) -> bytes:
    if settings.media_url_secret:
        return settings.media_url_secret.encode()
    path = settings.data_dir / "media-url.key"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(32))
        os.replace(tmp, path)
        fsync_dir(path.parent)
    return path.read_text().strip().encode()

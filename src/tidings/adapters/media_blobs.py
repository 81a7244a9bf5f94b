"""Where uploaded bytes live, by the SHA-256 of their content: on local disk
(the default) or in an S3-compatible bucket. The media service only sees
``BlobStore``; both backends are real and tested (the S3 one against a local
S3-compatible server that the tests start)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

CHUNK = 256 * 1024


class BlobStore(Protocol):
    async def put(self, digest: str, source: Path) -> None:
        """Store the file ``source`` (whose SHA-256 is ``digest``) under its
        digest. Atomic: a reader sees all of it or nothing."""

    def read(self, digest: str, first: int, last: int) -> AsyncIterator[bytes]:
        """Bytes ``first`` to ``last`` (inclusive) of a stored blob."""

    async def delete(self, digest: str) -> None:
        """Remove a blob (no error when it is not there)."""


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """``<root>/ab/cd/<digest>``: written to a temporary name, fsynced, renamed
    into place and the directory fsynced, so a crash never leaves a partial
    file under a content address."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    def _put(self, digest: str, source: Path) -> None:
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            return  # the same bytes, stored before
        tmp = target.with_name(f".{digest}.{os.getpid()}.tmp")
        with open(source, "rb") as src, open(tmp, "wb") as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)

    async def put(self, digest: str, source: Path) -> None:
        await asyncio.to_thread(self._put, digest, source)

    async def read(self, digest: str, first: int, last: int) -> AsyncIterator[bytes]:
        def chunk_at(f: Any, at: int, n: int) -> bytes:
            f.seek(at)
            data: bytes = f.read(n)
            return data

        f = await asyncio.to_thread(open, self.path(digest), "rb")
        try:
            at = first
            while at <= last:
                data = await asyncio.to_thread(chunk_at, f, at, min(CHUNK, last - at + 1))
                if not data:
                    return
                at += len(data)
                yield data
        finally:
            f.close()

    async def delete(self, digest: str) -> None:
        await asyncio.to_thread(self.path(digest).unlink, True)


class S3BlobStore:
    """An S3-compatible bucket through boto3 (the AWS SDK), its blocking calls
    in worker threads: each call is one HTTP request that mostly waits, and
    boto3 clients are thread-safe. Keys are ``<prefix><digest>``."""

    def __init__(self, *, endpoint_url: str, bucket: str, region: str, access_key: str,
                 secret_key: str, prefix: str) -> None:
        import boto3  # type: ignore[import-untyped]  # the optional "s3" extra

        self._client: Any = boto3.client(
            "s3", endpoint_url=endpoint_url or None, region_name=region,
            aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None)
        self._bucket = bucket
        self._prefix = prefix

    def _key(self, digest: str) -> str:
        return f"{self._prefix}{digest}"

    async def ensure_bucket(self) -> None:
        def ensure() -> None:
            try:
                self._client.head_bucket(Bucket=self._bucket)
            except Exception:
                self._client.create_bucket(Bucket=self._bucket)
        await asyncio.to_thread(ensure)

    async def put(self, digest: str, source: Path) -> None:
        # An S3 object appears whole or not at all: no temporary name needed.
        await asyncio.to_thread(self._client.upload_file, str(source), self._bucket,
                                self._key(digest))

    async def read(self, digest: str, first: int, last: int) -> AsyncIterator[bytes]:
        answer = await asyncio.to_thread(self._client.get_object, Bucket=self._bucket,
                                         Key=self._key(digest), Range=f"bytes={first}-{last}")
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, digest: str) -> None:
        await asyncio.to_thread(self._client.delete_object, Bucket=self._bucket,
                                Key=self._key(digest))

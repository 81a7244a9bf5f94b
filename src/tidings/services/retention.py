"""Message retention per app: the window an admin sets (days to keep
messages; 0 keeps them for ever, the default) and the collector that
expires older entries in small batches (store/retention.py says how the
prefix is cut so that seqs, cursors and unread counts stay right). Media
that only expired messages carried is then freed by the media collector."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.store.retention import RetentionStore

log = logging.getLogger("tidings.retention")

DAY_MS = 86_400_000
# Ten years: a longer window is a mistake more often than a wish.
MAX_DAYS = 3650


def checked_days(days: object) -> int:
    """The window as given by an admin, or 10002 naming what is wrong."""
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           f"retention_days: a whole number of days from 0 (keep for ever) "
                           f"to {MAX_DAYS}")
    return days


class RetentionService:
    def __init__(self, store: RetentionStore, *, interval: float = 3600.0,
                 batch: int = 500) -> None:
        self._store = store
        self._interval = interval
        self._batch = batch
        self._task: asyncio.Task[None] | None = None

    async def days(self, sdkappid: int) -> int:
        return await self._store.days(sdkappid)

    async def set_days(self, sdkappid: int, days: object) -> int:
        value = checked_days(days)
        await self._store.set_days(sdkappid, value, now_ms())
        return value

    async def collect(self, now: int | None = None) -> int:
        """One run over every app with a window; returns the entries removed.
        Each batch commits on its own, so a run cut short loses nothing that
        the next run does not finish."""
        now = now_ms() if now is None else now
        removed = 0
        for sdkappid, days in await self._store.windows():
            before = now - days * DAY_MS
            after = 0
            while cids := await self._store.conversations_with_old(
                    sdkappid, before, after, self._batch):
                for cid in cids:
                    while (done := await self._store.expire_batch(cid, before, self._batch)):
                        removed += done
                        if done < self._batch:
                            break
                after = cids[-1]
        return removed

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="retention-collector")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                removed = await self.collect()
                if removed:
                    log.info("retention expired %d entries", removed)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention run failed; retrying next round")
            await asyncio.sleep(self._interval)

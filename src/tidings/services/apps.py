"""Apps as the running server sees them: a short-lived cache over the store,
so an app created or a key rotated from the CLI works at once (or, for a
retired key, within ``app_cache_ttl``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.store.apps import AppRecord, AppStore


class AppRegistry:
    def __init__(self, store: AppStore, ttl: float) -> None:
        self._store = store
        self._ttl = ttl
        self._cache: dict[int, tuple[float, AppRecord | None]] = {}

    async def get(self, sdkappid: int) -> AppRecord:
        now = time.monotonic()
        hit = self._cache.get(sdkappid)
        if hit is None or now - hit[0] > self._ttl:
            record = await self._store.get(sdkappid)
            if len(self._cache) > 10_000:
                self._cache.clear()
            hit = (now, record)
            self._cache[sdkappid] = hit
        if hit[1] is None:
            raise TidingsError(ErrorCode.APP_NOT_FOUND, f"no app with sdkappid {sdkappid}")
        return hit[1]

    async def refresh(self, sdkappid: int) -> AppRecord:
        """Skip the cache: used when a ticket fails, in case a key was just added."""
        self._cache.pop(sdkappid, None)
        return await self.get(sdkappid)

    async def verify(self, sdkappid: int, check: Callable[[tuple[str, ...]], None],
                     forged: ErrorCode) -> AppRecord:
        """Run ``check`` (a ticket's MAC and lifetime) against the app's live
        keys; when it fails with ``forged``, once more with the keys read
        again: a key added a moment ago may not be in the cache yet."""
        app = await self.get(sdkappid)
        try:
            check(app.live_keys)
        except TidingsError as exc:
            if exc.code is not forged:
                raise
            app = await self.refresh(sdkappid)
            check(app.live_keys)
        return app

"""Apps as the running server sees them: a short-lived cache over the store,
so an app created or a key rotated from the CLI works at once (or, for a
retired key, within ``app_cache_ttl``); and the app management that the CLI
does (create, keys, API keys), which keeps this process's cache right."""

from __future__ import annotations

from collections.abc import Callable

from tidings.bus.local import LocalBus
from tidings.domain.apps import ApiKey, AppRecord, check_app_fields
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.services.ttl_cache import TtlCache
from tidings.store.apps import AppStore


class AppRegistry:
    def __init__(self, store: AppStore, ttl: float) -> None:
        self._store = store
        self._cache: TtlCache[int, AppRecord | None] = TtlCache(ttl, store.get, what="app")

    def share(self, bus: LocalBus) -> None:
        """In a cluster: the apps and their keys this process changes, the others read
        again at once (docs/cluster.md)."""
        self._cache.share(bus, "apps")

    @property
    def ttl(self) -> float:
        return self._cache.ttl

    async def find(self, sdkappid: int) -> AppRecord | None:
        return await self._cache.get(sdkappid)

    async def get(self, sdkappid: int) -> AppRecord:
        found = await self._cache.get(sdkappid)
        if found is None:
            raise TidingsError(ErrorCode.APP_NOT_FOUND, f"no app with sdkappid {sdkappid}")
        return found

    async def refresh(self, sdkappid: int) -> AppRecord:
        """Skip the cache: used when a ticket fails, in case a key was just added."""
        found = await self._cache.reload(sdkappid)
        if found is None:
            raise TidingsError(ErrorCode.APP_NOT_FOUND, f"no app with sdkappid {sdkappid}")
        return found

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

    # -- management (the CLI) ------------------------------------------------------

    async def create(self, name: str, icon_url: str, admin: str) -> tuple[AppRecord, str]:
        """A new app with its first secret key and admin: (the app, the key)."""
        app, key = await self._store.create(name, icon_url, admin)
        self._cache.put(app.sdkappid, app)
        return app, key

    async def list(self) -> list[AppRecord]:
        return await self._store.list()

    async def update(self, sdkappid: int, name: str | None, icon_url: str | None
                     ) -> AppRecord:
        """A new name and/or icon (the admin API; what users see of the app)."""
        check_app_fields(name, icon_url)
        if not await self._store.update(sdkappid, name.strip() if name else None, icon_url):
            raise TidingsError(ErrorCode.APP_NOT_FOUND, f"no app with sdkappid {sdkappid}")
        self._cache.forget(sdkappid)  # here and in every process of a cluster
        return await self.get(sdkappid)

    async def add_key(self, sdkappid: int) -> str:
        """One more live secret key (the old ones keep working)."""
        key = await self._store.add_key(sdkappid)
        self._cache.forget(sdkappid)
        return key

    async def retire_all_but_newest(self, sdkappid: int) -> int:
        retired = await self._store.retire_all_but_newest(sdkappid)
        self._cache.forget(sdkappid)
        return retired

    async def create_api_key(self, sdkappid: int, name: str) -> tuple[ApiKey, str]:
        return await self._store.create_api_key(sdkappid, name)

    async def list_api_keys(self, sdkappid: int) -> tuple[ApiKey, ...]:
        return await self._store.list_api_keys(sdkappid)

    async def revoke_api_key(self, sdkappid: int, key_id: int) -> bool:
        return await self._store.revoke_api_key(sdkappid, key_id)

"""The services that the ``tidings`` command works through: the same classes
that a running server holds (services/), over the same database, so every
check is the server's and every change goes where the server's caches
expect it (a running server sees it within ``app_cache_ttl``).

A composition root for one command, beside the server's (runtime): it opens
the database, makes only the services the command asks for (so ``tidings
--help`` and the quick commands import little), starts nothing in the
background, and closes everything afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Protocol, TypeVar

from tidings.config import Settings
from tidings.store.engine import Database, migrate, open_database

if TYPE_CHECKING:
    from tidings.bus.local import LocalBus
    from tidings.bus.redis import RedisNews
    from tidings.services.apps import AppRegistry
    from tidings.services.callbacks import CallbackService
    from tidings.services.friends import FriendService
    from tidings.services.group_defaults import GroupDefaults
    from tidings.services.push import PushService


class _Shares(Protocol):
    def share(self, bus: LocalBus) -> None: ...


T = TypeVar("T", bound=_Shares)


class CliServices:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self._db = db
        # In a cluster, what a command changes is told to the servers at
        # once (they would read it again within app_cache_ttl anyway).
        self._news: RedisNews | None = None
        if settings.redis_url:
            from tidings.bus.redis import RedisNews

            self._news = RedisNews(settings.redis_url, settings.cluster_name)

    def _shared(self, service: T) -> T:
        if self._news is not None:
            service.share(self._news)
        return service

    @cached_property
    def apps(self) -> AppRegistry:
        from tidings.services.apps import AppRegistry
        from tidings.store.apps import AppStore

        return self._shared(AppRegistry(AppStore(self._db), self.settings.app_cache_ttl))

    @cached_property
    def callbacks(self) -> CallbackService:
        from tidings.services.callbacks import CallbackService
        from tidings.store.callbacks import CallbackStore

        return self._shared(CallbackService(CallbackStore(self._db), self.settings))

    @cached_property
    def friends(self) -> FriendService:
        from tidings.bus.local import LocalBus
        from tidings.services.friends import FriendService
        from tidings.store.accounts import AccountStore
        from tidings.store.friends import FriendStore
        from tidings.store.profiles import ProfileStore

        friends = FriendService(FriendStore(self._db), AccountStore(self._db),
                                ProfileStore(self._db), LocalBus(), self.callbacks,
                                self.settings.app_cache_ttl)
        self._shared(friends.relations)
        return friends

    @cached_property
    def group_defaults(self) -> GroupDefaults:
        from tidings.services.group_defaults import GroupDefaults
        from tidings.store.groups import GroupStore

        return self._shared(GroupDefaults(GroupStore(self._db), self.settings.app_cache_ttl))

    @cached_property
    def push(self) -> PushService:
        from tidings.bus.local import LocalBus
        from tidings.services.push import PushService
        from tidings.store.push import PushStore

        return PushService(PushStore(self._db), LocalBus(), self.callbacks, self.settings)

    async def close(self) -> None:
        if "callbacks" in self.__dict__:
            await self.callbacks.stop()
        if self._news is not None:
            await self._news.flush()


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[CliServices]:
    """The services over the settings' database (migrated first, as ``serve`` does)."""
    db = open_database(settings.resolved_database_url())
    try:
        await migrate(db)
        services = CliServices(settings, db)
        try:
            yield services
        finally:
            await services.close()
    finally:
        await db.dispose()

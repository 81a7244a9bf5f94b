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

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from tidings.config import Settings
from tidings.store.engine import Database, Progress, migrate, open_database

if TYPE_CHECKING:
    from tidings.bus.local import LocalBus
    from tidings.bus.redis import RedisNews
    from tidings.services.apps import AppRegistry
    from tidings.services.callbacks import CallbackService
    from tidings.services.friends import FriendService
    from tidings.services.group_defaults import GroupDefaults
    from tidings.services.operators import OperatorService
    from tidings.services.push import PushService
    from tidings.services.retention import RetentionService


class _Shares(Protocol):
    def share(self, bus: LocalBus) -> None: ...


T = TypeVar("T", bound=_Shares)


class CliServices:
    def __init__(self, settings: Settings, db: Database, *, new_database: bool = False) -> None:
        self.settings = settings
        self._db = db
        # The command made the database (it had no schema): the CLI says so.
        self.new_database = new_database
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
    def retention(self) -> RetentionService:
        from tidings.services.retention import RetentionService
        from tidings.store.retention import RetentionStore

        return RetentionService(RetentionStore(self._db))

    @cached_property
    def operators(self) -> OperatorService:
        from tidings.services.operators import operator_service

        return operator_service(self._db, self.settings)

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
async def open_services(settings: Settings, progress: Progress | None = None
                        ) -> AsyncIterator[CliServices]:
    """The services over the settings' database (migrated first, as ``serve``
    does; ``progress`` hears of each migration applied)."""
    db = open_database(settings.resolved_database_url())
    try:
        new = await migrate(db, progress)
        services = CliServices(settings, db, new_database=new)
        try:
            yield services
        finally:
            await services.close()
    finally:
        await db.dispose()


def backup(settings: Settings, target: Path, progress: Callable[[int, int], None]) -> int:
    """``tidings backup``: the embedded SQLite database copied while the
    server runs (store/backup.py); pages copied. PostgreSQL: pg_dump."""
    from tidings.store.backup import backup_sqlite, sqlite_file

    source = sqlite_file(settings.resolved_database_url())
    if source is None:
        raise ValueError("the database is not SQLite: back it up with pg_dump "
                         "(docs/operations.md, 'Backup and restore')")
    return backup_sqlite(source, target, progress)

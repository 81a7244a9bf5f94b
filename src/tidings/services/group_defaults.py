"""An app's group settings that the admin API and the CLI both change: the
accounts added to every new group of the app (its default members)."""

from __future__ import annotations

from tidings.bus.local import LocalBus
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import check_user_id
from tidings.services.ttl_cache import TtlCache
from tidings.store.groups import GroupStore

MAX_DEFAULT_MEMBERS = 20
# How long an app's default members are believed (the runtime gives
# TIDINGS_APP_CACHE_TTL): a change made in another process (the CLI) is in
# effect for every group created more than this many seconds after it.
DEFAULTS_TTL = 10.0


class GroupDefaults:
    """The accounts added to every new group of an app: the app's setting,
    read again when older than ``ttl``. The admin API (through GroupService)
    and the CLI both change it here."""

    def __init__(self, store: GroupStore, ttl: float = DEFAULTS_TTL) -> None:
        self._store = store
        self._cache: TtlCache[int, list[str]] = TtlCache(ttl, store.default_members,
                                                         what="group default members")

    def share(self, bus: LocalBus) -> None:
        """In a cluster: the default members this process changes, the others read
        again at once (docs/cluster.md)."""
        self._cache.share(bus, "group_defaults")

    async def get(self, sdkappid: int) -> list[str]:
        return list(await self._cache.get(sdkappid))

    async def put(self, sdkappid: int, users: list[str]) -> list[str]:
        if len(users) > MAX_DEFAULT_MEMBERS:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"at most {MAX_DEFAULT_MEMBERS} default members")
        checked = [check_user_id(u) for u in dict.fromkeys(users)]
        await self._store.set_default_members(sdkappid, checked, now_ms())
        self._cache.put(sdkappid, checked)
        return list(checked)

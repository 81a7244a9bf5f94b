"""Rate-limit and lock-out counters in Redis, for the processes of a
cluster (docs/cluster.md, "Shared rate limits"): the home app's sign-in,
code and lock-out counters (services/home_accounts.py) hold for a client
whatever process its requests land on, without a database write per
attempt. The same fixed windows as the database's counters
(store/rate_limits.py): the first hit of a key starts its window, which
Redis then expires by itself.

One round trip per hit: a Lua script increments the key, gives a new key
its expiry and answers the count with the time left, atomically (two
processes hitting one key at once never lose a count, and no key is left
without an expiry by a process that died between two commands)."""

from __future__ import annotations

from typing import Any

from tidings.domain.rate_limits import Hit

_HIT = """
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {hits, left}
"""


class RedisRateCounter:
    def __init__(self, client: Any, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix
        self._hit = client.register_script(_HIT)

    async def hit(self, key: str, window_ms: int, now: int) -> Hit:
        hits, left = await self._hit(keys=[self._prefix + key], args=[window_ms])
        return Hit(int(hits), now + int(left))

    async def clear(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def prune(self, older_than: int) -> int:
        """Nothing to prune: Redis expires each window's key itself."""
        return 0

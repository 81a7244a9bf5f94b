"""The rate-limit counters a cluster shares in Redis (bus/redis_counters.py),
against the real Redis: hits from two processes' clients at once are all
counted, each window ends when it says, and a cleared key starts over."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis

from tests.redis_server import RedisServer
from tidings.bus.redis_counters import RedisRateCounter


async def test_hits_from_two_clients_at_once_are_all_counted_in_one_window(
        redis_server: RedisServer) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}:rate:"
    clients = [aioredis.Redis.from_url(redis_server.url) for _ in range(2)]
    try:
        counters = [RedisRateCounter(c, prefix) for c in clients]
        now = 1_000_000
        hits = await asyncio.gather(*(counters[i % 2].hit("home:ip:10.0.0.1", 60_000, now)
                                      for i in range(40)))
        assert sorted(h.hits for h in hits) == list(range(1, 41))  # none lost, none twice
        # The window began with the first hit: it ends within a minute of now.
        assert all(now < h.resets_at <= now + 60_000 for h in hits)
        assert 0 < await clients[0].pttl(prefix + "home:ip:10.0.0.1") <= 60_000
        other = await counters[1].hit("home:ip:10.0.0.2", 60_000, now)
        assert other.hits == 1  # keys apart
        await counters[0].clear("home:ip:10.0.0.1")
        assert (await counters[1].hit("home:ip:10.0.0.1", 60_000, now)).hits == 1
        assert await counters[0].prune(now) == 0  # Redis expires keys itself
    finally:
        for c in clients:
            await c.aclose()


async def test_a_window_ends_and_the_count_starts_over(redis_server: RedisServer) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}:rate:"
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        counter = RedisRateCounter(client, prefix)
        assert (await counter.hit("k", 50, 0)).hits == 1
        assert (await counter.hit("k", 50, 0)).hits == 2
        for _ in range(100):  # Redis expires the key 50 ms after its first hit
            if not await client.exists(prefix + "k"):
                break
            await asyncio.sleep(0.01)
        assert (await counter.hit("k", 50, 0)).hits == 1
    finally:
        await client.aclose()

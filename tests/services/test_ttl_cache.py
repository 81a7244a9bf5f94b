"""The settings cache, in-process: an entry older than its time to live is
read again before it is answered; one read per key at a time, however many
ask; a value written meanwhile beats an older read; a forced read never
reuses one that began before it."""

from __future__ import annotations

import asyncio

import pytest

from tidings.services.ttl_cache import TtlCache


class Source:
    """What the database holds, with a count of reads and a gate to hold them."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.reads = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False

    async def load(self, key: str) -> int:
        self.reads += 1
        value = self.values.get(key, 0)  # read as the query starts
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("database down")
        return value


async def test_an_expired_entry_is_read_again_before_it_is_answered() -> None:
    source = Source()
    cache = TtlCache(0.5, source.load)
    source.values["app"] = 1
    assert await cache.get("app") == 1
    source.values["app"] = 2
    assert await cache.get("app") == 1  # fresh: from memory
    assert source.reads == 1
    await asyncio.sleep(0.6)
    assert cache.peek("app") is None and cache.quick("app") is None
    assert await cache.get("app") == 2  # the first answer after the ttl is the new value
    assert source.reads == 2


async def test_a_burst_costs_one_read() -> None:
    source = Source()
    cache = TtlCache(60, source.load)
    source.gate.clear()
    waiting = [asyncio.create_task(cache.get("app")) for _ in range(50)]
    await asyncio.sleep(0.01)
    source.gate.set()
    assert await asyncio.gather(*waiting) == [0] * 50
    assert source.reads == 1


async def test_a_value_written_during_a_read_wins() -> None:
    source = Source()
    cache = TtlCache(60, source.load)
    source.gate.clear()
    reading = asyncio.create_task(cache.get("app"))
    await asyncio.sleep(0.01)
    cache.put("app", 7)  # this process wrote it after the read began
    source.gate.set()
    assert await reading == 7
    assert await cache.get("app") == 7


async def test_reload_waits_for_a_read_that_began_after_it() -> None:
    source = Source()
    cache = TtlCache(60, source.load)
    source.gate.clear()
    early = asyncio.create_task(cache.get("app"))
    await asyncio.sleep(0.01)
    source.values["app"] = 5  # e.g. a key added while the first read ran
    forced = asyncio.create_task(cache.reload("app"))
    await asyncio.sleep(0.01)
    source.gate.set()
    assert await early == 0
    assert await forced == 5
    assert source.reads == 2


async def test_a_failed_read_reaches_every_caller_and_the_next_one_reads_again() -> None:
    source = Source()
    cache = TtlCache(0.05, source.load)
    assert await cache.get("app") == 0
    await asyncio.sleep(0.1)
    source.fail = True
    with pytest.raises(RuntimeError):
        await cache.get("app")  # never the expired value
    source.fail = False
    source.values["app"] = 3
    assert await cache.get("app") == 3


async def test_quick_reads_a_busy_entry_again_before_it_expires() -> None:
    source = Source()
    cache = TtlCache(1.0, source.load)
    assert cache.quick("app") is None  # unknown: a read starts in the background
    await asyncio.sleep(0.01)
    hit = cache.quick("app")
    assert hit is not None and hit.value == 0 and source.reads == 1
    await asyncio.sleep(0.6)  # past half its life: still answered, and read again
    source.values["app"] = 4
    hit = cache.quick("app")
    assert hit is not None and hit.value == 0
    await asyncio.sleep(0.01)
    hit = cache.quick("app")
    assert hit is not None and hit.value == 4 and source.reads == 2


async def test_a_caller_that_gives_up_does_not_cancel_the_others_read() -> None:
    source = Source()
    cache = TtlCache(60, source.load)
    source.gate.clear()
    impatient = asyncio.create_task(cache.get("app"))
    patient = asyncio.create_task(cache.get("app"))
    await asyncio.sleep(0.01)
    impatient.cancel()
    source.gate.set()
    assert await patient == 0
    assert source.reads == 1

"""The sessions' shared timer (gateway/timer_wheel.py): each scheduled item
fires once, in deadline order, never before its deadline; a cancelled one
never fires; an item may schedule itself again from its own tick."""

from __future__ import annotations

import asyncio

from tidings.gateway import timer_wheel


class Item:
    def __init__(self, name: str, fired: list[tuple[str, float]], done: asyncio.Event) -> None:
        self.name, self.fired, self.done = name, fired, done
        self.again = self.due = 0.0

    def on_tick(self) -> None:
        self.fired.append((self.name, asyncio.get_running_loop().time() - self.due))
        if len(self.fired) == 4:
            self.done.set()
        if self.again:
            self.again, delay = 0, self.again
            self.due = asyncio.get_running_loop().time() + delay
            timer_wheel.wheel().schedule(self, delay)


async def test_items_fire_once_in_order_and_cancelled_ones_never() -> None:
    loop = asyncio.get_running_loop()
    wheel = timer_wheel.wheel()
    assert timer_wheel.wheel() is wheel  # one per loop
    fired: list[tuple[str, float]] = []
    done = asyncio.Event()
    items = {name: Item(name, fired, done) for name in ("late", "early", "cancelled", "middle")}
    # Fires again from its own tick, after "late" (deadlines in one tick
    # fire together, in no order: these are ticks apart).
    items["early"].again = 0.45
    keys = {}
    for name, delay in (("late", 0.4), ("early", 0.1), ("cancelled", 0.2), ("middle", 0.3)):
        items[name].due = loop.time() + delay
        keys[name] = wheel.schedule(items[name], delay)
    wheel.cancel(items["cancelled"], keys["cancelled"])
    # The fourth tick (a loaded machine may run the loop late: no time limit to fail on).
    await asyncio.wait_for(done.wait(), 60)
    assert [name for name, _ in fired] == ["early", "middle", "late", "early"]
    assert all(late >= -0.002 for _, late in fired), fired  # never before the deadline


async def test_a_failing_item_does_not_stop_the_others_of_its_tick() -> None:
    class Broken:
        def on_tick(self) -> None:
            raise RuntimeError("a session's fault")

    fired: list[tuple[str, float]] = []
    done = asyncio.Event()
    wheel = timer_wheel.wheel()
    wheel.schedule(Broken(), 0.1)
    items = [Item(name, fired, done) for name in ("a", "b", "c")]
    for item in items:
        item.due = asyncio.get_running_loop().time() + 0.1
        wheel.schedule(item, 0.1)  # the same tick as the broken one
    later = Item("d", fired, done)
    later.due = asyncio.get_running_loop().time() + 0.3
    wheel.schedule(later, 0.3)  # a later tick: the wheel is armed again
    await asyncio.wait_for(done.wait(), 60)
    assert sorted(name for name, _ in fired) == ["a", "b", "c", "d"]

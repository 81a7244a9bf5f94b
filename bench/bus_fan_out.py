"""The bus' part of a group entry's fan-out and of a one-to-one message's
delivery, in-process (issue 19): ``LocalBus.deliver_many`` to ``--members``
identities each with one device, and both members of a pair through the
commit hook's call, in microseconds per call (the best of ``--repeat``
timeit rounds). Run old and new code side by side:

    python bench/bus_fan_out.py --members 200
    PYTHONPATH=/tmp/old/src python bench/bus_fan_out.py --members 200

Prints one JSON line."""

from __future__ import annotations

import argparse
import json
import timeit
from functools import partial

from tidings.bus.local import LocalBus
from tidings.domain.ids import Identity


class Device:
    """A connected device that only counts its frames."""

    __slots__ = ("frames",)

    def __init__(self) -> None:
        self.frames = 0

    def push(self, frame: bytes, conversation_id: int | None = None, seq: int = 0) -> None:
        self.frames += 1

    def describe(self) -> dict[str, object]:
        return {}

    def disconnect(self, code: int, reason: str) -> None:
        pass


def render(msg: str, viewer: str) -> bytes:
    return b"x"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()
    bus = LocalBus()
    users = [f"user{i}" for i in range(args.members)]
    for user in users:
        bus.attach(Identity(1, user), Device())
    pair = (Identity(1, users[0]), Identity(1, users[1]))
    frame = b"frame"

    def group() -> None:
        bus.deliver_many(1, users, frame, conversation_id=7, seq=1)

    def one_to_one() -> None:
        each = getattr(bus, "deliver_each", None)
        if each is not None:
            each(pair, partial(render, "m"), conversation_id=7, seq=1)
            return
        for member in pair:  # the commit hook's calls before deliver_each
            bus.deliver(member, partial(render, "m", member.user_id), conversation_id=7, seq=1)

    out = {}
    for name, run, number in (("group_us", group, max(1, args.number // 10)),
                              ("pair_us", one_to_one, args.number * 10)):
        best = min(timeit.repeat(run, number=number, repeat=args.repeat))
        out[name] = round(best / number * 1e6, 3)
    out["members"] = args.members
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""Sending's own bookkeeping per message, with the recent acks full (as at
saturation after the first 50,000 sends): ``submit``'s checks and dedup
lookups and the commit hook's ``on_commit`` (in flight -> recent acks),
with a stand-in writer (no store, no loop turns). Issue 19, perf-loop6.

    python bench/send_bookkeeping.py --messages 200000 --batch 400
    PYTHONPATH=/tmp/old/src python bench/send_bookkeeping.py   # the old code

Prints one JSON line: CPU us per message of ``submit`` and of
``on_commit`` (process time, the least of ``--repeat`` runs).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from typing import Any, cast

from tidings.domain.elements import MessageState
from tidings.domain.ids import Identity
from tidings.domain.records import Committed, NewMessage, StoredMessage
from tidings.services.messaging.lanes import Lanes
from tidings.services.messaging.sending import RECENT_ACKS, Sending
from tidings.store.writer import MessageWriter

APP = 1400000001


class Writer:
    """Takes each request and hands back one shared future."""

    def __init__(self, future: asyncio.Future[Committed]) -> None:
        self.requests: list[NewMessage] = []
        self._future = future

    def submit(self, request: NewMessage) -> asyncio.Future[Committed]:
        self.requests.append(request)
        return self._future


def stored(request: NewMessage, seq: int) -> Committed:
    return Committed(request, StoredMessage(7, request.key, seq, request.sender,
                                            request.client_msg_id, request.elements, "", 1,
                                            MessageState.NORMAL), duplicate=False)


async def run(messages: int, batch: int, tag: str) -> tuple[float, float]:
    s = Sending(10_000, Lanes(cast(Any, None), 10_000))
    writer = Writer(asyncio.get_running_loop().create_future())
    s.bind(cast(MessageWriter, writer), None, None)
    senders = [Identity(APP, f"u{i}") for i in range(100)]
    submit_s = commit_s = 0.0
    warm = RECENT_ACKS + batch  # the recent acks full before the count starts
    for start in range(0, warm + messages, batch):
        t0 = time.process_time()
        for n in range(start, start + batch):
            sender = senders[n % 100]
            s.submit(sender, f"c2c_p{n % 100}", f"{tag}-{n}", b"[]", "")
        t1 = time.process_time()
        done = [stored(r, i) for i, r in enumerate(writer.requests)]
        writer.requests.clear()
        t2 = time.process_time()
        s.on_commit(done)
        t3 = time.process_time()
        if start >= warm:
            submit_s += t1 - t0
            commit_s += t3 - t2
    return submit_s * 1e6 / messages, commit_s * 1e6 / messages


class Collections:
    """The collector's runs by generation and their time (us), from
    ``gc.callbacks``."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.us = [0.0, 0.0, 0.0]
        self._start = 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.count[info["generation"]] += 1
            self.us[info["generation"]] += (time.perf_counter() - self._start) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # The server's collector settings (api/app.py).
    gc.freeze()
    gc.set_threshold(10_000, 20, 50)
    collections = Collections()
    runs = [asyncio.run(run(args.messages, args.batch, f"r{i}")) for i in range(args.repeat)]
    print(json.dumps({"submit_us": round(min(r[0] for r in runs), 3),
                      "on_commit_us": round(min(r[1] for r in runs), 3),
                      "gc_runs": collections.count,
                      "gc_ms": [round(us / 1000, 1) for us in collections.us],
                      "runs": runs}))


if __name__ == "__main__":
    main()

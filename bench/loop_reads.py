"""``loop_path.py`` with a count of the push worker's and the callbacks
dispatcher's store calls and wakes (issue 19: which wake-ups read the store
for nothing). Same arguments as loop_path.py; the counts go to stderr as
one JSON line after its result.

    python bench/loop_reads.py --senders 16 --messages 16000 --windows 8 --cpu 1
"""

from __future__ import annotations

import atexit
import collections
import functools
import inspect
import json
import runpy
import sys
from pathlib import Path
from typing import Any

from tidings.services.callbacks import Dispatcher
from tidings.services.push_worker import PushWorker
from tidings.store.callbacks import CallbackStore
from tidings.store.push import PushStore

COUNTED: dict[type, tuple[str, ...]] = {
    # has_devices: the old code's; can_push: the new (each counted where it
    # is); due_sends_checked: the worker's since perf-push2.
    PushStore: ("due_jobs", "due_sends", "due_sends_checked", "settings", "has_devices",
                "can_push", "finish_jobs", "prune_failed"),
    CallbackStore: ("due", "release", "prune", "record"),
    PushWorker: ("wake",),
    Dispatcher: ("wake",),
}
counts: collections.Counter[str] = collections.Counter()


def counting(name: str, method: Any) -> Any:
    if inspect.iscoroutinefunction(method):
        @functools.wraps(method)
        async def counted_async(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return await method(*args, **kwargs)
        return counted_async

    @functools.wraps(method)
    def counted(*args: Any, **kwargs: Any) -> Any:
        counts[name] += 1
        return method(*args, **kwargs)
    return counted


def main() -> None:
    for cls, names in COUNTED.items():
        for name in (n for n in names if hasattr(cls, n)):
            setattr(cls, name, counting(f"{cls.__name__}.{name}", getattr(cls, name)))
    atexit.register(lambda: print(json.dumps({"counts": dict(sorted(counts.items()))}),
                                  file=sys.stderr))
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    sys.argv[0] = str(here / "loop_path.py")
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()

"""bench/pg_waits.py's timeline of the writer's batches, put on the server's
``PYTHONPATH`` (first) only by that bench, and only active when
``PGWAITS_TIMELINE`` names a folder: each batch's times (``perf_counter``,
seconds) as one line of ``PID.tsv`` there:

    formed  size  queued_after  sent  answered  returned  hooked

formed: the writer took the batch off its queue; sent: the batch's
statement(s) built, handed to the driver (``Tail.send``); answered: the
driver's answer (on the short way, which runs outside a transaction, that
is the commit's); returned: ``run_write`` returned (the long way's COMMIT
answered); hooked: the commit hook (acks, frames) done. No code of the
server changes; these wrappers cost ~2 us a batch."""

from __future__ import annotations

import os
import time

_FOLDER = os.environ.get("PGWAITS_TIMELINE")

if _FOLDER:
    from tidings.store.writer import core, pg_batch

    _clock = time.perf_counter
    _out = open(os.path.join(_FOLDER, f"{os.getpid()}.tsv"), "w", buffering=1 << 16)  # noqa: SIM115
    import collections

    _lines = [0]
    # The batches formed and not yet through the commit hook, oldest first
    # (a writer that forms the next batch before the last one's hook: the
    # perf-pgsat4 trial); the last formed is the one whose statement is
    # built (one connection: one at a time).
    _open: collections.deque[list[float]] = collections.deque()

    _send = pg_batch.Tail.send

    def send(self: pg_batch.Tail) -> None:
        record = _open[-1] if _open else None
        if record is not None and not record[3]:
            record[3] = _clock()
        _send(self)
        if record is not None and not record[4]:
            record[4] = _clock()

    pg_batch.Tail.send = send  # type: ignore[method-assign]

    _commit = core.MessageWriter._commit

    async def commit(self: core.MessageWriter, batch: list) -> list:  # type: ignore[type-arg]
        record = [_clock(), len(batch), len(self._queue), 0.0, 0.0, 0.0, 0.0]
        _open.append(record)
        try:
            return await _commit(self, batch)
        finally:
            record[5] = _clock()

    core.MessageWriter._commit = commit  # type: ignore[method-assign]

    _init = core.MessageWriter.__init__

    def init(self: core.MessageWriter, *args: object, **kwargs: object) -> None:
        _init(self, *args, **kwargs)  # type: ignore[arg-type]
        hook = self._on_commit

        def on_commit(done: list) -> None:  # type: ignore[type-arg]
            try:
                hook(done)
            finally:
                if _open:
                    record = _open.popleft()
                    record[6] = _clock()
                    _out.write("\t".join(f"{v:.6f}" if isinstance(v, float) else str(v)
                                         for v in record) + "\n")
                    _lines[0] += 1
                    if _lines[0] % 64 == 0:
                        _out.flush()

        self._on_commit = on_commit

    core.MessageWriter.__init__ = init  # type: ignore[method-assign]

    import atexit
    atexit.register(_out.close)

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
    _current: list[float] = []
    _lines = [0]

    _send = pg_batch.Tail.send

    def send(self: pg_batch.Tail) -> None:
        if _current:
            _current[3] = _clock()
        _send(self)
        if _current:
            _current[4] = _clock()

    pg_batch.Tail.send = send  # type: ignore[method-assign]

    _commit = core.MessageWriter._commit

    async def commit(self: core.MessageWriter, batch: list) -> list:  # type: ignore[type-arg]
        _current[:] = [_clock(), len(batch), len(self._queue), 0.0, 0.0, 0.0, 0.0]
        try:
            return await _commit(self, batch)
        finally:
            _current[5] = _clock()

    core.MessageWriter._commit = commit  # type: ignore[method-assign]

    _init = core.MessageWriter.__init__

    def init(self: core.MessageWriter, *args: object, **kwargs: object) -> None:
        _init(self, *args, **kwargs)  # type: ignore[arg-type]
        hook = self._on_commit

        def on_commit(done: list) -> None:  # type: ignore[type-arg]
            try:
                hook(done)
            finally:
                if _current:
                    _current[6] = _clock()
                    _out.write("\t".join(f"{v:.6f}" if isinstance(v, float) else str(v)
                                         for v in _current) + "\n")
                    _lines[0] += 1
                    if _lines[0] % 64 == 0:
                        _out.flush()

        self._on_commit = on_commit

    core.MessageWriter.__init__ = init  # type: ignore[method-assign]

    import atexit
    atexit.register(_out.close)

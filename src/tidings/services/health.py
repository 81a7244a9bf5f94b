"""Whether this process should be given traffic (``/readyz``): its database
answers and holds the schema this version needs, its Redis answers when it
is one of a cluster, and it is not draining (SIGTERM: docs/cluster.md).

Cheap on purpose, since a load balancer asks every second or two: one
``SELECT`` of the schema's revision (which is also the database's check) and
one Redis ``PING``, each bounded by a short timeout so a stuck dependency
answers "not ready" rather than hanging the probe."""

from __future__ import annotations

import asyncio

from tidings.bus.local import LocalBus
from tidings.store.engine import Database, revisions, schema_revision

# A probe that takes longer than this counts as failed.
PROBE_TIMEOUT = 2.0
OK = "ok"


class Health:
    def __init__(self, db: Database, bus: LocalBus, *, clustered: bool) -> None:
        self._db = db
        self._bus = bus
        self._clustered = clustered
        # Set once by the drain; never unset (the process is on its way out).
        self.draining = False

    async def checks(self) -> dict[str, str]:
        """Each part's state: ``ok``, or why it is not."""
        found: dict[str, str] = {}
        try:
            revision = await asyncio.wait_for(schema_revision(self._db), PROBE_TIMEOUT)
        except Exception as exc:  # any failure of the probe is "not ready"
            found["database"] = f"unreachable ({type(exc).__name__})"
            found["migrations"] = "unknown (the database does not answer)"
        else:
            found["database"] = OK
            found["migrations"] = _migrations(revision)
        if self._clustered:
            try:
                await self._bus.ping()
                found["redis"] = OK
            except Exception as exc:
                found["redis"] = f"unreachable ({type(exc).__name__})"
        found["draining"] = "draining: stopping on SIGTERM" if self.draining else OK
        return found


def _migrations(revision: str | None) -> str:
    """A revision this version does not know was made by a newer version
    during a rolling upgrade: this one still works on it (migrations only
    add), so it stays ready; an older one of ours means they did not run."""
    chain = revisions()
    if revision is None:
        return "no schema yet"
    if chain and revision in chain and revision != chain[-1]:
        return f"pending: at {revision}, this version needs {chain[-1]}"
    return OK

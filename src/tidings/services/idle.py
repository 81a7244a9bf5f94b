"""How long an idle queue worker (the push worker, the callbacks
dispatcher) sleeps when nothing wakes it.

Each polled its store every second (``push_poll_interval``,
``callback_poll_interval``): 120 wake-ups and reads a minute on an idle
server. A process alone (no cluster: nobody else's claims run out) is
woken for every new row (the writer's commit hook, the services'
``wake``), so it need only sleep until the earliest due time of what is
queued (a retry, a delayed push job), and at most ``IDLE_CAP`` (each
worker's prune, due every minute, runs when it wakes). In a cluster the
workers poll as before.
"""

from __future__ import annotations

# The longest sleep of an idle worker (s): its prune, every minute, runs
# when it wakes.
IDLE_CAP = 60.0


def idle_wait(next_at: int | None, now: int, poll: float) -> float:
    """Seconds to sleep unless woken, for a process alone: until ``next_at``
    (ms, the earliest due time queued; None: nothing queued), at most
    ``IDLE_CAP``. A row due already was left by the step (its work failed,
    or its app is at its limit): looked at again after ``poll``, as before."""
    if next_at is None:
        return IDLE_CAP
    if next_at <= now:
        return poll
    return min((next_at - now + 1) / 1000, IDLE_CAP)

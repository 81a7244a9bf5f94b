"""Why a batch failed, as the writer reads it (core.py): another process's
commit (tried again), a resend that met the short way's insert (the long
way), and the few words the log says of it."""

from __future__ import annotations

import sqlite3

from tidings.store.write_connection import sqlstates

_CONFLICTS = {"23505", "40P01", "40001"}  # unique_violation, deadlock, serialization


def conflict(exc: BaseException) -> bool:
    """Whether a failed batch met another transaction (tried again) rather
    than a fault of its own."""
    return bool(sqlstates(exc) & _CONFLICTS)


def resent(exc: BaseException) -> bool:
    """Whether a batch that skipped the dedup read on SQLite met a send
    stored before (the client id's unique key): it goes the long way."""
    err = getattr(exc, "orig", None) or exc
    return isinstance(err, sqlite3.IntegrityError) and "messages.client_msg_id" in str(err)


def reason(exc: BaseException) -> str:
    """What made a batch leave the short way (pg_batch.py), in a few words
    for the log (the driver's text runs long)."""
    codes = sqlstates(exc)
    if "23505" in codes or resent(exc):
        return "a unique key already taken: a send stored before, a resend as often as not"
    if "40001" in codes:  # tidings_seq_moved(), or SeqMoved before the statement
        return ("a seq moved: another process wrote in the conversation, or a refusal"
                " to judge again on the group as committed")
    return "a deadlock with another process" if "40P01" in codes else type(exc).__name__

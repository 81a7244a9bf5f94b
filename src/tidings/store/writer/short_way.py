"""The short way, on both databases: a batch of sends to conversations the
writer holds in memory skips the dedup read (a resend fails the messages'
INSERT on the client id's unique key) and, on PostgreSQL, the lock too (the
batch's one statement checks the seqs: pg_batch.py). ``Gate`` keeps what
memory held before, put back when the short way fails and the batch goes
the long way (``MessageWriter._commit``)."""

from __future__ import annotations

from collections.abc import Sequence

from tidings.domain.records import Request
from tidings.store.writer.conversations import Conv, Conversations


class SeqMoved(Exception):
    """A batch taken the short way must go the long way (a conflict for
    ``MessageWriter._commit``, which tries again)."""

    sqlstate = "40001"


class Gate:
    """A batch's conversations as the writer remembered them before the
    short way: ``seqs`` (each one's ``last_seq``, which the statement
    checks) and their counters, put back when the short way fails."""

    __slots__ = ("_saved", "seqs")

    def __init__(self) -> None:
        self.seqs: dict[int, int] = {}
        self._saved: list[tuple[Conv, int, int, int]] = []

    @classmethod
    def of(cls, convs: Sequence[Conv]) -> Gate:
        gate = cls()
        seqs, saved = gate.seqs, gate._saved
        for conv in convs:
            if conv.id not in seqs:
                seqs[conv.id] = conv.last_seq
                saved.append((conv, conv.last_message_seq, conv.last_msg_no, conv.last_time))
        return gate

    def restore(self) -> None:
        """The counters as before the failed short way (the long way then
        needs no read of what memory holds)."""
        for conv, last_message_seq, last_msg_no, last_time in self._saved:
            conv.last_seq = self.seqs[conv.id]
            conv.last_message_seq, conv.last_msg_no = last_message_seq, last_msg_no
            conv.last_time = last_time


def seq_gate(conversations: Conversations, requests: Sequence[Request]) -> Gate | None:
    """For a batch that may be written in one statement: its conversations
    as the writer remembers them; None when the batch needs the long way
    (``Conversations.known``)."""
    convs = conversations.known(requests)
    return None if convs is None else Gate.of(convs)

"""The short way, on both databases: a batch of sends to conversations the
writer holds in memory skips the dedup read (a resend fails the messages'
INSERT on the client id's unique key) and, on PostgreSQL, the lock too (the
batch's one statement checks the seqs: pg_batch.py). ``Gate`` keeps what
memory held before, put back when the short way fails and the batch goes
the long way (``MessageWriter._commit``)."""

from __future__ import annotations

from collections.abc import Sequence

from tidings.domain.ids import ConversationKind
from tidings.domain.records import NewMessage, Request
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

    def add(self, conv: Conv) -> None:
        if conv.id not in self.seqs:
            self.seqs[conv.id] = conv.last_seq
            self._saved.append((conv, conv.last_message_seq, conv.last_msg_no, conv.last_time))

    def restore(self) -> None:
        """The counters as before the failed short way (the long way then
        needs no read of what memory holds)."""
        for conv, last_message_seq, last_msg_no, last_time in self._saved:
            conv.last_seq = self.seqs[conv.id]
            conv.last_message_seq, conv.last_msg_no = last_message_seq, last_msg_no
            conv.last_time = last_time


def in_memory(conversations: Conversations, r: Request) -> Conv | None:
    """The conversation of a send that may take the short way, as the
    writer remembers it; None when it needs the long way (not a send, a
    conversation not in memory, a group without its state)."""
    if not isinstance(r, NewMessage):
        return None
    conv = conversations.get(r.key)
    if conv is None or (r.key.kind is ConversationKind.GROUP and conv.group is None):
        return None
    return conv


def seq_gate(conversations: Conversations, requests: Sequence[Request]) -> Gate | None:
    """For a batch that may be written in one statement: its conversations
    as the writer remembers them; None when the batch needs the long way
    (not only sends, a conversation not in memory, a group without its
    state)."""
    gate = Gate()
    for r in requests:
        conv = in_memory(conversations, r)
        if conv is None:
            return None
        gate.add(conv)
    return gate

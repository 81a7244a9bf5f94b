"""The records the writer makes per stored entry (domain.records.record):
frozen to the type checker, but built by plain slot stores; they must
still compare and hash by their fields, as the frozen dataclasses did."""

from __future__ import annotations

from dataclasses import replace

from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import Committed, NewMessage, StoredMessage

KEY = ConversationKey(1400000042, ConversationKind.C2C, "alice", "bob")


def stored(seq: int) -> StoredMessage:
    return StoredMessage(7, KEY, seq, "alice", f"m{seq}", "[]", "", 1000, 0)


def test_equal_records_compare_and_hash_alike_and_replace_makes_a_new_one() -> None:
    first, again, other = stored(1), stored(1), stored(2)
    assert first == again and first is not again
    assert hash(first) == hash(again)
    assert {first: "a"}[again] == "a"
    assert first != other
    moved = replace(first, seq=2)
    assert (moved.seq, moved.client_msg_id, first.seq) == (2, "m1", 1)  # a new one
    request = NewMessage(KEY, "alice", "m1", "[]", "")
    done = Committed(request, first, duplicate=False)
    assert done == Committed(request, again, duplicate=False)
    assert done != Committed(request, first, duplicate=True)
    assert not hasattr(first, "__dict__")  # slotted: no per-record dict


def test_conversation_keys_hash_alike_when_equal_and_stay_apart_by_kind() -> None:
    # ConversationKey's own hash leaves its kind out (an Enum's hash is a
    # Python call): equal keys still hash alike, and a kind still tells two
    # keys apart as dict keys.
    again = ConversationKey(1400000042, ConversationKind.C2C, "alice", "bob")
    group = ConversationKey(1400000042, ConversationKind.GROUP, "alice", "bob")
    assert again == KEY and hash(KEY) == hash(again)
    assert group != KEY
    found = {KEY: "c2c", group: "group"}
    assert (found[again], found[group], len(found)) == ("c2c", "group", 2)
    assert hash(KEY) != hash(ConversationKey(1400000043, ConversationKind.C2C, "alice", "bob"))

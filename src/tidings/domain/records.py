"""The records of a conversation's seq stream: what the writer is asked to
store (``NewMessage``, ``NewChange``, ``NewGroupOp``), what it committed
(``Committed``), and the stored entries and a member's view of a
conversation as read back. Plain data: services build them, the store
writes and reads them, edges and the protocol's views read them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, dataclass_transform

from tidings.domain.elements import EntryKind, ImportMode
from tidings.domain.groups import Member
from tidings.domain.ids import ConversationKey

_R = TypeVar("_R")


@dataclass_transform(frozen_default=True)
def record(cls: type[_R]) -> type[_R]:
    """A record made once per stored entry (``StoredMessage``, ``Committed``):
    frozen to the type checker (an assignment to a field is mypy's error),
    hashed by its fields as a frozen dataclass is, but built by plain slot
    stores: a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, 1.9 against 0.4 us for a ``StoredMessage``
    (timeit), two of them for each message the writer stores and each
    entry read back (bench/journal/perf-batch.md)."""
    return dataclass(slots=True, unsafe_hash=True)(cls)


class GroupOperation(Protocol):
    """A change to one group, judged and applied inside the writer's
    transaction (the store's ``GroupOp`` subclasses); ``actor`` None is the
    app's admin."""

    actor: str | None


@record
class StoredMessage:
    conversation_id: int
    key: ConversationKey
    seq: int
    sender: str
    client_msg_id: str
    elements: str  # JSON text, as validated at send
    cloud_custom_data: str
    created_at: int
    state: int
    # domain.elements.EntryKind; a change entry names its target, and carries
    # the target as it stands (read with it, or as the change left it).
    kind: int = 0
    target_seq: int = 0
    imported: int = 0
    edited_at: int | None = None
    change_seq: int = 0
    changed_by: str = ""
    target: StoredMessage | None = None
    # Group messages: the JSON list of mentions ("" for none).
    mentions: str = ""

    @property
    def msg_id(self) -> str:
        return f"{self.conversation_id}-{self.seq}"

    @property
    def is_change(self) -> bool:
        return self.kind != EntryKind.MESSAGE


@dataclass(frozen=True, slots=True)
class ConversationState:
    """One member's view of a conversation."""

    conversation_id: int
    key: ConversationKey
    last_seq: int
    last_time: int
    read_seq: int
    last_message: StoredMessage | None
    # Unread = countable messages (not one's own, not changes, not history
    # imports) after the cursor: last_msg_no - read_msg_no.
    last_msg_no: int = 0
    read_msg_no: int = 0
    # A group member sees the entries after this seq.
    visible_after: int = 0
    # The last seq that mentioned the member, and the last "@all".
    mention_seq: int = 0
    at_all_seq: int = 0

    @property
    def at_me(self) -> bool:
        """An unread message mentions the member (or everyone)."""
        return max(self.mention_seq, self.at_all_seq) > self.read_seq
    # The seq of the newest message (changes are not previews).
    last_message_seq: int = 0

    @property
    def unread(self) -> int:
        return max(0, self.last_msg_no - self.read_msg_no)


@dataclass(slots=True)
class NewMessage:
    key: ConversationKey
    sender: str
    client_msg_id: str
    elements: str
    cloud_custom_data: str
    # Passed back untouched to the commit hook: who asked, to route the ack.
    origin: Any = None
    # (platform, client ip) when the app wants an after-send callback: its
    # outbox row is written in the message's own transaction.
    after_send: tuple[str, str] | None = None
    # An import: the message's own time (else the commit's), and its mode.
    time: int | None = None
    imported: ImportMode = ImportMode.NONE
    # Group messages: the members mentioned, "@all" for everyone (checked).
    mentions: tuple[str, ...] = ()
    # The app's admin into a group: no membership or mute check.
    privileged: bool = False
    # Push for receivers who are away: the sender's options as stored
    # (domain.push.PushOptions.stored(), "" for defaults); None: no push.
    push: str | None = ""


@dataclass(slots=True)
class NewChange:
    """Recall or edit message ``target_seq`` of a conversation. The checks
    that depend on the target run in the writer's transaction, so two changes
    of one message are never judged on the same state."""

    key: ConversationKey
    target_seq: int
    kind: EntryKind  # RECALL or EDIT
    changed_by: str  # "user:<id>" or "admin:<actor>", as stored
    # Edit: what replaces the target's content (None keeps that part).
    elements: str | None = None
    cloud_custom_data: str | None = None
    # A sender's own change: who must have sent the target, and within how
    # many ms of its time (0: no limit). None for an admin: no limits.
    sender: str | None = None
    window_ms: int = 0
    max_bytes: int = 0
    origin: Any = None
    # In a group: the member who asks (the sender of the target, or an owner
    # or admin recalling another's message: no window then).
    actor: str | None = None
    # A recall whose after-recall callback row is written in its transaction.
    after_recall: bool = False


@dataclass(slots=True)
class NewGroupOp:
    """A change to a group (create, join, kick, role, mute, profile, ...): it
    is judged and written in the writer's transaction, on the group as it
    stands, and its system entry takes the group's next seq."""

    key: ConversationKey
    op: GroupOperation
    origin: Any = None
    # The after-events the app wants (its outbox rows go into this transaction).
    callbacks: frozenset[str] = frozenset()


Request = NewMessage | NewChange | NewGroupOp


@record
class Committed:
    request: Request
    # The stored message, or the change entry (with its target as it left it).
    message: StoredMessage
    # True when the client id was stored before (or the message was already
    # recalled): the first ack is repeated and nothing new was stored.
    duplicate: bool
    # The app's before-send callback dropped it: acked, but never stored (seq 0).
    dropped: bool = False
    # A group's entry: who gets it live (the members at its seq; a map that
    # is never changed once published).
    recipients: Mapping[str, Member] | None = None
    # A group operation's answer to its caller.
    result: Any = None


CommitHook = Callable[[list[Committed]], None]

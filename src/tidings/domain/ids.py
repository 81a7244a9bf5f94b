"""Identities and conversation ids, as the clients spell them.

Conversation ids read as in Tencent's SDKs: ``c2c_<peer user id>`` from the
point of view of one member, ``group_<group id>`` for a group. Inside we name
a one-to-one conversation by its two members in sorted order, so both sides
find the same row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tidings.domain.errors import ErrorCode, TidingsError

MAX_USER_ID_BYTES = 32
MAX_GROUP_ID_BYTES = 48


@dataclass(frozen=True, slots=True)
class Identity:
    sdkappid: int
    user_id: str


class ConversationKind(StrEnum):
    C2C = "c2c"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """The stored name of a conversation: ``a``/``b`` are the sorted members
    of a one-to-one conversation, or the group id and an empty string."""

    sdkappid: int
    kind: ConversationKind
    a: str
    b: str

    def __hash__(self) -> int:
        # Without ``kind``: an Enum member's hash is a Python call of its
        # own (Enum.__hash__), ~0.3 of the generated hash's ~0.45 us, and the
        # writer hashes a key for each message it stores (its conversation
        # looked up). Equal keys still hash alike; a group's ``b`` is "".
        return hash((self.sdkappid, self.a, self.b))

    def members(self) -> tuple[str, ...]:
        return (self.a, self.b) if self.kind is ConversationKind.C2C else ()

    def id_for(self, user_id: str) -> str:
        """The conversation id that ``user_id`` sees."""
        if self.kind is ConversationKind.GROUP:
            return f"group_{self.a}"
        return f"c2c_{self.b if user_id == self.a else self.a}"


def _is_clean(value: str) -> bool:
    return value.isprintable() and value == value.strip()


def check_user_id(user_id: object) -> str:
    if not isinstance(user_id, str) or not user_id:
        raise TidingsError(ErrorCode.INVALID_USER_ID, "user id must be a non-empty string")
    if len(user_id.encode()) > MAX_USER_ID_BYTES:
        raise TidingsError(ErrorCode.INVALID_USER_ID,
                           f"user id is longer than {MAX_USER_ID_BYTES} bytes")
    if not _is_clean(user_id):
        raise TidingsError(ErrorCode.INVALID_USER_ID,
                           "user id must not contain control characters or edge spaces")
    return user_id


# Tencent's prefix for the group ids it chooses; an app may not choose one like it.
SERVER_GROUP_ID_PREFIX = "@TGS#"


def check_group_id(group_id: object, *, chosen_by_app: bool = False) -> str:
    if not isinstance(group_id, str) or not group_id:
        raise TidingsError(ErrorCode.INVALID_GROUP_ID, "group id must be a non-empty string")
    if len(group_id.encode()) > MAX_GROUP_ID_BYTES:
        raise TidingsError(ErrorCode.INVALID_GROUP_ID,
                           f"group id is longer than {MAX_GROUP_ID_BYTES} bytes")
    if not _is_clean(group_id):
        raise TidingsError(ErrorCode.INVALID_GROUP_ID,
                           "group id must not contain control characters or edge spaces")
    if chosen_by_app and group_id.startswith(SERVER_GROUP_ID_PREFIX):
        raise TidingsError(ErrorCode.INVALID_GROUP_ID,
                           f"group ids starting with {SERVER_GROUP_ID_PREFIX!r} are the server's")
    return group_id


def group_key(sdkappid: int, group_id: str) -> ConversationKey:
    return ConversationKey(sdkappid, ConversationKind.GROUP, group_id, "")


def c2c_key(sdkappid: int, user_a: str, user_b: str) -> ConversationKey:
    a, b = sorted((user_a, user_b))
    return ConversationKey(sdkappid, ConversationKind.C2C, a, b)


def parse_conversation_id(me: Identity, conversation_id: object) -> ConversationKey:
    """Resolve a client-side conversation id into the stored key."""
    if not isinstance(conversation_id, str):
        raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID, "conversation id must be a string")
    if conversation_id.startswith("c2c_"):
        peer = conversation_id[4:]
        try:
            check_user_id(peer)
        except TidingsError as exc:
            raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                               f"bad peer in conversation id: {exc.message}") from exc
        return c2c_key(me.sdkappid, me.user_id, peer)
    if conversation_id.startswith("group_"):
        try:
            group_id = check_group_id(conversation_id[6:])
        except TidingsError as exc:
            raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                               f"bad group in conversation id: {exc.message}") from exc
        return group_key(me.sdkappid, group_id)
    raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                       "conversation id must start with 'c2c_' or 'group_'")


# The largest BIGINT; clients may send larger numbers.
MAX_SEQ = 2**63 - 1
MAX_CLIENT_MSG_ID = 64


def parse_msg_id(msg_id: str) -> tuple[int, int]:
    """``"<conversation number>-<seq>"`` (opaque to clients, parsed here only)."""
    conv, sep, seq = msg_id.partition("-")
    if sep and conv.isdecimal() and seq.isdecimal() and conv.isascii() and seq.isascii():
        conversation_id, seq_no = int(conv), int(seq)
        if 0 < conversation_id <= MAX_SEQ and 0 < seq_no <= MAX_SEQ:
            return conversation_id, seq_no
    raise TidingsError(ErrorCode.INVALID_MSG_ID, f"not a message id: {msg_id[:80]!r}")

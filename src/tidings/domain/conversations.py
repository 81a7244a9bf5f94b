"""Each user's settings of a conversation: request shapes and limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from tidings.domain.profiles import _max_bytes
from tidings.domain.requests import Payload

MAX_DRAFT_BYTES = 4096


class ConversationPatch(Payload):
    """A field left out keeps its value."""

    pinned: bool | None = Field(None, examples=[True])
    muted: bool | None = Field(None, description="Receive, but do not notify")
    draft: Annotated[str, _max_bytes(MAX_DRAFT_BYTES)] | None = Field(
        None, description='The unsent text; "" clears it', examples=["See you at"])


class TypingIn(Payload):
    typing: bool = Field(True, description="false: stopped typing")


class ReactionIn(Payload):
    emoji: str = Field(min_length=1, max_length=32, examples=["👍"])


class ConversationDeleteIn(Payload):
    clear_history: bool = Field(False, description="Also clear the history, for the caller "
                                                   "only")


@dataclass(frozen=True, slots=True)
class ConversationSettings:
    pinned: bool = False
    muted: bool = False
    hidden_seq: int | None = None
    cleared_seq: int = 0
    draft: str = ""
    draft_time: int = 0

    def hidden(self, last_message_seq: int) -> bool:
        """Hidden until a message newer than the hide comes."""
        return self.hidden_seq is not None and last_message_seq <= self.hidden_seq


DEFAULT = ConversationSettings()

"""The client's conversation list and per-conversation settings: pin, mute,
draft, hide, delete; typing and reactions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tidings.sdk.connection import as_dict
from tidings.sdk.models import Conversation
from tidings.sdk.session import Session


class ConversationMethods(Session):
    """Mixed into :class:`tidings.sdk.Client`."""

    async def conversations(self, limit: int | None = None, *,
                            conversation_ids: Sequence[str] | None = None
                            ) -> list[Conversation]:
        """The user's conversations, pinned first, then the most recently
        active; hidden ones left out. With ``conversation_ids`` (1 to 100):
        just those the user is in, hidden ones included."""
        request: dict[str, Any] = {"limit": limit}
        if conversation_ids is not None:
            request["conversation_ids"] = list(conversation_ids)
        data = await self._call("conversations", request, as_dict, self.request_timeout)
        return [Conversation.from_dict(c) for c in data["conversations"]]

    # -- conversation settings ---------------------------------------------------

    async def set_conversation(self, conversation_id: str, *, pinned: bool | None = None,
                               muted: bool | None = None,
                               draft: str | None = None) -> dict[str, Any]:
        """Pin, mute or set the draft (a value left as None keeps its value)."""
        data: dict[str, Any] = {"conversation_id": conversation_id}
        for name, value in (("pinned", pinned), ("muted", muted), ("draft", draft)):
            if value is not None:
                data[name] = value
        return await self._op("conversation_set", data)

    async def typing(self, conversation_id: str, typing: bool = True) -> bool:
        """Tell the peer we are typing (or stopped); False when throttled."""
        data = await self._op("typing", {"conversation_id": conversation_id,
                                         "typing": typing})
        return not data["throttled"]

    async def react(self, conversation_id: str, seq: int, emoji: str, *,
                    remove: bool = False) -> bool:
        """Add (or with ``remove``, take back) a reaction; False when
        nothing changed."""
        data = await self._op("reaction_remove" if remove else "reaction_add",
                              {"conversation_id": conversation_id, "seq": seq, "emoji": emoji})
        return bool(data["changed"])

    async def hide_conversation(self, conversation_id: str) -> dict[str, Any]:
        return await self._op("conversation_hide", {"conversation_id": conversation_id})

    async def delete_conversation(self, conversation_id: str, *,
                                  clear_history: bool = False) -> dict[str, Any]:
        return await self._op("conversation_delete", {"conversation_id": conversation_id,
                                                      "clear_history": clear_history})

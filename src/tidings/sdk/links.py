"""The client's links: a home account and its app identities
(docs/linked-identity.md): link, unlink, and the linked conversations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tidings.sdk._ids import new_client_msg_id
from tidings.sdk.session import Session


class LinkMethods(Session):
    """Mixed into :class:`tidings.sdk.Client`."""

    @staticmethod
    def _link_request(sdkappid: int, ticket: str, to: str | None,
                      action: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {"sdkappid": sdkappid, "ticket": ticket}
        if to is not None:
            data["to"] = to
        if action is not None:
            data["action"] = action
        return data

    async def preview_link(self, sdkappid: int, ticket: str, *, to: str | None = None,
                           action: str | None = None) -> dict[str, Any]:
        """What linking with this ticket would do (app, app user, target),
        changing nothing."""
        return await self._op("link_preview", self._link_request(sdkappid, ticket, to, action))

    async def link(self, sdkappid: int, ticket: str, *, to: str | None = None,
                   action: str | None = None) -> dict[str, Any]:
        """Use the ticket: link its app user to this home account, then run
        the action (``chat`` or ``friend`` with ``to``)."""
        return await self._op("link_confirm", self._link_request(sdkappid, ticket, to, action))

    async def links(self, sdkappid: int | None = None) -> list[dict[str, Any]]:
        data = {} if sdkappid is None else {"sdkappid": sdkappid}
        return list((await self._op("links", data))["links"])

    async def unlink(self, sdkappid: int) -> dict[str, Any]:
        return await self._op("unlink", {"sdkappid": sdkappid})

    async def linked_conversations(self, sdkappid: int | None = None, *,
                                   conversation_ids: Sequence[str] | None = None
                                   ) -> list[dict[str, Any]]:
        """The linked identities' conversations, grouped by app. With
        ``conversation_ids`` (1 to 100 qualified ids): just those of the
        linked identities, hidden ones included."""
        data: dict[str, Any] = {} if sdkappid is None else {"sdkappid": sdkappid}
        if conversation_ids is not None:
            data["conversation_ids"] = list(conversation_ids)
        return list((await self._op("link_conversations", data))["apps"])

    async def linked_history(self, conversation_id: str, before_seq: int | None = None,
                             limit: int | None = None, *,
                             around_seq: int | None = None) -> dict[str, Any]:
        """A page of a linked conversation (``app:<sdkappid>:c2c_bob``):
        older than ``before_seq``, or around ``around_seq`` (with ``newer``)."""
        request: dict[str, Any] = {"conversation_id": conversation_id,
                                   "before_seq": before_seq, "limit": limit}
        if around_seq is not None:
            request["around_seq"] = around_seq
        return await self._op("link_history", request)

    async def linked_media_url(self, sdkappid: int, media_id: str,
                               variant: str = "original") -> dict[str, Any]:
        """A signed download URL of an upload in a linked app's conversation,
        asked as the linked identity (``{"url", "expires_at", ...}``)."""
        return await self._op("link_media_url", {"sdkappid": sdkappid, "media_id": media_id,
                                                 "variant": variant})

    async def send_linked_text(self, conversation_id: str, text: str, *,
                               client_msg_id: str | None = None) -> dict[str, Any]:
        """Send as the linked identity that ``conversation_id`` (qualified)
        names; answers the ack once stored."""
        return await self._op("link_send", {
            "conversation_id": conversation_id,
            "client_msg_id": client_msg_id or new_client_msg_id(),
            "elements": [{"type": "text", "text": text}]})

    async def linked_sync(self, sdkappid: int, known: Mapping[str, int] | None = None
                          ) -> dict[str, Any]:
        """Catch up on one linked identity's conversations."""
        return await self._op("link_sync", {"sdkappid": sdkappid, "known": dict(known or {})})

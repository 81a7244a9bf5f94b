"""A home account acting as its linked identities (docs/linked-identity.md):
it sends, reads and catches up in an app's conversations as the identity
the link names, with every conversation id qualified by app
(``app:<sdkappid>:c2c_bob``) and every entry carrying identity cards: the app
and the app users as the app set them, never anything a client typed.

The messages are the app's: stored in the app's conversation, numbered in
its seq stream, seen by its callbacks and admin API like any other. The app
learns nothing of the home account: the send context names the platform
``Tidings`` and no client address.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, cast

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity, parse_conversation_id
from tidings.domain.links import qualify, unqualify
from tidings.domain.records import Committed
from tidings.protocol.views import MessageView, UserCard
from tidings.services.auth import Authenticator
from tidings.services.links import LinkService, qualify_view
from tidings.services.messaging import AckTarget, MessagingService, SendContext, SyncResult
from tidings.services.messaging.reading import MAX_CONVERSATION_IDS

LINKED_CONTEXT = SendContext("Tidings", "")


class LinkedMessaging:
    def __init__(self, links: LinkService, messaging: MessagingService,
                 auth: Authenticator) -> None:
        self._links = links
        self._messaging = messaging
        self._auth = auth

    async def _as(self, me: Identity, sdkappid: int) -> Identity:
        """The identity ``me`` holds in app ``sdkappid`` through a live link
        (96056 without one), if the app has not deleted or disabled it."""
        identity = self._links.identity_in(me, sdkappid)
        await self._auth.check_active(identity)
        return identity

    async def identity(self, me: Identity, sdkappid: int) -> Identity:
        """The identity ``me`` acts as in app ``sdkappid`` (96056 without a link)."""
        return await self._as(me, sdkappid)

    async def resolve(self, me: Identity, qualified: object) -> tuple[Identity, str]:
        """A qualified conversation id -> (the linked identity, the
        conversation id in its app)."""
        sdkappid, conversation_id = unqualify(qualified)
        return await self._as(me, sdkappid), conversation_id

    async def _cards(self, identity: Identity, users: list[str]) -> dict[str, dict[str, Any]]:
        return await self._links.user_cards(identity.sdkappid, list(dict.fromkeys(users)))

    async def _dress(self, identity: Identity, typed: Sequence[Mapping[str, Any]]) -> None:
        """Qualify the ids and add the cards: ``app`` and ``sender`` on each
        entry (the app's users, as the app set them)."""
        views = cast(Sequence[dict[str, Any]], typed)
        app = await self._links.app_card(identity.sdkappid)
        senders = [v["sender"] for v in views if isinstance(v.get("sender"), str)]
        cards = await self._cards(identity, senders) if senders else {}
        for view in views:
            qualify_view(identity.sdkappid, view)
            view["app"] = app
            sender = view.get("sender")
            if isinstance(sender, str):
                view["sender_card"] = cards[sender]

    async def submit(self, me: Identity, qualified: str, client_msg_id: str,
                     elements_json: bytes, cloud_custom_data: str,
                     origin: AckTarget | None = None,
                     mentions: tuple[str, ...] | list[str] = ()) -> asyncio.Future[Committed]:
        """As ``MessagingService.submit``: the future resolves once stored."""
        identity, conversation_id = await self.resolve(me, qualified)
        return self._messaging.submit(identity, conversation_id, client_msg_id, elements_json,
                                      cloud_custom_data, origin, LINKED_CONTEXT,
                                      mentions=mentions)

    async def send(self, me: Identity, qualified: str, client_msg_id: str,
                   elements_json: bytes, cloud_custom_data: str,
                   mentions: tuple[str, ...] | list[str] = ()) -> Committed:
        identity, conversation_id = await self.resolve(me, qualified)
        return await self._messaging.send(identity, conversation_id, client_msg_id,
                                          elements_json, cloud_custom_data, LINKED_CONTEXT,
                                          mentions)

    async def history(self, me: Identity, qualified: str, *, before_seq: int | None,
                      limit: int | None) -> tuple[list[MessageView], bool]:
        identity, conversation_id = await self.resolve(me, qualified)
        found, more = await self._messaging.history(identity, conversation_id,
                                                    before_seq=before_seq, limit=limit)
        await self._dress(identity, found)
        return found, more

    async def history_around(self, me: Identity, qualified: str, *, seq: int,
                             limit: int | None) -> tuple[list[MessageView], bool, bool]:
        identity, conversation_id = await self.resolve(me, qualified)
        found, more, newer = await self._messaging.history_around(identity, conversation_id,
                                                                  seq=seq, limit=limit)
        await self._dress(identity, found)
        return found, more, newer

    async def mark_read(self, me: Identity, qualified: str, seq: int | None) -> dict[str, Any]:
        identity, conversation_id = await self.resolve(me, qualified)
        data = await self._messaging.mark_read(identity, conversation_id, seq,
                                               platform=LINKED_CONTEXT.platform)
        return qualify_view(identity.sdkappid, dict(data))

    async def conversations(self, me: Identity, sdkappid: int | None, limit: int | None,
                            conversation_ids: Sequence[str] | None = None) -> dict[str, Any]:
        """The conversations of every linked identity (or of one app's),
        grouped by app: ``{"apps": [{"app", "as", "conversations"}]}``.
        With ``conversation_ids`` (1 to 100 qualified ids): just those, as
        ``conversations`` answers them by id (hidden ones included,
        ``limit`` not applied), grouped the same way; an app asked for with
        no link of the caller's (or other than ``sdkappid``) is left out.
        The ids are checked before any read (10002, 10009)."""
        asked = None if conversation_ids is None else asked_by_app(me, conversation_ids)
        listed = await self._links.links(me, sdkappid)
        if sdkappid is not None and not listed["links"]:
            raise TidingsError(ErrorCode.NOT_LINKED, f"you have no link in app {sdkappid}")
        groups = []
        for link in listed["links"]:
            identity = Identity(link["app"]["sdkappid"], link["user"]["user_id"])
            if asked is None:
                found = await self._messaging.conversations(identity, limit)
            elif wanted := asked.get(identity.sdkappid):
                found = await self._messaging.conversations(identity, limit, wanted)
            else:
                continue  # no id of this app asked for
            peers = [c["conversation_id"][4:] for c in found
                     if c["conversation_id"].startswith("c2c_")]
            cards = await self._cards(identity, peers) if peers else {}
            lasts = [last for c in found if (last := c["last_message"]) is not None]
            await self._dress(identity, lasts)  # qualifies the last messages' ids
            for c in found:
                c["conversation_id"] = qualify(identity.sdkappid, c["conversation_id"])
                peer = c["conversation_id"].rpartition(":c2c_")
                c["peer_card"] = cast(UserCard, cards.get(peer[2])) if peer[1] else None
            groups.append({"app": link["app"], "as": link["user"], "conversations": found})
        return {"apps": groups}

    async def sync(self, me: Identity, sdkappid: int, known: Mapping[str, int],
                   limit: int | None) -> SyncResult:
        """Catch-up for one linked identity, as ``sync`` is for one's own:
        ``known`` names qualified conversation ids."""
        identity = await self._as(me, sdkappid)
        plain: dict[str, int] = {}
        for name, seq in known.items():
            app, conversation_id = unqualify(name)
            if app == sdkappid:
                plain[conversation_id] = seq
        result = await self._messaging.sync(identity, plain, limit)
        await self._dress(identity, result.messages)
        for c in result.conversations:
            qualify_view(sdkappid, c)
        return result


def asked_by_app(me: Identity, conversation_ids: Sequence[str]) -> dict[int, list[str]]:
    """The qualified ids a linked list asks for, by app, under the
    ``conversations`` op's rules: 1 to ``MAX_CONVERSATION_IDS`` ids (else
    10002), each qualified and naming a conversation as its app's own list
    would check it (else 10009; whose it is, is the reads' to tell)."""
    if not 1 <= len(conversation_ids) <= MAX_CONVERSATION_IDS:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           f"conversation_ids: 1 to {MAX_CONVERSATION_IDS} ids")
    by_app: dict[int, list[str]] = {}
    for qualified in conversation_ids:
        sdkappid, conversation_id = unqualify(qualified)
        # The shape only: the key made here is not used (the read makes the
        # linked identity's own), so the home user id stands in for it.
        parse_conversation_id(Identity(sdkappid, me.user_id), conversation_id)
        by_app.setdefault(sdkappid, []).append(conversation_id)
    return by_app


def qualified_ack(sdkappid: int, ack: dict[str, Any]) -> dict[str, Any]:
    return qualify_view(sdkappid, ack)


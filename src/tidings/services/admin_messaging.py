"""What an app's admin does with messages: send as any user (one recipient,
or one message to up to 500), read any user's history and conversation list,
and mark read for a user. Everything goes through ``MessagingService``: the
same checks, idempotency, seq order, live delivery and read events as a
client's own calls."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from tidings.domain.accounts import AccountState
from tidings.domain.elements import ImportMode
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import MAX_CLIENT_MSG_ID, Identity, check_user_id
from tidings.domain.push import PushOptions
from tidings.domain.records import Committed
from tidings.protocol.views import ConversationView, MessageView, ack_view
from tidings.services.messaging import NO_CONTEXT, MessagingService, SendContext
from tidings.store.accounts import AccountStore

MAX_RECIPIENTS = 500


def batch_client_msg_id(client_msg_id: str, to: str) -> str:
    """The id a batch stores for one recipient: readable when it fits the
    64-character limit, else a digest of both parts (so any client id, a UUID
    included, works, and a retry finds the same id)."""
    plain = f"{client_msg_id}:{to}"
    if len(plain) <= MAX_CLIENT_MSG_ID:
        return plain
    digest = hashlib.sha256(f"{client_msg_id}\x1f{to}".encode()).hexdigest()
    return f"batch~{digest[:48]}"


def _user(sdkappid: int, user_id: object, field: str) -> Identity:
    try:
        return Identity(sdkappid, check_user_id(user_id))
    except TidingsError as exc:
        raise TidingsError(exc.code, f"{field}: {exc.message}") from exc


class AdminMessagingService:
    def __init__(self, messaging: MessagingService, accounts: AccountStore) -> None:
        self._messaging = messaging
        self._accounts = accounts

    async def check_sender(self, sdkappid: int, user_id: object) -> Identity:
        """Any user of the app may be sent as, except a deleted (70107) or
        disabled (70051) account. A user never seen before is allowed, as a
        first login would be."""
        sender = _user(sdkappid, user_id, "from")
        status = await self._accounts.status(sdkappid, sender.user_id)
        if status is not None and status.state is AccountState.DELETED:
            raise TidingsError(ErrorCode.ACCOUNT_DELETED,
                               f"from: account {sender.user_id!r} is deleted")
        if status is not None and status.state is AccountState.DISABLED:
            raise TidingsError(ErrorCode.ACCOUNT_DISABLED,
                               f"from: account {sender.user_id!r} is disabled")
        return sender

    async def send(self, sdkappid: int, sender_id: str, conversation_id: str,
                   client_msg_id: str, elements_json: bytes,
                   cloud_custom_data: str, context: SendContext = NO_CONTEXT,
                   mentions: Sequence[str] = (), push: PushOptions | None = None
                   ) -> Committed:
        sender = await self.check_sender(sdkappid, sender_id)
        return await self._messaging.send(sender, conversation_id, client_msg_id,
                                          elements_json, cloud_custom_data, context, mentions,
                                          push)

    async def import_message(self, sdkappid: int, sender_id: str, conversation_id: str,
                             client_msg_id: str, elements_json: bytes, cloud_custom_data: str,
                             time: int, mode: ImportMode) -> Committed:
        sender = await self.check_sender(sdkappid, sender_id)
        return await self._messaging.import_message(sender, conversation_id, client_msg_id,
                                                    elements_json, cloud_custom_data, time, mode)

    async def batch_send(self, sdkappid: int, sender_id: str, to: Sequence[str],
                         client_msg_id: str, elements_json: bytes,
                         cloud_custom_data: str,
                         context: SendContext = NO_CONTEXT) -> list[dict[str, Any]]:
        """One c2c message per recipient (each once, in the order given), all
        queued for the same commits. A recipient that is refused gets its own
        error and does not hold back the others."""
        if not 1 <= len(to) <= MAX_RECIPIENTS:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"to: between 1 and {MAX_RECIPIENTS} user ids")
        if not 1 <= len(client_msg_id) <= MAX_CLIENT_MSG_ID:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"client_msg_id: 1 to {MAX_CLIENT_MSG_ID} characters")
        sender = await self.check_sender(sdkappid, sender_id)
        recipients = list(dict.fromkeys(to))
        outcomes: list[asyncio.Future[Committed] | TidingsError] = []
        for i, peer in enumerate(recipients):
            try:
                _user(sdkappid, peer, f"to[{to.index(peer)}]")
                outcomes.append(self._messaging.submit(
                    sender, f"c2c_{peer}", batch_client_msg_id(client_msg_id, peer),
                    elements_json, cloud_custom_data, context=context))
            except TidingsError as exc:
                outcomes.append(exc)
            if i % 100 == 99:
                await asyncio.sleep(0)  # let the writer start on what is queued
        results: list[dict[str, Any]] = []
        for peer, outcome in zip(recipients, outcomes, strict=True):
            if isinstance(outcome, TidingsError):
                results.append({"to": peer, "ack": None, "error": outcome.to_dict()})
                continue
            try:
                committed = await asyncio.shield(outcome)
            except TidingsError as exc:
                results.append({"to": peer, "ack": None, "error": exc.to_dict()})
                continue
            results.append({"to": peer, "ack": ack_view(committed), "error": None})
        return results

    async def history(self, sdkappid: int, user_id: str, conversation_id: str, *,
                      before_seq: int | None, limit: int | None
                      ) -> tuple[list[MessageView], bool]:
        return await self._messaging.history(_user(sdkappid, user_id, "user_id"),
                                             conversation_id, before_seq=before_seq,
                                             limit=limit)

    async def conversations(self, sdkappid: int, user_id: str,
                            limit: int | None) -> list[ConversationView]:
        return await self._messaging.conversations(_user(sdkappid, user_id, "user_id"), limit)

    async def mark_read(self, sdkappid: int, user_id: str, conversation_id: str,
                        seq: int | None, client_ip: str = "") -> dict[str, Any]:
        """Every device of the user gets the ``read`` event (no socket asked)."""
        return await self._messaging.mark_read(_user(sdkappid, user_id, "user_id"),
                                               conversation_id, seq, platform="RESTAPI",
                                               client_ip=client_ip)

    async def unread(self, sdkappid: int, user_id: str,
                     peers: list[str] | None) -> dict[str, Any]:
        return await self._messaging.unread(_user(sdkappid, user_id, "user_id"), peers)

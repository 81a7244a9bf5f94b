"""Group read receipts: for a message in a group of at most the app's limit
of members, how many members have read it and how many not, and who; and a
``group_receipts`` event to the sender's devices when someone reads on.

A member has read a message when their read cursor passed its seq: the same
cursor that unread counts use, so nothing is stored per message or per
reader, and a receipt can never disagree with the unread count. The members
a message counts for are the current members who could see it (joined
before it, or any member of a Meeting group, which shows history), its
sender left out."""

from __future__ import annotations

import time
from typing import Any

from tidings.bus.local import LocalBus
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import MAX_SEQ, ConversationKey, ConversationKind, Identity
from tidings.protocol.frames import event_frame
from tidings.services.ttl_cache import TtlCache
from tidings.store.engine import Database
from tidings.store.group_receipts import GroupReceiptStore, Receipt
from tidings.store.groups import GroupStore, set_app_group_settings
from tidings.store.messages import MessageStore

MAX_SEQS = 100
# A read that jumps over many messages updates the receipts of the newest
# this many only: the older ones are long settled for their senders.
EVENT_WINDOW = 100
# How long group sizes are believed (for the live events), and the app's
# limit when the runtime gives no TIDINGS_APP_CACHE_TTL.
LIMIT_TTL = 2.0
# Group sizes kept for on_read at the most; past it the stale ones go first.
MAX_CACHED_SIZES = 10_000


def receipt_view(r: Receipt) -> dict[str, int]:
    return {"seq": r.seq, "read_count": r.read, "unread_count": r.unread}


class GroupReceiptService:
    def __init__(self, db: Database, messages: MessageStore, groups: GroupStore,
                 bus: LocalBus, default_max: int, *, ttl: float = LIMIT_TTL) -> None:
        self._db = db
        self._store = GroupReceiptStore(db)
        self._messages = messages
        self._groups = groups
        self._bus = bus
        self._default_max = default_max
        # The app's own limit (None: the server's), read again when older than ttl.
        self._limits: TtlCache[int, int | None] = TtlCache(ttl, self._store.max_members,
                                                           what="group receipt limit")
        # conversation id -> (when counted, members), for on_read only.
        self._sizes: dict[int, tuple[float, int]] = {}

    def share(self, bus: LocalBus) -> None:
        """In a cluster: the receipt limits this process changes, the others read
        again at once (docs/cluster.md)."""
        self._limits.share(bus, "group_receipt_limits")

    # -- the app's setting -------------------------------------------------------

    async def max_members(self, sdkappid: int) -> int:
        own = await self._limits.get(sdkappid)
        return self._default_max if own is None else own

    async def set_max_members(self, sdkappid: int, limit: int | None) -> int:
        """The app's own limit (None: back to the server's default)."""
        await set_app_group_settings(self._db, sdkappid, now_ms(),
                                     read_receipts_max_members=limit)
        self._limits.put(sdkappid, limit)
        return await self.max_members(sdkappid)

    # -- reads ---------------------------------------------------------------------

    async def _open(self, key: ConversationKey, viewer: str | None) -> tuple[int, int]:
        """The group's conversation and what the viewer sees of it (entries
        after the returned seq); only members and the app's admin get here."""
        if key.kind is not ConversationKind.GROUP:
            raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                               "receipts per message are kept for groups; a one-to-one "
                               "conversation shows the peer's read position instead")
        if viewer is None:
            number = await self._messages.conversation_number(key)
            if number is None:
                raise TidingsError(ErrorCode.NOT_FOUND, f"no group {key.a!r}")
            conversation_id, visible_after = number, 0
        else:
            found = await self._messages.membership(key, viewer)
            if found is None:
                if await self._messages.conversation_number(key) is None:
                    raise TidingsError(ErrorCode.NOT_FOUND, f"no group {key.a!r}")
                raise TidingsError(ErrorCode.NOT_A_MEMBER, "you are not a member of this group")
            conversation_id, visible_after = found.conversation_id, found.visible_after
        limit = await self.max_members(key.sdkappid)
        size = await self._store.member_count(conversation_id)
        if size > limit:
            raise TidingsError(ErrorCode.GROUP_RECEIPTS_OFF,
                               "read receipts are off for this app" if limit == 0 else
                               f"read receipts are kept for groups of at most {limit} "
                               f"members; this group has {size}",
                               details={"max_members": limit, "members": size})
        return conversation_id, visible_after

    async def receipts(self, key: ConversationKey, viewer: str | None,
                       seqs: list[int]) -> dict[str, Any]:
        """Read and unread counts of up to 100 messages; seqs that are no
        message the viewer can see are left out of the answer."""
        if not 1 <= len(seqs) <= MAX_SEQS or any(not 0 < s <= MAX_SEQ for s in seqs):
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"seqs: 1 to {MAX_SEQS} message seqs, each at least 1")
        conversation_id, visible_after = await self._open(key, viewer)
        wanted = sorted({s for s in seqs if s > visible_after})
        found = await self._store.receipts(conversation_id, wanted) if wanted else []
        return {"receipts": [receipt_view(r) for r in found]}

    async def readers(self, key: ConversationKey, viewer: str | None, seq: int, *,
                      read: bool, after: str, limit: int) -> dict[str, Any]:
        """A page of the members who have read the message (or, with
        ``read`` false, not yet), by user id. The message's sender, the
        group's owner and admins, and the app's admin may ask."""
        if not 1 <= limit <= 1000:
            raise TidingsError(ErrorCode.INVALID_REQUEST, "limit must be between 1 and 1000")
        conversation_id, visible_after = await self._open(key, viewer)
        missing = TidingsError(ErrorCode.MESSAGE_NOT_FOUND,
                               f"no message with seq {seq} in this conversation")
        if not visible_after < seq <= MAX_SEQ:
            raise missing
        found = await self._store.receipts(conversation_id, [seq])
        if not found:
            raise missing
        receipt = found[0]
        if viewer is not None and viewer != receipt.sender:
            member = await self._groups.member(key, viewer)
            if member is None or member["role"] not in ("Owner", "Admin"):
                raise TidingsError(ErrorCode.GROUP_NO_PERMISSION,
                                   "who has read a message is shown to its sender and to "
                                   "the group's owner and admins")
        users = await self._store.readers(conversation_id, seq, receipt.sender, read=read,
                                          after=after, limit=limit + 1)
        return {**receipt_view(receipt), "users": users[:limit], "more": len(users) > limit}

    # -- after a read --------------------------------------------------------------

    async def on_read(self, reader: Identity, key: ConversationKey, conversation_id: int,
                      old_seq: int, new_seq: int) -> None:
        """Tell the connected senders of the messages a member just read
        their new counts, as one ``group_receipts`` event per sender."""
        if new_seq <= old_seq:
            return
        limit = await self.max_members(reader.sdkappid)
        # The size first: a group over the limit reads no messages at all.
        if limit == 0 or await self._recent_member_count(conversation_id) > limit:
            return
        read = await self._store.senders_between(conversation_id, old_seq, new_seq,
                                                 reader.user_id, EVENT_WINDOW)
        online = {sender for _, sender in read
                  if self._bus.online(Identity(reader.sdkappid, sender))}
        if not online:
            return
        seqs = [seq for seq, sender in read if sender in online]
        by_sender: dict[str, list[dict[str, int]]] = {}
        for r in await self._store.receipts(conversation_id, seqs):
            by_sender.setdefault(r.sender, []).append(receipt_view(r))
        name = key.id_for(reader.user_id)
        for sender, views in by_sender.items():
            self._bus.deliver(Identity(reader.sdkappid, sender), event_frame(
                "group_receipts", {"conversation_id": name, "receipts": views}))

    async def _recent_member_count(self, conversation_id: int) -> int:
        """The group's size, counted at most every LIMIT_TTL seconds: every
        read in a busy group asks, and a count walks all its member rows. So
        the live events may follow a group across the limit up to LIMIT_TTL
        late (they are a courtesy); ``receipts`` and ``readers`` count afresh."""
        now = time.monotonic()
        hit = self._sizes.get(conversation_id)
        if hit is None or now - hit[0] > LIMIT_TTL:
            if len(self._sizes) >= MAX_CACHED_SIZES:
                self._sizes = {k: v for k, v in self._sizes.items()
                               if now - v[0] <= LIMIT_TTL}
                if len(self._sizes) >= MAX_CACHED_SIZES:
                    self._sizes.clear()
            hit = (now, await self._store.member_count(conversation_id))
            self._sizes[conversation_id] = hit
        return hit[1]

"""Friends and blocks: requests, answers, lists, remarks, block lists, the
app's one-to-one rules, and the in-memory view of them that the send path
asks (``Relations.verdict``: dictionary lookups, never a database read).

Every change goes through this service, which updates the memory right after
its transaction commits, so the memory stays exact within the process. The
app's rules are cached like its callback settings: a change made through the
admin API applies at once, one made in another process (the CLI) to every
request that starts more than TIDINGS_APP_CACHE_TTL after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tidings.bus.local import LocalBus, Subscriber
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.friends import (
    AFTER_FRIEND_ADD,
    AFTER_FRIEND_DELETE,
    BEFORE_FRIEND_ADD,
    BlockedSenderSees,
    C2CSettings,
    C2CSettingsIn,
    FriendRequestIn,
    Verdict,
    read_before_friend_add,
)
from tidings.domain.ids import Identity, check_user_id
from tidings.domain.profiles import AllowType
from tidings.protocol.events import EventName
from tidings.protocol.frames import event_frame
from tidings.services.accounts import check_user_ids
from tidings.services.callbacks import CallbackService
from tidings.services.ttl_cache import TtlCache
from tidings.store.accounts import AccountStore
from tidings.store.friends import FriendRequest, FriendStore
from tidings.store.profiles import ProfileStore

log = logging.getLogger(__name__)

# Users whose lists we keep in memory; past this the memory is dropped and
# reloaded on demand (as the writer does with conversations).
CACHE_LIMIT = 200_000



_EMPTY: frozenset[str] = frozenset()
_NO_RELATIONS = (_EMPTY, _EMPTY)
NOT_FRIENDS = TidingsError(ErrorCode.NOT_FRIENDS,
                           "one-to-one messages in this app need a friendship both ways")
BLOCKED = TidingsError(ErrorCode.BLOCKED_BY_PEER, "the peer does not take your messages")


class Relations:
    """Per user: (friend list, block list) as frozen sets; per app: its rules."""

    def __init__(self, store: FriendStore, ttl: float) -> None:
        self._store = store
        self._users: dict[tuple[int, str], tuple[frozenset[str], frozenset[str]]] = {}
        self._loading: dict[tuple[int, str], asyncio.Future[None]] = {}
        self._dirty: set[tuple[int, str]] = set()
        self._rules: TtlCache[int, C2CSettings] = TtlCache(ttl, store.c2c_settings,
                                                           what="one-to-one rules")
        # Tells the other processes of a cluster whose lists changed.
        self.announce: Callable[[int, str], None] | None = None

    def share(self, bus: LocalBus) -> None:
        """In a cluster: the one-to-one rules this process changes, the others read
        again at once (docs/cluster.md)."""
        self._rules.share(bus, "c2c_rules")

    # -- the send path -------------------------------------------------------------

    def verdict(self, sdkappid: int, sender: str, peer: str) -> int | TidingsError:
        """From memory, without waiting: UNKNOWN when the app's rules are not
        in memory or older than their time to live, or a list is missing;
        the caller then asks :meth:`judge`, which reads them first."""
        rules = self._rules.quick(sdkappid)
        them = self._users.get((sdkappid, peer))
        if rules is None or them is None:
            return Verdict.UNKNOWN
        if not them[1] and not rules.value.needs_friendship:
            # The peer blocks nobody and the app needs no friendship (most
            # sends): no call to the rules (issue 19).
            return Verdict.PASS
        return _judged(rules.value, sender, peer, self._users.get((sdkappid, sender)), them)

    async def judge(self, sdkappid: int, sender: str, peer: str) -> int | TidingsError:
        """The verdict with the app's rules read again when expired and both
        users' lists loaded: never UNKNOWN."""
        rules = await self._rules.get(sdkappid)
        mine = await self.lists(sdkappid, sender)
        them = await self.lists(sdkappid, peer)
        return _judged(rules, sender, peer, mine, them)

    async def load(self, sdkappid: int, *user_ids: str) -> None:
        """Bring the app's rules (read again when expired) and these users'
        lists into memory."""
        await self._rules.get(sdkappid)
        for user_id in user_ids:
            await self.lists(sdkappid, user_id)

    async def lists(self, sdkappid: int,
                    user_id: str) -> tuple[frozenset[str], frozenset[str]]:
        key = (sdkappid, user_id)
        while True:
            found = self._users.get(key)
            if found is not None:
                return found
            pending = self._loading.get(key)
            if pending is not None:
                await asyncio.shield(pending)
                continue
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._loading[key] = done
            try:
                while True:
                    self._dirty.discard(key)
                    listed, blocked = await self._store.relations(sdkappid, user_id)
                    if key not in self._dirty:
                        break  # nothing changed while we read: what we read is exact
                if len(self._users) >= CACHE_LIMIT:
                    self._users.clear()
                self._users[key] = ((frozenset(listed), frozenset(blocked))
                                    if listed or blocked else _NO_RELATIONS)
            finally:
                del self._loading[key]
                done.set_result(None)

    def changed(self, sdkappid: int, user_id: str, *, friends_add: Sequence[str] = (),
                friends_remove: Sequence[str] = (), blocks_add: Sequence[str] = (),
                blocks_remove: Sequence[str] = ()) -> None:
        """A committed change of one user's lists (call right after the commit)."""
        key = (sdkappid, user_id)
        if key in self._loading:
            self._dirty.add(key)
        if self.announce is not None:
            self.announce(sdkappid, user_id)
        found = self._users.get(key)
        if found is None:
            return
        listed, blocked = found
        if friends_add or friends_remove:
            listed = (listed | frozenset(friends_add)) - frozenset(friends_remove)
        if blocks_add or blocks_remove:
            blocked = (blocked | frozenset(blocks_add)) - frozenset(blocks_remove)
        self._users[key] = (listed, blocked)

    def forget_lists(self, sdkappid: int, user_id: str) -> None:
        """Another process changed this user's lists: read them again."""
        key = (sdkappid, user_id)
        if key in self._loading:
            self._dirty.add(key)
        self._users.pop(key, None)

    # -- the app's rules ---------------------------------------------------------------

    async def rules(self, sdkappid: int) -> C2CSettings:
        """The app's rules, read again first when older than their time to live."""
        return await self._rules.get(sdkappid)

    def put_rules(self, rules: C2CSettings) -> None:
        self._rules.put(rules.sdkappid, rules)


def _judged(rules: C2CSettings, sender: str, peer: str,
            mine: tuple[frozenset[str], frozenset[str]] | None,
            them: tuple[frozenset[str], frozenset[str]]) -> int | TidingsError:
    """The send rules: a block first, then the friendship both ways when the
    app needs it (UNKNOWN when the sender's lists are not at hand)."""
    if sender in them[1]:
        return Verdict.DROP if rules.blocked_sender_sees is BlockedSenderSees.SENT else BLOCKED
    if rules.needs_friendship:
        if mine is None:
            return Verdict.UNKNOWN
        if peer not in mine[0] or sender not in them[0]:
            return NOT_FRIENDS
    return Verdict.PASS


def _pairs(sides: Sequence[tuple[str, str]], initiator: str) -> list[dict[str, str]]:
    return [{"from": a, "to": b, "initiator": initiator} for a, b in sides]


class FriendService:
    def __init__(self, store: FriendStore, accounts: AccountStore, profiles: ProfileStore,
                 bus: LocalBus, callbacks: CallbackService, ttl: float) -> None:
        self._store = store
        self._accounts = accounts
        self._profiles = profiles
        self._bus = bus
        self._callbacks = callbacks
        self.relations = Relations(store, ttl)

    # -- helpers -------------------------------------------------------------------

    def _tell(self, sdkappid: int, user_id: str, event: EventName, data: Mapping[str, Any],
              skip: Subscriber | None = None) -> None:
        self._bus.deliver(Identity(sdkappid, user_id), event_frame(event, data), skip=skip)

    async def _must_exist(self, sdkappid: int, user_id: str) -> None:
        if not await self._accounts.existing(sdkappid, [user_id]):
            raise TidingsError(ErrorCode.FRIEND_ACCOUNT_NOT_FOUND,
                               f"no account {user_id!r} in this app")

    def _other(self, me: Identity, user_id: str, field: str = "user_id") -> str:
        try:
            other = check_user_id(user_id)
        except TidingsError as exc:
            raise TidingsError(exc.code, f"{field}: {exc.message}") from exc
        if other == me.user_id:
            raise TidingsError(ErrorCode.INVALID_REQUEST, f"{field}: not yourself")
        return other

    async def _friend_views(self, sdkappid: int, sides: Sequence[tuple[str, str]]
                            ) -> list[tuple[str, dict[str, Any]]]:
        views = []
        for owner, friend in sides:
            found = await self._store.friend(sdkappid, owner, friend)
            if found is not None:
                views.append((owner, found.view()))
        return views

    async def _added(self, sdkappid: int, sides: Sequence[tuple[str, str]], initiator: str,
                     cause: str, skip: Subscriber | None) -> None:
        """After sides were added: memory, events to both users, the callback."""
        for owner, friend in sides:
            self.relations.changed(sdkappid, owner, friends_add=[friend])
        for owner, view in await self._friend_views(sdkappid, sides):
            self._tell(sdkappid, owner, "friend_added", view,
                       skip=skip if owner == initiator else None)
        if sides:
            await self._callbacks.enqueue(sdkappid, AFTER_FRIEND_ADD, {
                "pairs": _pairs(sides, initiator), "cause": cause, "time": now_ms()})

    def _requests_gone(self, sdkappid: int, gone: Sequence[FriendRequest], reason: str,
                       skip: Subscriber | None, actor: str) -> None:
        for req in gone:
            data = {**req.view(), "reason": reason}
            for user in (req.from_user, req.to_user):
                self._tell(sdkappid, user, "friend_request_removed", data,
                           skip=skip if user == actor else None)

    # -- requests ------------------------------------------------------------------

    async def request(self, me: Identity, body: FriendRequestIn,
                      skip: Subscriber | None = None, *, platform: str = "",
                      client_ip: str = "") -> dict[str, Any]:
        """Ask someone to be friends. ``result``: ``added`` (friends now:
        their allow_type is allow_any, they had asked too, or they already
        had the caller in their list), ``pending`` (waiting for their answer)
        or ``friends`` (nothing to do)."""
        sdkappid = me.sdkappid
        other = self._other(me, body.user_id)
        await self._must_exist(sdkappid, other)
        await self.relations.load(sdkappid, me.user_id, other)
        mine = await self.relations.lists(sdkappid, me.user_id)
        theirs = await self.relations.lists(sdkappid, other)
        if other in mine[1]:
            raise TidingsError(ErrorCode.PEER_BLOCKED_BY_YOU,
                               f"you block {other!r}; unblock them first")
        if other in mine[0] and me.user_id in theirs[0]:
            return {"result": "friends", "user_id": other}
        now = now_ms()
        req = FriendRequest(me.user_id, other, body.wording, body.source, body.remark, now)
        if me.user_id in theirs[1]:
            # Blocked: the request is kept but never shown to them (nor the
            # block to the caller): it looks pending, as any unanswered one.
            await self._store.put_request(req, sdkappid)
            self._tell(sdkappid, me.user_id, "friend_request", req.view(), skip=skip)
            return {"result": "pending", "user_id": other}
        if me.user_id in theirs[0]:
            # They have the caller in their list already: no consent needed.
            added, gone = await self._store.befriend(
                sdkappid, [(me.user_id, other, body.remark)], body.source, body.wording, now)
            self._requests_gone(sdkappid, gone, "accepted", skip, me.user_id)
            await self._added(sdkappid, added, me.user_id, "request", skip)
            return {"result": "added", "user_id": other}
        profiles = await self._profiles.get_many(sdkappid, [other])
        allow = profiles[other].standard["allow_type"] if other in profiles else "need_confirm"
        if allow == AllowType.DENY_ANY:
            raise TidingsError(ErrorCode.FRIEND_REQUESTS_DENIED,
                               f"{other!r} takes no friend requests")
        await self._before_add(sdkappid, req, platform, client_ip)
        incoming = await self._store.requests_to(sdkappid, me.user_id)
        if allow == AllowType.ALLOW_ANY or any(r.from_user == other for r in incoming):
            # Allowed by anyone, or they asked the caller too: friends now.
            their_remark = next((r.remark for r in incoming if r.from_user == other), "")
            added, gone = await self._store.befriend(
                sdkappid, [(me.user_id, other, body.remark), (other, me.user_id, their_remark)],
                body.source, body.wording, now)
            self._requests_gone(sdkappid, gone, "accepted", skip, me.user_id)
            await self._added(sdkappid, added, me.user_id, "request", skip)
            return {"result": "added", "user_id": other}
        await self._store.put_request(req, sdkappid)
        self._tell(sdkappid, other, "friend_request", req.view())
        self._tell(sdkappid, me.user_id, "friend_request", req.view(), skip=skip)
        return {"result": "pending", "user_id": other}

    async def _before_add(self, sdkappid: int, req: FriendRequest, platform: str,
                          client_ip: str) -> None:
        settings = await self._callbacks.settings(sdkappid)
        if not self._callbacks.wants(settings, BEFORE_FRIEND_ADD):
            return
        assert settings is not None
        data = {"from": req.from_user, "to": req.to_user, "wording": req.wording,
                "source": req.source, "remark": req.remark, "time": req.created_at,
                "platform": platform, "client_ip": client_ip}
        fmt = settings.format
        await self._callbacks.ask(
            settings, BEFORE_FRIEND_ADD, "friend request", now_ms(), data,
            lambda status, body: read_before_friend_add(fmt, status, body, req.to_user))

    async def accept(self, me: Identity, requester: str, remark: str,
                     skip: Subscriber | None = None) -> dict[str, Any]:
        sdkappid = me.sdkappid
        other = self._other(me, requester)
        done = await self._store.accept(sdkappid, me.user_id, other, remark, now_ms())
        if done is None:
            raise TidingsError(ErrorCode.FRIEND_REQUEST_NOT_FOUND,
                               f"no pending friend request from {other!r}")
        _, added, gone = done
        self._requests_gone(sdkappid, gone, "accepted", skip, me.user_id)
        await self._added(sdkappid, added, me.user_id, "accept", skip)
        found = await self._store.friend(sdkappid, me.user_id, other)
        return found.view() if found is not None else {"user_id": other}

    async def decline(self, me: Identity, requester: str,
                      skip: Subscriber | None = None) -> dict[str, Any]:
        sdkappid = me.sdkappid
        other = self._other(me, requester)
        gone = await self._store.drop_request(sdkappid, other, me.user_id)
        if gone is None:
            raise TidingsError(ErrorCode.FRIEND_REQUEST_NOT_FOUND,
                               f"no pending friend request from {other!r}")
        self._requests_gone(sdkappid, [gone], "declined", skip, me.user_id)
        return {"user_id": other, "declined": True}

    async def withdraw(self, me: Identity, target: str,
                       skip: Subscriber | None = None) -> dict[str, Any]:
        """Take back one's own pending request."""
        sdkappid = me.sdkappid
        other = self._other(me, target)
        gone = await self._store.drop_request(sdkappid, me.user_id, other)
        if gone is None:
            raise TidingsError(ErrorCode.FRIEND_REQUEST_NOT_FOUND,
                               f"no pending friend request to {other!r}")
        self._requests_gone(sdkappid, [gone], "withdrawn", skip, me.user_id)
        return {"user_id": other, "withdrawn": True}

    async def requests(self, me: Identity) -> dict[str, Any]:
        """Pending requests to and from the user, newest first. Requests from
        users the caller blocks are not listed."""
        incoming, outgoing = await self._store.requests_of(me.sdkappid, me.user_id)
        return {"incoming": await self._unblocked(me, incoming),
                "outgoing": [r.view() for r in outgoing]}

    async def incoming_requests(self, me: Identity) -> list[dict[str, Any]]:
        """The pending requests to the user, as ``requests`` lists them: what
        every sync answer carries (one statement, not ``requests``' two)."""
        return await self._unblocked(
            me, await self._store.requests_to(me.sdkappid, me.user_id))

    async def _unblocked(self, me: Identity, incoming: list[FriendRequest]
                         ) -> list[dict[str, Any]]:
        # Only incoming ones need the blocks (every first sync asks: most
        # have none, and a cold cache would read the lists for nothing).
        blocked = (await self.relations.lists(me.sdkappid, me.user_id))[1] if incoming else ()
        return [r.view() for r in incoming if r.from_user not in blocked]

    # -- friends -------------------------------------------------------------------

    async def friends(self, sdkappid: int, user_id: str) -> dict[str, Any]:
        return {"friends": [f.view() for f in await self._store.friends_of(sdkappid, user_id)]}

    async def set_remark(self, me: Identity, friend_id: str, remark: str,
                         skip: Subscriber | None = None) -> dict[str, Any]:
        other = self._other(me, friend_id)
        found = await self._store.set_remark(me.sdkappid, me.user_id, other, remark, now_ms())
        if found is None:
            raise TidingsError(ErrorCode.NOT_A_FRIEND, f"{other!r} is not in your friend list")
        self._tell(me.sdkappid, me.user_id, "friend_updated", found.view(), skip=skip)
        return found.view()

    async def delete(self, me: Identity, user_ids: Sequence[str], both: bool,
                     skip: Subscriber | None = None) -> dict[str, Any]:
        """Remove friends from the caller's list (and, with ``both``, the
        caller from theirs). Ids that were not friends are listed apart."""
        ids = check_user_ids(user_ids, "user_ids")
        sdkappid = me.sdkappid
        removed = await self._store.unfriend(sdkappid, me.user_id, ids, both)
        for owner, friend in removed:
            self.relations.changed(sdkappid, owner, friends_remove=[friend])
            self._tell(sdkappid, owner, "friend_deleted", {"user_id": friend},
                       skip=skip if owner == me.user_id else None)
        if removed:
            await self._callbacks.enqueue(sdkappid, AFTER_FRIEND_DELETE, {
                "pairs": [{"from": a, "to": b} for a, b in removed], "time": now_ms()})
        mine = {b for a, b in removed if a == me.user_id}
        return {"deleted": [u for u in ids if u in mine],
                "not_friends": [u for u in ids if u not in mine]}

    async def admin_add(self, sdkappid: int, user_id: str, friend_id: str, remark: str,
                        both: bool, *, source: str = "admin",
                        wording: str = "") -> dict[str, Any]:
        """The app's server makes friends without asking anyone (``source``
        and ``wording``: what it says of how they met, Tencent's import)."""
        me = Identity(sdkappid, check_user_id(user_id))
        other = self._other(me, friend_id, "friend_id")
        for who in (me.user_id, other):
            await self._must_exist(sdkappid, who)
        sides = [(me.user_id, other, remark)] + ([(other, me.user_id, "")] if both else [])
        added, gone = await self._store.befriend(sdkappid, sides, source, wording, now_ms())
        self._requests_gone(sdkappid, gone, "accepted", None, me.user_id)
        await self._added(sdkappid, added, me.user_id, "admin", None)
        return {"added": [{"from": a, "to": b} for a, b in added]}

    # -- blocks --------------------------------------------------------------------

    async def blocklist(self, sdkappid: int, user_id: str) -> dict[str, Any]:
        found = await self._store.blocks_of(sdkappid, user_id)
        return {"blocked": [{"user_id": u, "since": t} for u, t in found]}

    async def block(self, me: Identity, user_ids: Sequence[str],
                    skip: Subscriber | None = None) -> dict[str, Any]:
        """Block users: their one-to-one messages to the caller are refused
        (docs/friends.md, "Blocking"), their friend requests are hidden.
        Friendships stay as they are. The blocked users are never told."""
        ids = [self._other(me, u, f"user_ids[{i}]")
               for i, u in enumerate(check_user_ids(user_ids, "user_ids"))]
        added = await self._store.block(me.sdkappid, me.user_id, ids, now_ms())
        self.relations.changed(me.sdkappid, me.user_id, blocks_add=added)
        if added:
            self._tell(me.sdkappid, me.user_id, "blocklist", {"added": added, "removed": []},
                       skip=skip)
        return {"added": added, "already": [u for u in ids if u not in added]}

    async def unblock(self, me: Identity, user_ids: Sequence[str],
                      skip: Subscriber | None = None) -> dict[str, Any]:
        ids = check_user_ids(user_ids, "user_ids")
        removed = await self._store.unblock(me.sdkappid, me.user_id, ids)
        self.relations.changed(me.sdkappid, me.user_id, blocks_remove=removed)
        if removed:
            self._tell(me.sdkappid, me.user_id, "blocklist",
                       {"added": [], "removed": removed}, skip=skip)
        return {"removed": removed, "not_blocked": [u for u in ids if u not in removed]}

    # -- the app's rules ---------------------------------------------------------------

    async def c2c_settings(self, sdkappid: int) -> dict[str, Any]:
        return (await self._store.c2c_settings(sdkappid)).view()

    async def put_c2c_settings(self, sdkappid: int, body: C2CSettingsIn) -> dict[str, Any]:
        current = await self._store.c2c_settings(sdkappid)
        new = C2CSettings(
            sdkappid,
            current.needs_friendship if body.needs_friendship is None
            else body.needs_friendship,
            current.blocked_sender_sees if body.blocked_sender_sees is None
            else body.blocked_sender_sees,
            current.read_receipts if body.read_receipts is None else body.read_receipts)
        await self._store.put_c2c_settings(new, now_ms())
        self.relations.put_rules(new)
        return new.view()

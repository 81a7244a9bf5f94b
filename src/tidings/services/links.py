"""Links between home accounts and app identities (issue 5,
docs/linked-identity.md): check a link ticket, preview and make a link,
then the link's action; list and remove links; relay what an app identity
receives to the devices of the home account linked to it (the relay is in
``link_relay``).

The links live in the database and, for delivery, in this process's memory
(loaded at start, changed here only: this process is the only writer of
links, as it is of account states).
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import Any

from tidings.bus.local import LocalBus
from tidings.domain import link_tickets
from tidings.domain.accounts import check_login_allowed
from tidings.domain.callbacks import CallbackFailure
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.friends import FriendRequestIn
from tidings.domain.ids import Identity, check_user_id
from tidings.domain.link_profiles import (
    DEFAULT_PROFILE_TTL,
    PROFILE_LOOKUP,
    LinkSettingsIn,
    read_profile_lookup,
)
from tidings.domain.links import LinkTicketIn, qualify
from tidings.domain.usersig import UserSigClaims
from tidings.protocol.events import EventName
from tidings.protocol.frames import event_frame
from tidings.services.apps import AppRegistry
from tidings.services.callbacks import CallbackService
from tidings.services.friends import FriendService
from tidings.services.link_relay import LinkRelay, qualify_view
from tidings.services.ttl_cache import TtlCache
from tidings.store.accounts import AccountStore
from tidings.store.callbacks import new_event_id
from tidings.store.links import Link, LinkStore
from tidings.store.profiles import ProfileStore

log = logging.getLogger(__name__)

# Callers import qualify_view from here (api/links.py, gateway/link_ops.py,
# services/linked_messaging.py).
__all__ = ["LinkService", "qualify_view"]


class LinkService:
    def __init__(self, store: LinkStore, apps: AppRegistry, accounts: AccountStore,
                 profiles: ProfileStore, friends: FriendService, bus: LocalBus,
                 home_sdkappid: int, callbacks: CallbackService | None = None) -> None:
        self._store = store
        self._apps = apps
        self._accounts = accounts
        self._profiles = profiles
        self._friends = friends
        self._bus = bus
        self.home_sdkappid = home_sdkappid
        self._callbacks = callbacks
        # Per app: (profile callback on, ttl), believed as long as the app's
        # record (TIDINGS_APP_CACHE_TTL); and its answers, per identity:
        # (until, (nickname, avatar) or None when the app did not name it).
        self._settings: TtlCache[int, tuple[bool, int]] = TtlCache(
            apps.ttl, self._read_link_settings, what="link settings")
        self._looked_up: dict[Identity, tuple[float, tuple[str, str] | None]] = {}
        # Linked identity -> its home account's user id, and back.
        self._home_of: dict[Identity, str] = {}
        self._of_home: dict[str, dict[int, str]] = {}
        # Live links per app (push asks whether an app has any).
        self._per_app: dict[int, int] = {}
        # What a relayed frame says of the identity it was sent to (app and
        # app user, as the app set them when the link was made or listed).
        self._labels: dict[Identity, dict[str, Any]] = {}
        self._reloads: set[asyncio.Task[None]] = set()
        # Delivery to the home accounts' devices (services/link_relay.py).
        self._relay = LinkRelay(bus, home_sdkappid, self._home_of, self._labels,
                                self.user_cards)

    def share(self, bus: LocalBus) -> None:
        """In a cluster: the link settings this process changes, the others read
        again at once (docs/cluster.md)."""
        self._settings.share(bus, "link_settings")

    async def start(self) -> None:
        for link in await self._store.all():
            self._remember(link, quiet=True)
        for identity in list(self._home_of):
            await self._label(identity)
        self._bus.relay = self._relay.relay
        self._bus.relay_apps = self._per_app  # the same map: it follows every link made
        self._bus.home_of = self._relay.home
        self._bus.on_change("links", self._changed_elsewhere)

    def _changed_elsewhere(self, data: dict[str, Any]) -> None:
        """Another process of the cluster made or removed this identity's
        link: read it again (the relay follows it from then on)."""
        task = asyncio.create_task(self._reload(Identity(data["sdkappid"], data["user_id"])))
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def _reload(self, identity: Identity) -> None:
        link = await self._store.get(identity.sdkappid, identity.user_id)
        home_user = self._home_of.get(identity)
        if home_user is not None:
            self._forget(Link(identity.sdkappid, identity.user_id, home_user, 0), quiet=True)
        if link is not None:
            self._remember(link, quiet=True)
            await self._label(identity)

    def _remember(self, link: Link, *, quiet: bool = False) -> None:
        """A link made (here; ``quiet``: read from the store)."""
        identity = Identity(link.sdkappid, link.user_id)
        if not quiet:
            self._bus.changed("links", {"sdkappid": link.sdkappid, "user_id": link.user_id})
        if identity not in self._home_of:
            self._per_app[link.sdkappid] = self._per_app.get(link.sdkappid, 0) + 1
        self._home_of[identity] = link.home_user
        self._of_home.setdefault(link.home_user, {})[link.sdkappid] = link.user_id

    def _forget(self, link: Link, *, quiet: bool = False) -> None:
        identity = Identity(link.sdkappid, link.user_id)
        if not quiet:
            self._bus.changed("links", {"sdkappid": link.sdkappid, "user_id": link.user_id})
        if self._home_of.get(identity) == link.home_user:
            del self._home_of[identity]
            left = self._per_app.get(link.sdkappid, 1) - 1
            if left > 0:
                self._per_app[link.sdkappid] = left
            else:
                self._per_app.pop(link.sdkappid, None)
        mine = self._of_home.get(link.home_user, {})
        if mine.get(link.sdkappid) == link.user_id:
            del mine[link.sdkappid]
        self._labels.pop(identity, None)

    # -- cards -------------------------------------------------------------------

    async def app_card(self, sdkappid: int) -> dict[str, Any]:
        app = await self._apps.get(sdkappid)
        return {"sdkappid": app.sdkappid, "name": app.name, "icon_url": app.icon_url}

    async def user_cards(self, sdkappid: int, user_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Each user as the app set them: answered by its profile callback
        when it has that on, else (and when the callback fails) the stored
        profile (admin import); a user without either shows the bare id."""
        answered = await self._profile_lookup(sdkappid, user_ids)
        missing = [u for u in user_ids if u not in answered]
        found = await self._profiles.get_many(sdkappid, missing) if missing else {}
        cards = {}
        for user in user_ids:
            if user in answered:
                nickname, avatar = answered[user]
            else:
                standard = found[user].standard if user in found else {}
                nickname = standard.get("nickname") or ""
                avatar = standard.get("avatar_url") or ""
            cards[user] = {"user_id": user, "nickname": nickname, "avatar_url": avatar}
        return cards

    # -- the profile callback --------------------------------------------------------

    async def _read_link_settings(self, sdkappid: int) -> tuple[bool, int]:
        return await self._store.settings(sdkappid) or (False, DEFAULT_PROFILE_TTL)

    async def link_settings(self, sdkappid: int) -> dict[str, Any]:
        found = await self._settings.get(sdkappid)
        return {"profile_callback": found[0], "profile_ttl": found[1]}

    async def put_link_settings(self, sdkappid: int, body: LinkSettingsIn) -> dict[str, Any]:
        await self._store.put_settings(sdkappid, body.profile_callback, body.profile_ttl,
                                       now_ms())
        self._settings.put(sdkappid, (body.profile_callback, body.profile_ttl))
        for identity in [i for i in self._looked_up if i.sdkappid == sdkappid]:
            del self._looked_up[identity]
        self._relay.forget_cards(sdkappid)
        return await self.link_settings(sdkappid)

    async def _profile_lookup(self, sdkappid: int, user_ids: list[str]
                              ) -> dict[str, tuple[str, str]]:
        callbacks = self._callbacks
        if callbacks is None or not user_ids:
            return {}
        mine = await self.link_settings(sdkappid)
        if not mine["profile_callback"]:
            return {}
        cb = await callbacks.settings(sdkappid)
        if not callbacks.wants(cb, PROFILE_LOOKUP):
            return {}
        assert cb is not None
        now = time.monotonic()
        answered: dict[str, tuple[str, str]] = {}
        ask = []
        for user in user_ids:
            hit = self._looked_up.get(Identity(sdkappid, user))
            if hit is not None and hit[0] >= now:
                if hit[1] is not None:
                    answered[user] = hit[1]
            else:
                ask.append(user)
        if not ask:
            return answered
        try:
            async with asyncio.timeout(cb.timeout):
                status, body = await callbacks.post(cb, PROFILE_LOOKUP, new_event_id(), now_ms(),
                                                    {"user_ids": ask})
            got = read_profile_lookup(cb.format, status, body, ask)
        except (CallbackFailure, TimeoutError, OSError) as exc:
            log.info("app %s: profile callback failed, using stored profiles: %s", sdkappid, exc)
            return answered
        until = now + mine["profile_ttl"]
        if len(self._looked_up) > 100_000:
            self._looked_up.clear()
        for user in ask:
            self._looked_up[Identity(sdkappid, user)] = (until, got.get(user))
        answered.update(got)
        return answered

    async def _label(self, identity: Identity) -> dict[str, Any]:
        label = {"app": await self.app_card(identity.sdkappid),
                 "as": (await self.user_cards(identity.sdkappid, [identity.user_id]))[
                     identity.user_id]}
        self._labels[identity] = label
        return label

    # -- tickets -----------------------------------------------------------------

    def _require_home(self, me: Identity) -> None:
        if me.sdkappid != self.home_sdkappid:
            raise TidingsError(ErrorCode.NOT_HOME_ACCOUNT,
                               "links are made and used by Tidings (home app) accounts only")

    async def _check(self, me: Identity, req: LinkTicketIn) -> tuple[UserSigClaims, str | None]:
        """The ticket (shape, app, MAC, lifetime, not used), the identity it
        names (may sign in), and the target (exists): (claims, target)."""
        self._require_home(me)
        if req.sdkappid == self.home_sdkappid:
            raise TidingsError(ErrorCode.LINK_TICKET_INVALID,
                               "the home app's own accounts are not linked to each other")
        claims = link_tickets.parse_link_ticket(req.ticket, req.sdkappid)
        await self._apps.verify(req.sdkappid, partial(link_tickets.verify_link_ticket, claims),
                                ErrorCode.LINK_TICKET_BAD_SIGNATURE)
        if await self._store.ticket_used(req.sdkappid, claims.sig):
            raise TidingsError(ErrorCode.LINK_TICKET_USED,
                               "this link ticket was used already; ask the app for a new link")
        status = await self._accounts.ensure(req.sdkappid, claims.identifier)
        check_login_allowed(status, claims.issued_at)
        owner = self._home_of.get(Identity(req.sdkappid, claims.identifier))
        if owner is not None and owner != me.user_id:
            raise TidingsError(ErrorCode.IDENTITY_LINKED_ELSEWHERE,
                               "this app account is linked to another Tidings account; "
                               "it must be unlinked there first")
        target = None
        if req.to is not None:
            try:
                target = check_user_id(req.to)
            except TidingsError as exc:
                raise TidingsError(exc.code, f"to: {exc.message}") from exc
            if target == claims.identifier:
                raise TidingsError(ErrorCode.INVALID_REQUEST, "to: not the linked user")
            if not await self._accounts.existing(req.sdkappid, [target]):
                raise TidingsError(ErrorCode.LINK_TARGET_NOT_FOUND,
                                   f"no user {target!r} in this app")
        elif req.action is not None:
            raise TidingsError(ErrorCode.INVALID_REQUEST, "action needs 'to'")
        return claims, target

    async def preview(self, me: Identity, req: LinkTicketIn) -> dict[str, Any]:
        """What confirming would do, changing nothing: which app, which app
        user, which target and action, and whether it is linked already."""
        claims, target = await self._check(me, req)
        users = [claims.identifier] + ([target] if target is not None else [])
        cards = await self.user_cards(req.sdkappid, users)
        identity = Identity(req.sdkappid, claims.identifier)
        replaces = self._of_home.get(me.user_id, {}).get(req.sdkappid)
        return {"app": await self.app_card(req.sdkappid), "user": cards[claims.identifier],
                "target": cards[target] if target is not None else None,
                "action": (req.action or "chat") if target is not None else None,
                "linked": self._home_of.get(identity) == me.user_id,
                "replaces": replaces if replaces != claims.identifier else None,
                "expires_at": claims.expires_at}

    async def confirm(self, me: Identity, req: LinkTicketIn) -> dict[str, Any]:
        """Use the ticket, make the link, then run the action."""
        claims, target = await self._check(me, req)
        linked = await self._store.link(req.sdkappid, claims.identifier, me.user_id,
                                        sig=claims.sig, ticket_expires_at=claims.expires_at,
                                        now=now_ms())
        if linked.replaced is not None:
            self._forget(Link(req.sdkappid, linked.replaced, me.user_id, 0))
        self._remember(linked.link)
        identity = Identity(req.sdkappid, claims.identifier)
        label = await self._label(identity)
        view = {**self._link_view(linked.link, label), "replaced": linked.replaced}
        self._tell(me.user_id, "link_added", view)
        result: dict[str, Any] = {"link": view, "action": None}
        if target is not None:
            result["action"] = await self._act(identity, target, req.action or "chat")
        return result

    async def _act(self, identity: Identity, target: str, action: str) -> dict[str, Any]:
        conversation_id = qualify(identity.sdkappid, f"c2c_{target}")
        if action == "friend":
            try:
                answer = await self._friends.request(
                    identity, FriendRequestIn(user_id=target, source="link"),
                    platform="Tidings")
            except TidingsError as exc:
                # The link is made either way: the answer says so, and why
                # the request was not sent (blocked, refused by the app...).
                return {"action": "friend", "conversation_id": conversation_id,
                        "error": exc.to_dict()}
            return {"action": "friend", "conversation_id": conversation_id, **answer}
        # A one-to-one conversation exists from its first message: the
        # client opens it by this id and sends.
        return {"action": "chat", "conversation_id": conversation_id}

    @staticmethod
    def _link_view(link: Link, label: dict[str, Any]) -> dict[str, Any]:
        return {"app": label["app"], "user": label["as"], "since": link.created_at}

    def _tell(self, home_user: str, event: EventName, data: dict[str, Any]) -> None:
        """Every device of the home account learns of its links' changes."""
        self._bus.deliver(Identity(self.home_sdkappid, home_user), event_frame(event, data))

    # -- listing and unlinking ---------------------------------------------------

    async def links(self, me: Identity, sdkappid: int | None = None) -> dict[str, Any]:
        self._require_home(me)
        found = await self._store.of_home(me.user_id)
        views = []
        for link in found:
            if sdkappid is None or link.sdkappid == sdkappid:
                label = await self._label(Identity(link.sdkappid, link.user_id))
                views.append(self._link_view(link, label))
        return {"links": views}

    async def unlink(self, me: Identity, sdkappid: int) -> dict[str, Any]:
        """The person removes their link in one app."""
        self._require_home(me)
        removed = await self._store.unlink(sdkappid, home_user=me.user_id)
        if removed is None:
            raise TidingsError(ErrorCode.NOT_LINKED, f"you have no link in app {sdkappid}")
        self._forget(removed)
        self._tell(me.user_id, "link_removed", {"sdkappid": sdkappid,
                                                "user_id": removed.user_id, "by": "you"})
        return {"sdkappid": sdkappid, "user_id": removed.user_id, "unlinked": True}

    async def admin_unlink(self, sdkappid: int, user_id: str) -> dict[str, Any]:
        """The app removes the link of one of its users (and learns nothing
        of the home account it was linked to)."""
        check_user_id(user_id)
        removed = await self._store.unlink(sdkappid, user_id=user_id)
        if removed is not None:
            self._forget(removed)
            self._tell(removed.home_user, "link_removed", {"sdkappid": sdkappid,
                                                           "user_id": user_id, "by": "app"})
        return {"user_id": user_id, "unlinked": removed is not None}

    async def identities_deleted(self, sdkappid: int, user_ids: list[str]) -> None:
        """The app deleted some of its users: their links end as if the app
        had unlinked them (importing a user again does not bring a link back)."""
        for user in user_ids:
            if Identity(sdkappid, user) in self._home_of:
                await self.admin_unlink(sdkappid, user)

    def forget_links(self, removed: list[Link]) -> None:
        """Links the store removed with their home account (its owner
        deleted it): nothing more is relayed to that account's devices, and
        the app identities may link again."""
        for link in removed:
            self._forget(link)

    async def admin_link_state(self, sdkappid: int, user_id: str) -> dict[str, Any]:
        check_user_id(user_id)
        link = await self._store.get(sdkappid, user_id)
        return {"user_id": user_id, "linked": link is not None,
                "since": link.created_at if link is not None else None}

    # -- acting as a linked identity ----------------------------------------------

    def identity_in(self, me: Identity, sdkappid: int) -> Identity:
        """The identity ``me`` (a home account) holds in app ``sdkappid``
        through a live link; 96056 without one."""
        self._require_home(me)
        user = self._of_home.get(me.user_id, {}).get(sdkappid)
        if user is None:
            raise TidingsError(ErrorCode.NOT_LINKED, f"you have no link in app {sdkappid}")
        return Identity(sdkappid, user)

    def label(self, identity: Identity) -> dict[str, Any] | None:
        return self._labels.get(identity)

    # -- lookups for push (services/push.py) ------------------------------------------

    def home_of(self, identity: Identity) -> Identity | None:
        """The home account linked to an app identity, if any."""
        home_user = self._home_of.get(identity)
        return None if home_user is None else Identity(self.home_sdkappid, home_user)

    def linked_identities(self, home_user: str) -> list[Identity]:
        """The app identities a home account holds through live links."""
        return [Identity(app, user) for app, user in self._of_home.get(home_user, {}).items()]

    def has_links(self, sdkappid: int) -> bool:
        return sdkappid in self._per_app

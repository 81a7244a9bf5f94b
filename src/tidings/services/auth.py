"""Logging in with a UserSig: which app, which user, is the ticket good, and
may this account log in (not deleted, not disabled, ticket not revoked by a
kick). Also the two ways an app's admin authenticates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from tidings.domain import usersig
from tidings.domain.accounts import AccountStatus, check_active, check_login_allowed
from tidings.domain.clock import DAY_MS, now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity, check_user_id
from tidings.domain.link_tickets import is_link_ticket
from tidings.domain.usersig import UserSigClaims
from tidings.services.apps import AppRegistry
from tidings.store.accounts import AccountStore
from tidings.store.apps import AppStore, api_key_app


@dataclass(frozen=True, slots=True)
class AdminCaller:
    """Who acts on the admin API: always within one app."""

    sdkappid: int
    # "user:<admin user id>" or "api_key:<key id>"
    actor: str


class Authenticator:
    def __init__(self, apps: AppRegistry, accounts: AccountStore, app_store: AppStore) -> None:
        self._apps = apps
        self._accounts = accounts
        self._app_store = app_store
        # Account states of identities seen by this process. Whoever changes
        # a state calls ``forget`` (the admin API here; another process of a
        # cluster through the bus: services/cluster_caches.py), so the cache
        # is exact; it keeps logins to no database read at all.
        self._known: dict[Identity, AccountStatus] = {}
        self._epoch = 0
        # The UTC day each identity was last recorded active (the
        # operational figure "active users today"): one write per day each.
        self._active_day: dict[Identity, int] = {}
        # Asked about every good ticket that carries a userbuf (home sign-in
        # sessions, services/home_accounts.py); raises to refuse it.
        self.ticket_check: Callable[[Identity, bytes], Awaitable[None]] | None = None
        # Tells the other processes of a cluster what ``forget`` forgot.
        self.announce: Callable[[list[Identity]], None] | None = None
        # Users per app whose ticket was checked since the figures' sampler
        # last took them (services/stats.py).
        self.seen: dict[int, set[str]] = {}
        # Tickets whose MAC matched, each with the app's live keys it was
        # checked against: a client that logs in again with the same ticket
        # (a reconnect) costs no inflate, parse or HMAC (~45 us) while
        # those keys are still the app's live keys. Keyed by the whole
        # ticket, so only that exact text is spared the check; its lifetime
        # and the account's state are checked at every login.
        self._verified: dict[str, tuple[UserSigClaims, tuple[str, ...]]] = {}

    async def login(self, ticket: str, *, sdkappid: int | None = None,
                    user_id: str | None = None) -> Identity:
        """Check a ticket; when the client also names its app and user, they
        must be the ones the ticket was signed for."""
        return (await self.login_ticket(ticket, sdkappid=sdkappid, user_id=user_id))[0]

    async def login_ticket(self, ticket: str, *, sdkappid: int | None = None,
                           user_id: str | None = None) -> tuple[Identity, UserSigClaims]:
        """``login``, also answering the ticket's claims (its userbuf)."""
        verified = self._verified.get(ticket)
        claims = usersig.parse(ticket) if verified is None else verified[0]
        if is_link_ticket(claims):
            # Its purpose is one link (docs/linked-identity.md), never a session.
            raise TidingsError(ErrorCode.USERSIG_INVALID,
                               "UserSig is invalid: this is a link ticket, not a UserSig")
        if sdkappid is not None and claims.sdkappid != sdkappid:
            raise TidingsError(ErrorCode.USERSIG_APP_MISMATCH,
                               "UserSig was signed for another sdkappid")
        if user_id is not None and claims.identifier != user_id:
            raise TidingsError(ErrorCode.USERSIG_USER_MISMATCH,
                               "UserSig was signed for another user id")
        check_user_id(claims.identifier)
        if verified is not None and (
                await self._apps.get(claims.sdkappid)).live_keys == verified[1]:
            usersig.check_lifetime(claims)
        else:
            app = await self._apps.verify(claims.sdkappid, partial(usersig.verify, claims),
                                          ErrorCode.USERSIG_BAD_SIGNATURE)
            if len(self._verified) >= 100_000:
                self._verified.clear()
            self._verified[ticket] = (claims, app.live_keys)
        identity = Identity(claims.sdkappid, claims.identifier)
        check_login_allowed(await self._status(identity), claims.issued_at)
        if claims.userbuf is not None and self.ticket_check is not None:
            await self.ticket_check(identity, claims.userbuf)
        await self._record_active(identity)
        self.seen.setdefault(identity.sdkappid, set()).add(identity.user_id)
        return identity, claims

    async def _record_active(self, identity: Identity) -> None:
        now = now_ms()
        day = now // DAY_MS
        if self._active_day.get(identity) == day:
            return
        await self._accounts.touch_login(identity.sdkappid, identity.user_id, now)
        if len(self._active_day) > 500_000:
            self._active_day.clear()
        self._active_day[identity] = day

    async def _status(self, identity: Identity) -> AccountStatus:
        known = self._known.get(identity)
        if known is not None:
            return known
        epoch = self._epoch
        status = await self._accounts.ensure(identity.sdkappid, identity.user_id)
        # A state changed while we read must not be overwritten by what we read.
        if epoch == self._epoch:
            if len(self._known) > 500_000:
                self._known.clear()
            self._known[identity] = status
        return status

    async def check_active(self, identity: Identity) -> None:
        """Refuse an identity its app deleted or disabled (a home account
        acting as a linked identity: services/linked_messaging.py)."""
        check_active(await self._status(identity))

    @property
    def epoch(self) -> int:
        """Changes whenever an admin changes some account's state."""
        return self._epoch

    def forget(self, identities: list[Identity]) -> None:
        """An admin changed these accounts: read their state again next time
        (in every process)."""
        self.forget_here(identities)
        if self.announce is not None:
            self.announce(identities)

    def forget_here(self, identities: list[Identity]) -> None:
        """These accounts changed (here or in another process)."""
        self._epoch += 1
        for identity in identities:
            self._known.pop(identity, None)

    # -- admins ------------------------------------------------------------

    async def admin_by_usersig(self, ticket: str, *, sdkappid: int | None = None,
                               user_id: str | None = None) -> AdminCaller:
        """``sdkappid`` and ``user_id``, when given (Tencent's v4 API names
        them in its query), must be the ticket's."""
        identity = await self.login(ticket, sdkappid=sdkappid, user_id=user_id)
        app = await self._apps.get(identity.sdkappid)
        if identity.user_id not in app.admins:
            raise TidingsError(ErrorCode.NOT_ADMIN,
                               f"{identity.user_id!r} is not an admin of app {app.sdkappid}")
        return AdminCaller(identity.sdkappid, f"user:{identity.user_id}")

    async def admin_by_api_key(self, key: str) -> AdminCaller:
        sdkappid = api_key_app(key)
        found = await self._app_store.find_live_api_key(key) if sdkappid is not None else None
        if found is None or found.sdkappid != sdkappid:
            raise TidingsError(ErrorCode.API_KEY_INVALID, "unknown or revoked API key")
        return AdminCaller(found.sdkappid, f"api_key:{found.id}")

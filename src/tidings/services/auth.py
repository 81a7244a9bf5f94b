"""Logging in with a UserSig: which app, which user, and is the ticket good."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain import usersig
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity, check_user_id
from tidings.services.apps import AppRegistry
from tidings.store.clock import now_ms
from tidings.store.engine import Database
from tidings.store.schema import users


class Authenticator:
    def __init__(self, apps: AppRegistry, db: Database) -> None:
        self._apps = apps
        self._db = db
        self._known: set[Identity] = set()

    async def login(self, ticket: str, *, sdkappid: int | None = None,
                    user_id: str | None = None) -> Identity:
        """Check a ticket; when the client also names its app and user, they
        must be the ones the ticket was signed for."""
        claims = usersig.parse(ticket)
        if sdkappid is not None and claims.sdkappid != sdkappid:
            raise TidingsError(ErrorCode.USERSIG_APP_MISMATCH,
                               "UserSig was signed for another sdkappid")
        if user_id is not None and claims.identifier != user_id:
            raise TidingsError(ErrorCode.USERSIG_USER_MISMATCH,
                               "UserSig was signed for another user id")
        check_user_id(claims.identifier)
        app = await self._apps.get(claims.sdkappid)
        try:
            usersig.verify(claims, app.live_keys)
        except TidingsError as exc:
            if exc.code is not ErrorCode.USERSIG_BAD_SIGNATURE:
                raise
            # A key added a moment ago may not be in our cache yet.
            app = await self._apps.refresh(claims.sdkappid)
            usersig.verify(claims, app.live_keys)
        identity = Identity(claims.sdkappid, claims.identifier)
        await self._remember(identity)
        return identity

    async def _remember(self, identity: Identity) -> None:
        """Independent account mode: an identity exists from its first login."""
        if identity in self._known:
            return
        dialect = self._db.dialect
        values = {"sdkappid": identity.sdkappid, "user_id": identity.user_id,
                  "created_at": now_ms()}
        stmt = (sqlite.insert(users) if dialect == "sqlite" else postgresql.insert(users))
        async with self._db.writer.begin() as conn:
            await conn.execute(stmt.values(**values).on_conflict_do_nothing())
        if len(self._known) > 500_000:
            self._known.clear()
        self._known.add(identity)

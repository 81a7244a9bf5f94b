"""Home accounts, their sessions and their one-time codes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.domain.home_accounts import Channel, CodePurpose, new_user_id
from tidings.store.engine import Database
from tidings.store.schema import home_accounts, home_codes, home_sessions, users


@dataclass(frozen=True, slots=True)
class HomeAccount:
    user_id: str
    username: str | None
    password_hash: str | None
    email: str | None
    phone: str | None
    created_at: int


@dataclass(frozen=True, slots=True)
class HomeSession:
    id: str
    user_id: str
    expires_at: int
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A live sign-in as its owner lists it (docs/home-accounts.md, "Sessions")."""

    id: str
    method: str
    client_ip: str
    created_at: int
    expires_at: int


class UsernameTaken(Exception):
    pass


def account_of_row(row: object) -> HomeAccount:
    return HomeAccount(row.user_id, row.username, row.password_hash,  # type: ignore[attr-defined]
                       row.email, row.phone, row.created_at)  # type: ignore[attr-defined]


ACCOUNT_COLUMNS = (home_accounts.c.user_id, home_accounts.c.username,
                   home_accounts.c.password_hash, home_accounts.c.email, home_accounts.c.phone,
                   home_accounts.c.created_at)


def address_column(channel: Channel) -> Column[str]:
    return home_accounts.c.email if channel is Channel.EMAIL else home_accounts.c.phone


async def spend_code(conn: AsyncConnection, channel: Channel, address: str,
                     purpose: CodePurpose, digest: str, now: int) -> bool:
    """Spend the live code of this address and purpose in the caller's
    transaction (the delete matches digest, lifetime and tries: two
    processes cannot both spend it). False when the code is wrong, used up
    or expired; a wrong guess costs the code one try, and the caller must
    commit for that to count."""
    where = (home_codes.c.channel == channel.value, home_codes.c.address == address,
             home_codes.c.purpose == purpose.value)
    spent = await conn.execute(delete(home_codes).where(
        *where, home_codes.c.digest == digest, home_codes.c.expires_at > now,
        home_codes.c.tries_left > 0))
    if spent.rowcount == 1:
        return True
    await conn.execute(update(home_codes).where(*where).values(
        tries_left=home_codes.c.tries_left - 1))
    await conn.execute(delete(home_codes).where(
        *where, (home_codes.c.tries_left <= 0) | (home_codes.c.expires_at <= now)))
    return False


class HomeAccountStore:
    def __init__(self, db: Database, home_sdkappid: int) -> None:
        self._db = db
        self._home = home_sdkappid

    def _users_insert(self) -> sqlite.Insert | postgresql.Insert:
        return sqlite.insert(users) if self._db.dialect == "sqlite" else postgresql.insert(users)

    async def _create(self, conn: AsyncConnection, now: int, **fields: object) -> str:
        """The account and its identity (the ``users`` row) in the caller's
        transaction: a crash leaves both or neither. A random user id
        colliding (~2^-80) fails the transaction like any conflict."""
        user_id = new_user_id()
        await conn.execute(home_accounts.insert().values(
            user_id=user_id, created_at=now, updated_at=now, **fields))
        await conn.execute(self._users_insert().values(
            sdkappid=self._home, user_id=user_id, created_at=now, updated_at=now))
        return user_id

    async def _username_used(self, conn: AsyncConnection, username: object) -> bool:
        found = await conn.execute(select(home_accounts.c.user_id).where(
            home_accounts.c.username == username))
        return found.first() is not None

    async def create_with_password(self, username: str, password_hash: str, now: int) -> str:
        try:
            async with self._db.writer.begin() as conn:
                if await self._username_used(conn, username):
                    raise UsernameTaken
                return await self._create(conn, now, username=username,
                                          password_hash=password_hash)
        except IntegrityError as exc:  # taken meanwhile by another process
            raise UsernameTaken from exc

    async def by_username(self, username: str) -> HomeAccount | None:
        row = await self._db.first(select(*ACCOUNT_COLUMNS).where(
            home_accounts.c.username == username))
        return None if row is None else account_of_row(row)

    async def by_user_id(self, user_id: str) -> HomeAccount | None:
        row = await self._db.first(select(*ACCOUNT_COLUMNS).where(
            home_accounts.c.user_id == user_id))
        return None if row is None else account_of_row(row)

    async def by_address(self, channel: Channel, address: str) -> HomeAccount | None:
        column = address_column(channel)
        row = await self._db.first(select(*ACCOUNT_COLUMNS).where(column == address))
        return None if row is None else account_of_row(row)

    async def set_password(self, user_id: str, password_hash: str, now: int) -> None:
        async with self._db.writer.begin() as conn:
            await conn.execute(update(home_accounts).where(
                home_accounts.c.user_id == user_id).values(
                password_hash=password_hash, updated_at=now))

    async def set_username(self, user_id: str, username: str, now: int) -> None:
        try:
            async with self._db.writer.begin() as conn:
                if await self._username_used(conn, username):
                    owner = (await conn.execute(select(home_accounts.c.user_id).where(
                        home_accounts.c.username == username))).scalar()
                    if owner != user_id:
                        raise UsernameTaken
                await conn.execute(update(home_accounts).where(
                    home_accounts.c.user_id == user_id).values(
                    username=username, updated_at=now))
        except IntegrityError as exc:  # taken meanwhile by another process
            raise UsernameTaken from exc

    # -- one-time codes ----------------------------------------------------

    async def put_code(self, channel: Channel, address: str, digest: str, tries: int,
                       now: int, expires_at: int,
                       purpose: CodePurpose = CodePurpose.SIGN_IN) -> None:
        """The address's new code for this purpose; an older one stops working."""
        async with self._db.writer.begin() as conn:
            await conn.execute(delete(home_codes).where(
                home_codes.c.channel == channel.value, home_codes.c.address == address,
                home_codes.c.purpose == purpose.value))
            await conn.execute(home_codes.insert().values(
                channel=channel.value, address=address, digest=digest, tries_left=tries,
                created_at=now, expires_at=expires_at, purpose=purpose.value))

    async def prune_codes(self, now: int) -> int:
        """Codes past their lifetime that nobody spent or replaced."""
        async with self._db.writer.begin() as conn:
            result = await conn.execute(delete(home_codes).where(home_codes.c.expires_at <= now))
        return int(result.rowcount)

    async def use_code(self, channel: Channel, address: str, digest: str, now: int
                       ) -> str | None:
        """Spend the code and find or make the address's account, in one
        transaction; the user id, or None when the code is wrong, used up or
        expired (a wrong guess costs the code one try)."""
        column = address_column(channel)
        async with self._db.writer.begin() as conn:
            if not await spend_code(conn, channel, address, CodePurpose.SIGN_IN, digest, now):
                return None
            found = (await conn.execute(select(home_accounts.c.user_id).where(
                column == address))).scalar()
            if found is not None:
                return str(found)
            return await self._create(conn, now, **{column.name: address})

    # -- sessions ----------------------------------------------------------

    async def add_session(self, session_id: str, user_id: str, method: str, client_ip: str,
                          now: int, expires_at: int) -> None:
        async with self._db.writer.begin() as conn:
            # Expired sessions of this account are kept no longer.
            await conn.execute(delete(home_sessions).where(
                home_sessions.c.user_id == user_id, home_sessions.c.expires_at <= now))
            await conn.execute(home_sessions.insert().values(
                id=session_id, user_id=user_id, method=method, client_ip=client_ip[:64],
                created_at=now, expires_at=expires_at))

    async def session(self, session_id: str) -> HomeSession | None:
        row = await self._db.first(select(
            home_sessions.c.id, home_sessions.c.user_id, home_sessions.c.expires_at,
            home_sessions.c.revoked_at).where(home_sessions.c.id == session_id))
        return None if row is None else HomeSession(row.id, row.user_id, row.expires_at,
                                                    row.revoked_at)

    async def live_sessions(self, user_id: str, now: int) -> list[SessionRow]:
        """The account's sessions neither revoked nor expired, newest first."""
        s = home_sessions.c
        rows = await self._db.rows(select(
            s.id, s.method, s.client_ip, s.created_at, s.expires_at).where(
            s.user_id == user_id, s.revoked_at.is_(None), s.expires_at > now,
        ).order_by(s.created_at.desc(), s.id))
        return [SessionRow(r.id, r.method, r.client_ip, r.created_at, r.expires_at) for r in rows]

    async def revoke_session(self, session_id: str, now: int) -> None:
        async with self._db.writer.begin() as conn:
            await conn.execute(update(home_sessions).where(
                home_sessions.c.id == session_id, home_sessions.c.revoked_at.is_(None),
            ).values(revoked_at=now))

    async def revoke_sessions(self, user_id: str, now: int, keep: str | None = None
                              ) -> list[str]:
        """Revoke every live session of the account but ``keep``; their ids."""
        conditions = [home_sessions.c.user_id == user_id, home_sessions.c.revoked_at.is_(None),
                      home_sessions.c.expires_at > now]
        if keep is not None:
            conditions.append(home_sessions.c.id != keep)
        async with self._db.writer.begin() as conn:
            ids = list((await conn.execute(select(home_sessions.c.id).where(
                *conditions))).scalars())
            if ids:
                await conn.execute(update(home_sessions).where(
                    home_sessions.c.id.in_(ids)).values(revoked_at=now))
        return ids

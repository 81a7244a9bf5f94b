"""What changes a home account's ways in: attaching and removing a verified
address, a password reset by code, and the owner's deletion of the account.
Each is one transaction, so a crash leaves all of it or none of it (a wrong
code's spent try is the one thing a refusal commits)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.domain.accounts import AccountState
from tidings.domain.home_accounts import Channel, CodePurpose
from tidings.store.engine import Database
from tidings.store.home_accounts import (
    ACCOUNT_COLUMNS,
    HomeAccount,
    account_of_row,
    address_column,
    spend_code,
)
from tidings.store.links import Link
from tidings.store.schema import home_accounts, home_sessions, links, users


class AddressTaken(Exception):
    """The address belongs to another account."""


class AccountGone(Exception):
    """The account was deleted meanwhile."""


class LastSignInMethod(Exception):
    """The change would leave the account no way to sign in."""


class NoSuchAddress(Exception):
    """The account has no address of that kind."""


@dataclass(frozen=True, slots=True)
class CodeProof:
    """A one-time code to spend in the same transaction as the change."""

    channel: Channel
    address: str
    purpose: CodePurpose
    digest: str


@dataclass(frozen=True, slots=True)
class Reset:
    account: HomeAccount
    # The sessions the reset revoked.
    revoked: list[str]


def _signs_in_without(channel: Channel) -> ColumnElement[bool]:
    """SQL: the account keeps a way to sign in once its ``channel`` address
    is gone (the other address, or a username with a password)."""
    other = address_column(Channel.PHONE if channel is Channel.EMAIL else Channel.EMAIL)
    c = home_accounts.c
    return or_(other.is_not(None), c.password_hash.is_not(None) & c.username.is_not(None))


class HomeRecoveryStore:
    def __init__(self, db: Database, home_sdkappid: int) -> None:
        self._db = db
        self._home = home_sdkappid

    async def has_address(self, channel: Channel, address: str) -> bool:
        return await self._db.first(select(home_accounts.c.user_id).where(
            address_column(channel) == address)) is not None

    async def attach_address(self, user_id: str, proof: CodeProof, now: int
                             ) -> tuple[bool, str | None]:
        """Spend the attach code and set the address; (False, None) for a
        wrong code, else (True, the address of that kind it replaced).
        Raises AddressTaken or AccountGone, changing nothing (the code is
        kept: the person proved the address and may free it first)."""
        column = address_column(proof.channel)
        try:
            async with self._db.writer.begin() as conn:
                if not await spend_code(conn, proof.channel, proof.address, proof.purpose,
                                        proof.digest, now):
                    return False, None
                owner = (await conn.execute(select(home_accounts.c.user_id).where(
                    column == proof.address))).scalar()
                if owner is not None and owner != user_id:
                    raise AddressTaken
                before = (await conn.execute(select(column).where(
                    home_accounts.c.user_id == user_id))).first()
                if before is None:
                    raise AccountGone
                await conn.execute(update(home_accounts).where(
                    home_accounts.c.user_id == user_id).values(
                    {column.name: proof.address, "updated_at": now}))
        except IntegrityError as exc:  # attached elsewhere meanwhile
            raise AddressTaken from exc
        replaced = before[0]
        return True, replaced if replaced != proof.address else None

    async def remove_address(self, user_id: str, channel: Channel, now: int) -> str:
        """Remove the account's address of this kind; the address removed.
        One conditional update, so that two removals at once cannot leave
        the account with no way in."""
        column = address_column(channel)
        async with self._db.writer.begin() as conn:
            row = (await conn.execute(select(column).where(
                home_accounts.c.user_id == user_id))).first()
            if row is None:
                raise AccountGone
            if row[0] is None:
                raise NoSuchAddress
            done = await conn.execute(update(home_accounts).where(
                home_accounts.c.user_id == user_id, column.is_not(None),
                _signs_in_without(channel)).values({column.name: None, "updated_at": now}))
            if done.rowcount != 1:
                raise LastSignInMethod
        return str(row[0])

    async def reset_password(self, proof: CodeProof, password_hash: str,
                             accept: Callable[[HomeAccount], None], now: int) -> Reset | None:
        """Spend the reset code, set the new password of the address's
        account and revoke all its sessions, in one transaction. None for a
        wrong code or an address of no account. ``accept`` may refuse the
        account (raise): then nothing changes and the code stays good."""
        column = address_column(proof.channel)
        async with self._db.writer.begin() as conn:
            if not await spend_code(conn, proof.channel, proof.address, proof.purpose,
                                    proof.digest, now):
                return None
            row = (await conn.execute(select(*ACCOUNT_COLUMNS).where(
                column == proof.address))).first()
            if row is None:
                return None
            account = account_of_row(row)
            accept(account)
            await conn.execute(update(home_accounts).where(
                home_accounts.c.user_id == account.user_id).values(
                password_hash=password_hash, updated_at=now))
            s = home_sessions.c
            live = [s.user_id == account.user_id, s.revoked_at.is_(None), s.expires_at > now]
            revoked = list((await conn.execute(select(s.id).where(*live))).scalars())
            await conn.execute(update(home_sessions).where(*live).values(revoked_at=now))
        return Reset(account, revoked)

    async def delete_account(self, user_id: str, proof: CodeProof | None, now: int
                             ) -> list[Link] | None:
        """The owner deletes the account: the hosted account row (its
        username, e-mail and phone are free again), its sessions and its
        links go, and the identity becomes deleted like an admin's delete
        does (tickets refused, messages kept). One transaction, with the
        code spent in it when ``proof`` is given (None back for a wrong
        code). The links removed."""
        async with self._db.writer.begin() as conn:
            if proof is not None and not await spend_code(
                    conn, proof.channel, proof.address, proof.purpose, proof.digest, now):
                return None
            gone = await conn.execute(delete(home_accounts).where(
                home_accounts.c.user_id == user_id))
            if gone.rowcount != 1:
                raise AccountGone
            await conn.execute(update(users).where(
                users.c.sdkappid == self._home, users.c.user_id == user_id).values(
                state=AccountState.DELETED.value, sessions_valid_after=now, updated_at=now))
            return await _purge(conn, [user_id])

    async def purge(self, user_ids: list[str]) -> list[Link]:
        """The home app's admin deletes accounts: their hosted sign-in,
        sessions and links go (the account service then marks the
        identities deleted). The links removed."""
        async with self._db.writer.begin() as conn:
            await conn.execute(delete(home_accounts).where(
                home_accounts.c.user_id.in_(user_ids)))
            return await _purge(conn, user_ids)


async def _purge(conn: AsyncConnection, user_ids: list[str]) -> list[Link]:
    """Remove the sessions and the links of home accounts; the links removed."""
    await conn.execute(delete(home_sessions).where(home_sessions.c.user_id.in_(user_ids)))
    removed = [Link(r.sdkappid, r.user_id, r.home_user, r.created_at)
               for r in await conn.execute(select(links).where(
                   links.c.home_user.in_(user_ids)))]
    await conn.execute(delete(links).where(links.c.home_user.in_(user_ids)))
    return removed

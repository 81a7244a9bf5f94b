"""Account states, and the rule that makes a kick revoke earlier tickets."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from tidings.domain.errors import ErrorCode, TidingsError

MAX_BATCH = 100


class AccountState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    DELETED = "deleted"


class CloseCode(IntEnum):
    """WebSocket close codes sent when an admin ends a user's sessions."""

    KICKED = 4005
    ACCOUNT_DISABLED = 4006
    ACCOUNT_DELETED = 4007


@dataclass(frozen=True, slots=True)
class AccountImport:
    """One account an app's server imports (a nickname or avatar left None
    keeps the stored one)."""

    user_id: str
    nickname: str | None = None
    avatar_url: str | None = None


@dataclass(frozen=True, slots=True)
class AccountStatus:
    state: AccountState
    # ms since the epoch of the last kick (0: never kicked).
    sessions_valid_after: int = 0


def ticket_still_valid(issued_at: int, sessions_valid_after: int) -> bool:
    """A ticket's ``TLS.time`` has one-second resolution, the kick time ms.

    A ticket survives a kick at ``K`` ms when it was issued in the same second
    or later (``issued_at >= K // 1000``): an app server that signs a new
    ticket right after the kick must not get it refused. The price is that a
    ticket signed in the very second of the kick, before it, also survives."""
    return issued_at >= sessions_valid_after // 1000


def check_active(status: AccountStatus) -> None:
    if status.state is AccountState.DELETED:
        raise TidingsError(ErrorCode.ACCOUNT_DELETED, "this account was deleted")
    if status.state is AccountState.DISABLED:
        raise TidingsError(ErrorCode.ACCOUNT_DISABLED, "this account is disabled")


def check_login_allowed(status: AccountStatus, issued_at: int) -> None:
    check_active(status)
    if not ticket_still_valid(issued_at, status.sessions_valid_after):
        raise TidingsError(ErrorCode.USERSIG_REVOKED,
                           "this UserSig was revoked by a kick; sign a new one")

"""The home app's REST shapes (hosted accounts: docs/home-accounts.md), shared
by the server's routes and the Python SDK."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tidings.domain.home_accounts import PASSWORD_MAX_BYTES
from tidings.domain.requests import Payload

Secret = Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX_BYTES)]
Address = Annotated[str, Field(min_length=1, max_length=320, examples=["ana@example.org"])]


class PasswordIn(Payload):
    username: str = Field(min_length=1, max_length=64, examples=["ana"])
    password: Secret


class CodeRequestIn(Payload):
    channel: Literal["email", "phone"]
    address: Address


class CodeSignInIn(CodeRequestIn):
    code: str = Field(min_length=1, max_length=16, examples=["042917"])


class MeIn(Payload):
    display_name: str | None = Field(None, max_length=500, examples=["Ana Lima"])
    avatar_url: str | None = Field(None, max_length=512)
    username: str | None = Field(None, max_length=64, examples=["ana"])


class PasswordChangeIn(Payload):
    current_password: Secret | None = None
    new_password: Secret


class SignedInOut(Payload):
    """Connect with ``usersig`` as ``user_id`` of app ``sdkappid``, like any
    app's user, until ``expires_at`` (ms)."""

    sdkappid: int
    user_id: str
    usersig: str
    expires_at: int
    session_id: str
    created: bool


class CodeSentOut(Payload):
    sent: bool
    expires_in: int
    resend_after: int


class HomeAccountOut(Payload):
    user_id: str
    username: str | None
    email: str | None
    phone: str | None
    has_password: bool
    display_name: str
    avatar_url: str
    created_at: int


class HomeCardOut(Payload):
    user_id: str
    username: str | None
    display_name: str
    avatar_url: str


class SessionOut(Payload):
    """A live sign-in: how (``password``, ``email``, ``phone``), from which
    client IP, when (ms); ``current``: the one this request came with."""

    session_id: str
    method: str
    client_ip: str
    created_at: int
    expires_at: int
    current: bool


class SessionsOut(Payload):
    sessions: list[SessionOut]


class SignedOutOut(Payload):
    signed_out: bool
    sessions_closed: int

"""The deployment's operators (issue 14's console): people who run the
server and see every app, as against an app's admins who see one. An
operator is made with ``tidings operator create``; signing in gives a
session token that the console sends as ``Authorization: Operator <token>``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from tidings.domain.errors import ErrorCode, TidingsError

NAME_MIN, NAME_MAX = 3, 32
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9_.-]*[a-z0-9])?")
PASSWORD_MIN_CHARS = 12
PASSWORD_MAX_BYTES = 1024
TOKEN_PREFIX = "tdo_"


@dataclass(frozen=True, slots=True)
class OperatorSession:
    name: str
    created_at: int
    expires_at: int


def normalize_name(value: str) -> str:
    """Case-insensitive, as home usernames are."""
    name = value.strip().lower()
    if not NAME_MIN <= len(name) <= NAME_MAX or not _NAME.fullmatch(name):
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           f"operator name: {NAME_MIN} to {NAME_MAX} of a-z, 0-9, '_', '.' "
                           "and '-', starting and ending with a letter or digit")
    return name


def check_password(password: str) -> None:
    """Longer than a home password's minimum: an operator sees every app."""
    if len(password) < PASSWORD_MIN_CHARS or len(password.encode()) > PASSWORD_MAX_BYTES:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           f"operator password: {PASSWORD_MIN_CHARS} characters to "
                           f"{PASSWORD_MAX_BYTES} bytes")


def new_password() -> str:
    # 144 random bits, printed once by the CLI.
    return secrets.token_urlsafe(18)


def new_token() -> str:
    return f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    # 256 random bits: a plain SHA-256 is enough, no slow KDF (as API keys).
    return hashlib.sha256(token.encode()).hexdigest()

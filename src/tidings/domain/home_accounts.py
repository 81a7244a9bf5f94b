"""Hosted Tidings accounts of the home app (issue 5): the rules for
usernames, passwords, e-mail addresses, phone numbers, one-time codes, the
opaque user ids, and the session id a home UserSig carries. No I/O here.

A home account is a plain identity ``(home sdkappid, user_id)``. Its user id
is random and says nothing about the person: e-mail and phone are private
sign-in addresses, the username (when set) is the public handle.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from enum import StrEnum

from tidings.domain.errors import ErrorCode, TidingsError

USERNAME_MIN = 3
USERNAME_MAX = 32
PASSWORD_MIN_CHARS = 8
# argon2 takes any length; the cap only keeps requests small.
PASSWORD_MAX_BYTES = 1024
CODE_DIGITS = 6
SESSION_ID_BYTES = 16
# A home UserSig's userbuf: this prefix, then the session id in hex.
SESSION_USERBUF_PREFIX = b"tidings-home-session:"

_USERNAME = re.compile(r"[a-z0-9](?:[a-z0-9_.]*[a-z0-9])?")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+")
_PHONE_NOISE = re.compile(r"[\s\-().]")
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")


class Channel(StrEnum):
    """Where a one-time code goes."""

    EMAIL = "email"
    PHONE = "phone"


def normalize_username(value: str) -> str:
    """Case-insensitive: stored and compared in lower case."""
    name = value.strip().lower()
    if not USERNAME_MIN <= len(name) <= USERNAME_MAX or not _USERNAME.fullmatch(name):
        raise TidingsError(
            ErrorCode.HOME_INVALID_USERNAME,
            f"username: {USERNAME_MIN} to {USERNAME_MAX} of a-z, 0-9, '_' and '.', "
            "starting and ending with a letter or digit")
    return name


def check_password(password: str, username: str | None = None) -> None:
    """Length is the rule (NIST SP 800-63B): no composition rules, which
    push people to predictable patterns."""
    if len(password) < PASSWORD_MIN_CHARS:
        raise TidingsError(ErrorCode.HOME_WEAK_PASSWORD,
                           f"password: at least {PASSWORD_MIN_CHARS} characters")
    if len(password.encode()) > PASSWORD_MAX_BYTES:
        raise TidingsError(ErrorCode.HOME_WEAK_PASSWORD,
                           f"password: at most {PASSWORD_MAX_BYTES} bytes of UTF-8")
    if username is not None and password.strip().lower() == username:
        raise TidingsError(ErrorCode.HOME_WEAK_PASSWORD, "password: must not be the username")


def normalize_address(channel: Channel, value: str) -> str:
    """One spelling per address, so that one person is one account and the
    rate limits count per person."""
    if channel is Channel.EMAIL:
        address = value.strip().lower()
        if len(address) > 254 or not _EMAIL.fullmatch(address):
            raise TidingsError(ErrorCode.HOME_INVALID_ADDRESS,
                               "email: not an e-mail address (name@domain.tld)")
        return address
    number = _PHONE_NOISE.sub("", value.strip())
    if not _PHONE.fullmatch(number):
        raise TidingsError(ErrorCode.HOME_INVALID_ADDRESS,
                           "phone: an international number in E.164 form, e.g. +4915112345678")
    return number


def new_user_id() -> str:
    """80 random bits in base32: ``h`` and 16 characters (fits any user id)."""
    return "h" + base64.b32encode(secrets.token_bytes(10)).decode().lower()


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(channel: Channel, address: str, code: str) -> str:
    """What is stored instead of the code (bound to its address)."""
    return hashlib.sha256(f"{channel.value}\n{address}\n{code}".encode()).hexdigest()


class CodePurpose(StrEnum):
    """What a one-time code is for: a code of one purpose never works for
    another (docs/home-accounts.md, "One-time codes")."""

    SIGN_IN = "sign_in"
    # Add this address to the signed-in account that asked.
    ATTACH = "attach"
    # Set a new password of the account that has this address.
    RESET = "reset"
    # Delete the signed-in account that asked (accounts without a password).
    DELETE = "delete"


def purpose_digest(purpose: CodePurpose, channel: Channel, address: str, code: str,
                   user_id: str = "") -> str:
    """The digest of a code of any purpose: bound to its address, its
    purpose and, for a signed-in account's code, to that account (another
    account cannot spend it). Sign-in codes keep :func:`code_digest`, so
    that codes sent before an upgrade still work."""
    if purpose is CodePurpose.SIGN_IN:
        return code_digest(channel, address, code)
    text = f"{purpose.value}\n{user_id}\n{channel.value}\n{address}\n{code}"
    return hashlib.sha256(text.encode()).hexdigest()


def check_code_shape(code: str) -> None:
    if len(code) != CODE_DIGITS or not code.isascii() or not code.isdigit():
        raise TidingsError(ErrorCode.HOME_CODE_INVALID,
                           f"code: the {CODE_DIGITS} digits that were sent")


def new_session_id() -> str:
    return secrets.token_hex(SESSION_ID_BYTES)


def session_userbuf(session_id: str) -> bytes:
    return SESSION_USERBUF_PREFIX + session_id.encode()


def session_of_userbuf(userbuf: bytes | None) -> str | None:
    """The session id in a home ticket's userbuf; None for any other ticket."""
    if userbuf is None or not userbuf.startswith(SESSION_USERBUF_PREFIX):
        return None
    raw = userbuf[len(SESSION_USERBUF_PREFIX):]
    if len(raw) != 2 * SESSION_ID_BYTES or not all(c in b"0123456789abcdef" for c in raw):
        return None
    return raw.decode()


"""A home account's verified addresses, password reset by code, and the
owner's deletion of the account, over REST (issue 5; docs/home-accounts.md,
"Addresses, reset and deletion")."""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from pydantic import Field

from tidings.api.auth import runtime_of
from tidings.api.home import Me, home_client_ip
from tidings.api.openapi_doc import errors
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.home_accounts import Channel
from tidings.domain.requests import Payload
from tidings.protocol.home import (
    CodeRequestIn,
    CodeSentOut,
    CodeSignInIn,
    HomeAccountOut,
    SignedInOut,
)
from tidings.protocol.home import Secret as _Secret

router = api_router(prefix="/v1/home", tags=["home"])


class AddressAddedOut(HomeAccountOut):
    # The account's earlier address of that kind, now removed (None if it
    # had none).
    replaced: str | None


class AddressRemovedOut(HomeAccountOut):
    removed: str


class ResetIn(CodeSignInIn):
    new_password: _Secret


class ChannelIn(Payload):
    channel: Literal["email", "phone"]


class DeleteMeIn(Payload):
    """``password`` for an account that has one; otherwise ``channel`` and
    ``code`` (from ``POST /v1/home/me/deletion-codes``)."""

    password: _Secret | None = None
    channel: Literal["email", "phone"] | None = None
    code: str | None = Field(None, min_length=1, max_length=16, examples=["042917"])


class DeletedOut(Payload):
    deleted: bool
    links_removed: int
    sessions_closed: int


@router.post("/addresses/codes", response_model=CodeSentOut, responses=errors(429))
async def request_address_code(request: Request, caller: Me, body: CodeRequestIn) -> JSON:
    """Send a code to an e-mail address or phone number to add it to the
    signed-in account (same limits and senders as sign-in codes). The answer
    is the same when the address is on another account."""
    return JSON(await runtime_of(request).home_recovery.request_address_code(
        caller, Channel(body.channel), body.address, home_client_ip(request)))


@router.post("/addresses", response_model=AddressAddedOut)
async def add_address(request: Request, caller: Me, body: CodeSignInIn) -> JSON:
    """Spend the code: the address signs in to this account from now on (an
    earlier address of that kind is replaced, see ``replaced``). 96010 when
    it is on another account; 96002 for a wrong code, or a code of another
    purpose (a sign-in code) or of another account."""
    return JSON(await runtime_of(request).home_recovery.add_address(
        caller, Channel(body.channel), body.address, body.code))


@router.delete("/addresses/{channel}", response_model=AddressRemovedOut)
async def remove_address(request: Request, caller: Me,
                         channel: Literal["email", "phone"]) -> JSON:
    """Remove the account's e-mail or phone. 96011 when it is the only way
    left to sign in (no other address, no username with a password)."""
    return JSON(await runtime_of(request).home_recovery.remove_address(
        caller, Channel(channel)))


@router.post("/password-reset/codes", response_model=CodeSentOut, responses=errors(429))
async def request_password_reset(request: Request, body: CodeRequestIn) -> JSON:
    """Forgot the password: a reset code goes to the address if an account
    has it. The answer is the same either way, and comes before the code is
    handed to the sender (so its timing tells nothing either)."""
    return JSON(await runtime_of(request).home_recovery.request_reset(
        Channel(body.channel), body.address, home_client_ip(request)))


@router.post("/password-reset", response_model=SignedInOut, responses=errors(429))
async def reset_password(request: Request, body: ResetIn) -> JSON:
    """Spend the reset code and set ``new_password``: every session of the
    account is signed out (its sockets close, 4005), the password lock-out
    is cleared, and the answer is a new sign-in."""
    return JSON(await runtime_of(request).home_recovery.reset_password(
        Channel(body.channel), body.address, body.code, body.new_password,
        home_client_ip(request)))


@router.post("/me/deletion-codes", response_model=CodeSentOut, responses=errors(429))
async def request_deletion_code(request: Request, caller: Me, body: ChannelIn) -> JSON:
    """For an account without a password: send a code to its own e-mail or
    phone, to confirm ``DELETE /v1/home/me`` with."""
    return JSON(await runtime_of(request).home_recovery.request_deletion_code(
        caller, Channel(body.channel), home_client_ip(request)))


@router.delete("/me", response_model=DeletedOut)
async def delete_me(request: Request, caller: Me, body: DeleteMeIn) -> JSON:
    """Delete this account, with its password (or, without one, a deletion
    code): its sessions end (sockets close, 4007), its links to app
    identities are removed, its username and addresses are free again, and
    the identity is deleted (its messages stay, as with an admin's delete)."""
    return JSON(await runtime_of(request).home_recovery.delete_account(
        caller, body.password, Channel(body.channel) if body.channel else None, body.code))

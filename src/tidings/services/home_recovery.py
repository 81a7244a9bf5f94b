"""A home account's verified addresses, password reset, and deletion by its
owner (issue 5; docs/home-accounts.md, "Addresses, reset and deletion").

Every code here goes through the same limits, senders and rules as
sign-in codes (:meth:`HomeAccountService.send_code`), with a purpose of its
own: a sign-in code never attaches an address, resets a password or
deletes an account, and the other way round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tidings.domain.accounts import CloseCode
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.home_accounts import (
    Channel,
    CodePurpose,
    check_code_shape,
    check_password,
    normalize_address,
    purpose_digest,
)
from tidings.services.home_accounts import Caller, HomeAccountService
from tidings.services.links import LinkService
from tidings.store.home_accounts import HomeAccount
from tidings.store.home_recovery import (
    AccountGone,
    AddressTaken,
    CodeProof,
    HomeRecoveryStore,
    LastSignInMethod,
    NoSuchAddress,
)

log = logging.getLogger(__name__)

_WRONG_CODE = "wrong or expired code; ask for a new one after a few tries"


def _gone() -> TidingsError:
    return TidingsError(ErrorCode.NOT_FOUND, "this identity of the home app is not a hosted "
                        "account")


def _accept_reset(password: str) -> Callable[[HomeAccount], None]:
    """The checks a reset can make only once the code proved the owner
    (before, they would tell who has an account and its username)."""
    def accept(account: HomeAccount) -> None:
        if account.username is None:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               "this account has no username, which is what a password "
                               "signs in with: sign in with a code, choose a username, "
                               "then set a password")
        check_password(password, account.username)
    return accept


class HomeRecovery:
    def __init__(self, home: HomeAccountService, store: HomeRecoveryStore,
                 links: LinkService) -> None:
        self._home = home
        self._store = store
        self._links = links

    # -- addresses ---------------------------------------------------------------

    async def request_address_code(self, caller: Caller, channel: Channel, address: str,
                                   client_ip: str) -> dict[str, Any]:
        """Send a code to an address to add it to the signed-in account.
        Nothing is looked up: the answer is the same for an address that is
        on another account (it is refused only once its code is spent)."""
        await self._home.account_of(caller)
        addr = normalize_address(channel, address)
        return await self._home.send_code(channel, addr, CodePurpose.ATTACH, client_ip,
                                          caller.user_id)

    async def add_address(self, caller: Caller, channel: Channel, address: str, code: str
                          ) -> dict[str, Any]:
        """Spend the code: the address is now the account's (its earlier
        address of that kind, if any, is replaced)."""
        addr = normalize_address(channel, address)
        check_code_shape(code)
        proof = CodeProof(channel, addr, CodePurpose.ATTACH,
                          purpose_digest(CodePurpose.ATTACH, channel, addr, code,
                                         caller.user_id))
        try:
            spent, replaced = await self._store.attach_address(caller.user_id, proof, now_ms())
        except AddressTaken:
            raise TidingsError(ErrorCode.HOME_ADDRESS_TAKEN,
                               f"this {channel.value} address signs in to another account; "
                               "remove it there first") from None
        except AccountGone:
            raise _gone() from None
        if not spent:
            raise TidingsError(ErrorCode.HOME_CODE_INVALID, _WRONG_CODE)
        return {**await self._home.me(caller), "replaced": replaced}

    async def remove_address(self, caller: Caller, channel: Channel) -> dict[str, Any]:
        """Remove the account's e-mail or phone; refused when it is the last
        way to sign in (no other address, and no username with a password)."""
        try:
            removed = await self._store.remove_address(caller.user_id, channel, now_ms())
        except AccountGone:
            raise _gone() from None
        except NoSuchAddress:
            raise TidingsError(ErrorCode.NOT_FOUND,
                               f"this account has no {channel.value} address") from None
        except LastSignInMethod:
            raise TidingsError(ErrorCode.HOME_LAST_SIGN_IN_METHOD,
                               f"the {channel.value} address is this account's only way to "
                               "sign in: add another address, or a username and a "
                               "password, first") from None
        return {**await self._home.me(caller), "removed": removed}

    # -- password reset ----------------------------------------------------------

    async def request_reset(self, channel: Channel, address: str, client_ip: str
                            ) -> dict[str, Any]:
        """Send a reset code if an account has the address. The answer, its
        limits and the work before it are the same either way: a code is
        stored for any address, and sent (after the answer) only to an
        account's."""
        addr = normalize_address(channel, address)
        known = await self._store.has_address(channel, addr)
        return await self._home.send_code(channel, addr, CodePurpose.RESET, client_ip,
                                          deliver=known, in_background=True)

    async def reset_password(self, channel: Channel, address: str, code: str,
                             new_password: str, client_ip: str) -> dict[str, Any]:
        """Spend the reset code and set the new password; every session of
        the account is revoked and its sockets close (as sign-out everywhere),
        the username's lock-out is cleared, and the answer is a fresh
        sign-in."""
        addr = normalize_address(channel, address)
        check_code_shape(code)
        # What can be checked without knowing the account.
        check_password(new_password)
        now = now_ms()
        await self._home.per_ip(client_ip, now)
        hashed = await self._home.hash_password(new_password)
        proof = CodeProof(channel, addr, CodePurpose.RESET,
                          purpose_digest(CodePurpose.RESET, channel, addr, code))
        reset = await self._store.reset_password(proof, hashed, _accept_reset(new_password),
                                                 now_ms())
        if reset is None:
            raise TidingsError(ErrorCode.HOME_CODE_INVALID, _WRONG_CODE)
        account = reset.account
        assert account.username is not None  # _accept_reset
        await self._home.clear_lockout(account.username)
        # Tickets without a session (signed by the operator) stop too, and
        # every socket closes: what sign-out everywhere does.
        await self._home.sign_out_everywhere(Caller(account.user_id, None))
        return await self._home.issue_sign_in(account.user_id, "reset", client_ip, now_ms(),
                                              False)

    # -- deletion ------------------------------------------------------------------

    async def request_deletion_code(self, caller: Caller, channel: Channel, client_ip: str
                                    ) -> dict[str, Any]:
        """An account without a password proves it is its owner by a code
        to one of its own addresses."""
        account = await self._home.account_of(caller)
        if account.password_hash is not None:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               "this account has a password: delete it with the password")
        addr = account.email if channel is Channel.EMAIL else account.phone
        if addr is None:
            raise TidingsError(ErrorCode.NOT_FOUND,
                               f"this account has no {channel.value} address")
        return await self._home.send_code(channel, addr, CodePurpose.DELETE, client_ip,
                                          caller.user_id)

    async def admin_deleted(self, user_ids: list[str]) -> None:
        """The home app's admin deletes accounts: their hosted sign-in
        (username and addresses free again), sessions and links go too."""
        self._links.forget_links(await self._store.purge(user_ids))

    async def delete_account(self, caller: Caller, password: str | None,
                             channel: Channel | None, code: str | None) -> dict[str, Any]:
        """Delete the account: with its password when it has one, else with
        a deletion code. Its sessions end (sockets close with 4007), its
        links go (the app identities can link again, and nothing reaches the
        old devices), and the identity is deleted like an admin's delete."""
        account = await self._home.account_of(caller)
        proof = None
        if account.password_hash is not None:
            if password is None:
                raise TidingsError(ErrorCode.INVALID_REQUEST,
                                   "password: required (this account has one)")
            await self._home.check_current_password(account, password, now_ms())
        else:
            if channel is None or code is None:
                raise TidingsError(ErrorCode.INVALID_REQUEST,
                                   "channel and code: required (this account has no "
                                   "password; ask for a deletion code first)")
            check_code_shape(code)
            addr = account.email if channel is Channel.EMAIL else account.phone
            # An address the account lacks has no code: the same refusal as
            # a wrong code, without a lookup.
            proof = CodeProof(channel, addr or "", CodePurpose.DELETE,
                              purpose_digest(CodePurpose.DELETE, channel, addr or "", code,
                                             caller.user_id))
        try:
            removed = await self._store.delete_account(caller.user_id, proof, now_ms())
        except AccountGone:
            raise _gone() from None
        if removed is None:
            raise TidingsError(ErrorCode.HOME_CODE_INVALID, _WRONG_CODE)
        self._links.forget_links(removed)
        closed = self._home.disconnect(caller.user_id, CloseCode.ACCOUNT_DELETED,
                                       "account deleted")
        log.info("home account %s deleted by its owner (%d links removed)", caller.user_id,
                 len(removed))
        return {"deleted": True, "links_removed": len(removed), "sessions_closed": closed}

"""The SDK's HomeAccounts helper against a real server: sign in, connect
with the UserSig it returns, and see refusals as TidingsError."""

from __future__ import annotations

import pytest

from tests.home_support import Mailbox, home_server, mailbox, unique, webhook
from tests.support import Server
from tidings.sdk import ErrorCode, HomeAccounts, TidingsError

__all__ = ["home_server", "mailbox", "webhook"]


async def test_sign_in_connect_chat_and_sign_out(home_server: Server, mailbox: Mailbox
                                                 ) -> None:
    async with HomeAccounts(home_server.base_url) as home:
        assert (await home.app())["sdkappid"] > 0
        name = unique("sdk")
        ana = await home.register(name, "correct horse 1")
        assert ana.created is True
        address = f"{unique('bo')}@mail.test"
        sent = await home.request_code("email", address)
        assert sent["sent"] is True and "code" not in sent
        bo = await home.sign_in_code("email", address, mailbox.wait_code(address))
        assert bo.created is True
        await home.update_me(ana, display_name="Ana")
        card = await home.find(bo, name)
        assert card == {"user_id": ana.user_id, "username": name, "display_name": "Ana",
                        "avatar_url": ""}

        async with home.client(ana) as ana_client, home.client(bo) as bo_client:
            await ana_client.send_text(f"c2c_{bo.user_id}", "hello Bo")
            got = await bo_client.next_message()
            assert got.sender == ana.user_id and got.text == "hello Bo"

        with pytest.raises(TidingsError) as wrong:
            await home.sign_in_password(name, "not the password")
        assert wrong.value.code is ErrorCode.HOME_BAD_CREDENTIALS
        assert (await home.sign_out(ana))["signed_out"] is True
        with pytest.raises(TidingsError) as revoked:
            await home.me(ana)
        assert revoked.value.code is ErrorCode.USERSIG_REVOKED
        again = await home.sign_in_password(name, "correct horse 1")
        assert again.created is False and (await home.me(again))["username"] == name
        later = await home.sign_in_password(name, "correct horse 1")
        listed = {s["session_id"]: s["current"] for s in await home.sessions(again)}
        assert listed == {again.session_id: True, later.session_id: False}
        assert await home.sign_out_session(again, later.session_id) == {
            "signed_out": True, "sessions_closed": 0}
        with pytest.raises(TidingsError) as ended:
            await home.me(later)
        assert ended.value.code is ErrorCode.USERSIG_REVOKED


async def test_addresses_reset_and_deletion_through_the_sdk(home_server: Server,
                                                           mailbox: Mailbox) -> None:
    async with HomeAccounts(home_server.base_url) as home:
        name = unique("sdkr")
        ana = await home.register(name, "correct horse 1")
        address = f"{unique('ana')}@mail.test"
        sent = await home.request_address_code(ana, "email", address)
        assert sent["sent"] is True and "code" not in sent
        added = await home.add_address(ana, "email", address, mailbox.wait_code(address))
        assert added["email"] == address and added["replaced"] is None

        await home.request_password_reset("email", address)
        fresh = await home.reset_password("email", address, mailbox.wait_code(address, 2),
                                          "a new password")
        assert fresh.user_id == ana.user_id and fresh.created is False
        with pytest.raises(TidingsError) as revoked:
            await home.me(ana)
        assert revoked.value.code is ErrorCode.USERSIG_REVOKED

        with pytest.raises(TidingsError) as last:
            await home.remove_address(fresh, "phone")
        assert last.value.code is ErrorCode.NOT_FOUND
        removed = await home.remove_address(fresh, "email")
        assert removed["removed"] == address and removed["email"] is None

        with pytest.raises(TidingsError) as wrong:
            await home.delete_account(fresh, password="correct horse 1")
        assert wrong.value.code is ErrorCode.HOME_BAD_CREDENTIALS
        gone = await home.delete_account(fresh, password="a new password")
        assert gone == {"deleted": True, "links_removed": 0, "sessions_closed": 0}
        with pytest.raises(TidingsError) as deleted:
            await home.me(fresh)
        assert deleted.value.code is ErrorCode.ACCOUNT_DELETED

        # A code-only account deletes itself with a deletion code.
        other = f"{unique('bo')}@mail.test"
        await home.request_code("email", other)
        bo = await home.sign_in_code("email", other, mailbox.wait_code(other))
        with pytest.raises(TidingsError) as only:
            await home.remove_address(bo, "email")
        assert only.value.code is ErrorCode.HOME_LAST_SIGN_IN_METHOD
        await home.request_deletion_code(bo, "email")
        done = await home.delete_account(bo, channel="email", code=mailbox.wait_code(other, 2))
        assert done["deleted"] is True

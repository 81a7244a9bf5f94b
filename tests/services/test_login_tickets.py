"""Logging in again with a ticket already checked, in-process on SQLite and
PostgreSQL: the MAC is not computed again while the app's keys are those
it matched, but the exact ticket text is what is spared, its lifetime is
checked every time, and a retired key or a forged copy is refused."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tidings.domain import usersig
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity
from tidings.services import auth as auth_module
from tidings.services.apps import AppRegistry
from tidings.services.auth import Authenticator
from tidings.store.accounts import AccountStore
from tidings.store.apps import AppStore
from tidings.store.engine import Database


async def refused(auth: Authenticator, ticket: str) -> ErrorCode:
    with pytest.raises(TidingsError) as caught:
        await auth.login(ticket)
    return caught.value.code


async def test_a_ticket_checked_once_is_trusted_only_as_long_as_its_keys(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    app_store = AppStore(db)
    apps = AppRegistry(app_store, ttl=60)
    auth = Authenticator(apps, AccountStore(db), app_store)
    app, key = await apps.create("Shop", "", "administrator")
    macs = [0]
    verify = usersig.verify

    def counted(*args: Any, **kwargs: Any) -> None:
        macs[0] += 1
        verify(*args, **kwargs)

    monkeypatch.setattr(auth_module.usersig, "verify", counted)
    ann = Identity(app.sdkappid, "ann")
    ticket = usersig.sign(app.sdkappid, key, "ann", userbuf=b"home")
    for _ in range(3):
        identity, claims = await auth.login_ticket(ticket, sdkappid=app.sdkappid,
                                                   user_id="ann")
        assert identity == ann and claims.userbuf == b"home"
    assert macs == [1]
    # What the client names is still checked against the trusted ticket.
    with pytest.raises(TidingsError) as caught:
        await auth.login(ticket, user_id="bob")
    assert caught.value.code is ErrorCode.USERSIG_USER_MISMATCH
    # Another ticket of the same user is another text: checked.
    await auth.login(usersig.sign(app.sdkappid, key, "ann", now=int(time.time()) - 5))
    assert macs == [2]
    # A copy with another MAC is refused, every time (it is never trusted).
    claims = usersig.parse(ticket)
    forged = usersig.sign(app.sdkappid, "x" * 64, "ann", now=claims.issued_at,
                          userbuf=b"home")
    assert await refused(auth, forged) is ErrorCode.USERSIG_BAD_SIGNATURE
    assert await refused(auth, forged) is ErrorCode.USERSIG_BAD_SIGNATURE
    # Trusted, and still its lifetime counts.
    later = time.time() + usersig.DEFAULT_EXPIRE + 1
    monkeypatch.setattr(usersig.time, "time", lambda: later)
    assert await refused(auth, ticket) is ErrorCode.USERSIG_EXPIRED
    monkeypatch.undo()
    # Its key retired (the registry forgets the app): checked again, refused.
    await apps.add_key(app.sdkappid)
    assert (await auth.login(ticket)) == ann  # the old key is still live
    await apps.retire_all_but_newest(app.sdkappid)
    assert await refused(auth, ticket) is ErrorCode.USERSIG_BAD_SIGNATURE

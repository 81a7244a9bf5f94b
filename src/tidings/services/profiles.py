"""Profiles: read anyone's in the app; the app's server sets every field, a
user only their personal ones (domain/profiles.py says which)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tidings.bus.local import LocalBus, Subscriber
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity, check_user_id
from tidings.domain.profiles import MAX_CUSTOM_FIELDS, ProfilePatch, check_self_patch
from tidings.protocol.frames import event_frame
from tidings.services.accounts import check_user_ids
from tidings.store.profiles import Profile, ProfileStore


def profile_view(profile: Profile) -> dict[str, Any]:
    return {"user_id": profile.user_id, **profile.standard, "custom": profile.custom,
            "updated_at": profile.updated_at}


class ProfileService:
    def __init__(self, store: ProfileStore, bus: LocalBus) -> None:
        self._store = store
        self._bus = bus

    async def get(self, sdkappid: int, user_ids: Sequence[str]) -> dict[str, Any]:
        """The profiles of 1 to 100 users, in the order asked; unknown and
        deleted accounts are listed in ``missing``."""
        ids = check_user_ids(user_ids, "user_ids")
        found = await self._store.get_many(sdkappid, ids)
        return {"profiles": [profile_view(found[u]) for u in ids if u in found],
                "missing": [u for u in ids if u not in found]}

    async def get_one(self, sdkappid: int, user_id: str) -> dict[str, Any]:
        check_user_id(user_id)
        found = await self._store.get_many(sdkappid, [user_id])
        if user_id not in found:
            raise TidingsError(ErrorCode.NOT_FOUND, f"no account {user_id!r} in this app")
        return profile_view(found[user_id])

    async def set(self, sdkappid: int, user_id: str, patch: ProfilePatch) -> dict[str, Any]:
        """As the app's server: any field."""
        check_user_id(user_id)
        return await self._apply(Identity(sdkappid, user_id), patch, skip=None)

    async def set_own(self, me: Identity, patch: ProfilePatch,
                      skip: Subscriber | None = None) -> dict[str, Any]:
        """As the user: the personal fields only; ``skip`` is the device that
        asked (it has the answer, the others get an event)."""
        check_self_patch(patch)
        return await self._apply(me, patch, skip)

    async def _apply(self, who: Identity, patch: ProfilePatch,
                     skip: Subscriber | None) -> dict[str, Any]:
        done = await self._store.patch(who.sdkappid, who.user_id, patch.standard_changes(),
                                       patch.custom, MAX_CUSTOM_FIELDS)
        if done is None:
            raise TidingsError(ErrorCode.NOT_FOUND, f"no account {who.user_id!r} in this app")
        if not done:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"custom: at most {MAX_CUSTOM_FIELDS} keys per user")
        view = await self.get_one(who.sdkappid, who.user_id)
        self._bus.deliver(who, lambda: event_frame("profile", view), skip=skip)
        return view

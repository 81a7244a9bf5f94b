"""The profile ops of the real-time protocol (docs/profiles.md):
read one's own profile or others', and change one's own; the caller's other
devices learn of a change by its event (the acting device excepted)."""

from __future__ import annotations

from typing import Any

from tidings.domain.ids import Identity
from tidings.domain.profiles import ProfilePatch
from tidings.gateway.context import OpContext
from tidings.gateway.ops import Handler, op
from tidings.protocol import ops


def handlers(ctx: OpContext) -> dict[str, Handler]:
    profiles = ctx.runtime.profiles

    async def get(me: Identity, r: ops.ProfileGetData) -> Any:
        if r.user_ids is None:
            return await profiles.get_one(me.sdkappid, me.user_id)
        return await profiles.get(me.sdkappid, r.user_ids)

    return {
        "profile_get": op(ctx, ops.ProfileGetData, get),
        "profile_set": op(ctx, ProfilePatch, lambda me, r: profiles.set_own(me, r, skip=ctx)),
    }

"""Global mutes of accounts (Tencent's setnospeaking): every send checks
its sender, so the mutes in force live in memory, loaded at start and kept
by every change made through this process, and in a cluster by the changes
the other processes tell (docs/cluster.md). Few accounts are muted."""

from __future__ import annotations

from typing import Any

from tidings.bus.local import LocalBus
from tidings.domain.account_mutes import AccountMute, seconds_left, until
from tidings.domain.clock import now_ms
from tidings.domain.ids import check_user_id
from tidings.store.account_mutes import AccountMuteStore, MuteKey

_UNMUTED = AccountMute()


class AccountMuteService:
    def __init__(self, store: AccountMuteStore) -> None:
        self._store = store
        # The mutes in force (empty most of the time: every send reads its
        # truth before it calls ``check``, issue 19).
        self.in_force: dict[MuteKey, AccountMute] = {}
        self._bus: LocalBus | None = None

    def share(self, bus: LocalBus) -> None:
        """In a cluster: a mute set through this process holds on the others at once."""
        self._bus = bus
        bus.on_change("account_mute", self._set_elsewhere)

    def _set_elsewhere(self, data: dict[str, Any]) -> None:
        self._keep((data["sdkappid"], data["user_id"]),
                   AccountMute(data["c2c_until"], data["group_until"]), now_ms())

    def _keep(self, key: MuteKey, mute: AccountMute, now: int) -> None:
        if mute.c2c_until > now or mute.group_until > now:
            self.in_force[key] = mute
        else:
            self.in_force.pop(key, None)

    async def start(self) -> None:
        self.in_force = await self._store.active(now_ms())

    def check(self, sdkappid: int, user_id: str, group: bool) -> None:
        """Raise if the account may not send now (one-to-one, or in groups)."""
        mute = self.in_force.get((sdkappid, user_id))
        if mute is not None:
            mute.check(group, now_ms())

    def get(self, sdkappid: int, user_id: str) -> dict[str, Any]:
        """The mute's seconds left for each kind of send (0: not muted)."""
        check_user_id(user_id)
        mute = self.in_force.get((sdkappid, user_id), _UNMUTED)
        now = now_ms()
        return {"user_id": user_id, "c2c_seconds": seconds_left(mute.c2c_until, now),
                "group_seconds": seconds_left(mute.group_until, now)}

    async def set(self, sdkappid: int, user_id: str, c2c_seconds: int | None,
                  group_seconds: int | None) -> dict[str, Any]:
        """Mute (or unmute with 0) one or both kinds of send; None keeps one."""
        check_user_id(user_id)
        now = now_ms()
        c2c = None if c2c_seconds is None else until(c2c_seconds, now)
        group = None if group_seconds is None else until(group_seconds, now)
        mute = await self._store.set(sdkappid, user_id, c2c, group)
        self._keep((sdkappid, user_id), mute, now)
        if self._bus is not None:
            self._bus.changed("account_mute", {
                "sdkappid": sdkappid, "user_id": user_id,
                "c2c_until": mute.c2c_until, "group_until": mute.group_until})
        return self.get(sdkappid, user_id)

"""Join applications and what a device learns on reconnect about the
groups it holds: apply, approve, decline, the lists, the before-apply-join
callback, the real-time events, and the ``groups_left`` of a sync answer.

An application and its answer are group operations (``store/group_joins.py``)
that the message writer runs on the group as it stands: the first answer wins,
and an approval adds the member with its ``joined`` entry in the same
transaction. The events go out after the commit; a user who was offline
finds the same facts in the lists that every ``sync`` answer carries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from tidings.bus.local import LocalBus, Subscriber
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.group_joins import (
    ANSWERED_KEPT_MS,
    BEFORE_APPLY_JOIN,
    MAX_JOIN_MESSAGE_BYTES,
    JoinState,
    read_before_apply_join,
)
from tidings.domain.groups import JoinOption, Role, check_text
from tidings.domain.ids import Identity, check_group_id, check_user_id
from tidings.protocol.events import EventName
from tidings.protocol.frames import event_frame
from tidings.services.callbacks import CallbackService
from tidings.services.groups import GroupService
from tidings.store.group_departures import DepartureStore
from tidings.store.group_joins import AnswerJoin, ApplyJoin, JoinRequestStore
from tidings.store.groups import GroupStore

log = logging.getLogger(__name__)

REQUEST_EVENT: EventName = "group_join_request"
HANDLED_EVENT: EventName = "group_join_request_handled"


class GroupJoinService:
    def __init__(self, store: JoinRequestStore, departures: DepartureStore,
                 group_store: GroupStore, groups: GroupService, bus: LocalBus,
                 callbacks: CallbackService) -> None:
        self._store = store
        self._departures = departures
        self._group_store = group_store
        self._groups = groups
        self._bus = bus
        self._callbacks = callbacks

    def _tell(self, sdkappid: int, users: Iterable[str], event: EventName,
              data: Mapping[str, Any], skip: Subscriber | None) -> None:
        frame = event_frame(event, data)
        for user in dict.fromkeys(users):
            self._bus.deliver(Identity(sdkappid, user), frame, skip=skip)

    # -- changes ---------------------------------------------------------------------

    async def apply(self, me: Identity, group_id: str, message: str, *,
                    skip: Subscriber | None = None, platform: str = "",
                    client_ip: str = "") -> dict[str, Any]:
        """Ask to join. ``state``: ``pending`` (the owner and admins are
        asked) or ``joined`` (a ``FreeAccess`` group takes the caller at once)."""
        key = self._groups.key(me.sdkappid, group_id)
        check_text("message", message, MAX_JOIN_MESSAGE_BYTES)
        await self._before_apply(me, key.a, message, platform, client_ip)
        op = ApplyJoin(me.user_id, message)
        result = await self._groups.run(key, op)
        if op.request is not None and result.get("state") == JoinState.PENDING.value:
            view = op.request.view()
            self._tell(me.sdkappid, op.handlers, REQUEST_EVENT, view, None)
            self._tell(me.sdkappid, [me.user_id], REQUEST_EVENT, view, skip)
        return result

    async def answer(self, sdkappid: int, actor: str | None, group_id: str, user_id: str,
                     approve: bool, *, skip: Subscriber | None = None) -> dict[str, Any]:
        """Approve or decline ``user_id``'s pending application (``actor``
        None: the app's admin)."""
        try:
            user = check_user_id(user_id)
        except TidingsError as exc:
            raise TidingsError(exc.code, f"user_id: {exc.message}") from None
        op = AnswerJoin(actor, user, approve)
        result = await self._groups.run(self._groups.key(sdkappid, group_id), op)
        if op.request is not None:
            self._tell(sdkappid, [*op.handlers, user], HANDLED_EVENT, op.request.view(), skip)
        return result

    async def _before_apply(self, me: Identity, group_id: str, message: str,
                            platform: str, client_ip: str) -> None:
        settings = await self._callbacks.settings(me.sdkappid)
        if not self._callbacks.wants(settings, BEFORE_APPLY_JOIN):
            return
        assert settings is not None
        group = await self._groups.info(me.sdkappid, group_id)
        if group["join_option"] != JoinOption.NEED_PERMISSION.value:
            return  # joined at once or refused: nothing for the app to decide
        now = now_ms()
        data = {"group_id": group_id, "type": group["type"], "user_id": me.user_id,
                "message": message, "time": now, "platform": platform,
                "client_ip": client_ip}
        fmt = settings.format
        await self._callbacks.ask(
            settings, BEFORE_APPLY_JOIN, "join application", now, data,
            lambda status, body: read_before_apply_join(fmt, status, body))

    # -- reads -----------------------------------------------------------------------

    async def pending(self, sdkappid: int, viewer: str | None,
                      group_id: str | None) -> dict[str, Any]:
        """Pending applications, newest first: to one group (its owner and
        admins, or the app's admin), or to every group the viewer handles."""
        if group_id is None:
            assert viewer is not None
            found = await self._store.pending_for(sdkappid, viewer)
        else:
            key = self._groups.key(sdkappid, group_id)
            if viewer is None:
                await self._groups.info(sdkappid, key.a)  # 10010 for no such group
                found = await self._store.pending_of_group(key)
            else:
                member = await self._group_store.member(key, viewer)
                if member is None:
                    await self._groups.info(sdkappid, key.a)
                    raise TidingsError(ErrorCode.NOT_A_MEMBER,
                                       "you are not a member of this group")
                if member["role"] == Role.MEMBER.label:
                    raise TidingsError(ErrorCode.GROUP_NO_PERMISSION,
                                       "only the group's owner and admins see its applications")
                found = await self._store.pending_for(sdkappid, viewer, key.a)
        return {"requests": [r.view() for r in found]}

    async def mine(self, me: Identity) -> dict[str, Any]:
        """The caller's applications: pending, and answered in the last 7 days."""
        found = await self._store.of_applicant(me.sdkappid, me.user_id,
                                               now_ms() - ANSWERED_KEPT_MS)
        return {"applications": [r.view() for r in found]}

    async def for_sync(self, me: Identity) -> dict[str, list[dict[str, Any]]]:
        """What every sync answer carries: the applications waiting for the
        caller's answer, and the caller's own."""
        # Asked together, the two reads share a chunk of the gathered reads
        # (store/reads.py: one pooled connection on PostgreSQL), not one each.
        waiting, mine = await asyncio.gather(
            self._store.pending_for(me.sdkappid, me.user_id), self.mine(me))
        return {"group_join_requests": [r.view() for r in waiting],
                "group_applications": mine["applications"]}

    async def groups_left(self, me: Identity, conversation_ids: Iterable[str]
                          ) -> list[dict[str, Any]]:
        """For the group conversations a device holds (its ``known``) that
        the caller is no longer in: how they left. ``op``: ``left``,
        ``kicked`` (with the entry's ``seq``, ``by`` and ``time``),
        ``disbanded`` (no such group now) or ``not_a_member``."""
        wanted: list[str] = []
        for cid in conversation_ids:
            if cid.startswith("group_"):
                try:
                    wanted.append(check_group_id(cid[6:]))
                except TidingsError:
                    continue
        if not wanted:
            return []
        existing, member_of = await self._departures.membership(me.sdkappid, me.user_id,
                                                                wanted)
        gone = [g for g in wanted if g not in member_of]
        how = await self._departures.of(me.sdkappid, me.user_id,
                                        [g for g in gone if g in existing])
        out: list[dict[str, Any]] = []
        for g in gone:
            base = {"conversation_id": f"group_{g}", "group_id": g}
            if g not in existing:
                out.append({**base, "op": "disbanded"})
            elif g in how:
                out.append({**base, **how[g]})
            else:
                out.append({**base, "op": "not_a_member"})
        return out

"""Join applications in the store: the two operations (apply, answer) that
the message writer runs in its transaction on the group as it stands, so
that an approval, the new member and its ``joined`` entry are durable
together and the first answer wins; and the reads behind the lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, update

from tidings.domain import group_rights
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.group_joins import MAX_LISTED, JoinRequest, JoinState
from tidings.domain.group_rights import Action
from tidings.domain.groups import GroupState, JoinOption, Member, Role
from tidings.domain.ids import ConversationKey
from tidings.store.engine import Database
from tidings.store.group_ops import AddMembers, GroupOp, GroupOutcome, GroupTx, add_rows
from tidings.store.prepared import Prepared
from tidings.store.schema import conversation_members, group_join_requests


def _request(row: Any) -> JoinRequest:
    return JoinRequest(row.group_id, row.user_id, row.message, JoinState(row.state),
                       row.created_at, row.handled_by, row.handled_at)


def _existing(tx: GroupTx) -> tuple[GroupState, int]:
    if tx.state is None or tx.conversation_id is None:
        raise TidingsError(ErrorCode.NOT_FOUND, f"no group {tx.key.a!r}")
    return tx.state, tx.conversation_id


def _handlers(state: GroupState) -> list[str]:
    return [u for u, m in state.members.items() if m.role >= Role.ADMIN]


def _load(conn: Connection, conversation_id: int, user: str) -> JoinRequest | None:
    r = group_join_requests.c
    row = conn.execute(select(group_join_requests).where(
        r.conversation_id == conversation_id, r.user_id == user)).first()
    return None if row is None else _request(row)


# Every login's first sync reads these: built once (building a select cost
# more than running it).
_r, _cm = group_join_requests.c, conversation_members.c
_PENDING_FOR = Prepared(
    select(group_join_requests)
    .select_from(group_join_requests.join(  # spelled out: see store/first_sync.py
        conversation_members, and_(_cm.conversation_id == _r.conversation_id,
                                   _cm.user_id == bindparam("user_id"),
                                   _cm.role >= int(Role.ADMIN))))
    .where(_r.sdkappid == bindparam("sdkappid"), _r.state == JoinState.PENDING.value)
    .order_by(_r.created_at.desc(), _r.user_id).limit(MAX_LISTED))
_OF_APPLICANT = Prepared(
    select(group_join_requests).where(
        _r.sdkappid == bindparam("sdkappid"), _r.user_id == bindparam("user_id"),
        or_(_r.state == JoinState.PENDING.value, _r.handled_at >= bindparam("since")))
    .order_by(_r.created_at.desc(), _r.group_id).limit(MAX_LISTED))


@dataclass
class ApplyJoin(GroupOp):
    """``actor`` asks to join. A ``FreeAccess`` group takes them at once (as
    ``group_join``); a ``NeedPermission`` one keeps the application pending."""

    actor: str | None
    message: str
    # Filled by ``apply``: who is told (the owner and admins), and the request.
    handlers: list[str] = field(default_factory=list, init=False)
    request: JoinRequest | None = field(default=None, init=False)

    def apply(self, tx: GroupTx) -> GroupOutcome:
        state, conversation_id = _existing(tx)
        user = self.actor
        assert user is not None
        if user in state.members:
            raise TidingsError(ErrorCode.ALREADY_GROUP_MEMBER, "you are a member of this group")
        if state.join_option is JoinOption.DISABLED:
            raise TidingsError(ErrorCode.GROUP_NO_PERMISSION,
                               "this group takes no applications: it is joined by invitation"
                               " only")
        if state.join_option is JoinOption.FREE:
            joined = AddMembers(user, [user], join=True).apply(tx)
            return GroupOutcome(joined.entry, joined.state,
                                {"group_id": tx.key.a, "user_id": user, "state": "joined"})
        if len(state.members) >= state.max_members:
            raise TidingsError(ErrorCode.GROUP_FULL,
                               f"this group holds at most {state.max_members} members")
        found = _load(tx.conn, conversation_id, user)
        if found is not None and found.state is JoinState.PENDING:
            raise TidingsError(ErrorCode.GROUP_JOIN_REQUEST_PENDING,
                               "you have applied to this group already; wait for the answer",
                               {"created_at": found.created_at})
        r = group_join_requests.c
        if found is not None:
            tx.conn.execute(delete(group_join_requests).where(
                r.conversation_id == conversation_id, r.user_id == user))
        self.request = JoinRequest(tx.key.a, user, self.message, JoinState.PENDING, tx.now)
        tx.conn.execute(insert(group_join_requests).values(
            conversation_id=conversation_id, user_id=user, sdkappid=tx.key.sdkappid,
            group_id=tx.key.a, message=self.message, state=JoinState.PENDING.value,
            created_at=tx.now, handled_by=None, handled_at=0))
        self.handlers = _handlers(state)
        return GroupOutcome(None, state, {"group_id": tx.key.a, "user_id": user,
                                          "state": JoinState.PENDING.value})


@dataclass
class AnswerJoin(GroupOp):
    """An owner or admin (``actor`` None: the app's admin) approves or
    declines ``user``'s pending application. An approval adds them as a
    self-join does (``joined`` entry, the group's size limit)."""

    actor: str | None
    user: str
    approve: bool
    handlers: list[str] = field(default_factory=list, init=False)
    request: JoinRequest | None = field(default=None, init=False)

    def apply(self, tx: GroupTx) -> GroupOutcome:
        state, conversation_id = _existing(tx)
        group_rights.check(state, self.actor, Action.HANDLE_JOIN)
        found = _load(tx.conn, conversation_id, self.user)
        if found is None:
            raise TidingsError(ErrorCode.GROUP_JOIN_REQUEST_NOT_FOUND,
                               f"no application from {self.user!r} to this group")
        if found.state is not JoinState.PENDING:
            raise TidingsError(ErrorCode.GROUP_JOIN_REQUEST_HANDLED,
                               f"this application was {found.state.value} already",
                               {"state": found.state.value, "handled_by": found.handled_by,
                                "handled_at": found.handled_at})
        entry: dict[str, Any] | None = None
        new = state
        joins = self.approve and self.user not in state.members
        if joins and len(state.members) >= state.max_members:
            raise TidingsError(ErrorCode.GROUP_FULL,
                               f"this group holds at most {state.max_members} members")
        answer = JoinState.APPROVED if self.approve else JoinState.DECLINED
        r = group_join_requests.c
        tx.conn.execute(update(group_join_requests).where(
            r.conversation_id == conversation_id, r.user_id == self.user).values(
            state=answer.value, handled_by=self.actor, handled_at=tx.now))
        if joins:
            new = state.copy()
            new.members[self.user] = Member(Role.MEMBER)
            add_rows(tx, conversation_id, new, [(self.user, Role.MEMBER)])
            entry = {"op": "joined", "by": self.actor, "users": [self.user],
                     "application": True}
        self.request = JoinRequest(found.group_id, found.user_id, found.message, answer,
                                   found.created_at, self.actor, tx.now)
        self.handlers = _handlers(new)
        return GroupOutcome(entry, new, self.request.view())


class JoinRequestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def pending_for(self, sdkappid: int, user_id: str, group_id: str | None = None
                          ) -> list[JoinRequest]:
        """Pending applications to the groups ``user_id`` owns or
        administers (or to ``group_id`` only), newest first."""
        r = group_join_requests.c
        who = {"sdkappid": sdkappid, "user_id": user_id}
        if group_id is None:
            rows = await self._db.read_rows(_PENDING_FOR, who)
        else:
            query = _PENDING_FOR.statement.where(r.group_id == group_id)
            rows = await self._db.read(lambda conn: conn.execute(query, who).all())
        return [_request(row) for row in rows]

    async def pending_of_group(self, key: ConversationKey) -> list[JoinRequest]:
        r = group_join_requests.c
        rows = await self._db.rows(select(group_join_requests).where(
            r.sdkappid == key.sdkappid, r.group_id == key.a, r.state == JoinState.PENDING.value)
            .order_by(r.created_at.desc(), r.user_id).limit(MAX_LISTED))
        return [_request(row) for row in rows]

    async def of_applicant(self, sdkappid: int, user_id: str, answered_since: int
                           ) -> list[JoinRequest]:
        """The user's own applications: pending ones, and those answered since."""
        who = {"sdkappid": sdkappid, "user_id": user_id, "since": answered_since}
        rows = await self._db.read_rows(_OF_APPLICANT, who)
        return [_request(row) for row in rows]

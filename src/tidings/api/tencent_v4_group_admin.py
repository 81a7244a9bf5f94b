"""More of Tencent's v4 group commands (``group_open_http_svc``): a member's
role and profile, the muted members, the app's groups, a member's unread
count, the recall of a member's messages, the imports of a group, its
members and its messages (a migration from Tencent), and system
notifications. Over the groups and messaging services, as the
commands of ``tencent_v4_groups``; registered with the v4 router of
``api/tencent_v4.py`` on import. docs/tencent-compat.md lists what differs."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tidings.api.tencent_v4 import _CALLER, V4Body, V4Error, command, parse, tencent_code
from tidings.api.tencent_v4_groups import (
    SERVICE,
    GroupIdBody,
    Member,
    _type,
    add_members,
    create_group,
)
from tidings.api.tencent_v4_messages import _prepared
from tidings.domain.clock import now_ms
from tidings.domain.elements import EntryKind, ImportMode
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.groups import GroupType
from tidings.domain.ids import check_group_id, check_user_id, group_key
from tidings.domain.tencent_msgbody import v4_client_msg_id
from tidings.runtime import Runtime

MEMBERS_PAGE = 1000


class RolesBody(GroupIdBody):
    users: list[str] = Field(alias="User_Account", min_length=1, max_length=500)


class MemberBody(GroupIdBody):
    account: str = Field(alias="Member_Account")
    role: str | None = Field(None, alias="Role")
    name_card: str | None = Field(None, alias="NameCard")
    mute_time: int | None = Field(None, alias="MuteTime", ge=0)


class AppGroupsBody(V4Body):
    limit: int = Field(10000, alias="Limit", ge=1, le=10000)
    next: int = Field(0, alias="Next", ge=0)
    type: str | None = Field(None, alias="GroupType")


class ImportMember(Member):
    role: str = Field("Member", alias="Role")


class ImportMembersBody(GroupIdBody):
    members: list[ImportMember] = Field(alias="MemberList", min_length=1, max_length=500)


class ImportedMsg(V4Body):
    sender: str = Field(alias="From_Account")
    time: int = Field(alias="SendTime", ge=1, le=2**32 - 1)
    random: int = Field(0, alias="Random", ge=0, le=2**32 - 1)
    body: list[Any] = Field(alias="MsgBody")
    custom: str = Field("", alias="CloudCustomData")


class ImportMsgsBody(GroupIdBody):
    messages: list[ImportedMsg] = Field(alias="MsgList", min_length=1, max_length=20)


class UnreadBody(GroupIdBody):
    account: str = Field(alias="Member_Account")
    unread: int = Field(alias="UnreadMsgNum", ge=0)


async def _all_members(rt: Runtime, sdkappid: int, group_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = ""
    while True:
        page = await rt.groups.members(sdkappid, None, group_id, after=after,
                                       limit=MEMBERS_PAGE)
        found += page["members"]
        if not page["more"]:
            return found
        after = found[-1]["user_id"]


@command(SERVICE, "get_role_in_group")
async def get_role_in_group(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """``Owner``, ``Admin``, ``Member``, or ``NotMember``."""
    req = parse(RolesBody, body)
    await rt.groups.info(sdkappid, req.group_id)  # 10010 when there is no such group
    out = []
    for user in dict.fromkeys(req.users):
        member = await rt.groups.member(sdkappid, req.group_id, user)
        out.append({"Member_Account": user,
                    "Role": member["role"] if member is not None else "NotMember"})
    return {"UserIdList": out}


@command(SERVICE, "get_group_shutted_uin")
async def get_group_shutted_uin(rt: Runtime, sdkappid: int,
                                body: dict[str, Any]) -> dict[str, Any]:
    """The members muted now, with when their mute ends (seconds)."""
    req = parse(GroupIdBody, body)
    now = now_ms()
    muted = [{"Member_Account": m["user_id"], "MutedUntil": m["muted_until"] // 1000}
             for m in await _all_members(rt, sdkappid, req.group_id)
             if m["muted_until"] > now]
    return {"GroupId": req.group_id, "MutedAccountList": muted}


@command(SERVICE, "modify_group_member_info")
async def modify_group_member_info(rt: Runtime, sdkappid: int,
                                   body: dict[str, Any]) -> dict[str, Any]:
    """``Role`` (``Admin``/``Member``), ``NameCard`` and ``MuteTime`` (seconds,
    0 unmutes), each as the native calls; ``MsgFlag`` and
    ``AppMemberDefinedData`` are ignored (no such member settings here)."""
    req = parse(MemberBody, body)
    user = check_user_id(req.account)
    if await rt.groups.member(sdkappid, req.group_id, user) is None:
        await rt.groups.info(sdkappid, req.group_id)  # 10010 when there is no such group
        raise TidingsError(ErrorCode.NOT_A_MEMBER, f"{user!r} is not a member of the group")
    if req.role is not None:
        await rt.groups.set_role(sdkappid, None, req.group_id, user, req.role)
    if req.name_card is not None:
        await rt.groups.set_name_card(sdkappid, None, req.group_id, user, req.name_card)
    if req.mute_time is not None:
        await rt.groups.mute(sdkappid, None, req.group_id, user, req.mute_time)
    return {}


@command(SERVICE, "get_appid_group_list")
async def get_appid_group_list(rt: Runtime, sdkappid: int,
                               body: dict[str, Any]) -> dict[str, Any]:
    """The app's groups by id, ``Limit`` at a time; ``Next`` (0 at first) is
    where the next page starts, 0 once all are listed."""
    req = parse(AppGroupsBody, body)
    kind = None if req.type is None else _type(req.type)
    found = await rt.groups.app_groups(sdkappid, offset=req.next, limit=req.limit, type=kind)
    after = req.next + len(found["group_ids"])
    return {"TotalCount": found["total"],
            "GroupIdList": [{"GroupId": g} for g in found["group_ids"]],
            "Next": after if after < found["total"] else 0}


@command(SERVICE, "import_group")
async def import_group(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """As ``create_group``; ``CreateTime`` is not kept (a group's creation
    time is when it was made here)."""
    return await create_group(rt, sdkappid, body)


@command(SERVICE, "import_group_member")
async def import_group_member(rt: Runtime, sdkappid: int,
                              body: dict[str, Any]) -> dict[str, Any]:
    """Members join as ``add_group_member`` adds them (1 added, 2 already a
    member, 0 an account never imported), then take their ``Role``
    (``Admin``). ``JoinTime`` and ``UnreadMsgNum`` are not kept."""
    req = parse(ImportMembersBody, body)
    admins = frozenset(m.account for m in req.members if m.role == "Admin")
    return {"MemberList": await add_members(rt, sdkappid, req.group_id,
                                            [m.account for m in req.members], admins)}


@command(SERVICE, "import_group_msg")
async def import_group_msg(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """Each message keeps its ``SendTime`` and takes the group's next seq (in
    the order given); it counts as unread for nobody. Importing it again (same
    sender, time, ``Random`` and content) is the same message. Per message a
    ``Result`` (0, or the code that refused it)."""
    req = parse(ImportMsgsBody, body)
    gid = check_group_id(req.group_id)
    await rt.groups.info(sdkappid, gid)  # 10010 when there is no such group
    results = []
    for item in req.messages:
        try:
            committed = await rt.admin_messaging.import_message(
                sdkappid, check_user_id(item.sender), f"group_{gid}",
                v4_client_msg_id(item.random, f"group:{gid}", item.time, item.body,
                                 item.custom),
                await _prepared(rt, sdkappid, item.body), item.custom, item.time * 1000,
                ImportMode.HISTORY)
        except TidingsError as exc:
            results.append({"MsgSeq": 0, "MsgTime": item.time,
                            "Result": tencent_code(SERVICE, exc.code)})
            continue
        results.append({"MsgSeq": committed.message.seq, "MsgTime": item.time, "Result": 0})
    return {"ImportMsgResult": results}


@command(SERVICE, "set_unread_msg_num")
async def set_unread_msg_num(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """Moves the member's read cursor so that its newest ``UnreadMsgNum``
    messages are unread. A cursor only moves forward here: a count above the
    member's present unread count leaves it as it is."""
    req = parse(UnreadBody, body)
    user = check_user_id(req.account)
    if await rt.groups.member(sdkappid, req.group_id, user) is None:
        await rt.groups.info(sdkappid, req.group_id)
        raise TidingsError(ErrorCode.NOT_A_MEMBER, f"{user!r} is not a member of the group")
    seq = None
    if req.unread:
        page, _ = await rt.messaging.group_history(
            group_key(sdkappid, check_group_id(req.group_id)), before_seq=None,
            limit=min(req.unread, rt.messaging.max_page))
        seq = page[0]["seq"] - 1 if len(page) == req.unread else 0
    await rt.admin_messaging.mark_read(sdkappid, user, f"group_{req.group_id}", seq)
    return {}


class BySenderBody(GroupIdBody):
    sender: str = Field(alias="Sender_Account")


@command(SERVICE, "delete_group_msg_by_sender")
async def delete_group_msg_by_sender(rt: Runtime, sdkappid: int,
                                     body: dict[str, Any]) -> dict[str, Any]:
    """Recalls every message of ``Sender_Account`` in the group's history (as
    Tencent's page says: a recall, not a deletion). Members' devices get the
    recalls as any recall (Tencent's is silent). A Live group stores
    nothing: nothing to do there, as Tencent."""
    req = parse(BySenderBody, body)
    sender = check_user_id(req.sender)
    key = group_key(sdkappid, check_group_id(req.group_id))
    await rt.groups.info(sdkappid, req.group_id)  # 10010 when there is no such group
    number = await rt.messaging.group_number(key)
    before = None
    while True:
        page, more = await rt.messaging.group_history(key, before_seq=before,
                                                      limit=rt.messaging.max_page)
        for m in page:
            if m["sender"] == sender and m["state"] != "recalled":
                await rt.messaging.admin_change(sdkappid, _CALLER.get(),
                                                f"{number}-{m['seq']}", EntryKind.RECALL)
        if not more or not page:
            return {}
        before = page[0]["seq"]


class ModifyMsgBody(GroupIdBody):
    seq: int = Field(alias="MsgSeq", ge=1)
    body: list[Any] | None = Field(None, alias="MsgBody")
    custom: str | None = Field(None, alias="CloudCustomData")


@command("openim", "modify_group_msg")
async def modify_group_msg(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """A group message's ``MsgBody`` and/or ``CloudCustomData`` replaced, as
    ``modify_c2c_msg`` (members' devices get the edit); group errors use the
    group numbers (10010 no such group)."""
    req = parse(ModifyMsgBody, body)
    try:
        key = group_key(sdkappid, check_group_id(req.group_id))
        await rt.groups.info(sdkappid, req.group_id)
        number = await rt.messaging.group_number(key)
        elements = None if req.body is None else await _prepared(rt, sdkappid, req.body)
        await rt.messaging.admin_change(sdkappid, _CALLER.get(), f"{number}-{req.seq}",
                                        EntryKind.EDIT, elements, req.custom)
    except TidingsError as exc:
        raise V4Error(tencent_code(SERVICE, exc.code), exc.message) from None
    return {}


@command(SERVICE, "get_online_member_num")
async def get_online_member_num(rt: Runtime, sdkappid: int,
                                body: dict[str, Any]) -> dict[str, Any]:
    """A Live group's (``AVChatRoom``) members are its open connections: their
    number. Another type of group: 10004, as the command is for Live groups."""
    req = parse(GroupIdBody, body)
    found = await rt.groups.info(sdkappid, req.group_id)
    if found["type"] != GroupType.LIVE.value:
        raise TidingsError(ErrorCode.INVALID_REQUEST, "GroupId: not an AVChatRoom group")
    return {"OnlineMemberNum": found["member_count"]}


class SeqItem(V4Body):
    seq: int = Field(alias="MsgSeq", ge=1)


class ReceiptsBody(GroupIdBody):
    seqs: list[SeqItem] = Field(alias="MsgSeqList", min_length=1, max_length=100)


class ReceiptDetailBody(GroupIdBody):
    seq: int = Field(alias="MsgSeq", ge=1)
    filter: int = Field(0, alias="Filter", ge=0, le=1)
    cursor: str = Field("", alias="Cursor", max_length=32)
    count: int = Field(100, alias="Count", ge=1, le=1000)


@command(SERVICE, "get_group_msg_receipt")
async def get_group_msg_receipt(rt: Runtime, sdkappid: int,
                                body: dict[str, Any]) -> dict[str, Any]:
    """Per message its ``ReadNum`` and ``UnreadNum``, from the members' read
    cursors (docs/receipts.md); a seq that is no message: ``Code`` 20022."""
    req = parse(ReceiptsBody, body)
    key = group_key(sdkappid, check_group_id(req.group_id))
    seqs = [s.seq for s in req.seqs]
    found = {r["seq"]: r for r in (await rt.group_receipts.receipts(key, None, seqs))[
        "receipts"]}
    return {"GroupMsgReceiptList": [
        {"Code": 0, "MsgSeq": s, "ReadNum": found[s]["read_count"],
         "UnreadNum": found[s]["unread_count"]} if s in found else
        {"Code": int(ErrorCode.MESSAGE_NOT_FOUND), "MsgSeq": s, "ReadNum": 0, "UnreadNum": 0}
        for s in dict.fromkeys(seqs)]}


@command(SERVICE, "get_group_msg_receipt_detail")
async def get_group_msg_receipt_detail(rt: Runtime, sdkappid: int,
                                       body: dict[str, Any]) -> dict[str, Any]:
    """Who has read the message (``Filter`` 0: ``ReadList``) or not yet (1:
    ``UnreadList``), ``Count`` at a time by user id; ``Cursor`` is the last
    user id of the page (pass it back for the next), ``IsFinish`` (and
    ``IsFinished``, the field table's name) 1 on the last page."""
    req = parse(ReceiptDetailBody, body)
    key = group_key(sdkappid, check_group_id(req.group_id))
    page = await rt.group_receipts.readers(key, None, req.seq, read=req.filter == 0,
                                           after=req.cursor, limit=req.count)
    users = page["users"]
    finished = 0 if page["more"] else 1
    listed = ({"ReadList": [{"Read_Account": u} for u in users]} if req.filter == 0 else
              {"UnreadList": [{"Unread_Account": u} for u in users]})
    return {"MsgSeq": req.seq, "Cursor": users[-1] if page["more"] else "",
            "IsFinish": finished, "IsFinished": finished, **listed}


class NotificationBody(GroupIdBody):
    content: str = Field(alias="Content")
    to: list[str] = Field([], alias="ToMembers_Account", max_length=500)


@command(SERVICE, "send_group_system_notification")
async def send_group_system_notification(rt: Runtime, sdkappid: int,
                                         body: dict[str, Any]) -> dict[str, Any]:
    """A live ``group_system_notification`` event to the members (or those of
    ``ToMembers_Account``); stored nowhere, as Tencent's."""
    req = parse(NotificationBody, body)
    await rt.group_notices.notify(sdkappid, req.group_id, req.content, req.to)
    return {}

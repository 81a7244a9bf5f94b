"""Tencent Cloud IM's v4 group commands (``group_open_http_svc``), as an
adapter over the groups and messaging services; registered with the v4
router of ``api/tencent_v4.py`` on import. docs/tencent-compat.md lists what
is supported and what differs."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import AliasChoices, Field

from tidings.api.tencent_v4 import (
    _CALLER,
    _SERVICE_CODE,
    CLIENT_IP,
    V4Body,
    command,
    missing_accounts,
    parse,
    require_accounts,
    tencent_code,
)
from tidings.api.tencent_v4_messages import _prepared, dedup_id
from tidings.domain.callbacks import msg_random
from tidings.domain.elements import EntryKind
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.groups import GroupType, JoinOption
from tidings.domain.ids import check_group_id, check_user_id, group_key
from tidings.domain.tencent_msgbody import GROUP_DEDUP_SECONDS, to_msgbody
from tidings.runtime import Runtime
from tidings.services.messaging import SendContext

SERVICE = "group_open_http_svc"
# Tencent's type names (Private is the old name of Work, ChatRoom of Meeting).
_TYPES = {"Work": GroupType.WORK, "Private": GroupType.WORK, "Public": GroupType.PUBLIC,
          "Meeting": GroupType.MEETING, "ChatRoom": GroupType.MEETING,
          "Community": GroupType.COMMUNITY, "AVChatRoom": GroupType.LIVE}
# Tencent's group numbers where ours differ (10010 "the group does not exist",
# 10004 "invalid parameter").
_SERVICE_CODE.update({(SERVICE, ErrorCode.NOT_FOUND): 10010,
                      (SERVICE, ErrorCode.INVALID_REQUEST): 10004,
                      (SERVICE, ErrorCode.INVALID_USER_ID): 10004})
NO_ACCOUNT = 10019  # Tencent: "the UserID does not exist"
_JOIN = {"FreeAccess": JoinOption.FREE, "NeedPermission": JoinOption.NEED_PERMISSION,
         "DisableApply": JoinOption.DISABLED}


class Member(V4Body):
    account: str = Field(alias="Member_Account")


class KeyValue(V4Body):
    key: str = Field(alias="Key")
    value: str = Field(alias="Value")


class _Profile(V4Body):
    name: str | None = Field(None, alias="Name")
    introduction: str | None = Field(None, alias="Introduction")
    notification: str | None = Field(None, alias="Notification")
    face_url: str | None = Field(None, alias="FaceUrl")
    apply_join: str | None = Field(None, alias="ApplyJoinOption")
    custom: list[KeyValue] | None = Field(None, alias="AppDefinedData")

    def profile(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in (
            ("name", self.name), ("introduction", self.introduction),
            ("notification", self.notification), ("face_url", self.face_url)) if v is not None}
        if self.custom is not None:
            out["custom"] = {kv.key: kv.value for kv in self.custom}
        return out

    def join_option(self) -> JoinOption | None:
        if self.apply_join is None:
            return None
        if self.apply_join not in _JOIN:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"ApplyJoinOption: one of {', '.join(_JOIN)}")
        return _JOIN[self.apply_join]


class CreateBody(_Profile):
    owner: str | None = Field(None, alias="Owner_Account")
    type: str = Field(alias="Type")
    group_id: str | None = Field(None, alias="GroupId")
    members: list[Member] = Field(default_factory=list, alias="MemberList", max_length=500)


class GroupIdBody(V4Body):
    group_id: str = Field(alias="GroupId")


class ResponseFilter(V4Body):
    base: list[str] | None = Field(None, alias="GroupBaseInfoFilter")
    member: list[str] | None = Field(None, alias="MemberInfoFilter")


class InfoBody(V4Body):
    group_ids: list[str] = Field(alias="GroupIdList", max_length=50)
    filter: ResponseFilter | None = Field(None, alias="ResponseFilter")


class AddBody(GroupIdBody):
    members: list[Member] = Field(alias="MemberList", max_length=500)


class DeleteBody(GroupIdBody):
    accounts: list[str] = Field(alias="MemberToDel_Account", max_length=500)


class SendBody(GroupIdBody):
    sender: str | None = Field(None, alias="From_Account")
    random: int = Field(alias="Random", ge=0, le=2**32 - 1)
    body: list[Any] = Field(alias="MsgBody")
    custom: str = Field("", alias="CloudCustomData")


class MsgGetBody(GroupIdBody):
    count: int = Field(alias="ReqMsgNumber", ge=1, le=20)
    seq: int | None = Field(None, alias="ReqMsgSeq")


class SeqItem(V4Body):
    seq: int = Field(alias="MsgSeq")


class RecallBody(GroupIdBody):
    seqs: list[SeqItem] = Field(alias="MsgSeqList", max_length=100)


class ForbidBody(GroupIdBody):
    accounts: list[str] = Field(alias="Members_Account", max_length=500)
    # ``ShutUpTime`` is the older name (Tencent's older pages, client libraries).
    seconds: int = Field(validation_alias=AliasChoices("MuteTime", "ShutUpTime"), ge=0)


class OwnerBody(GroupIdBody):
    new_owner: str = Field(alias="NewOwner_Account")


class ModifyBody(_Profile):
    group_id: str = Field(alias="GroupId")
    # ``MuteAllMember`` on Tencent's current pages, ``ShutUpAllMember`` on older ones.
    shut_up_all: str | None = Field(
        None, validation_alias=AliasChoices("MuteAllMember", "ShutUpAllMember"))


class MemberInfoBody(GroupIdBody):
    limit: int = Field(100, alias="Limit", ge=1, le=6000)
    offset: int = Field(0, alias="Offset", ge=0)


class JoinedBody(V4Body):
    account: str = Field(alias="Member_Account")
    limit: int = Field(1000, alias="Limit", ge=1, le=10000)
    offset: int = Field(0, alias="Offset", ge=0)


def _type(name: str) -> GroupType:
    if name not in _TYPES:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           f"Type: one of {', '.join(_TYPES)}")
    return _TYPES[name]


@command(SERVICE, "create_group")
async def create_group(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(CreateBody, body)
    named = [m.account for m in req.members] + ([req.owner] if req.owner else [])
    await require_accounts(rt, sdkappid, named, NO_ACCOUNT)
    made = await rt.groups.create(
        sdkappid, None, type=_type(req.type), group_id=req.group_id, owner=req.owner,
        members=[m.account for m in req.members], profile=req.profile(),
        join_option=req.join_option())
    return {"GroupId": made["group_id"]}


def _info(found: dict[str, Any], sdkappid: int, last: dict[str, Any] | None
          ) -> dict[str, Any]:
    """A group's base info with Tencent's names (``ShutUpAllMember`` is the
    older name of ``MuteAllMember``: both are answered)."""
    mute_all = "On" if found["mute_all"] else "Off"
    return {"Type": found["type"], "Name": found["name"], "Appid": sdkappid,
            "Introduction": found["introduction"], "Notification": found["notification"],
            "FaceUrl": found["face_url"], "Owner_Account": found["owner"] or "",
            "CreateTime": found["created_at"] // 1000,
            "InfoSeq": found["updated_at"], "LastInfoTime": found["updated_at"] // 1000,
            "LastMsgTime": last["time"] // 1000 if last else 0,
            "NextMsgSeq": last["seq"] + 1 if last else 1,
            "MemberNum": found["member_count"], "MaxMemberNum": found["max_members"],
            "ApplyJoinOption": found["join_option"], "MuteAllMember": mute_all,
            "ShutUpAllMember": mute_all}


async def _newest(rt: Runtime, sdkappid: int, group_id: str) -> dict[str, Any] | None:
    page, _ = await rt.messaging.group_history(group_key(sdkappid, group_id), before_seq=None,
                                               limit=1)
    return dict(page[-1]) if page else None


async def _member_items(rt: Runtime, sdkappid: int, group_id: str,
                        members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Members as Tencent lists them: ``MsgSeq`` is the seq the member has
    read up to, ``LastSendMsgTime`` when it last sent (seconds, 0: never),
    ``MuteUntil`` (and its older name ``ShutUpUntil``) in seconds, 0 when not
    muted. Members have no custom fields here: ``AppMemberDefinedData`` is []."""
    seen = await rt.groups.activity(sdkappid, group_id, [m["user_id"] for m in members])
    out = []
    for m in members:
        read_seq, sent = seen.get(m["user_id"], (0, 0))
        until = m["muted_until"] // 1000
        out.append({"Member_Account": m["user_id"], "Role": m["role"],
                    "JoinTime": m["joined_at"] // 1000, "MsgSeq": read_seq,
                    "MsgFlag": "AcceptAndNotify", "LastSendMsgTime": sent // 1000,
                    "MuteUntil": until, "ShutUpUntil": until, "NameCard": m["name_card"],
                    "AppMemberDefinedData": []})
    return out


_ALWAYS = ("GroupId", "ErrorCode", "ErrorInfo")
# MemberInfoFilter's names -> our item keys ("Account" is Member_Account).
_MEMBER_FILTER = {"Account": "Member_Account", "ShutUpUntil": "ShutUpUntil"}


@command(SERVICE, "get_group_info")
async def get_group_info(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """Per group: its info, or its own ErrorCode (10010 for no such group).
    Without ``ResponseFilter`` everything is answered, the members too; with
    it, the base fields it names and the members only if it has a
    ``MemberInfoFilter`` (with the fields it names)."""
    req = parse(InfoBody, body)
    out: list[dict[str, Any]] = []
    for gid in req.group_ids:
        try:
            found = await rt.groups.info(sdkappid, gid)
        except TidingsError as exc:
            out.append({"GroupId": gid, "ErrorCode": tencent_code(SERVICE, exc.code),
                        "ErrorInfo": exc.message})
            continue
        info = _info(found, sdkappid, await _newest(rt, sdkappid, found["group_id"]))
        info["AppDefinedData"] = [{"Key": k, "Value": v} for k, v in found["custom"].items()]
        wanted = req.filter.base if req.filter is not None else None
        if wanted is not None:
            info = {k: v for k, v in info.items() if k in wanted
                    or (k == "AppDefinedData" and v)}
        members_wanted = req.filter.member if req.filter is not None else []
        if members_wanted is not None and found["type"] != GroupType.LIVE.value:
            page = await rt.groups.members(sdkappid, None, found["group_id"], after="",
                                           limit=1000)
            items = await _member_items(rt, sdkappid, found["group_id"], page["members"])
            if members_wanted:
                keys = {_MEMBER_FILTER.get(f, f) for f in members_wanted} | {"Member_Account"}
                items = [{k: v for k, v in item.items() if k in keys} for item in items]
            info["MemberList"] = items
        out.append({"GroupId": found["group_id"], "ErrorCode": 0, "ErrorInfo": "", **info})
    return {"GroupInfo": out}


@command(SERVICE, "destroy_group")
async def destroy_group(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    await rt.groups.disband(sdkappid, None, parse(GroupIdBody, body).group_id)
    return {}


@command(SERVICE, "add_group_member")
async def add_group_member(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """Result per member: 1 added, 2 already a member, 0 not added (an
    account that was never imported, as Tencent); none to add: 10019."""
    req = parse(AddBody, body)
    return {"MemberList": await add_members(rt, sdkappid, req.group_id,
                                            [m.account for m in req.members])}


async def add_members(rt: Runtime, sdkappid: int, group_id: str, asked: list[str],
                      admins: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Add accounts to a group (those in ``admins`` then made admins), with
    Tencent's ``Result`` each: 1 added, 2 already a member, 0 an account
    never imported; 10019 when none of them was ever imported."""
    missing = await missing_accounts(rt, sdkappid, asked)
    if asked and all(u in missing for u in asked):
        await require_accounts(rt, sdkappid, asked, NO_ACCOUNT)
    done = await rt.groups.invite(sdkappid, None, group_id,
                                  [u for u in asked if u not in missing])
    for user in done["added"]:
        if user in admins:
            await rt.groups.set_role(sdkappid, None, group_id, user, "Admin")
    return ([{"Member_Account": u, "Result": 1} for u in done["added"]]
            + [{"Member_Account": u, "Result": 2} for u in done["already"]]
            + [{"Member_Account": u, "Result": 0} for u in dict.fromkeys(asked)
               if u in missing])


@command(SERVICE, "delete_group_member")
async def delete_group_member(rt: Runtime, sdkappid: int,
                              body: dict[str, Any]) -> dict[str, Any]:
    req = parse(DeleteBody, body)
    await rt.groups.kick(sdkappid, None, req.group_id, req.accounts)
    return {}


@command(SERVICE, "send_group_msg")
async def send_group_msg(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """As ``From_Account`` (a member, who must be allowed to speak), or
    without it as the admin account itself, which need not be a member."""
    req = parse(SendBody, body)
    gid = check_group_id(req.group_id)
    sender = check_user_id(req.sender) if req.sender else _CALLER.get()
    context = SendContext("RESTAPI", CLIENT_IP.get(), privileged=req.sender is None)
    # Tencent: the same Random and content within five minutes is one message.
    client_id = dedup_id(rt, sdkappid, sender, req.random, f"group:{gid}",
                         GROUP_DEDUP_SECONDS, req.body, req.custom)
    committed = await rt.admin_messaging.send(
        sdkappid, sender, f"group_{gid}", client_id,
        await _prepared(rt, sdkappid, req.body), req.custom, context)
    msg = committed.message
    return {"MsgTime": msg.created_at // 1000, "MsgSeq": msg.seq}


@command(SERVICE, "group_msg_get_simple")
async def group_msg_get_simple(rt: Runtime, sdkappid: int,
                               body: dict[str, Any]) -> dict[str, Any]:
    """Up to ReqMsgNumber messages at and below ReqMsgSeq (newest without it),
    newest first, as Tencent lists them."""
    req = parse(MsgGetBody, body)
    key = group_key(sdkappid, check_group_id(req.group_id))
    before = None if req.seq is None else req.seq + 1
    page, more = await rt.messaging.group_history(key, before_seq=before, limit=req.count)
    page = orjson.loads(orjson.dumps(page))  # the elements as plain lists
    listed = [{"From_Account": m["sender"], "IsPlaceMsg": 1 if m["state"] == "recalled" else 0,
               "MsgBody": to_msgbody(m["elements"]), "MsgPriority": 1,
               "MsgRandom": msg_random(m["client_msg_id"]), "MsgSeq": m["seq"],
               "MsgTimeStamp": m["time"] // 1000,
               "CloudCustomData": m["cloud_custom_data"]}
              for m in reversed(page)]
    return {"GroupId": req.group_id, "IsFinished": 0 if more else 1, "RspMsgList": listed}


@command(SERVICE, "group_msg_recall")
async def group_msg_recall(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(RecallBody, body)
    key = group_key(sdkappid, check_group_id(req.group_id))
    number = await rt.messaging.group_number(key)
    results = []
    for item in req.seqs:
        code = 0
        try:
            await rt.messaging.admin_change(sdkappid, _CALLER.get(), f"{number}-{item.seq}",
                                            EntryKind.RECALL)
        except TidingsError as exc:
            code = tencent_code(SERVICE, exc.code)
        results.append({"MsgSeq": item.seq, "RetCode": code})
    return {"RecallRetList": results}


@command(SERVICE, "forbid_send_msg")
async def forbid_send_msg(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """Mute the members for MuteTime seconds (0 unmutes)."""
    req = parse(ForbidBody, body)
    for account in req.accounts:
        await rt.groups.mute(sdkappid, None, req.group_id, account, req.seconds)
    return {}


@command(SERVICE, "change_group_owner")
async def change_group_owner(rt: Runtime, sdkappid: int,
                             body: dict[str, Any]) -> dict[str, Any]:
    req = parse(OwnerBody, body)
    await rt.groups.transfer(sdkappid, None, req.group_id, req.new_owner)
    return {}


@command(SERVICE, "modify_group_base_info")
async def modify_group_base_info(rt: Runtime, sdkappid: int,
                                 body: dict[str, Any]) -> dict[str, Any]:
    req = parse(ModifyBody, body)
    if req.shut_up_all is not None:
        if req.shut_up_all not in ("On", "Off"):
            raise TidingsError(ErrorCode.INVALID_REQUEST, "MuteAllMember: On or Off")
        await rt.groups.mute_all(sdkappid, None, req.group_id, req.shut_up_all == "On")
    profile, join = req.profile(), req.join_option()
    if profile or join is not None:
        await rt.groups.update(sdkappid, None, req.group_id, profile, join)
    return {}


@command(SERVICE, "get_group_member_info")
async def get_group_member_info(rt: Runtime, sdkappid: int,
                                body: dict[str, Any]) -> dict[str, Any]:
    req = parse(MemberInfoBody, body)
    page = await rt.groups.members(sdkappid, None, req.group_id, after="",
                                   limit=min(req.offset + req.limit, 1000))
    info = await rt.groups.info(sdkappid, req.group_id)
    members = page["members"][req.offset:req.offset + req.limit]
    return {"MemberNum": info["member_count"],
            "MemberList": await _member_items(rt, sdkappid, req.group_id, members)}


@command(SERVICE, "get_joined_group_list")
async def get_joined_group_list(rt: Runtime, sdkappid: int,
                                body: dict[str, Any]) -> dict[str, Any]:
    req = parse(JoinedBody, body)
    found = (await rt.groups.joined(sdkappid, req.account))["groups"]
    return {"TotalCount": len(found), "GroupIdList": [
        {"GroupId": g["group_id"], "Type": g["type"], "Name": g["name"]}
        for g in found[req.offset:req.offset + req.limit]]}

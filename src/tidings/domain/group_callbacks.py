"""The group events of the app's callbacks (docs/callbacks.md): their native
``data`` and their Tencent bodies (``Group.Callback...``), registered with
``domain.callbacks.register_event``. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from tidings.domain.callbacks import msg_random, register_event
from tidings.domain.clock import now_ms
from tidings.domain.tencent_msgbody import to_msgbody


class GroupEvent:
    BEFORE_SEND = "group_before_send"
    AFTER_SEND = "group_after_send"
    AFTER_CREATE = "group_after_create"
    AFTER_JOIN = "group_after_join"
    AFTER_LEAVE = "group_after_leave"
    AFTER_DESTROYED = "group_after_destroyed"


# The after-events a group operation may cause, by its system entry's op.
OP_EVENTS = {"created": GroupEvent.AFTER_CREATE, "joined": GroupEvent.AFTER_JOIN,
             "invited": GroupEvent.AFTER_JOIN, "left": GroupEvent.AFTER_LEAVE,
             "kicked": GroupEvent.AFTER_LEAVE, "disbanded": GroupEvent.AFTER_DESTROYED}
ALL_OP_EVENTS = frozenset(OP_EVENTS.values())


def message_data(group_id: str, group_type: str, sender: str, client_msg_id: str,
                 elements_json: str | bytes, cloud_custom_data: str, platform: str,
                 client_ip: str, *, msg_id: str = "", seq: int = 0, time: int = 0) -> bytes:
    """The native ``data`` of a group message event (before send: no
    ``msg_id``, ``seq``, ``time`` yet)."""
    return orjson.dumps({
        "group_id": group_id, "type": group_type, "from": sender,
        "conversation_id": f"group_{group_id}", "client_msg_id": client_msg_id,
        "msg_id": msg_id, "seq": seq, "time": time,
        "elements": orjson.Fragment(elements_json), "cloud_custom_data": cloud_custom_data,
        "platform": platform, "client_ip": client_ip})


def op_data(entry: Mapping[str, Any], group_id: str, group_type: str, time: int,
            members: Iterable[str]) -> tuple[str, dict[str, Any]] | None:
    """The after-event of a group operation's system entry, if it has one:
    (event, native data). ``members``: the members before a disband."""
    op = str(entry.get("op"))
    event = OP_EVENTS.get(op)
    if event is None:
        return None
    data: dict[str, Any] = {"group_id": group_id, "type": group_type,
                            "operator": entry.get("by"), "time": time}
    if op == "created":
        data.update(owner=entry.get("owner"), name=entry.get("name", ""),
                    members=list(members))
    elif op in ("joined", "invited"):
        data.update(join_type="Apply" if op == "joined" else "Invited", users=entry["users"])
    elif op in ("left", "kicked"):
        data.update(exit_type="Quit" if op == "left" else "Kicked", users=entry["users"])
    else:
        data.update(members=list(members))
    return event, data


def _members(users: Any) -> list[dict[str, str]]:
    return [{"Member_Account": u} for u in users or ()]


def _operator(data: Mapping[str, Any]) -> str:
    return str(data.get("operator") or data.get("from") or "@im_admin")


def _before_send(data: Mapping[str, Any]) -> dict[str, Any]:
    """``Random`` is the sender's own for a message sent through the v4 API
    (stable per message otherwise); ``EventTime`` (ms) is when the message
    was sent, or, before it is stored, when the callback is made."""
    return {"GroupId": data["group_id"], "Type": data["type"], "From_Account": data["from"],
            "Operator_Account": data["from"], "Random": msg_random(str(data["client_msg_id"])),
            "OnlineOnlyFlag": 0, "MsgBody": to_msgbody(data["elements"]),
            "CloudCustomData": data.get("cloud_custom_data", ""),
            "EventTime": data.get("time") or now_ms()}


def _after_send(data: Mapping[str, Any]) -> dict[str, Any]:
    return {**_before_send(data), "MsgSeq": data["seq"], "MsgTime": int(data["time"]) // 1000}


def _after_create(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"GroupId": data["group_id"], "Type": data["type"],
            "Operator_Account": _operator(data), "Owner_Account": data.get("owner") or "",
            "Name": data.get("name", ""), "MemberList": _members(data.get("members")),
            "EventTime": data["time"]}


def _after_join(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"GroupId": data["group_id"], "Type": data["type"], "JoinType": data["join_type"],
            "Operator_Account": _operator(data), "NewMemberList": _members(data["users"]),
            "EventTime": data["time"]}


def _after_leave(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"GroupId": data["group_id"], "Type": data["type"], "ExitType": data["exit_type"],
            "Operator_Account": _operator(data), "ExitMemberList": _members(data["users"]),
            "EventTime": data["time"]}


def _after_destroyed(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"GroupId": data["group_id"], "Type": data["type"],
            "Operator_Account": _operator(data), "MemberList": _members(data.get("members")),
            "EventTime": data["time"]}


register_event(GroupEvent.BEFORE_SEND, "Group.CallbackBeforeSendMsg", _before_send)
register_event(GroupEvent.AFTER_SEND, "Group.CallbackAfterSendMsg", _after_send)
register_event(GroupEvent.AFTER_CREATE, "Group.CallbackAfterCreateGroup", _after_create)
register_event(GroupEvent.AFTER_JOIN, "Group.CallbackAfterNewMemberJoin", _after_join)
register_event(GroupEvent.AFTER_LEAVE, "Group.CallbackAfterMemberExit", _after_leave)
register_event(GroupEvent.AFTER_DESTROYED, "Group.CallbackAfterGroupDestroyed",
               _after_destroyed)

"""Tencent Cloud IM's v4 message commands (``openim``: send, batch send,
import, history, recall, edit, read, unread) and the recent contacts
(``recentcontact/get_list``), as an adapter over the messaging services;
registered with the v4 router of ``api/tencent_v4.py`` on import."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import Field

from tidings.api.tencent_v4 import _CALLER, V4Body, command, parse, tencent_code
from tidings.domain.elements import ELEMENTS, EntryKind, ImportMode
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import check_user_id, parse_msg_id
from tidings.domain.push import PushOptions
from tidings.domain.tencent_msgbody import from_msgbody, to_msgbody
from tidings.protocol.views import MessageView
from tidings.runtime import Runtime
from tidings.services.messaging import SendContext

SERVICE = "openim"


FORBID = {"ForbidBeforeSendMsgCallback": "before_send",
          "ForbidAfterSendMsgCallback": "after_send"}


class SendMsgBody(V4Body):
    sender: str | None = Field(None, alias="From_Account")
    to: str = Field(alias="To_Account")
    random: int = Field(alias="MsgRandom", ge=0, le=2**32 - 1)
    body: list[Any] = Field(alias="MsgBody")
    custom: str = Field("", alias="CloudCustomData")
    forbid: list[str] = Field(default_factory=list, alias="ForbidCallbackControl")
    offline_push: Any = Field(None, alias="OfflinePushInfo")


class BatchSendMsgBody(SendMsgBody):
    to_many: list[str] = Field(alias="To_Account", min_length=1, max_length=500)
    to: str = ""


class ImportMsgBody(SendMsgBody):
    mode: int = Field(alias="SyncFromOldSystem", ge=1, le=2)
    timestamp: int = Field(alias="MsgTimeStamp", ge=0, le=2**32 - 1)


class RoamMsgBody(V4Body):
    operator: str = Field(alias="Operator_Account")
    peer: str = Field(alias="Peer_Account")
    max_count: int = Field(alias="MaxCnt", ge=1, le=100)
    min_time: int = Field(alias="MinTime", ge=0)
    max_time: int = Field(alias="MaxTime", ge=0)
    last_key: str = Field("", alias="LastMsgKey")


class MsgKeyBody(V4Body):
    sender: str = Field(alias="From_Account")
    to: str = Field(alias="To_Account")
    key: str = Field(alias="MsgKey", min_length=1, max_length=64)


class ModifyMsgBody(MsgKeyBody):
    body: list[Any] | None = Field(None, alias="MsgBody")
    custom: str | None = Field(None, alias="CloudCustomData")


class SetReadBody(V4Body):
    reader: str = Field(alias="Report_Account")
    peer: str = Field(alias="Peer_Account")


class UnreadBody(V4Body):
    user: str = Field(alias="To_Account")
    peers: list[str] | None = Field(None, alias="Peer_Account", max_length=10)


class RecentBody(V4Body):
    user: str = Field(alias="From_Account")
    start: int = Field(0, alias="StartIndex", ge=0)
    timestamp: int = Field(0, alias="TimeStamp", ge=0)


def _elements_json(body: list[Any]) -> bytes:
    return ELEMENTS.dump_json(from_msgbody(body))


async def _prepared(rt: Runtime, sdkappid: int, body: list[Any]) -> bytes:
    """The MsgBody as our elements, with the uploads it names checked (another
    app's is unknown) and filled in from what was stored (docs/media.md)."""
    prepared = await rt.media.prepare_for(sdkappid, None, _elements_json(body))
    assert prepared is not None
    return prepared


def _context(forbid: list[str]) -> SendContext:
    unknown = [f for f in forbid if f not in FORBID]
    if unknown:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           f"ForbidCallbackControl: unknown value {unknown[0]!r}")
    return SendContext("RESTAPI", "", frozenset(FORBID[f] for f in forbid))


def _v4_client_id(peer: str, random: int) -> str:
    # Tencent tells a resend by its MsgRandom; so does this id (<= 46 chars).
    return f"v4:{peer}:{random}"


@command("openim", "sendmsg")
async def sendmsg(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(SendMsgBody, body)
    committed = await rt.admin_messaging.send(
        sdkappid, req.sender or _CALLER.get(), f"c2c_{check_user_id(req.to)}",
        _v4_client_id(req.to, req.random),
        await _prepared(rt, sdkappid, req.body), req.custom,
        _context(req.forbid), push=PushOptions.from_tencent(req.offline_push))
    msg = committed.message
    return {"MsgTime": msg.created_at // 1000, "MsgKey": msg.msg_id, "MsgSeq": msg.seq}


@command("openim", "batchsendmsg")
async def batchsendmsg(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(BatchSendMsgBody, body)
    results = await rt.admin_messaging.batch_send(
        sdkappid, req.sender or _CALLER.get(), req.to_many, f"v4b:{req.random}",
        await _prepared(rt, sdkappid, req.body), req.custom, _context(req.forbid))
    errors = [{"To_Account": r["to"],
               "ErrorCode": tencent_code("openim", ErrorCode(r["error"]["code"]))}
              for r in results if r["error"] is not None]
    keys = [r["ack"]["msg_id"] for r in results if r["ack"] is not None]
    return {"MsgKey": keys[0] if keys else "", "ErrorList": errors}


@command("openim", "importmsg")
async def importmsg(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(ImportMsgBody, body)
    if req.sender is None:
        raise TidingsError(ErrorCode.INVALID_REQUEST, "From_Account: required")
    mode = ImportMode.REALTIME if req.mode == 1 else ImportMode.HISTORY
    await rt.admin_messaging.import_message(
        sdkappid, req.sender, f"c2c_{check_user_id(req.to)}",
        _v4_client_id(req.to, req.random),
        await _prepared(rt, sdkappid, req.body), req.custom, req.timestamp * 1000, mode)
    return {}


@command("openim", "admin_getroammsg")
async def admin_getroammsg(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """Newest first within [MinTime, MaxTime] (seconds), MaxCnt at a time;
    the next page starts below LastMsgKey."""
    req = parse(RoamMsgBody, body)
    before = parse_msg_id(req.last_key)[1] if req.last_key else None
    found: list[MessageView] = []
    complete = 1
    while True:
        page, more = await rt.admin_messaging.history(
            sdkappid, req.operator, f"c2c_{check_user_id(req.peer)}", before_seq=before,
            limit=req.max_count)
        stop = False
        for entry in reversed(page):
            second = entry["time"] // 1000
            if (entry.get("kind", "message") != "message" or entry["state"] == "recalled"
                    or second > req.max_time):
                continue  # a change entry, a recalled message, or too new
            if second < req.min_time:
                stop = True
                break
            if len(found) == req.max_count:
                complete, stop = 0, True
                break
            found.append(entry)
        if stop or not more or not page:
            break
        before = page[0]["seq"]
    last = found[-1] if found else None
    return {"Complete": complete, "MsgCnt": len(found),
            "LastMsgTime": last["time"] // 1000 if last else 0,
            "LastMsgKey": last["msg_id"] if last else "",
            "MsgList": [{"From_Account": m["sender"],
                         "To_Account": req.peer if m["sender"] == req.operator else req.operator,
                         "MsgSeq": m["seq"], "MsgRandom": 0, "MsgTimeStamp": m["time"] // 1000,
                         "MsgFlagBits": 0, "MsgKey": m["msg_id"],
                         "MsgBody": to_msgbody(orjson.loads(orjson.dumps(m["elements"]))),
                         "CloudCustomData": m["cloud_custom_data"]} for m in found]}


@command("openim", "admin_msgwithdraw")
async def admin_msgwithdraw(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(MsgKeyBody, body)
    await rt.messaging.admin_change(sdkappid, f"user:{_CALLER.get()}", req.key,
                                    EntryKind.RECALL)
    return {}


@command("openim", "modify_c2c_msg")
async def modify_c2c_msg(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(ModifyMsgBody, body)
    elements = None if req.body is None else await _prepared(rt, sdkappid, req.body)
    await rt.messaging.admin_change(sdkappid, f"user:{_CALLER.get()}", req.key,
                                    EntryKind.EDIT, elements, req.custom)
    return {}


@command("openim", "admin_set_msg_read")
async def admin_set_msg_read(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(SetReadBody, body)
    await rt.admin_messaging.mark_read(sdkappid, req.reader, f"c2c_{check_user_id(req.peer)}",
                                       None)
    return {}


@command("openim", "get_c2c_unread_msg_num")
async def get_c2c_unread_msg_num(rt: Runtime, sdkappid: int,
                                 body: dict[str, Any]) -> dict[str, Any]:
    req = parse(UnreadBody, body)
    found = await rt.admin_messaging.unread(sdkappid, req.user, req.peers)
    return {"AllC2CUnreadMsgNum": found["total"],
            "C2CUnreadMsgNumList": [
                {"Peer_Account": c["conversation_id"].removeprefix("c2c_"),
                 "C2CUnreadMsgNum": c["unread"]}
                for c in found["conversations"] if c["conversation_id"].startswith("c2c_")]}


@command("recentcontact", "get_list")
async def recent_contacts(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(RecentBody, body)
    page = 100
    found = await rt.admin_messaging.conversations(sdkappid, req.user, None)
    items = [c for c in found if c["type"] == "c2c"][req.start:req.start + page]
    return {"CompleteFlag": 1 if req.start + page >= len(found) else 0,
            "TimeStamp": req.timestamp, "StartIndex": req.start + len(items),
            "TopTimeStamp": 0, "TopStartIndex": 0,
            "SessionItem": [{"Type": 1, "To_Account": c["conversation_id"].removeprefix("c2c_"),
                             "MsgTime": c["last_time"] // 1000, "TopFlag": 0} for c in items]}

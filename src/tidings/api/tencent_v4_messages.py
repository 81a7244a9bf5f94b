"""Tencent Cloud IM's v4 message commands (``openim``: send, batch send,
import, history, recall, edit, read, unread) and the recent contacts
(``recentcontact/get_list``, ``delete``), as an adapter over the messaging services;
registered with the v4 router of ``api/tencent_v4.py`` on import."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import Field

from tidings.api.tencent_v4 import (
    _CALLER,
    CLIENT_IP,
    V4Body,
    V4Error,
    command,
    missing_accounts,
    no_account,
    parse,
    require_accounts,
    tencent_code,
)
from tidings.domain.callbacks import msg_random
from tidings.domain.clock import now_ms
from tidings.domain.elements import ELEMENTS, EntryKind, ImportMode
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity, check_user_id, parse_msg_id
from tidings.domain.push import PushOptions
from tidings.domain.tencent_msgbody import (
    C2C_DEDUP_SECONDS,
    check_media_urls,
    from_msgbody,
    to_msgbody,
    v4_client_msg_id,
    v4_live_id,
)
from tidings.protocol.views import ConversationView, MessageView
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


async def _prepared(rt: Runtime, sdkappid: int, body: list[Any]) -> bytes:
    """The MsgBody as our elements, with the uploads it names checked (another
    app's is unknown) and filled in from what was stored (docs/media.md).
    Media the app names by its own id and URL (Tencent's UUID and its CDN's
    URLs) are kept as they are, once their URLs are checked."""
    elements = from_msgbody(body)
    elements_json = ELEMENTS.dump_json(elements)
    check_media_urls(elements, await rt.media.uploads_named(sdkappid, elements_json))
    prepared = await rt.media.prepare_for(sdkappid, None, elements_json, external=True)
    assert prepared is not None
    return prepared


def _context(forbid: list[str]) -> SendContext:
    unknown = [f for f in forbid if f not in FORBID]
    if unknown:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           f"ForbidCallbackControl: unknown value {unknown[0]!r}")
    return SendContext("RESTAPI", CLIENT_IP.get(), frozenset(FORBID[f] for f in forbid))


def _window(seconds: int) -> int:
    return now_ms() // 1000 // seconds


def dedup_id(rt: Runtime, sdkappid: int, sender: str, random: int, scope: str, seconds: int,
             body: list[Any], custom: str) -> str:
    """The client id of a v4 send: its ``seconds`` slot's, or the previous
    slot's when that one was acked here less than ``seconds`` ago (so a
    resend that crosses a slot's edge within Tencent's window is still the
    same message; after a restart, the slot alone decides)."""
    slot = _window(seconds)
    current = v4_live_id(random, scope, slot, seconds, body, custom)
    me = Identity(sdkappid, sender)
    if rt.messaging.recent_ack(me, current) is None:
        previous = v4_live_id(random, scope, slot - 1, seconds, body, custom)
        earlier = rt.messaging.recent_ack(me, previous)
        if earlier is not None and now_ms() - earlier.message.created_at < seconds * 1000:
            return previous
    return current


async def _check_c2c(rt: Runtime, sdkappid: int, sender: str | None, to: str) -> str:
    """The sender (the admin account when none is named) and the recipient,
    each an account of the app: Tencent refuses one never imported (the
    sender: 20003; the recipient: 90012)."""
    check_user_id(to)
    if sender is not None:
        check_user_id(sender)
    # One read for both accounts.
    missing = await missing_accounts(rt, sdkappid, [to] if sender is None else [sender, to])
    for who, code in ((sender, 20003), (to, 90012)):
        if who is not None and who in missing:
            raise no_account(who, code)
    return sender or _CALLER.get()


@command("openim", "sendmsg")
async def sendmsg(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """A repeat of ``MsgRandom`` with the same content within the same second
    is the same message (Tencent's window); anything else is a new one."""
    req = parse(SendMsgBody, body)
    context = _context(req.forbid)
    elements = await _prepared(rt, sdkappid, req.body)
    sender = await _check_c2c(rt, sdkappid, req.sender, req.to)
    committed = await rt.admin_messaging.send(
        sdkappid, sender, f"c2c_{req.to}",
        dedup_id(rt, sdkappid, sender, req.random, f"c2c:{req.to}", C2C_DEDUP_SECONDS,
                 req.body, req.custom),
        elements, req.custom,
        context, push=PushOptions.from_tencent(req.offline_push))
    msg = committed.message
    return {"MsgTime": msg.created_at // 1000, "MsgKey": msg.msg_id, "MsgSeq": msg.seq}


@command("openim", "batchsendmsg")
async def batchsendmsg(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """Recipients that were never imported are listed in ``ErrorList`` with
    70107 (as every other refused one, with its code); if none is left, the
    whole request fails with 90012, as Tencent's."""
    req = parse(BatchSendMsgBody, body)
    context = _context(req.forbid)
    elements = await _prepared(rt, sdkappid, req.body)
    if req.sender is not None:
        check_user_id(req.sender)
        await require_accounts(rt, sdkappid, [req.sender], 20003)
    missing = await missing_accounts(rt, sdkappid, req.to_many)
    to = [u for u in req.to_many if u not in missing]
    errors = [{"To_Account": u, "ErrorCode": 70107} for u in dict.fromkeys(req.to_many)
              if u in missing]
    if not to:
        raise V4Error(90012, "no To_Account names an account of the app")
    # Short: "<id>:<recipient>" fits the 64 characters of a client id for
    # any user id (admin_messaging.batch_client_msg_id), so it stays rising.
    client_id = v4_live_id(req.random, "batch", _window(C2C_DEDUP_SECONDS), C2C_DEDUP_SECONDS,
                           req.body, req.custom, short=True)
    results = await rt.admin_messaging.batch_send(
        sdkappid, req.sender or _CALLER.get(), to, client_id,
        elements, req.custom, context)
    errors += [{"To_Account": r["to"],
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
    await _check_c2c(rt, sdkappid, req.sender, req.to)
    # The message's own second is its window: importing it again is idempotent.
    await rt.admin_messaging.import_message(
        sdkappid, req.sender, f"c2c_{req.to}",
        v4_client_msg_id(req.random, f"c2c:{req.to}", req.timestamp, req.body, req.custom),
        await _prepared(rt, sdkappid, req.body), req.custom, req.timestamp * 1000, mode)
    return {}


@command("openim", "admin_getroammsg")
async def admin_getroammsg(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """As Tencent's page: the newest ``MaxCnt`` messages within [MinTime,
    MaxTime] (seconds) and older than ``LastMsgKey``, listed oldest first;
    ``LastMsgKey``/``LastMsgTime`` name the oldest one listed, where the next
    page continues (with ``MaxTime`` set to ``LastMsgTime``); ``Complete`` is 1
    once nothing older is left in the range. Recalled messages are listed
    with ``MsgFlagBits`` 8 and an empty body."""
    req = parse(RoamMsgBody, body)
    conversation = f"c2c_{check_user_id(req.peer)}"
    before = parse_msg_id(req.last_key)[1] if req.last_key else None
    found: list[MessageView] = []
    complete = 1
    while True:
        page, more = await rt.admin_messaging.history(
            sdkappid, req.operator, conversation, before_seq=before, limit=req.max_count)
        stop = False
        for entry in reversed(page):
            second = entry["time"] // 1000
            if entry.get("kind", "message") != "message" or second > req.max_time:
                continue  # a change entry, or too new
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
    found.reverse()
    reads = await _read_seqs(rt, sdkappid, req.operator, conversation)
    first = found[0] if found else None
    return {"Complete": complete, "MsgCnt": len(found),
            "LastMsgTime": first["time"] // 1000 if first else 0,
            "LastMsgKey": first["msg_id"] if first else "",
            "MsgList": [_roam_item(m, req.operator, req.peer, reads) for m in found]}


RECALLED_FLAG = 8  # Tencent's MsgFlagBits for a recalled message


async def _read_seqs(rt: Runtime, sdkappid: int, operator: str,
                     conversation: str) -> tuple[int, int]:
    """(the operator's read cursor, the peer's) in the conversation; the
    peer's is 0 when the app has read receipts off."""
    for c in await rt.admin_messaging.conversations(sdkappid, operator, None):
        if c["conversation_id"] == conversation:
            return c["read_seq"], c["peer_read_seq"] or 0
    return 0, 0


def _roam_item(m: MessageView, operator: str, peer: str,
               reads: tuple[int, int]) -> dict[str, Any]:
    mine = m["sender"] == operator
    recalled = m["state"] == "recalled"
    return {"From_Account": m["sender"], "To_Account": peer if mine else operator,
            "MsgSeq": m["seq"], "MsgRandom": msg_random(m["client_msg_id"]),
            "MsgTimeStamp": m["time"] // 1000,
            "MsgFlagBits": RECALLED_FLAG if recalled else 0,
            "IsPeerRead": 1 if m["seq"] <= reads[1 if mine else 0] else 0,
            "MsgKey": m["msg_id"],
            "MsgBody": [] if recalled else to_msgbody(orjson.loads(orjson.dumps(m["elements"]))),
            "CloudCustomData": m["cloud_custom_data"]}


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
    """One-to-one and group conversations (``Type`` 1 and 2), pinned ones
    first (``TopFlag`` 1), then by last activity, 100 a page by ``StartIndex``."""
    req = parse(RecentBody, body)
    page = 100
    found = await rt.admin_messaging.conversations(sdkappid, req.user, None)
    items = found[req.start:req.start + page]
    return {"CompleteFlag": 1 if req.start + page >= len(found) else 0,
            "TimeStamp": req.timestamp, "StartIndex": req.start + len(items),
            "TopTimeStamp": 0, "TopStartIndex": 0,
            "SessionItem": [_session(c) for c in items]}


def _session(c: ConversationView) -> dict[str, Any]:
    item: dict[str, Any] = (
        {"Type": 1, "To_Account": c["conversation_id"].removeprefix("c2c_")}
        if c["type"] == "c2c" else
        {"Type": 2, "GroupId": c["conversation_id"].removeprefix("group_")})
    item.update(MsgTime=c["last_time"] // 1000, TopFlag=1 if c["pinned"] else 0)
    return item


class DeleteContactBody(V4Body):
    user: str = Field(alias="From_Account")
    type: int = Field(alias="Type", ge=1, le=2)
    peer: str | None = Field(None, alias="To_Account")
    group_id: str | None = Field(None, alias="ToGroupid")
    clear: int = Field(0, alias="ClearRamble")


@command("recentcontact", "delete")
async def delete_contact(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """The native delete of a conversation: gone from the list until a new
    message comes, read, its draft dropped; with ``ClearRamble`` 1 its
    history up to now is gone for ``From_Account`` (the peer keeps it)."""
    req = parse(DeleteContactBody, body)
    target = req.peer if req.type == 1 else req.group_id
    if target is None:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           "To_Account: required" if req.type == 1 else "ToGroupid: required")
    me = Identity(sdkappid, check_user_id(req.user))
    conversation = f"c2c_{check_user_id(target)}" if req.type == 1 else f"group_{target}"
    await rt.conversation_settings.delete(me, conversation, bool(req.clear))
    return {}

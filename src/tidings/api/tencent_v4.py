"""Tencent Cloud IM's server REST API (v4), as an adapter over our services.

An app that calls ``https://console.tim.qq.com/v4/{service}/{command}?...``
changes the base URL to a Tidings server and keeps working:

- ``POST /v4/{service}/{command}?sdkappid=&identifier=&usersig=&random=&contenttype=json``
  with a UserSig of one of the app's admin accounts (``identifier``);
- always HTTP 200, with ``ActionStatus`` (``OK``/``FAIL``), ``ErrorCode`` and
  ``ErrorInfo``, and each command's documented result fields;
- Tencent's field names (``From_Account``, ``To_Account``, ``MsgBody`` ...);
  fields we do not know are ignored, as Tencent does.

Every command calls the same services as the native API; nothing here
stores or delivers anything itself. docs/tencent-compat.md lists what is
supported and what differs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tidings.api.auth import runtime_of
from tidings.api.responses import JSON
from tidings.domain.accounts import AccountImport
from tidings.domain.elements import ELEMENTS, EntryKind, ImportMode
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import check_user_id, parse_msg_id
from tidings.domain.profiles import AllowType, Gender, ProfilePatch
from tidings.domain.push import PushOptions
from tidings.domain.tencent_msgbody import from_msgbody, to_msgbody
from tidings.protocol.views import MessageView
from tidings.services.messaging import SendContext
from tidings.services.runtime import Runtime

router = APIRouter(tags=["tencent-v4"])

# -- the envelope -----------------------------------------------------------------

# Where Tencent's number for a condition differs from ours.
_TENCENT_CODE: dict[ErrorCode, int] = {
    ErrorCode.INVALID_REQUEST: 90010,  # "JSON format is invalid or a field is missing"
    ErrorCode.MALFORMED_JSON: 90001,
    ErrorCode.INVALID_USER_ID: 90010,
    ErrorCode.NOT_FOUND: 70107,  # "the account does not exist"
    ErrorCode.USERSIG_MISSING: 70003,
}
# Per service, where its documentation names another number.
_SERVICE_CODE: dict[tuple[str, ErrorCode], int] = {
    ("im_open_login_svc", ErrorCode.INVALID_REQUEST): 70402,
    ("im_open_login_svc", ErrorCode.INVALID_USER_ID): 70402,
    ("im_open_login_svc", ErrorCode.NOT_ADMIN): 70403,
    ("profile", ErrorCode.INVALID_REQUEST): 40001,
    ("profile", ErrorCode.INVALID_USER_ID): 40001,
    ("profile", ErrorCode.NOT_FOUND): 40003,
}
UNKNOWN_COMMAND = 60020  # Tencent: "the API does not exist"


def tencent_code(service: str, code: ErrorCode) -> int:
    return _SERVICE_CODE.get((service, code), _TENCENT_CODE.get(code, int(code)))


def ok(**fields: Any) -> JSON:
    return JSON({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", **fields})


def fail(code: int, info: str) -> JSON:
    return JSON({"ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": info})


class V4Body(BaseModel):
    # Tencent ignores fields it does not know; so do we. Types stay strict.
    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)


Handler = Callable[[Runtime, int, dict[str, Any]], Awaitable[dict[str, Any]]]
# The admin account a request names (``identifier``): Tencent sends as it when
# a message names no ``From_Account``.
_CALLER: ContextVar[str] = ContextVar("v4_caller", default="administrator")
COMMANDS: dict[tuple[str, str], Handler] = {}


def command(service: str, name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[(service, name)] = handler
        return handler
    return register


M = TypeVar("M", bound=V4Body)


def parse(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise TidingsError(ErrorCode.INVALID_REQUEST, f"{where}: {first['msg']}") from None


@router.post("/v4/{service}/{name}", summary="Tencent Cloud IM v4 REST API")
async def v4(request: Request, service: str, name: str,
             sdkappid: Annotated[str, Query()] = "",
             identifier: Annotated[str, Query()] = "",
             usersig: Annotated[str, Query()] = "",
             random: Annotated[str, Query()] = "",
             contenttype: Annotated[str, Query()] = "json") -> JSON:
    """Tencent's server API: see docs/tencent-compat.md for the commands.
    Always HTTP 200; the outcome is in ``ActionStatus``/``ErrorCode``."""
    handler = COMMANDS.get((service, name))
    if handler is None:
        return fail(UNKNOWN_COMMAND, f"v4/{service}/{name} is not supported "
                                     "(docs/tencent-compat.md lists what is)")
    try:
        rt = runtime_of(request)
        app_id = _int_param("sdkappid", sdkappid)
        if contenttype.lower() != "json":
            raise TidingsError(ErrorCode.INVALID_REQUEST, "contenttype must be json")
        caller = await rt.auth.admin_by_usersig(usersig, sdkappid=app_id, user_id=identifier)
        body = _json_object(await request.body())
        _CALLER.set(identifier)
        return ok(**await handler(rt, caller.sdkappid, body))
    except TidingsError as exc:
        return fail(tencent_code(service, exc.code), exc.message)


def _int_param(field: str, raw: str) -> int:
    if not raw.isdigit() or len(raw) > 19:
        raise TidingsError(ErrorCode.INVALID_REQUEST, f"{field}: an unsigned integer")
    return int(raw)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise TidingsError(ErrorCode.MALFORMED_JSON, "the body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise TidingsError(ErrorCode.MALFORMED_JSON, "the body must be a JSON object")
    return doc


# -- im_open_login_svc ---------------------------------------------------------------


class UserIdItem(V4Body):
    user_id: str = Field(alias="UserID")


class AccountImportBody(V4Body):
    user_id: str = Field(alias="UserID")
    nick: str | None = Field(None, alias="Nick")
    face_url: str | None = Field(None, alias="FaceUrl")


class MultiImportBody(V4Body):
    # Tencent's current form, and its older list of plain ids.
    accounts: list[AccountImportBody] | None = Field(None, alias="Accounts")
    account_list: list[str] | None = Field(None, alias="AccountList")


class DeleteBody(V4Body):
    items: list[UserIdItem] = Field(alias="DeleteItem", min_length=1, max_length=100)


class CheckBody(V4Body):
    items: list[UserIdItem] = Field(alias="CheckItem", min_length=1, max_length=100)


@command("im_open_login_svc", "account_import")
async def account_import(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(AccountImportBody, body)
    await rt.accounts.import_accounts(sdkappid, [AccountImport(req.user_id, req.nick,
                                                               req.face_url)])
    return {}


@command("im_open_login_svc", "multiaccount_import")
async def multiaccount_import(rt: Runtime, sdkappid: int,
                              body: dict[str, Any]) -> dict[str, Any]:
    req = parse(MultiImportBody, body)
    accounts = ([AccountImport(a.user_id, a.nick, a.face_url) for a in req.accounts]
                if req.accounts is not None
                else [AccountImport(u) for u in req.account_list or []])
    await rt.accounts.import_accounts(sdkappid, accounts)
    return {"FailAccounts": []}


@command("im_open_login_svc", "account_delete")
async def account_delete(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(DeleteBody, body)
    results = await rt.accounts.delete(sdkappid, [i.user_id for i in req.items])
    return {"ResultItem": [
        {"UserID": r["user_id"], "ResultCode": 0 if r["result"] == "deleted" else 70107,
         "ResultInfo": "" if r["result"] == "deleted" else "the account does not exist"}
        for r in results]}


@command("im_open_login_svc", "account_check")
async def account_check(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(CheckBody, body)
    ids = list(dict.fromkeys(i.user_id for i in req.items))
    existing = set((await rt.accounts.check(sdkappid, ids))["existing"])
    return {"ResultItem": [
        {"UserID": u, "ResultCode": 0, "ResultInfo": "",
         "AccountStatus": "Imported" if u in existing else "NotImported"} for u in ids]}


@command("im_open_login_svc", "kick")
async def kick(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    await rt.accounts.kick(sdkappid, parse(UserIdItem, body).user_id)
    return {}


# -- openim: online state ------------------------------------------------------------


class QueryStateBody(V4Body):
    to: list[str] = Field(alias="To_Account", min_length=1, max_length=500)
    need_detail: int = Field(0, alias="IsNeedDetail")


async def _query_state(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(QueryStateBody, body)
    results: list[dict[str, Any]] = []
    for user_id in dict.fromkeys(req.to):
        check_user_id(user_id)
        state = rt.accounts.online(sdkappid, user_id)
        item: dict[str, Any] = {"To_Account": user_id,
                                "Status": "Online" if state["online"] else "Offline"}
        if req.need_detail:
            item["Detail"] = [{"Platform": d["platform"] or "Unknown", "Status": "Online"}
                              for d in state["devices"]]
        results.append(item)
    return {"QueryResult": results, "ErrorList": []}


command("openim", "querystate")(_query_state)
command("openim", "query_online_status")(_query_state)


# -- profile -------------------------------------------------------------------------

# Tencent's tag -> our field, and how values translate each way.
_GENDER = {"Gender_Type_Unknown": Gender.UNKNOWN, "Gender_Type_Female": Gender.FEMALE,
           "Gender_Type_Male": Gender.MALE}
_ALLOW = {"AllowType_Type_NeedConfirm": AllowType.NEED_CONFIRM,
          "AllowType_Type_AllowAny": AllowType.ALLOW_ANY,
          "AllowType_Type_DenyAny": AllowType.DENY_ANY}
_TAGS = {"Tag_Profile_IM_Nick": "nickname", "Tag_Profile_IM_Image": "avatar_url",
         "Tag_Profile_IM_Gender": "gender", "Tag_Profile_IM_BirthDay": "birthday",
         "Tag_Profile_IM_Location": "location", "Tag_Profile_IM_SelfSignature": "signature",
         "Tag_Profile_IM_Language": "language", "Tag_Profile_IM_Level": "level",
         "Tag_Profile_IM_Role": "role", "Tag_Profile_IM_AllowType": "allow_type"}
_ENUM_TAGS: dict[str, dict[str, StrEnum]] = {"gender": dict(_GENDER),
                                             "allow_type": dict(_ALLOW)}
CUSTOM_PREFIX = "Tag_Profile_Custom_"


def _to_ours(tag: str, value: object) -> tuple[str, object]:
    """One ``{Tag, Value}`` as our (field, value); unknown tags refused."""
    if tag.startswith(CUSTOM_PREFIX):
        return "custom:" + tag[len(CUSTOM_PREFIX):], value
    field = _TAGS.get(tag)
    if field is None:
        raise TidingsError(ErrorCode.INVALID_REQUEST, f"unknown profile tag {tag!r}")
    table: dict[str, StrEnum] | None = _ENUM_TAGS.get(field)
    if table is not None:
        if value not in table:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"{tag}: one of {', '.join(table)}")
        return field, table[str(value)].value
    return field, value


_FROM_OURS = {field: {ours.value: tag_value for tag_value, ours in table.items()}
              for field, table in _ENUM_TAGS.items()}


def _to_tencent(field: str, value: object) -> object:
    return _FROM_OURS.get(field, {}).get(str(value), value)


class ProfileItem(V4Body):
    tag: str = Field(alias="Tag")
    value: str | int = Field(alias="Value")


class PortraitSetBody(V4Body):
    user_id: str = Field(alias="From_Account")
    items: list[ProfileItem] = Field(alias="ProfileItem", min_length=1, max_length=50)


class PortraitGetBody(V4Body):
    to: list[str] = Field(alias="To_Account", min_length=1, max_length=100)
    tags: list[str] = Field(alias="TagList", min_length=1, max_length=50)


@command("profile", "portrait_set")
async def portrait_set(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(PortraitSetBody, body)
    standard: dict[str, object] = {}
    custom: dict[str, object] = {}
    for item in req.items:
        field, value = _to_ours(item.tag, item.value)
        if field.startswith("custom:"):
            custom[field[len("custom:"):]] = value
        else:
            standard[field] = value
    try:
        patch = ProfilePatch.model_validate({**standard, "custom": custom})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "ProfileItem"
        raise TidingsError(ErrorCode.INVALID_REQUEST, f"{where}: {first['msg']}") from None
    await rt.profiles.set(sdkappid, req.user_id, patch)
    return {}


@command("profile", "portrait_get")
async def portrait_get(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(PortraitGetBody, body)
    for tag in req.tags:
        if not tag.startswith(CUSTOM_PREFIX) and tag not in _TAGS:
            raise TidingsError(ErrorCode.INVALID_REQUEST, f"unknown profile tag {tag!r}")
    found = await rt.profiles.get(sdkappid, req.to)
    items: list[dict[str, Any]] = []
    for profile in found["profiles"]:
        values = []
        for tag in req.tags:
            if tag.startswith(CUSTOM_PREFIX):
                value = profile["custom"].get(tag[len(CUSTOM_PREFIX):])
                if value is not None:
                    values.append({"Tag": tag, "Value": value})
            else:
                field = _TAGS[tag]
                values.append({"Tag": tag, "Value": _to_tencent(field, profile[field])})
        items.append({"To_Account": profile["user_id"], "ProfileItem": values,
                      "ResultCode": 0, "ResultInfo": ""})
    items += [{"To_Account": u, "ProfileItem": [], "ResultCode": 40003,
               "ResultInfo": "the account does not exist"} for u in found["missing"]]
    return {"UserProfileItem": items}


# -- openim: messages ----------------------------------------------------------------

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

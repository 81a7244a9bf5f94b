"""Tencent Cloud IM's v4 account commands (``im_open_login_svc``), the
online state (``openim/querystate``) and the global mutes
(``openconfigsvr``), as adapters over the accounts and mutes services;
registered with the v4 router of ``api/tencent_v4.py`` on import."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field

from tidings.api.tencent_v4 import (
    V4Body,
    V4Error,
    command,
    missing_accounts,
    parse,
    require_accounts,
)
from tidings.domain.account_mutes import FOREVER_SECONDS
from tidings.domain.accounts import MAX_BATCH, AccountImport
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import check_user_id
from tidings.domain.profiles import MAX_TEXT_BYTES
from tidings.runtime import Runtime

SERVICE = "im_open_login_svc"


# Tencent's older pages (and client libraries written from them) name the
# user ``Identifier``; its current ones ``UserID``. Both are taken.
_USER_ID = AliasChoices("UserID", "Identifier")


class UserIdItem(V4Body):
    user_id: str = Field(validation_alias=_USER_ID)


class AccountImportBody(V4Body):
    user_id: str = Field(validation_alias=_USER_ID)
    nick: str | None = Field(None, alias="Nick")
    face_url: str | None = Field(None, alias="FaceUrl")


class MultiImportBody(V4Body):
    # Tencent's original form is a list of plain ids (``Accounts``), its newer
    # one a list of accounts with their nickname and avatar (``AccountList``).
    accounts: list[str] | None = Field(None, alias="Accounts", max_length=MAX_BATCH)
    account_list: list[AccountImportBody] | None = Field(None, alias="AccountList",
                                                         max_length=MAX_BATCH)


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
    """As Tencent: the accounts that cannot be imported (an invalid id, a
    nickname or avatar too long) are listed in ``FailAccounts`` and the others
    are imported; an id given twice is imported once, with its last values."""
    req = parse(MultiImportBody, body)
    if req.accounts is not None:
        given = [AccountImport(u) for u in req.accounts]
    elif req.account_list is not None:
        given = [AccountImport(a.user_id, a.nick, a.face_url) for a in req.account_list]
    else:
        raise TidingsError(ErrorCode.INVALID_REQUEST, "Accounts or AccountList: required")
    if not given:
        raise TidingsError(ErrorCode.INVALID_REQUEST, "Accounts: at least one account")
    failed: dict[str, None] = {}
    valid: dict[str, AccountImport] = {}
    for account in given:
        if _importable(account):
            valid[account.user_id] = account
        else:
            failed[account.user_id] = None
    if valid:
        await rt.accounts.import_accounts(sdkappid, list(valid.values()))
    return {"FailAccounts": list(failed)}


def _importable(account: AccountImport) -> bool:
    try:
        check_user_id(account.user_id)
    except TidingsError:
        return False
    return all(v is None or len(v.encode()) <= MAX_TEXT_BYTES
               for v in (account.nickname, account.avatar_url))


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


class QueryStateBody(V4Body):
    to: list[str] = Field(alias="To_Account", min_length=1, max_length=500)
    need_detail: int = Field(0, alias="IsNeedDetail")


async def _query_state(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """Accounts that were never imported are listed in ``ErrorList`` with
    70107, as Tencent does, not answered as ``Offline``."""
    req = parse(QueryStateBody, body)
    asked = list(dict.fromkeys(req.to))
    for user_id in asked:
        check_user_id(user_id)
    missing = await missing_accounts(rt, sdkappid, asked)
    results: list[dict[str, Any]] = []
    for user_id in asked:
        if user_id in missing:
            continue
        state = rt.accounts.online(sdkappid, user_id)
        # Tencent's sample answer names it State, its field table Status: both.
        status = "Online" if state["online"] else "Offline"
        item: dict[str, Any] = {"To_Account": user_id, "Status": status, "State": status}
        if req.need_detail:
            item["Detail"] = [{"Platform": d["platform"] or "Unknown", "Status": "Online"}
                              for d in state["devices"]]
        results.append(item)
    return {"QueryResult": results, "ErrorList": [
        {"To_Account": u, "ErrorCode": 70107} for u in asked if u in missing]}


command("openim", "querystate")(_query_state)
command("openim", "query_online_status")(_query_state)


# -- global mutes (openconfigsvr): seconds, 0 unmutes, 4294967295 forever ------------

class SetNoSpeakingBody(V4Body):
    user_id: str = Field(alias="Set_Account")
    c2c: int | None = Field(None, alias="C2CmsgNospeakingTime", ge=0, le=FOREVER_SECONDS)
    group: int | None = Field(None, alias="GroupmsgNospeakingTime", ge=0,
                              le=FOREVER_SECONDS)


@command("openconfigsvr", "setnospeaking")
async def setnospeaking(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(body.get("Set_Account"), str):
        raise V4Error(130004, "Set_Account: the account to mute, a string")
    req = parse(SetNoSpeakingBody, body)
    if req.c2c is None and req.group is None:
        raise V4Error(130008, "give C2CmsgNospeakingTime or GroupmsgNospeakingTime")
    check_user_id(req.user_id)
    await require_accounts(rt, sdkappid, [req.user_id])
    await rt.account_mutes.set(sdkappid, req.user_id, req.c2c, req.group)
    return {}


@command("openconfigsvr", "getnospeaking")
async def getnospeaking(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    user_id = body.get("Get_Account")
    if not isinstance(user_id, str):
        raise V4Error(130002, "Get_Account: the account asked about, a string")
    check_user_id(user_id)
    await require_accounts(rt, sdkappid, [user_id])
    mute = rt.account_mutes.get(sdkappid, user_id)
    return {"C2CmsgNospeakingTime": mute["c2c_seconds"],
            "GroupmsgNospeakingTime": mute["group_seconds"]}

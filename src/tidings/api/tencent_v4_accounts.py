"""Tencent Cloud IM's v4 account commands (``im_open_login_svc``) and the
online state (``openim/querystate``), as an adapter over the accounts
service; registered with the v4 router of ``api/tencent_v4.py`` on import."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tidings.api.tencent_v4 import V4Body, command, parse
from tidings.domain.accounts import AccountImport
from tidings.domain.ids import check_user_id
from tidings.runtime import Runtime

SERVICE = "im_open_login_svc"


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

"""Tencent Cloud IM's v4 relationship commands (``sns``: friends and the
blocklist), as an adapter over the friends service (the same one the
native API and the WebSocket ops use); registered with the v4 router of
``api/tencent_v4.py`` on import. docs/tencent-compat.md lists what differs
(no friend groups, no custom friend fields)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import Field

from tidings.api.tencent_v4 import (
    _SERVICE_CODE,
    V4Body,
    command,
    parse,
    require_accounts,
    tencent_code,
)
from tidings.api.tencent_v4_profiles import is_profile_tag, profile_items
from tidings.domain.accounts import MAX_BATCH
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.friends import FriendRequestIn
from tidings.domain.ids import Identity, check_user_id
from tidings.runtime import Runtime

SERVICE = "sns"
BAD_REQUEST = 30001  # Tencent: "incorrect request parameter"
NO_ACCOUNT = 30003  # Tencent: "the requested account does not exist"
NOT_A_FRIEND = 31704
PENDING = 30539  # Tencent: the request waits for the other's consent
FRIENDS_PAGE = 100
_SERVICE_CODE.update({(SERVICE, ErrorCode.INVALID_REQUEST): BAD_REQUEST,
                      (SERVICE, ErrorCode.INVALID_USER_ID): BAD_REQUEST,
                      (SERVICE, ErrorCode.NOT_FOUND): NO_ACCOUNT})
# Tencent's standard friend tags -> the friend record's field.
_SNS_TAGS = {"Tag_SNS_IM_AddSource": "source", "Tag_SNS_IM_Remark": "remark",
             "Tag_SNS_IM_AddWording": "wording", "Tag_SNS_IM_AddTime": "since"}


class AddItem(V4Body):
    to: str = Field(alias="To_Account")
    remark: str = Field("", alias="Remark")
    source: str = Field("", alias="AddSource")
    wording: str = Field("", alias="AddWording")


class AddBody(V4Body):
    sender: str = Field(alias="From_Account")
    items: list[AddItem] = Field(alias="AddFriendItem", min_length=1, max_length=MAX_BATCH)
    add_type: str = Field("Add_Type_Both", alias="AddType")
    force: int = Field(0, alias="ForceAddFlags")


class ManyBody(V4Body):
    sender: str = Field(alias="From_Account")
    to: list[str] = Field(alias="To_Account", min_length=1, max_length=MAX_BATCH)


class CheckBody(ManyBody):
    check_type: str = Field(alias="CheckType")


class DeleteBody(ManyBody):
    delete_type: str = Field("Delete_Type_Single", alias="DeleteType")


class DeleteAllBody(V4Body):
    sender: str = Field(alias="From_Account")
    delete_type: str = Field("Delete_Type_Single", alias="DeleteType")


class GetBody(V4Body):
    sender: str = Field(alias="From_Account")
    start: int = Field(0, alias="StartIndex", ge=0)


class GetListBody(ManyBody):
    tags: list[str] = Field(alias="TagList", min_length=1, max_length=50)


class BlackGetBody(V4Body):
    sender: str = Field(alias="From_Account")
    start: int = Field(0, alias="StartIndex", ge=0)
    limit: int = Field(FRIENDS_PAGE, alias="MaxLimited", ge=1, le=1000)


def _both(value: str, both: str, single: str, field: str) -> bool:
    if value not in (both, single):
        raise TidingsError(ErrorCode.INVALID_REQUEST, f"{field}: {both} or {single}")
    return value == both


async def _me(rt: Runtime, sdkappid: int, user_id: str) -> Identity:
    await require_accounts(rt, sdkappid, [check_user_id(user_id)], NO_ACCOUNT)
    return Identity(sdkappid, user_id)


def _results(key: str, outcomes: Sequence[tuple[str, int, str]]) -> dict[str, Any]:
    """Per account its ``ResultCode``, and ``Fail_Account`` when one failed."""
    out: dict[str, Any] = {key: [{"To_Account": u, "ResultCode": code, "ResultInfo": info}
                                 for u, code, info in outcomes]}
    failed = [u for u, code, _ in outcomes if code]
    if failed:
        out["Fail_Account"] = failed
    return out


async def _each(to: Sequence[str],
                act: Callable[[str], Any]) -> list[tuple[str, int, str]]:
    """Run ``act`` for each account; a refusal is that account's result."""
    outcomes = []
    for user in dict.fromkeys(to):
        try:
            code, info = await act(user)
        except TidingsError as exc:
            code, info = tencent_code(SERVICE, exc.code), exc.message
        outcomes.append((user, code, info))
    return outcomes


@command(SERVICE, "friend_add")
async def friend_add(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """With ``ForceAddFlags`` 1 the friends are made at once (both ways, or
    one way with ``Add_Type_Single``); without it, as a request from
    ``From_Account``: friends at once when the other allows anyone (or had
    asked too), else pending (30539) until the other accepts."""
    req = parse(AddBody, body)
    both = _both(req.add_type, "Add_Type_Both", "Add_Type_Single", "AddType")
    me = await _me(rt, sdkappid, req.sender)
    items = {i.to: i for i in req.items}

    async def add(user: str) -> tuple[int, str]:
        item = items[user]
        if req.force:
            await rt.friends.admin_add(sdkappid, me.user_id, user, item.remark, both,
                                       **_how(item))
            return 0, ""
        done = await rt.friends.request(me, _request_in(item), platform="RESTAPI")
        return (PENDING, "waiting for the other's consent") if done["result"] == "pending" \
            else (0, "")

    return _results("ResultItem", await _each(list(items), add))


def _how(item: AddItem) -> dict[str, str]:
    """How they met, checked as a friend request checks it."""
    checked = _request_in(item)
    return {"source": checked.source, "wording": checked.wording}


def _request_in(item: AddItem) -> FriendRequestIn:
    try:
        return FriendRequestIn(user_id=item.to, wording=item.wording, source=item.source,
                               remark=item.remark)
    except ValueError as exc:
        raise TidingsError(ErrorCode.INVALID_REQUEST, f"AddFriendItem: {exc}") from None


@command(SERVICE, "friend_import")
async def friend_import(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """One way (``To_Account`` into ``From_Account``'s list), without asking,
    as Tencent's import. ``AddTime``, ``RemarkTime``, ``GroupName`` and
    ``CustomItem`` are not kept."""
    req = parse(AddBody, body)
    me = await _me(rt, sdkappid, req.sender)
    items = {i.to: i for i in req.items}

    async def add(user: str) -> tuple[int, str]:
        item = items[user]
        await rt.friends.admin_add(sdkappid, me.user_id, user, item.remark, False, **_how(item))
        return 0, ""

    return _results("ResultItem", await _each(list(items), add))


@command(SERVICE, "friend_check")
async def friend_check(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(CheckBody, body)
    both = _both(req.check_type, "CheckResult_Type_Both", "CheckResult_Type_Single",
                 "CheckType")
    return {"InfoItem": await _relations(rt, sdkappid, req, both, lists=0,
                                         prefix="CheckResult_Type_", none="NoRelation")}


@command(SERVICE, "black_list_check")
async def black_list_check(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(CheckBody, body)
    both = _both(req.check_type, "BlackCheckResult_Type_Both", "BlackCheckResult_Type_Single",
                 "CheckType")
    return {"BlackListCheckItem": await _relations(
        rt, sdkappid, req, both, lists=1, prefix="BlackCheckResult_Type_", none="NO")}


async def _relations(rt: Runtime, sdkappid: int, req: CheckBody, both: bool, *, lists: int,
                     prefix: str, none: str) -> list[dict[str, Any]]:
    """Who has whom in their friend list (``lists`` 0) or blocklist (1):
    ``BothWay``, ``AWithB`` (From_Account has To_Account), ``BWithA``, or
    none; ``Single`` looks at From_Account's list only."""
    me = await _me(rt, sdkappid, req.sender)
    relations = rt.friends.relations
    mine = (await relations.lists(sdkappid, me.user_id))[lists]
    out = []
    for user in dict.fromkeys(req.to):
        check_user_id(user)
        a_with_b = user in mine
        b_with_a = both and me.user_id in (await relations.lists(sdkappid, user))[lists]
        name = ("BothWay" if a_with_b and b_with_a else "AWithB" if a_with_b
                else "BWithA" if b_with_a else none)
        out.append({"To_Account": user, "Relation": prefix + name, "ResultCode": 0,
                    "ResultInfo": ""})
    return out


@command(SERVICE, "friend_delete")
async def friend_delete(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(DeleteBody, body)
    both = _both(req.delete_type, "Delete_Type_Both", "Delete_Type_Single", "DeleteType")
    me = await _me(rt, sdkappid, req.sender)
    done = await rt.friends.delete(me, list(dict.fromkeys(req.to)), both)
    return _results("ResultItem", [(u, 0, "") for u in done["deleted"]]
                    + [(u, NOT_A_FRIEND, "not a friend") for u in done["not_friends"]])


@command(SERVICE, "friend_delete_all")
async def friend_delete_all(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(DeleteAllBody, body)
    both = _both(req.delete_type, "Delete_Type_Both", "Delete_Type_Single", "DeleteType")
    me = await _me(rt, sdkappid, req.sender)
    friends = [f["user_id"] for f in (await rt.friends.friends(sdkappid, me.user_id))["friends"]]
    for start in range(0, len(friends), MAX_BATCH):
        await rt.friends.delete(me, friends[start:start + MAX_BATCH], both)
    return {}


def _sns_items(friend: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"Tag": tag, "Value": friend[field] // 1000 if field == "since" else friend[field]}
            for tag, field in _SNS_TAGS.items()]


@command(SERVICE, "friend_get")
async def friend_get(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """A page of 100 friends from ``StartIndex``, with their standard friend
    tags. ``StandardSequence`` and ``CustomSequence`` are 0: every page
    answers the data (there is no cache to compare with)."""
    req = parse(GetBody, body)
    me = await _me(rt, sdkappid, req.sender)
    friends = (await rt.friends.friends(sdkappid, me.user_id))["friends"]
    page = friends[req.start:req.start + FRIENDS_PAGE]
    done = req.start + FRIENDS_PAGE >= len(friends)
    return {"UserDataItem": [{"To_Account": f["user_id"], "ValueItem": _sns_items(f)}
                             for f in page],
            "StandardSequence": 0, "CustomSequence": 0, "FriendNum": len(friends),
            "CompleteFlag": 1 if done else 0,
            "NextStartIndex": 0 if done else req.start + FRIENDS_PAGE}


@command(SERVICE, "friend_get_list")
async def friend_get_list(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """The asked friend tags (``Tag_SNS_IM_*``) and profile tags
    (``Tag_Profile_*``) of each friend; an account that is not a friend has
    ResultCode 31704, an unknown tag is left out."""
    req = parse(GetListBody, body)
    me = await _me(rt, sdkappid, req.sender)
    friends = {f["user_id"]: f for f in (await rt.friends.friends(sdkappid, me.user_id))[
        "friends"]}
    asked = list(dict.fromkeys(req.to))
    profile_tags = [t for t in req.tags if is_profile_tag(t)]
    wanted = [u for u in asked if u in friends]
    found = await rt.profiles.get(sdkappid, wanted) if wanted and profile_tags else None
    profiles = {p["user_id"]: p for p in found["profiles"]} if found else {}
    items, failed = [], []
    for user in asked:
        friend = friends.get(user)
        if friend is None:
            failed.append(user)
            items.append({"To_Account": user, "SnsProfileItem": [], "ResultCode": NOT_A_FRIEND,
                          "ResultInfo": "not a friend"})
            continue
        values = [v for v in _sns_items(friend) if v["Tag"] in req.tags]
        if user in profiles:
            values += profile_items(profiles[user], profile_tags)
        items.append({"To_Account": user, "SnsProfileItem": values, "ResultCode": 0,
                      "ResultInfo": ""})
    return {"InfoItem": items, **({"Fail_Account": failed} if failed else {})}


@command(SERVICE, "black_list_add")
async def black_list_add(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(ManyBody, body)
    me = await _me(rt, sdkappid, req.sender)
    await require_accounts(rt, sdkappid, req.to, NO_ACCOUNT)
    done = await rt.friends.block(me, list(dict.fromkeys(req.to)))
    return _results("ResultItem", [(u, 0, "") for u in done["added"]]
                    + [(u, BAD_REQUEST, "already in the blocklist") for u in done["already"]])


@command(SERVICE, "black_list_delete")
async def black_list_delete(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    req = parse(ManyBody, body)
    me = await _me(rt, sdkappid, req.sender)
    done = await rt.friends.unblock(me, list(dict.fromkeys(req.to)))
    return _results("ResultItem", [(u, 0, "") for u in done["removed"]]
                    + [(u, BAD_REQUEST, "not in the blocklist") for u in done["not_blocked"]])


@command(SERVICE, "black_list_get")
async def black_list_get(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """``MaxLimited`` entries from ``StartIndex``; the answer's ``StartIndex``
    is where the next page starts, 0 once all are listed. ``LastSequence``
    is ignored and ``CurruentSequence`` (Tencent's spelling) is the count."""
    req = parse(BlackGetBody, body)
    me = await _me(rt, sdkappid, req.sender)
    blocked = (await rt.friends.blocklist(sdkappid, me.user_id))["blocked"]
    page = blocked[req.start:req.start + req.limit]
    after = req.start + len(page)
    return {"BlackListItem": [{"To_Account": b["user_id"],
                               "AddBlackTimeStamp": b["since"] // 1000} for b in page],
            "StartIndex": after if after < len(blocked) else 0,
            "CurruentSequence": len(blocked)}


class SnsItem(V4Body):
    tag: str = Field(alias="Tag")
    value: Any = Field(alias="Value")


class UpdateItem(V4Body):
    to: str = Field(alias="To_Account")
    items: list[SnsItem] = Field(alias="SnsItem", min_length=1, max_length=50)


class UpdateBody(V4Body):
    sender: str = Field(alias="From_Account")
    updates: list[UpdateItem] = Field(alias="UpdateItem", min_length=1, max_length=MAX_BATCH)


@command(SERVICE, "friend_update")
async def friend_update(rt: Runtime, sdkappid: int, body: dict[str, Any]) -> dict[str, Any]:
    """``Tag_SNS_IM_Remark`` sets the remark (as the native friend update);
    ``Tag_SNS_IM_Group`` and ``Tag_SNS_Custom_*`` are ignored (no friend
    groups, no custom friend fields). Not a friend: 31704."""
    req = parse(UpdateBody, body)
    me = await _me(rt, sdkappid, req.sender)
    items = {u.to: u for u in req.updates}

    async def update(user: str) -> tuple[int, str]:
        for item in items[user].items:
            if item.tag != "Tag_SNS_IM_Remark":
                continue
            if not isinstance(item.value, str):
                return BAD_REQUEST, "Tag_SNS_IM_Remark: a string"
            try:
                await rt.friends.set_remark(me, user, item.value)
            except TidingsError as exc:
                if exc.code is ErrorCode.NOT_A_FRIEND:
                    return NOT_A_FRIEND, exc.message
                raise
        return 0, ""

    return _results("ResultItem", await _each(list(items), update))

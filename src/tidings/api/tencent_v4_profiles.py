"""Tencent Cloud IM's v4 profile commands (``profile``: portrait_set and
portrait_get), as an adapter over the profiles service: Tencent's tags to
our fields and back; registered with the v4 router of ``api/tencent_v4.py``
on import."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, ValidationError

from tidings.api.tencent_v4 import V4Body, command, parse
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.profiles import AllowType, Gender, ProfilePatch
from tidings.runtime import Runtime

SERVICE = "profile"


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


def is_profile_tag(tag: str) -> bool:
    return tag.startswith(CUSTOM_PREFIX) or tag in _TAGS


def profile_items(profile: dict[str, Any], tags: list[str]) -> list[dict[str, Any]]:
    """A profile (as the profiles service answers it) as Tencent's ``{Tag,
    Value}`` items, for these known tags; a custom tag not set is left out."""
    values = []
    for tag in tags:
        if tag.startswith(CUSTOM_PREFIX):
            value = profile["custom"].get(tag[len(CUSTOM_PREFIX):])
            if value is not None:
                values.append({"Tag": tag, "Value": value})
        else:
            field = _TAGS[tag]
            values.append({"Tag": tag, "Value": _to_tencent(field, profile[field])})
    return values


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
    """The tags we know are answered per account; a tag we do not know does
    not fail the request (Tencent answers what it can): it is left out of
    every ``ProfileItem`` and reported once in ``ErrorList`` (40001)."""
    req = parse(PortraitGetBody, body)
    unknown = [t for t in dict.fromkeys(req.tags) if not is_profile_tag(t)]
    tags = [t for t in req.tags if t not in unknown]
    found = await rt.profiles.get(sdkappid, req.to)
    items = [{"To_Account": profile["user_id"], "ProfileItem": profile_items(profile, tags),
              "ResultCode": 0, "ResultInfo": ""} for profile in found["profiles"]]
    items += [{"To_Account": u, "ProfileItem": [], "ResultCode": 40003,
               "ResultInfo": "the account does not exist"} for u in found["missing"]]
    return {"UserProfileItem": items, "ErrorList": [
        {"Tag": t, "ErrorCode": 40001, "ErrorInfo": "unknown or unsupported profile tag"}
        for t in unknown]}

"""The profile callback of linked identities (docs/linked-identity.md,
"Profile callback"): an app that keeps its users' nicknames and avatars on
its own server answers them when Tidings shows a card, instead of importing
them. Opt-in per app (``PUT /v1/admin/link-settings``); the answers are
cached for the app's time to live, and a failed callback falls back to the
stored profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from tidings.domain.callbacks import CallbackFailure, CallbackFormat, register_event
from tidings.domain.callbacks import _json_object as json_object
from tidings.domain.requests import Payload

PROFILE_LOOKUP = "profile_lookup"
MAX_NICKNAME_BYTES = 500
MAX_AVATAR_BYTES = 512
DEFAULT_PROFILE_TTL = 300
# Tencent's profile tags for the nickname and the avatar.
TAG_NICK = "Tag_Profile_IM_Nick"
TAG_IMAGE = "Tag_Profile_IM_Image"


class LinkSettingsIn(Payload):
    profile_callback: bool = Field(description="Ask the app's callback URL for the nickname "
                                               "and avatar of the cards of its users")
    profile_ttl: int = Field(DEFAULT_PROFILE_TTL, ge=1, le=86400,
                             description="How long an answer is reused (seconds)")


def _tencent_lookup(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"To_Account": list(data["user_ids"]), "TagList": [TAG_NICK, TAG_IMAGE]}


register_event(PROFILE_LOOKUP, "Tidings.CallbackProfileLookup", _tencent_lookup)


def _text(value: object, limit: int, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value.encode()) > limit:
        raise CallbackFailure(f"{what} must be a string of at most {limit} bytes")
    return value


def read_profile_lookup(fmt: CallbackFormat, status: int, body: bytes,
                        asked: list[str]) -> dict[str, tuple[str, str]]:
    """user id -> (nickname, avatar URL), for the users asked about that the
    answer names; or CallbackFailure."""
    doc = json_object(status, body)
    found: dict[str, tuple[str, str]] = {}
    wanted = set(asked)
    if fmt is CallbackFormat.TENCENT:
        if doc.get("ErrorCode") != 0:
            raise CallbackFailure("the answer's ErrorCode is not 0")
        items = doc.get("UserProfileItem")
        if not isinstance(items, list):
            raise CallbackFailure("the answer has no UserProfileItem list")
        for item in items:
            if not isinstance(item, dict) or item.get("To_Account") not in wanted:
                continue
            tags = item.get("ProfileItem")
            if not isinstance(tags, list):
                raise CallbackFailure("ProfileItem must be a list")
            values = {t.get("Tag"): t.get("Value") for t in tags if isinstance(t, dict)}
            found[str(item["To_Account"])] = (
                _text(values.get(TAG_NICK), MAX_NICKNAME_BYTES, TAG_NICK),
                _text(values.get(TAG_IMAGE), MAX_AVATAR_BYTES, TAG_IMAGE))
        return found
    profiles = doc.get("profiles")
    if not isinstance(profiles, list):
        raise CallbackFailure("the answer has no profiles list")
    for p in profiles:
        if not isinstance(p, dict) or p.get("user_id") not in wanted:
            continue
        found[str(p["user_id"])] = (_text(p.get("nickname"), MAX_NICKNAME_BYTES, "nickname"),
                                    _text(p.get("avatar_url"), MAX_AVATAR_BYTES, "avatar_url"))
    return found

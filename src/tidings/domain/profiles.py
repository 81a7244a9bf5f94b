"""User profiles: the standard fields (Tencent's ``Tag_Profile_IM_*``), custom
fields, their limits, and who may write which.

Limits are Tencent's, so that anything its REST API accepts is accepted here:
strings of at most 500 UTF-8 bytes (the location 16), numbers as uint32.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.requests import Payload

MAX_TEXT_BYTES = 500
MAX_LOCATION_BYTES = 16
UINT32_MAX = 2**32 - 1
MAX_CUSTOM_FIELDS = 20
CUSTOM_KEY = re.compile(r"[A-Za-z0-9_]{1,32}")


class Gender(StrEnum):
    UNKNOWN = "unknown"
    FEMALE = "female"
    MALE = "male"


class AllowType(StrEnum):
    """How others become this user's friend (used by friend requests)."""

    NEED_CONFIRM = "need_confirm"
    ALLOW_ANY = "allow_any"
    DENY_ANY = "deny_any"


def _max_bytes(limit: int) -> AfterValidator:
    def check(value: str) -> str:
        if len(value.encode()) > limit:
            raise ValueError(f"at most {limit} bytes of UTF-8")
        return value
    return AfterValidator(check)


Text = Annotated[str, _max_bytes(MAX_TEXT_BYTES)]
Location = Annotated[str, _max_bytes(MAX_LOCATION_BYTES)]
UInt32 = Annotated[int, Field(ge=0, le=UINT32_MAX)]


def _check_custom(fields: dict[str, str | None]) -> dict[str, str | None]:
    for key, value in fields.items():
        if not CUSTOM_KEY.fullmatch(key):
            raise ValueError(f"custom key {key!r}: 1 to 32 of A-Z a-z 0-9 _")
        if value is not None and len(value.encode()) > MAX_TEXT_BYTES:
            raise ValueError(f"custom[{key!r}]: at most {MAX_TEXT_BYTES} bytes of UTF-8")
    return fields


class ProfilePatch(Payload):
    """The fields to change; a field left out keeps its value. In ``custom``,
    ``null`` removes a key."""

    nickname: Text | None = Field(None, examples=["Alice"])
    avatar_url: Text | None = Field(None, examples=["https://shopx.example/a/alice.png"])
    # Enums by value: the one lax spot in a strict model (JSON has no enums).
    gender: Gender | None = Field(None, strict=False, examples=["female"])
    birthday: UInt32 | None = Field(None, description="Tencent's advice: YYYYMMDD",
                                    examples=[19900419])
    location: Location | None = Field(None, examples=["086-021"])
    signature: Text | None = Field(None, examples=["Selling vintage cameras"])
    language: UInt32 | None = None
    level: UInt32 | None = Field(None, examples=[3])
    role: UInt32 | None = None
    allow_type: AllowType | None = Field(None, strict=False, examples=["need_confirm"])
    custom: Annotated[dict[str, Text | None], AfterValidator(_check_custom)] = Field(
        default_factory=dict, max_length=MAX_CUSTOM_FIELDS,
        examples=[{"rating": "4.9", "seller_since": "2019"}])

    @model_validator(mode="after")
    def _no_null_standard_fields(self) -> ProfilePatch:
        # null would read as "keep" to some and "clear" to others: refuse it
        # (a field is cleared with "" or 0, left alone by leaving it out).
        for name in self.model_fields_set - {"custom"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name}: null is not a value; leave the field out to keep it")
        return self

    def standard_changes(self) -> dict[str, Any]:
        """The standard fields that this patch sets, as stored."""
        return {name: (value.value if isinstance(value, StrEnum) else value)
                for name, value in self.model_dump(exclude={"custom"}).items()
                if value is not None}


STANDARD_FIELDS = tuple(name for name in ProfilePatch.model_fields if name != "custom")

# What a user may change about themselves from a client. The nickname and the
# avatar are the app's to set (they are the verified identity others see),
# and so are level, role and custom fields (an app's own data: a seller
# rating, a game level); a user edits only the personal rest.
SELF_WRITABLE = frozenset({"gender", "birthday", "location", "signature", "language",
                           "allow_type"})


def check_self_patch(patch: ProfilePatch) -> None:
    refused = sorted(set(patch.standard_changes()) - SELF_WRITABLE)
    if patch.custom:
        refused.append("custom")
    if refused:
        raise TidingsError(ErrorCode.PROFILE_FIELD_READ_ONLY,
                           f"only the app's server may set {', '.join(refused)}; "
                           f"a user may set {', '.join(sorted(SELF_WRITABLE))}")

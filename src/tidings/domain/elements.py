"""The message model: a list of elements plus the app's opaque data.

The element kinds are Tencent's ``MsgBody`` kinds, so a message reads the same
through the native API and through the Tencent-compatible one. Media kinds
carry what an upload returned; the media issue fills in the upload itself.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

MAX_ELEMENTS = 20


class _Element(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class TextElement(_Element):
    type: Literal["text"]
    text: Annotated[str, Field(min_length=1)]


class CustomElement(_Element):
    type: Literal["custom"]
    data: str = ""
    desc: str = ""
    ext: str = ""
    sound: str = ""


class FaceElement(_Element):
    type: Literal["face"]
    index: int
    data: str = ""


class LocationElement(_Element):
    type: Literal["location"]
    desc: str = ""
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]


class ImageVariant(_Element):
    kind: Literal["original", "large", "thumb"]
    url: str
    width: Annotated[int, Field(ge=0)] = 0
    height: Annotated[int, Field(ge=0)] = 0
    size: Annotated[int, Field(ge=0)] = 0


class ImageElement(_Element):
    type: Literal["image"]
    media_id: str = ""
    format: str = ""
    variants: Annotated[list[ImageVariant], Field(min_length=1, max_length=3)]


class SoundElement(_Element):
    type: Literal["sound"]
    media_id: str = ""
    url: str
    size: Annotated[int, Field(ge=0)] = 0
    duration: Annotated[float, Field(ge=0)] = 0


class VideoElement(_Element):
    type: Literal["video"]
    media_id: str = ""
    url: str
    format: str = ""
    size: Annotated[int, Field(ge=0)] = 0
    duration: Annotated[float, Field(ge=0)] = 0
    poster_url: str = ""
    poster_width: Annotated[int, Field(ge=0)] = 0
    poster_height: Annotated[int, Field(ge=0)] = 0
    # The rest of what Tencent's TIMVideoFileElem says of its thumbnail, so
    # that a MsgBody maps onto this model and back without loss.
    poster_media_id: str = ""
    poster_size: Annotated[int, Field(ge=0)] = 0
    poster_format: str = ""


class FileElement(_Element):
    type: Literal["file"]
    media_id: str = ""
    url: str
    name: str = ""
    size: Annotated[int, Field(ge=0)] = 0


class QuoteElement(_Element):
    """A reply's reference to an earlier message of the conversation. The
    sender gives ``seq``; the server fills in the rest from the message as it
    stood when the reply was sent (a snapshot), and history and sync show
    ``state: "recalled"`` (and no text) once the quoted message is recalled."""

    type: Literal["quote"]
    seq: Annotated[int, Field(ge=1, le=2**63 - 1)]
    msg_id: str = ""
    sender: str = ""
    text: str = ""
    state: str = ""


Element = Annotated[
    TextElement | CustomElement | FaceElement | LocationElement | ImageElement
    | SoundElement | VideoElement | FileElement | QuoteElement,
    Field(discriminator="type"),
]

Elements = Annotated[list[Element], Field(min_length=1, max_length=MAX_ELEMENTS)]
ELEMENTS = TypeAdapter(Elements)


class MessageState(IntEnum):
    NORMAL = 0
    EDITED = 1
    RECALLED = 2


class EntryKind(IntEnum):
    """What an entry of a conversation's seq stream is: a message, or a change
    to an earlier message (which is never unread and never a preview)."""

    MESSAGE = 0
    RECALL = 1
    EDIT = 2
    # A group system entry (join, leave, role, mute, profile, ...): its
    # elements hold what happened; never unread, never a preview.
    SYSTEM = 3


class ImportMode(IntEnum):
    """How a message came in: sent, or imported by the app's admin with its
    original time. Tencent's ``SyncFromOldSystem``: 1 realtime (counts as
    unread, delivered like a send), 2 history (neither)."""

    NONE = 0
    REALTIME = 1
    HISTORY = 2

"""JSON that is already encoded (a message's elements as stored) and goes on
the wire as it is, with the schema of what it holds."""

from __future__ import annotations

from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema


class RawOf:
    """``Annotated[orjson.Fragment, RawOf(T)]``: at run time the view holds
    the stored bytes (encoding them again would cost a parse per message and
    receiver); its schema is T's. Views are built, never validated, so only
    the schema side is given."""

    def __init__(self, shape: Any) -> None:
        self.shape = shape

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: GetCoreSchemaHandler) -> CoreSchema:
        return handler.generate_schema(self.shape)


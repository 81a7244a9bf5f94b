"""JSON responses encoded by orjson, which also embeds stored element JSON
(``orjson.Fragment``) without parsing it again."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)

"""The SDK's ``Client.search``: pages of results over the real protocol,
and a refusal as a TidingsError with its code."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support import App, Server
from tidings.sdk import Client, ErrorCode, SearchPage, TidingsError

FAST: dict[str, Any] = {"backoff_initial": 0.05, "backoff_max": 0.3, "connect_timeout": 5.0}


async def test_search_pages(server: Server, shared_app: App) -> None:
    tag = uuid.uuid4().hex[:8]
    a, b = f"alice-{tag}", f"bob-{tag}"
    async with Client(server.ws_url, shared_app.sdkappid, a, shared_app.sig(a), **FAST) as alice:
        for i in range(3):
            await alice.send_text(f"c2c_{b}", f"Lunch plan {i}")
        await alice.send_text(f"c2c_{b}", "something else")
        page = await alice.search("LUNCH", limit=2)
        assert isinstance(page, SearchPage)
        assert [r.message.text for r in page.results] == ["Lunch plan 2", "Lunch plan 1"]
        first = page.results[0]
        assert (first.conversation_id, first.message.sender) == (f"c2c_{b}", a)
        assert [first.snippet[s:e] for s, e in first.highlights] == ["Lunch"]
        assert page.more and page.cursor
        rest = await alice.search("lunch", limit=2, cursor=page.cursor)
        assert [r.message.text for r in rest.results] == ["Lunch plan 0"]
        assert (rest.more, rest.cursor) == (False, None)
        assert (await alice.search("lunch", sender=b)).results == []
        with pytest.raises(TidingsError) as refused:
            await alice.search("   ")
        assert refused.value.code is ErrorCode.INVALID_REQUEST

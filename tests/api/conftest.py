"""Fixtures of the API tests. Creating an app through the CLI costs a
process start, so tests that only need *some* app share one per module and
keep apart by user ids that no other test uses (``users``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tests.support import App, Server


@pytest.fixture(scope="module")
def shared_app(shared_server: Server) -> App:
    return shared_server.create_app("Shared")


@pytest.fixture(scope="module")
def other_app(shared_server: Server) -> App:
    """A second app on the same server, to show that apps stay apart."""
    return shared_server.create_app("Other")


@pytest.fixture
def users() -> Callable[[str], str]:
    """``users("alice")`` is a user id of this test alone (at most 32 bytes)."""
    tag = uuid.uuid4().hex[:10]
    return lambda name: f"{name}-{tag}"

"""A server process may hold as many connections as its files allow (issue
19: 100,000 idle connections): at start it raises its soft limit on open
files to the hard one, and says in the log when that is still below
TIDINGS_MAX_CONNECTIONS (past it, ``accept`` fails with nothing else to
tell the operator why)."""

from __future__ import annotations

import logging
import resource
from collections.abc import Iterator

import pytest

from tidings.server import RESERVED_FILES, open_files_limit


@pytest.fixture
def limits() -> Iterator[tuple[int, int]]:
    """This process's limits, restored after the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no finite hard limit on open files to raise to")
    yield soft, hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_soft_limit_is_raised_to_the_hard_one(limits: tuple[int, int]) -> None:
    _, hard = limits
    low = min(hard - 1, 512)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))

    assert open_files_limit(100) == hard
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)


def test_a_limit_below_the_connection_cap_is_said_once_at_start(
        limits: tuple[int, int], caplog: pytest.LogCaptureFixture) -> None:
    _, hard = limits
    with caplog.at_level(logging.WARNING, logger="tidings.server"):
        open_files_limit(hard - RESERVED_FILES)  # room enough: nothing said
        assert not caplog.records
        open_files_limit(hard)
    [record] = caplog.records
    assert "TIDINGS_MAX_CONNECTIONS" in record.getMessage()
    assert f"only {hard} files" in record.getMessage()

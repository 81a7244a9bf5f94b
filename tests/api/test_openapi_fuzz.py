"""The OpenAPI document is honest: schemathesis generates requests for every
operation from it, with and without credentials, against an in-process server
on SQLite, and every answer must be below 500 with a status code and a content
type that the document declares for that operation (issue 18).

Bounded and reproducible: hypothesis is derandomized (a fixed seed per test)
with a fixed number of examples per operation (10: about 1,600 requests in each
test over the ~160 operations), under a minute in all on a
2-core machine. Left out, and why:

- ``/v1/ws`` is a WebSocket, not in the document (the frames have their own
  tests: tests/api/test_bad_input.py, tests/gateway/test_bad_frames_log.py);
- schemathesis' ``response_schema_conformance`` (bodies against their
  models) and the negative-data checks are not run: this test holds the
  status codes and content types, which is what the issue asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from tests.support import App, Server

EXAMPLES_PER_OPERATION = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


@pytest.fixture
def fuzzed(make_server: Any, backend: str) -> Iterator[tuple[Server, App]]:
    if backend != "sqlite":
        pytest.skip("the document is the same on every backend: fuzzed on SQLite only")
    server = make_server()
    yield server, server.create_app()


def _operations(server: Server) -> list[Any]:
    doc = httpx.get(f"{server.base_url}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(doc)
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(server: Server, headers: dict[str, str], only: str = "") -> int:
    operations = [o for o in _operations(server) if o.path.startswith(only)]
    assert operations
    strategy = st.sampled_from(operations).flatmap(lambda o: o.as_strategy())
    calls = 0

    @settings(max_examples=EXAMPLES_PER_OPERATION * len(operations), derandomize=True,
              database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        response = case.call(base_url=server.base_url, headers=headers, timeout=10,
                             allow_redirects=False)
        case.validate_response(response, checks=CHECKS)

    run()
    log = server.data_dir / "server.log"
    assert "Traceback" not in (log.read_text(errors="replace") if log.exists() else "")
    return calls


def test_fuzz_without_credentials(fuzzed: tuple[Server, App]) -> None:
    server, _ = fuzzed
    assert _fuzz(server, {}) > 0


def test_fuzz_as_a_user(fuzzed: tuple[Server, App]) -> None:
    server, app = fuzzed
    assert _fuzz(server, {"Authorization": f"Bearer {app.sig('fuzz-user')}"}) > 0


def test_fuzz_admin_api_as_the_admin(fuzzed: tuple[Server, App]) -> None:
    server, app = fuzzed
    assert _fuzz(server, {"Authorization": f"Bearer {app.sig(app.admin)}"}, "/v1/admin") > 0

"""The TypeScript SDK's wire types (clients/typescript/src/generated/
protocol.ts) are generated from the protocol's JSON Schema: this fails while
the committed file is not what ``npm run gen`` makes of today's schema, so
the SDK and the server cannot drift apart."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest

from tests.clients.node import NODE, PACKAGE
from tidings.protocol.schema import protocol_schema

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


def _check(schema_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(NODE), "scripts/gen-types.mjs", "--schema", str(schema_file),
                           "--check"], cwd=PACKAGE, capture_output=True, text=True, timeout=60)


def test_the_generated_types_are_those_of_the_current_schema(tmp_path: Path) -> None:
    schema_file = tmp_path / "protocol.json"
    schema_file.write_bytes(orjson.dumps(protocol_schema()))
    result = _check(schema_file)
    assert result.returncode == 0, (
        f"{result.stderr}\nrun `npm run gen` in clients/typescript and commit the result")


def test_a_changed_schema_makes_the_check_fail(tmp_path: Path) -> None:
    schema = protocol_schema()
    schema["$defs"]["MessageAck"]["properties"]["extra"] = {"type": "string"}
    schema_file = tmp_path / "protocol.json"
    schema_file.write_bytes(orjson.dumps(schema))
    result = _check(schema_file)
    assert result.returncode == 1
    assert "stale" in result.stderr


def test_every_error_code_and_op_is_in_the_generated_file() -> None:
    text = (PACKAGE / "src" / "generated" / "protocol.ts").read_text()
    schema = protocol_schema()
    for name, code in schema["errors"].items():
        assert f"  {name}: {code}," in text
    for op in schema["ops"]:
        assert f"  {op}: {{ data: " in text

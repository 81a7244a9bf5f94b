"""docs/tencent-compat.md lists every v4 command: each one Tidings answers is
listed as supported, each one listed as supported is answered, and each one
answered is sent as Tencent's own sample by a test (tests/api/tencent_samples/
holds the samples, one at least per command, each naming its source); and
every command, given a broken variant of its sample, fails as Tencent would
(HTTP 200, ``FAIL`` and a code), never with a server error."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.api.test_tencent_v4 import v4
from tests.support import App, Server
from tidings.api import app as _app  # noqa: F401  (registers every v4 command)
from tidings.api.tencent_v4 import COMMANDS

ROOT = Path(__file__).parents[2]
SAMPLES = Path(__file__).parent / "tencent_samples"
_ROW = re.compile(r"^\| (?P<names>[^|]+) \| (?P<supported>yes|no) \|", re.M)


def documented() -> dict[str, bool]:
    text = (ROOT / "docs" / "tencent-compat.md").read_text()
    found: dict[str, bool] = {}
    for row in _ROW.finditer(text):
        for name in re.findall(r"`([A-Za-z_]+/[A-Za-z0-9_*]+)`", row["names"]):
            found[name] = row["supported"] == "yes"
    return found


def test_every_command_is_documented_as_it_is() -> None:
    listed = documented()
    answered = {f"{service}/{name}" for service, name in COMMANDS}
    assert sorted(answered - {n for n, yes in listed.items() if yes}) == []
    assert sorted(n for n, yes in listed.items() if yes and n not in answered) == []
    assert sorted(n for n, yes in listed.items() if not yes and n in answered) == []


def test_every_supported_command_has_tencents_sample() -> None:
    sampled: set[str] = set()
    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_tencent_v4*.py"))
    for path in SAMPLES.glob("*.json"):
        doc = json.loads(path.read_text())
        assert doc["source"].startswith("https://"), path.name
        assert {"request", "response"} <= set(doc), path.name
        assert f'"{path.stem}"' in tests, f"{path.name} is used by no test"
        sampled.add(doc["command"])
    answered = {f"{service}/{name}" for service, name in COMMANDS}
    assert sorted(answered - sampled) == []


def _wrong(value: object) -> object:
    """A value of another JSON type than ``value``."""
    if isinstance(value, str):
        return 7
    if isinstance(value, bool | int | float):
        return "7"
    if isinstance(value, list):
        return {"a": 1}
    return ["x"]


def test_bad_bodies_get_a_tencent_failure_never_a_500(server: Server, app: App) -> None:
    """Each sample with one field at a time of the wrong type, emptied, or
    gone: always HTTP 200 (the helper checks it) and a clear failure or a
    success, never a server error."""
    for path in sorted(SAMPLES.glob("*.json")):
        doc = json.loads(path.read_text())
        request = doc["request"]
        variants: list[object] = [{}, [], {"unknown": 1}]
        for key, value in request.items():
            variants.append({**request, key: _wrong(value)})
            variants.append({k: v for k, v in request.items() if k != key})
            if isinstance(value, list) and value and isinstance(value[0], dict):
                variants.append({**request, key: [{k: _wrong(v) for k, v in value[0].items()}]})
        for body in variants:
            got = v4(server, app, doc["command"], body)
            assert got["ActionStatus"] in ("OK", "FAIL"), (path.name, body, got)
            if got["ActionStatus"] == "FAIL":
                assert got["ErrorCode"] not in (0, 500) and got["ErrorInfo"], (path.name, got)

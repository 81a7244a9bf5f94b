"""The messenger's built assets are shipped inside the Python package
(src/tidings/web/static/) so that a wheel serves it without Node: this fails
while they are not what ``npm run build`` in clients/web makes of today's
sources (and of today's SDK, which it bundles)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.node import NODE, NPM, WEB, ensure_web_packages

pytestmark = pytest.mark.skipif(NODE is None or NPM is None, reason="Node.js is not installed")
SHIPPED = WEB.parents[1] / "src" / "tidings" / "web" / "static"


def _check(*extra: str) -> subprocess.CompletedProcess[str]:
    ensure_web_packages()
    return subprocess.run([str(NODE), "scripts/build.mjs", "--check", *extra], cwd=WEB,
                          capture_output=True, text=True, timeout=300)


def test_the_shipped_messenger_is_built_from_the_current_sources() -> None:
    result = _check()
    assert result.returncode == 0, (
        f"{result.stderr}\nrun `npm run build` in clients/web and commit src/tidings/web/static")


def test_a_changed_or_missing_asset_makes_the_check_fail(tmp_path: Path) -> None:
    copy = tmp_path / "static"
    shutil.copytree(SHIPPED, copy)
    script = next((copy / "assets").glob("*.js"))
    script.write_bytes(script.read_bytes() + b"\n")
    result = _check("--shipped", str(copy))
    assert result.returncode == 1
    assert "stale" in result.stderr and script.name in result.stderr
    script.unlink()
    (copy / "assets" / "old-AAAA.js").write_text("")
    result = _check("--shipped", str(copy))
    assert result.returncode == 1
    assert "old-AAAA.js" in result.stderr

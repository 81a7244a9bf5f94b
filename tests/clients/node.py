"""The TypeScript SDK's package for the tests: its npm packages (``npm ci``,
skipped while node_modules matches the lock) and its build (skipped while
dist/ is newer than every source). ``python -m tests.clients.node`` does both
(scripts/test runs it); a lock file keeps parallel test workers from running
npm at once."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "typescript"
# The web messenger (clients/web): it bundles the SDK from its sources.
WEB = PACKAGE.parent / "web"
NODE = shutil.which("node")
NPM = shutil.which("npm")
_STAMP = PACKAGE / "node_modules" / ".tidings-lock-sha256"
_BUILT = (PACKAGE / "dist" / "index.js", PACKAGE / "dist" / "tidings.browser.js")


@contextmanager
def _locked(package: Path = PACKAGE) -> Iterator[None]:
    with open(package / ".setup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(*args: str, cwd: Path = PACKAGE) -> None:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n"
                             f"{result.stderr[-3000:]}")


def ensure_packages(package: Path = PACKAGE) -> None:
    """``npm ci`` unless node_modules was installed from this very lock."""
    assert NPM is not None, "npm is not installed"
    stamp = package / "node_modules" / _STAMP.name
    digest = hashlib.sha256((package / "package-lock.json").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    _run(NPM, "ci", "--prefer-offline", "--no-audit", "--no-fund", cwd=package)
    stamp.write_text(digest)


def ensure_built() -> None:
    """``npm run build`` unless dist/ is newer than the sources."""
    sources = [PACKAGE / n for n in ("package.json", "package-lock.json", "tsconfig.json")]
    sources += list((PACKAGE / "src").rglob("*.ts"))
    newest = max(p.stat().st_mtime for p in sources)
    if all(p.exists() and p.stat().st_mtime >= newest for p in _BUILT):
        return
    assert NPM is not None, "npm is not installed"
    _run(NPM, "run", "build")


def ensure_ready() -> None:
    with _locked():
        ensure_packages()
        ensure_built()


def ensure_web_packages() -> None:
    """The messenger's npm packages (its build check needs esbuild)."""
    with _locked(WEB):
        ensure_packages(WEB)


if __name__ == "__main__":
    if NPM is None or NODE is None:
        print("Node.js is not installed; the TypeScript SDK's tests will be skipped",
              file=sys.stderr)
    else:
        ensure_ready()
        ensure_web_packages()

"""What a process start does not do (bench/startup.py measures the rest):
import the libraries only a media upload or a password needs, or hash a
password."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import argon2
import pytest

from tidings.adapters.home_passwords import Passwords

# Imported at the first upload (media_probe: Pillow, mutagen) or the first
# password (argon2), not by the server's modules.
LATE = ("argon2", "PIL", "mutagen", "tidings.adapters.media_probe")


# In a fresh process (the test process has imported and built everything):
# what the modules and an app leave undone, then one route used.
_SCRIPT = f"""
import sys, tempfile, tidings.server, tidings.runtime, tidings.cli_services
from tidings.api.app import create_app
from tidings.api.routers import LazyRoute
from tidings.config import Settings
print(sorted(m for m in {LATE!r} if m in sys.modules))
app = create_app(Settings(data_dir=tempfile.mkdtemp()))
lazy = [r for r in app.router.routes if isinstance(r, LazyRoute)]
print(len(lazy), sum(r._built for r in lazy))
assert lazy[0].dependant is not None
print(sum(r._built for r in lazy))
"""


def test_a_start_leaves_routes_and_upload_and_password_libraries_alone() -> None:
    """Fails on the old code: services/media_uploads.py imported media_probe
    and adapters/home_passwords.py argon2 at the top, and every route was
    built (its model fields) when its module declared it."""
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split("\n")
    assert out[0] == "[]"
    routes, built = map(int, out[1].split())
    assert routes > 150 and built == 0
    assert out[2] == "1"  # the one used, built on its first read


def test_an_unknown_user_is_verified_against_a_hash_of_the_real_parameters() -> None:
    """The hash an unknown username is checked against is made up, not
    computed (one full hash at every start before): it must carry this
    server's parameters, or its verification would cost something else."""
    passwords = Passwords(time_cost=2, memory_kib=1024, parallelism=2)
    unknown = passwords._unknown()
    assert argon2.extract_parameters(unknown) == argon2.Parameters(
        type=argon2.Type.ID, version=19, salt_len=16, hash_len=32, time_cost=2,
        memory_cost=1024, parallelism=2)
    assert not passwords.needs_rehash(unknown)
    assert passwords._unknown() == unknown  # made once

    async def check() -> None:
        assert await passwords.verify(None, "any password") is False
        stored = await passwords.hash("correct horse")
        assert await passwords.verify(stored, "correct horse") is True
        assert await passwords.verify(stored, "wrong") is False

    asyncio.run(check())
    # Verifying against it runs argon2 (a parse error would answer at once).
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        argon2.PasswordHasher().verify(unknown, "any password")

"""Password hashing for home accounts: argon2id, off the event loop.

One argon2-cffi default hash costs 64 MiB and tens of milliseconds of CPU:
a semaphore keeps a burst of sign-ins from taking all memory and cores.

Nothing of it runs at start-up: argon2 is imported at the first password
(only home accounts and operators have one), and the hash that an unknown
username is verified against, so that its answer takes the usual time, is
made without hashing (``_unknown``): it used to be one full hash at every
start of every process.
"""

from __future__ import annotations

import asyncio
import base64
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

# Hashes computed at once; more wait their turn.
CONCURRENT_HASHES = 2


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")  # argon2's encoding: no padding


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._params = (time_cost, memory_kib, parallelism)
        self._made: PasswordHasher | None = None
        self._gate = asyncio.Semaphore(CONCURRENT_HASHES)
        self._dummy: str | None = None

    @property
    def _hasher(self) -> PasswordHasher:
        if self._made is None:
            from argon2 import PasswordHasher, Type

            time_cost, memory_kib, parallelism = self._params
            self._made = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                                        parallelism=parallelism, type=Type.ID)
        return self._made

    def _unknown(self) -> str:
        """A hash no password matches, with this hasher's parameters.
        Verifying costs what the parameters say (the password is hashed
        with the salt and compared), so a made-up salt and digest cost what
        a real hash does, and making them costs nothing."""
        if self._dummy is None:
            from argon2.low_level import ARGON2_VERSION

            h = self._hasher
            self._dummy = (f"$argon2id$v={ARGON2_VERSION}$m={h.memory_cost},t={h.time_cost},"
                           f"p={h.parallelism}${_b64(os.urandom(h.salt_len))}"
                           f"${_b64(os.urandom(h.hash_len))}")
        return self._dummy

    async def hash(self, password: str) -> str:
        hasher = self._hasher
        async with self._gate:
            return await asyncio.to_thread(hasher.hash, password)

    def _verify_blocking(self, stored: str, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """``stored`` None (no such account, or no password) still costs one
        full verification, so that the answer's timing does not tell."""
        if stored is None:
            async with self._gate:
                await asyncio.to_thread(self._verify_blocking, self._unknown(), password)
            return False
        async with self._gate:
            return await asyncio.to_thread(self._verify_blocking, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        """The parameters changed since this hash was made."""
        from argon2.exceptions import InvalidHashError

        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return False

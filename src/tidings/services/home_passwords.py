"""Password hashing for home accounts: argon2id, off the event loop.

One argon2-cffi default hash costs 64 MiB and tens of milliseconds of CPU:
a semaphore keeps a burst of sign-ins from taking all memory and cores.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

# Hashes computed at once; more wait their turn.
CONCURRENT_HASHES = 2


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                                      parallelism=parallelism, type=Type.ID)
        self._gate = asyncio.Semaphore(CONCURRENT_HASHES)
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        async with self._gate:
            return await asyncio.to_thread(self._hasher.hash, password)

    def _verify_blocking(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """``stored`` None (no such account, or no password) still costs one
        full verification, so that the answer's timing does not tell."""
        if stored is None:
            if self._dummy is None:
                self._dummy = await self.hash("no account has this password")
            async with self._gate:
                await asyncio.to_thread(self._verify_blocking, self._dummy, password)
            return False
        async with self._gate:
            return await asyncio.to_thread(self._verify_blocking, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        """The parameters changed since this hash was made."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return False

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
        self._dummy: asyncio.Task[str] | None = None

    def start(self) -> None:
        """Make the dummy hash for unknown usernames in the background (it
        costs as much as a real one, and start-up need not wait for it)."""
        if self._dummy is None:
            self._dummy = asyncio.create_task(self.hash("no account has this password"),
                                              name="home-dummy-hash")

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
            self.start()
            assert self._dummy is not None
            dummy = await self._dummy
            async with self._gate:
                await asyncio.to_thread(self._verify_blocking, dummy, password)
            return False
        async with self._gate:
            return await asyncio.to_thread(self._verify_blocking, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        """The parameters changed since this hash was made."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return False

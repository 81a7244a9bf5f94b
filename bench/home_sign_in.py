"""How long a home-account password costs: argon2id hashing in-process with
the server's settings, and sign-ins against a running server.

    python bench/home_sign_in.py                       # argon2 only, 20 rounds
    python bench/home_sign_in.py --url http://127.0.0.1:8080 --sign-ins 40 --concurrency 4

Against a server, it registers one account and signs in with it
``--sign-ins`` times from ``--concurrency`` clients (raise the server's
``TIDINGS_HOME_ATTEMPTS_PER_IP`` and ``TIDINGS_HOME_PASSWORD_TRIES`` first:
the limits count these too). Figures are wall-clock milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import httpx

from tidings.adapters.home_passwords import Passwords
from tidings.config import Settings


def _summary(name: str, ms: list[float]) -> None:
    ms.sort()
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(f"{name}: n={len(ms)} median={statistics.median(ms):.1f} ms p95={p95:.1f} ms "
          f"max={ms[-1]:.1f} ms")


async def _argon2(rounds: int) -> None:
    s = Settings()
    passwords = Passwords(s.home_argon2_time_cost, s.home_argon2_memory_kib,
                          s.home_argon2_parallelism)
    hashes, verifies = [], []
    stored = await passwords.hash("bench password 1")
    for _ in range(rounds):
        start = time.perf_counter()
        await passwords.hash("bench password 1")
        hashes.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        assert await passwords.verify(stored, "bench password 1")
        verifies.append((time.perf_counter() - start) * 1000)
    print(f"argon2id t={s.home_argon2_time_cost} m={s.home_argon2_memory_kib} KiB "
          f"p={s.home_argon2_parallelism}")
    _summary("hash", hashes)
    _summary("verify", verifies)


async def _server(url: str, sign_ins: int, concurrency: int) -> None:
    name = f"bench{uuid.uuid4().hex[:8]}"
    body = {"username": name, "password": "bench password 1"}
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        made = await http.post("/v1/home/register", json=body)
        made.raise_for_status()
        latencies: list[float] = []
        left = iter(range(sign_ins))

        async def worker() -> None:
            for _ in left:
                start = time.perf_counter()
                answer = await http.post("/v1/home/sign-in/password", json=body)
                answer.raise_for_status()
                latencies.append((time.perf_counter() - start) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    _summary(f"sign-in (concurrency {concurrency})", latencies)
    print(f"throughput: {sign_ins / elapsed:.1f} sign-ins/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--url", default="")
    parser.add_argument("--sign-ins", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(_argon2(args.rounds))
    if args.url:
        asyncio.run(_server(args.url, args.sign_ins, args.concurrency))


if __name__ == "__main__":
    main()

"""Does the timing of a password-reset request tell whether an account has
the address? Reset requests for an account's e-mail address and for
unknown ones, timed alike against a running server whose e-mail goes to
the SMTP sink this script runs; sign-in code requests (which wait for the
SMTP hand-over) show what a reset would cost if it waited too.

    TIDINGS_HOME_EMAIL_SENDER=smtp TIDINGS_HOME_SMTP_HOST=127.0.0.1 \
    TIDINGS_HOME_SMTP_PORT=2525 TIDINGS_HOME_SMTP_FROM=bench@example.org \
    TIDINGS_HOME_SMTP_SECURITY=none TIDINGS_HOME_CODE_RESEND_AFTER=0 \
    TIDINGS_HOME_CODES_PER_ADDRESS=100000 TIDINGS_HOME_CODES_PER_IP=100000 \
    tidings serve
    python bench/home_reset_timing.py --url http://127.0.0.1:8080 --smtp-port 2525

The server sends mail only when asked, so the sink this script starts is
up in time. Figures are wall-clock milliseconds per request, one at a
time.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
import uuid
from email import message_from_bytes
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class Sink:
    """Keeps the last code sent to each address."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        mail = message_from_bytes(envelope.content)
        found = re.search(r"\b(\d{6})\b", str(mail["Subject"]))
        if found:
            self.codes[str(mail["To"])] = found.group(1)
        return "250 OK"


def _summary(name: str, ms: list[float]) -> None:
    ms.sort()
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(f"{name}: n={len(ms)} median={statistics.median(ms):.1f} ms p95={p95:.1f} ms")


async def _code_of(sink: Sink, address: str) -> str:
    deadline = time.monotonic() + 10
    while address not in sink.codes:
        if time.monotonic() > deadline:
            raise SystemExit(f"no mail to {address}: is the server's SMTP port this sink's?")
        await asyncio.sleep(0.02)
    return sink.codes.pop(address)


async def _timed(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> float:
    start = time.perf_counter()
    answer = await http.post(path, json=body)
    elapsed = (time.perf_counter() - start) * 1000
    answer.raise_for_status()
    return elapsed


async def run(url: str, sink: Sink, rounds: int, gap: float) -> None:
    known = f"bench-{uuid.uuid4().hex[:8]}@example.org"
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        (await http.post("/v1/home/codes", json={"channel": "email", "address": known})
         ).raise_for_status()
        (await http.post("/v1/home/sign-in/code", json={
            "channel": "email", "address": known, "code": await _code_of(sink, known)})
         ).raise_for_status()
        # Each address asked as often as the other (a first request for an
        # address makes its counter rows, a later one updates them), in
        # turns that swap which goes first.
        unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.org"
        reset_known: list[float] = []
        reset_unknown: list[float] = []
        sign_in_codes: list[float] = []
        for n in range(rounds):
            pair = [(reset_known, known), (reset_unknown, unknown)]
            for into, address in pair if n % 2 else pair[::-1]:
                # Apart, so that one request's mail (sent after its answer)
                # does not slow the next one down.
                await asyncio.sleep(gap)
                into.append(await _timed(http, "/v1/home/password-reset/codes",
                                         {"channel": "email", "address": address}))
            sign_in_codes.append(await _timed(http, "/v1/home/codes",
                                              {"channel": "email", "address": known}))
    _summary("reset request, account's address", reset_known)
    _summary("reset request, unknown address  ", reset_unknown)
    _summary("sign-in code request (waits for SMTP)", sign_in_codes)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--gap", type=float, default=0.2,
                        help="seconds between reset requests")
    args = parser.parse_args()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=args.smtp_port)
    controller.start()
    try:
        await run(args.url, sink, args.rounds, args.gap)
    finally:
        controller.stop()


if __name__ == "__main__":
    asyncio.run(main())

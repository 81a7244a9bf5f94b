"""An account's global mute (Tencent's "global muting"): no one-to-one sends
and/or no group sends until a time. Seconds on the wire as Tencent's: 0
unmutes, 4294967295 is forever; a mute's time left counts down."""

from __future__ import annotations

from dataclasses import dataclass

from tidings.domain.errors import ErrorCode, TidingsError

FOREVER_SECONDS = 0xFFFFFFFF
# Stored for a mute without end: later than any clock.
FOREVER = 2**63 - 1


def until(seconds: int, now: int) -> int:
    """The stored end (ms) of a mute of ``seconds`` from ``now`` (ms)."""
    if not 0 <= seconds <= FOREVER_SECONDS:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           f"a mute is 0 to {FOREVER_SECONDS} seconds")
    if seconds == FOREVER_SECONDS:
        return FOREVER
    return now + seconds * 1000 if seconds else 0


def seconds_left(end: int, now: int) -> int:
    """The time left (s, rounded up) of a mute ending at ``end`` (ms)."""
    if end == FOREVER:
        return FOREVER_SECONDS
    return max(0, -((now - end) // 1000))


@dataclass(frozen=True, slots=True)
class AccountMute:
    c2c_until: int = 0
    group_until: int = 0

    def check(self, group: bool, now: int) -> None:
        """Refuse a send while muted: Tencent's 20012 one-to-one, 10017 in groups."""
        if group and self.group_until > now:
            raise TidingsError(ErrorCode.GROUP_MUTED, "your account is muted in groups",
                               {"muted_until": self.group_until})
        if not group and self.c2c_until > now:
            raise TidingsError(ErrorCode.ACCOUNT_MUTED, "your account is muted",
                               {"muted_until": self.c2c_until})

"""The per-room rate limit of Live groups with priority shedding: over the
rate, Low goes first, then Normal; High always passes."""

from __future__ import annotations

from tidings.domain.live import Priority, RoomLimiter


def test_low_is_shed_first_then_normal_and_high_is_kept() -> None:
    room = RoomLimiter(40, now=0.0)
    low = sum(room.admit(Priority.LOW, 0.0) for _ in range(100))
    assert low == 21  # Low only while the bucket is at least half full (40 .. 20)
    normal = sum(room.admit(Priority.NORMAL, 0.0) for _ in range(100))
    assert normal == 19  # Normal takes the rest
    assert all(room.admit(Priority.HIGH, 0.0) for _ in range(100))
    assert not room.admit(Priority.NORMAL, 0.0)
    # A quarter second refills 10: Normal passes again, Low still does not.
    assert not room.admit(Priority.LOW, 0.25)
    assert sum(room.admit(Priority.NORMAL, 0.25) for _ in range(20)) == 10


def test_the_rate_is_sustained_and_the_bucket_holds_one_second() -> None:
    room = RoomLimiter(40, now=0.0)
    passed = 0
    for step in range(1, 401):  # ten seconds at 80 offered a second
        now = step / 40
        passed += room.admit(Priority.NORMAL, now) + room.admit(Priority.NORMAL, now)
    assert 400 <= passed <= 440  # 40 a second and the first second's burst
    idle = RoomLimiter(40, now=0.0)
    assert sum(idle.admit(Priority.NORMAL, 3600.0) for _ in range(100)) == 40

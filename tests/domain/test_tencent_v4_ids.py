"""The client ids made for v4 sends (domain/tencent_msgbody.py): live
sends' ids rise with their dedup slot whatever the random, are a function
of the request and its slot (a retry maps to the same id), fit the
64-character limit (a batch's with any recipient), and give back the
sender's random; the imports' form reads back as before."""

from __future__ import annotations

import pytest

from tidings.domain.tencent_msgbody import v4_client_msg_id, v4_live_id, v4_random
from tidings.services.admin_messaging import batch_client_msg_id

BODY = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]
NOW = 1_765_200_000  # seconds


@pytest.mark.parametrize("short", [False, True])
def test_live_ids_rise_with_the_slot_not_the_random(short: bool) -> None:
    made = [v4_live_id(random, "c2c:bob", NOW + n, 1, BODY, "", short=short)
            for n, random in enumerate((2**32 - 1, 0, 77, 2**31))]
    assert made == sorted(made) and len(set(made)) == 4
    # Five-minute slots lead with their first second: a group send's id
    # sorts among the sender's one-to-one ids by that second.
    group = [v4_live_id(random, "group:g", NOW // 300 + n, 300, BODY, "", short=short)
             for n, random in ((-1, 2**32 - 1), (1, 0))]
    assert group == sorted(group)
    assert made[-1] < group[1] and group[0] < made[0]


def test_a_retry_maps_to_the_same_id_and_other_content_to_another() -> None:
    one = v4_live_id(7, "c2c:bob", NOW, 1, BODY, "order-1")
    assert v4_live_id(7, "c2c:bob", NOW, 1, [dict(BODY[0])], "order-1") == one
    others = {v4_live_id(7, "c2c:carol", NOW, 1, BODY, "order-1"),
              v4_live_id(7, "c2c:bob", NOW, 1, BODY, "order-2"),
              v4_live_id(7, "c2c:bob", NOW, 1, [{"MsgType": "TIMTextElem",
                                                   "MsgContent": {"Text": "ho"}}], "order-1"),
              v4_live_id(8, "c2c:bob", NOW, 1, BODY, "order-1"),
              v4_live_id(7, "c2c:bob", NOW + 1, 1, BODY, "order-1")}
    assert one not in others and len(others) == 5


@pytest.mark.parametrize("random", [0, 1, 4242, 2**32 - 1])
def test_the_random_reads_back_from_every_form(random: int) -> None:
    live = v4_live_id(random, "c2c:bob", NOW, 1, BODY, "")
    short = v4_live_id(random, "batch", NOW, 1, BODY, "", short=True)
    assert (len(live), len(short)) == (60, 31)
    longest = "u" * 32
    per_recipient = batch_client_msg_id(short, longest)
    assert per_recipient == f"{short}:{longest}" and len(per_recipient) == 64
    imported = v4_client_msg_id(random, "c2c:bob", NOW, BODY, "")
    assert imported.startswith(f"v4~{random}~")
    for made in (live, short, per_recipient, imported):
        assert v4_random(made) == random, made


@pytest.mark.parametrize("other", [
    "0193a1b2c3d4e5f60718293a4b5c6d7e", "v4.zz93615000000007~x", "v4.6936150000000007",
    "v4.69361500000007~x", "batch~" + "0" * 48, "v4~~x", "v4~12345678901~x", ""])
def test_other_ids_have_no_random(other: str) -> None:
    assert v4_random(other) is None

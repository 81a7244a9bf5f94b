"""The conversation keys a send resolves are kept per sender (issue 19: the
parse was ~4 % of the event loop's Python per message): a kept key is the
one the parse gives, for that sender only; a refused id is refused every
time; the map stays bounded."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import ConversationKey, Identity, c2c_key, group_key
from tidings.domain.records import NewMessage
from tidings.services.messaging import sending as sending_module
from tidings.services.messaging.lanes import Lanes
from tidings.services.messaging.sending import Sending
from tidings.store.writer import MessageWriter

APP = 1400000001


class Writer:
    """Takes the requests and answers none (only the keys are looked at)."""

    def __init__(self) -> None:
        self.keys: list[ConversationKey] = []

    def submit(self, request: NewMessage) -> asyncio.Future[Any]:
        self.keys.append(request.key)
        return asyncio.get_running_loop().create_future()

    def precheck_send(self, key: ConversationKey, sender: str) -> None:
        pass


def sending() -> tuple[Sending, Writer]:
    out = Sending(10_000, Lanes(cast(Any, None), 10_000))
    writer = Writer()
    out.bind(cast(MessageWriter, writer), None, None)
    return out, writer


def send(s: Sending, user: str, conversation_id: Any, n: int) -> None:
    s.submit(Identity(APP, user), conversation_id, f"m-{user}-{n}", b"[]", "")


async def test_a_kept_key_is_the_senders_own() -> None:
    s, writer = sending()
    send(s, "alice", "c2c_carol", 1)
    send(s, "bob", "c2c_carol", 2)  # the same id, another pair
    send(s, "alice", "c2c_carol", 3)
    send(s, "carol", "c2c_alice", 4)
    send(s, "alice", "group_g1", 5)
    assert writer.keys == [c2c_key(APP, "alice", "carol"), c2c_key(APP, "bob", "carol"),
                           c2c_key(APP, "alice", "carol"), c2c_key(APP, "alice", "carol"),
                           group_key(APP, "g1")]


@pytest.mark.parametrize("conversation_id", ["c2c_alice", "c2c_", "c2c_ bob", "dm_bob",
                                             ["c2c_bob"], 7])
async def test_a_refused_id_is_refused_every_time(conversation_id: Any) -> None:
    s, writer = sending()
    for n in range(2):
        with pytest.raises(TidingsError) as refused:
            send(s, "alice", conversation_id, n)
        assert refused.value.code == ErrorCode.INVALID_CONVERSATION_ID
    assert writer.keys == []


async def test_the_kept_keys_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sending_module, "KNOWN_KEYS", 3)
    s, writer = sending()
    for n in range(10):
        send(s, "alice", f"c2c_peer{n}", n)
        assert len(s._keys) <= 3
    for n in range(10):  # again: some kept, some parsed again
        send(s, "alice", f"c2c_peer{n}", 10 + n)
    assert writer.keys == [c2c_key(APP, "alice", f"peer{n % 10}") for n in range(20)]

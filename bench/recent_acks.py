"""The memory of the recent acks (services/messaging/sending.py, 50,000 kept
for resends): each send's ``Committed`` as kept before issue 19's perf-send
against the ``RecentAck`` kept now, for one-to-one text sends of a given
size. tracemalloc counts what the kept entries allocate beyond what the
dedup keys already hold; the ``RecentAck`` side is kept by ``Sending``'s
own commit hook, so its own dedup key is counted too (~408 bytes an entry
where perf-tail2's copy of the hook counted 323).

    python bench/recent_acks.py --entries 50000 --text-bytes 100
"""

from __future__ import annotations

import argparse
import json
import tracemalloc
from collections import OrderedDict
from typing import Any, cast

import orjson

from tidings.domain.elements import MessageState
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import Committed, NewMessage, StoredMessage
from tidings.services.messaging.lanes import Lanes
from tidings.services.messaging.sending import RECENT_ACKS, Sending


def committed(i: int, client_msg_id: str, text: str) -> Committed:
    """A send as the writer answers it: the request and the stored message
    share the elements' text, as the writer's do."""
    key = ConversationKey(1400000000, ConversationKind.C2C, "alice", f"user{i}")
    elements = orjson.dumps([{"type": "text", "text": text}]).decode()
    request = NewMessage(key, "alice", client_msg_id, elements, "")
    message = StoredMessage(i, key, 1, "alice", request.client_msg_id, elements, "",
                            1_765_000_000_000 + i, MessageState.NORMAL)
    return Committed(request, message, duplicate=False)


def measure(entries: int, text_bytes: int, slim: bool) -> float:
    """Bytes per kept entry."""
    text = "x" * text_bytes
    keys = [(1400000000, "alice", f"client-{i}") for i in range(entries)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept: OrderedDict[Any, Any] = OrderedDict()
    # The slim entries as Sending keeps them: through its commit hook.
    sending = Sending(10_000, Lanes(cast(Any, None), 10_000))
    for i, dedup in enumerate(keys):
        c = committed(i, dedup[2], text)
        if slim:
            sending.on_commit([c])
        else:
            kept[dedup] = c
        del c
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=RECENT_ACKS)
    parser.add_argument("--text-bytes", type=int, default=100)
    args = parser.parse_args()
    old = measure(args.entries, args.text_bytes, slim=False)
    new = measure(args.entries, args.text_bytes, slim=True)
    print(json.dumps({"entries": args.entries, "text_bytes": args.text_bytes,
                      "committed_bytes_per_entry": round(old),
                      "recent_ack_bytes_per_entry": round(new),
                      "saved_mib": round((old - new) * args.entries / 2**20, 1)}))


if __name__ == "__main__":
    main()

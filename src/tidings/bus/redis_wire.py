"""The names and message formats of a cluster's Redis (bus/redis.py):
keys and channels under the cluster's name, several frames packed in one
Redis message, a frame's header line."""

from __future__ import annotations

import orjson


class Names:
    """The keys and channels of one cluster, all under its name
    (TIDINGS_CLUSTER_NAME): several clusters may share one Redis."""

    def __init__(self, cluster: str) -> None:
        base = f"{cluster}:"
        # Presence, heartbeats, changes, kicks: every node.
        self.all = base + "all"
        self.all_bytes = self.all.encode()
        # Hash: node -> its last heartbeat (unix seconds).
        self.nodes = base + "nodes"
        self.node_prefix = base + "node:"
        # String per rate-limit key (bus/redis_counters.py): its hits.
        self.rate_prefix = base + "rate:"
        self._base = base

    def presence(self, node: str) -> str:
        """Hash of a node: "sdkappid:user_id" -> its devices there."""
        return f"{self._base}presence:{node}"

    def rooms(self, node: str) -> str:
        """Hash of a node: room -> its members there."""
        return f"{self._base}rooms:{node}"

    def channel(self, node: str) -> str:
        """Frames for a node's devices (several in one message: ``pack``)."""
        return self.node_prefix + node


def set_count(counts: dict[str, dict[str, int]], key: str, node: str, count: int) -> None:
    """``key`` has ``count`` on ``node`` (0: none, forgotten)."""
    if count > 0:
        counts.setdefault(key, {})[node] = count
    elif key in counts:
        counts[key].pop(node, None)
        if not counts[key]:
            del counts[key]


def pack(records: list[bytes]) -> bytes:
    """Several records in one Redis message: each its length (4 bytes,
    big-endian), then itself."""
    return b"".join(len(r).to_bytes(4, "big") + r for r in records)


def unpack(data: bytes) -> list[bytes]:
    records, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        records.append(data[at + 4:at + 4 + size])
        at += 4 + size
    return records


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def frame_message(sdkappid: int, users: list[str], frame: bytes, conversation_id: int | None,
                   seq: int) -> bytes:
    """A header line (app, users, conversation, seq), then the encoded frame
    as it is (frames are single-line JSON)."""
    return orjson.dumps([sdkappid, users, conversation_id, seq]) + b"\n" + frame

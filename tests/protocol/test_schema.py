"""The protocol's JSON Schema: complete, stable, and in step with the docs'
lists of ops and events (the TypeScript SDK's types come from it)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import orjson
from pydantic import TypeAdapter

from tidings.domain.clock import now_ms
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import Committed, NewMessage, StoredMessage
from tidings.protocol.events import EVENTS, EventName
from tidings.protocol.ops import OPS
from tidings.protocol.schema import protocol_schema
from tidings.protocol.views import MessageView, ack_view, message_view

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _table(heading: str) -> list[str]:
    """The backticked names in the first column of the first table under a
    level-2 heading."""
    lines = DOCS.read_text().splitlines()
    at = lines.index(f"## {heading}") + 1
    while not lines[at].startswith("|"):
        at += 1
    table = []
    while at < len(lines) and lines[at].startswith("|"):
        table.append(lines[at])
        at += 1
    return [m.group(1) for row in table if (m := re.match(r"\| `([a-z_]+)` \|", row))]


def test_the_docs_list_every_op_of_the_schema_and_no_other() -> None:
    documented = _table("Ops")
    assert len(documented) == len(set(documented)), "an op is listed twice"
    assert set(documented) == set(protocol_schema()["ops"])


def test_the_docs_list_every_event_of_the_schema_and_no_other() -> None:
    documented = _table("Events")
    assert len(documented) == len(set(documented)), "an event is listed twice"
    assert set(documented) == set(protocol_schema()["events"])


def test_event_names_are_one_list() -> None:
    """event_frame's names are a Literal (mypy checks each call); it and
    EVENTS must name the same events."""
    assert set(EventName.__args__) == set(EVENTS)  # type: ignore[attr-defined]


def test_every_reference_resolves() -> None:
    schema = protocol_schema()
    refs = set(re.findall(r'"\$ref": "#/\$defs/([^"]+)"', json.dumps(schema)))
    assert refs, "no references at all: the schema is empty"
    assert refs <= set(schema["$defs"])
    assert set(schema["ops"]) == set(OPS)


def test_a_message_as_sent_on_the_wire_matches_its_schema() -> None:
    """The view a client receives, encoded as the server encodes it and read
    back, validates against the declared MessageView."""
    key = ConversationKey(1400000001, ConversationKind.C2C, "alice", "bob")
    stored = StoredMessage(7, key, 3, "alice", "c-1", '[{"type":"text","text":"hi"}]', "",
                           now_ms(), 0)
    wire = orjson.loads(orjson.dumps(message_view(stored, "bob")))
    assert wire["conversation_id"] == "c2c_alice" and wire["elements"][0]["text"] == "hi"
    schema = protocol_schema()
    view_schema = schema["$defs"]["MessageView"]
    assert set(wire) <= set(view_schema["properties"])
    assert set(view_schema["required"]) <= set(wire)
    ack = orjson.loads(orjson.dumps(ack_view(Committed(
        NewMessage(key, "alice", "c-1", "[]", ""), stored, duplicate=False))))
    assert set(ack) == set(schema["$defs"]["MessageAck"]["properties"])
    # The raw elements validate as the element list they claim to be.
    TypeAdapter(MessageView).json_schema()


def test_the_command_writes_the_same_bytes_every_time(tmp_path: Path) -> None:
    out = tmp_path / "protocol.json"
    for _ in range(2):
        subprocess.run([sys.executable, "-m", "tidings", "protocol", "schema", "--out",
                        str(out)], check=True, capture_output=True, timeout=60)
    first = out.read_bytes()
    printed = subprocess.run([sys.executable, "-m", "tidings", "protocol", "schema"],
                             check=True, capture_output=True, timeout=60).stdout
    assert printed == first
    assert orjson.loads(first) == orjson.loads(orjson.dumps(protocol_schema()))


def test_the_gateway_serves_exactly_the_protocols_ops_with_their_models() -> None:
    """Every op a connection answers is in protocol.ops.OPS, validated with
    the model declared there, and every declared op is answered."""
    from unittest.mock import MagicMock

    from tidings.config import Settings
    from tidings.gateway.session import Session

    session = Session(MagicMock(settings=Settings()), MagicMock())
    handlers = session.all_handlers()
    assert set(handlers) == set(OPS)
    wrong = {name: getattr(h, "model", None) for name, h in handlers.items()
             if getattr(h, "model", None) is not OPS[name]}
    assert not wrong, wrong

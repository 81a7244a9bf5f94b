"""A small XMPP client (RFC 6120/6121 c2s) on asyncio for bench/xmpp_compare.py.

One TCP connection on loopback: stream header, no STARTTLS (both servers are
configured without it on 127.0.0.1), SASL PLAIN, stream restart, resource
bind, roster get and initial presence (the XMPP side of Tidings' ``login`` and
first ``sync``), then XEP-0198 stream management: every ``<message/>`` is
followed by ``<r/>`` and the server's ``<a h='n'/>`` (the count of stanzas it
has handled from us) is the sender's ack. XEP-0184 receipts would come from the
peer, not the server, and XEP-0359 stanza ids need an archive; stream
management is the one ack both servers give for a stanza they took.

The parser is expat (C) fed with each read; the stream is flat enough that a
stanza is its depth-2 element, its depth-3 children's names and the text of a
``<body/>``. A bench subclasses ``Conn`` and overrides ``on_message`` and
``on_ack``: no coroutine per stanza on the hot path.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from xml.parsers import expat

DOMAIN = "bench.local"
PASSWORD = "bench-password"
HEADER = (b"<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
          b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>" % DOMAIN.encode())
SM = "urn:xmpp:sm:3"
C = TypeVar("C", bound="Conn")
OUTCOMES = {"success": "sasl", "failure": "sasl", "enabled": "sm", "failed": "sm"}


@dataclass
class Stanza:
    name: str
    attrs: dict[str, str]
    children: list[str] = field(default_factory=list)
    body: str | None = None


class Refused(Exception):
    """The server answered a step of the login with an error."""


class Conn(asyncio.Protocol):
    """One c2s connection. ``handled`` counts the stanzas taken after
    stream management was enabled (what our ``<a h/>`` reports back)."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.jid = f"{user}@{DOMAIN}/r"
        self.transport: asyncio.Transport | None = None
        self.waiters: dict[str, asyncio.Future[Stanza]] = {}
        self.sm_on = False
        self.handled = 0
        self.closed = asyncio.get_running_loop().create_future()
        self.parser = self.new_parser()
        self.depth = 0
        self.stanza: Stanza | None = None
        self.in_body = False
        self.next_id = 0

    # -- parsing ------------------------------------------------------------------

    def new_parser(self) -> Any:
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.text
        self.depth = 0
        return parser

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth == 2:
            self.stanza = Stanza(name, attrs)
        elif self.depth == 3 and self.stanza is not None:
            self.stanza.children.append(name)
            self.in_body = name == "body"

    def text(self, data: str) -> None:
        if self.in_body and self.stanza is not None:
            self.stanza.body = (self.stanza.body or "") + data

    def end(self, name: str) -> None:
        self.depth -= 1
        self.in_body = False
        if self.depth == 1 and self.stanza is not None:
            stanza, self.stanza = self.stanza, None
            self.on_stanza(stanza)
        elif self.depth == 0:  # </stream:stream>
            self.close()

    def on_stanza(self, s: Stanza) -> None:
        name = s.name
        if name == "message":
            self.handled += self.sm_on
            self.on_message(s)
        elif name == "a":
            self.on_ack(int(s.attrs["h"]))
        elif name == "r":
            self.send(b"<a xmlns='%s' h='%d'/>" % (SM.encode(), self.handled))
        elif name in ("iq", "presence"):
            self.handled += self.sm_on
            self.resolve(s.attrs.get("id", ""), s)
        else:  # stream:features, success/failure (SASL), enabled/failed (SM)
            self.sm_on = self.sm_on or name == "enabled"  # count from here on
            self.resolve(OUTCOMES.get(name, name), s)

    def resolve(self, key: str, s: Stanza) -> None:
        future = self.waiters.pop(key, None)
        if future is not None and not future.done():
            future.set_result(s)

    # -- hooks ----------------------------------------------------------------------

    def on_message(self, s: Stanza) -> None:
        """A ``<message/>`` from the server."""

    def on_ack(self, h: int) -> None:
        """The server has handled ``h`` of our stanzas since ``<enable/>``."""

    # -- asyncio --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.Parse(data, False)
        except expat.ExpatError as exc:
            self.fail(ConnectionError(f"{self.user}: bad XML: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(ConnectionError(f"{self.user}: connection lost"))

    def fail(self, exc: Exception) -> None:
        for future in self.waiters.values():
            if not future.done():
                future.set_exception(exc)
        self.waiters.clear()
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            with contextlib.suppress(RuntimeError):
                self.transport.write(b"</stream:stream>")
            self.transport.close()

    # -- login ----------------------------------------------------------------------

    async def expect(self, key: str, data: bytes, within: float = 30) -> Stanza:
        future: asyncio.Future[Stanza] = asyncio.get_running_loop().create_future()
        self.waiters[key] = future
        self.send(data)
        return await asyncio.wait_for(future, within)

    async def iq(self, kind: str, payload: str) -> Stanza:
        self.next_id += 1
        key = f"q{self.next_id}"
        reply = await self.expect(key, f"<iq type='{kind}' id='{key}'>{payload}</iq>".encode())
        if reply.attrs.get("type") != "result":
            raise Refused(f"{self.user}: iq {payload[:60]} -> {reply.children}")
        return reply

    async def restart(self) -> Stanza:
        self.parser = self.new_parser()
        return await self.expect("stream:features", HEADER)

    async def register(self, contact: str = "") -> None:
        """In-band registration (XEP-0077), before authenticating; ``contact``
        is then put in the roster (a user with one conversation, as
        bench/login_storm.py seeds)."""
        await self.restart()
        await self.iq("set", f"<query xmlns='jabber:iq:register'><username>{self.user}"
                             f"</username><password>{PASSWORD}</password></query>")
        if contact:
            await self.login(presence=False, first=False)
            await self.iq("set", f"<query xmlns='jabber:iq:roster'><item jid='{contact}@"
                                 f"{DOMAIN}'/></query>")

    async def login(self, presence: bool = True, stream_management: bool = False,
                    first: bool = True) -> None:
        """SASL PLAIN, bind, roster get, initial presence; then, if asked,
        stream management (after which stanzas are counted both ways)."""
        if first:
            await self.restart()
        token = base64.b64encode(f"\0{self.user}\0{PASSWORD}".encode())
        mechanism = b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
        outcome = await self.expect("sasl", mechanism + token + b"</auth>")
        if outcome.name != "success":
            raise Refused(f"{self.user}: SASL {outcome.children}")
        await self.restart()
        await self.iq("set", "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                             "<resource>r</resource></bind>")
        if not presence:
            return
        await self.iq("get", "<query xmlns='jabber:iq:roster'/>")
        self.send(b"<presence/>")
        if stream_management:
            enabled = await self.expect("sm", b"<enable xmlns='urn:xmpp:sm:3'/>")
            if enabled.name != "enabled":
                raise Refused(f"{self.user}: stream management refused")


async def open_conn(port: int, factory: Callable[[], C]) -> C:
    """A connected ``Conn`` (from ``factory()``), stream not yet opened."""
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(factory, "127.0.0.1", port)
    return conn

"""What an op handler may use of the connection it serves: the
``OpContext``. ``gateway/session.py``'s ``Session`` is the one implementation;
the op modules are typed against this interface and never import it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tidings.bus.local import Subscriber
from tidings.domain.ids import Identity

if TYPE_CHECKING:
    from tidings.runtime import Runtime
    from tidings.services.messaging import SendContext


class OpContext(Subscriber, Protocol):
    """One logged-in connection, as its op handlers see it.

    It is a ``Subscriber`` (a delivery target): services take it as ``skip=``
    so that the acting device is not told of its own change, and as the
    connection that joins a Live room or reports its app state."""

    @property
    def runtime(self) -> Runtime: ...

    def me(self) -> Identity:
        """The logged-in identity (handlers run only after login)."""
        ...

    # The same, read without a call (the send's hot path: issue 19); None
    # only before login, when no handler but login's runs.
    identity: Identity | None

    def reply(self, frame: bytes) -> None:
        """Queue a frame for this connection, whatever the delivery mode."""
        ...

    @property
    def platform(self) -> str:
        """The device's platform, as given at login ("" if none)."""
        ...

    @property
    def device_id(self) -> str:
        """The device's id, as given at login ("" if none)."""
        ...

    @property
    def client_ip(self) -> str: ...

    @property
    def send_context(self) -> SendContext:
        """Where this connection's sends come from, for the app's callbacks."""
        ...

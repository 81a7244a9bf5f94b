"""What a send carries besides the message itself: where it came from
(``SendContext``, for the app's callbacks) and where its ack goes
(``AckTarget``). Edges build these; every part of messaging reads them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tidings.bus.local import Subscriber
from tidings.domain.records import Committed


class AckTarget(Protocol):
    """Where the sender's ack goes; called once per send, in delivery order."""

    # The sending device: it gets the ack in place of the message frame.
    @property
    def device(self) -> Subscriber | None: ...

    def ack(self, committed: Committed) -> None: ...

    def refused(self, error: BaseException) -> None:
        """A send or a change handed on failed after all (its future's
        exception: the writer's, the before-send lane's, a resend's first
        copy's): answer it. The writer's refusal hook (Sending's
        ``on_refusal``), the lanes and a resend's follower call this, so
        neither the edge nor the service puts a callback on the future
        (issue 19); never after ``ack``."""
        ...


@dataclass(frozen=True, slots=True)
class SendContext:
    """Where a send came from, for the app's callbacks: the device platform
    and the client's address; ``forbid`` names callbacks not to run for it
    (admin sends: ``before_send``, ``after_send``)."""

    platform: str = ""
    client_ip: str = ""
    forbid: frozenset[str] = frozenset()
    # The app's admin sends into a group it is not a member of (Tencent's
    # send_group_msg without From_Account): no membership or mute check.
    privileged: bool = False


NO_CONTEXT = SendContext()
IMPORT_CONTEXT = SendContext("RESTAPI", "", frozenset({"before_send", "after_send"}))

"""The asyncio client: one WebSocket to ``/v1/ws``, kept alive across drops.

The protocol (docs/protocol.md) in the order the client walks it:

1. ``login`` with the UserSig; the answer gives the heartbeat settings.
2. ``sync`` with ``known`` = {conversation id: last contiguous seq held};
   the answer holds what was missed, in seq order per conversation, and
   ``more`` (ask again with the updated map). Nothing live arrives before it.
3. Live ``message``, ``change`` and ``read`` events; ``ping`` events are
   answered with a ``pong``. Hearing nothing at all for ``heartbeat_timeout``
   means the connection is dead.

A recall or an edit is an entry of the conversation's seq stream (a
:class:`Change`), so a device that was away gets it in the sync answer, in
order with the messages around it: :meth:`Client.entries` yields both, and
``on_change`` is called for each change as it arrives.

When the connection drops the client reconnects with exponential backoff and
jitter and starts again at 1 with the seqs it holds, so :meth:`Client.messages`
yields every message once, in seq order per conversation, with no gap. A
request in flight is sent again on the next connection; a send keeps its
``client_msg_id``, so the server stores it once and answers the first ack.
"""

from __future__ import annotations

from tidings.sdk.conversations import ConversationMethods
from tidings.sdk.groups import GroupMethods
from tidings.sdk.links import LinkMethods
from tidings.sdk.media import MediaMethods
from tidings.sdk.messages import MessageMethods
from tidings.sdk.people import PeopleMethods
from tidings.sdk.push import PushMethods
from tidings.sdk.session import (
    FATAL_LOGIN_CODES,
    RETRYABLE_CODES,
    ChangeCallback,
    ClientClosed,
    NoticeCallback,
    ReadCallback,
    UserSigSource,
)

__all__ = [
    "FATAL_LOGIN_CODES",
    "RETRYABLE_CODES",
    "ChangeCallback",
    "Client",
    "ClientClosed",
    "NoticeCallback",
    "ReadCallback",
    "UserSigSource",
]


class Client(MessageMethods, ConversationMethods, PeopleMethods, GroupMethods, PushMethods,
             LinkMethods, MediaMethods):
    """A Tidings user's connection. Use as ``async with Client(...) as c:``.

    ``url`` is the server's WebSocket URL (``ws://host:port/v1/ws``), or
    several: the processes of a cluster (docs/cluster.md), tried in the
    order given, the next one after a failed or dropped connection, so a
    client whose process dies reconnects to another and resyncs there.
    ``usersig`` is a ticket or a function (sync or async) that makes a fresh
    one for each connection. ``known`` resumes from a map saved from
    :attr:`known`; without it the first sync brings the newest messages of
    each conversation (older ones through :meth:`history`). ``gap_wait``
    (seconds, 0.5; 0: at once) is how long a live entry that came past a gap
    is held, waiting for the missing one, before a resync: in a cluster two
    processes' entries of one conversation may cross on their way.

    The connection loop and the resync are in :mod:`tidings.sdk.session`;
    the op methods, one module per feature, are mixed in here.
    """

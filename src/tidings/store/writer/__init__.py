"""Group commit: every message that arrives while one transaction commits goes
into the next one, and nobody is acked before the commit that holds them.

The writer is the only code that assigns ``seq``. It keeps each conversation's
last ``seq`` in memory once read, so a batch costs a handful of statements
whatever its size. On PostgreSQL, where several processes may each run a
writer (docs/cluster.md), a batch locks its conversations' rows and takes
their counters from the database: the database decides, and a batch that
meets another process's commit (the same send, the same new conversation)
is tried again and sees it.

A recall or an edit is an entry of the seq stream too (``NewChange``): in the
transaction that changes the target row the writer gives the change the
conversation's next seq, so catch-up by seq carries changes like messages.

- core.py: the queue and the commit loop (``MessageWriter``), a batch's order,
  and its hooks: the commit's (acks, delivery) and the refusal's;
- conflicts.py: why a batch failed (another process's commit, a resend);
- conversations.py: the conversations in memory (the seq cache, groups);
- messages.py: message rows and the lookup of sends stored before (dedup);
- changes.py: recall and edit;
- group_ops.py: group operations and their system entries;
- pg_batch.py: PostgreSQL: a batch's rows in one statement, and a batch of
  sends written from memory in that one statement, which checks the seqs;
- rows.py: ``TransactionRows``, through which each feature adds its rows to
  an entry's transaction (search text, media refs, mentions, the callbacks
  outbox, push jobs: each beside its own store module, registered by the
  composition root), so the writer knows none of them; and ``LaterWork``,
  what a feature does after the commits (SQLite's FTS5 index).
"""

from tidings.store.writer.core import MessageWriter, RefusalHook, WriterStopped
from tidings.store.writer.rows import GroupChange, TransactionRows

__all__ = ["GroupChange", "MessageWriter", "RefusalHook", "TransactionRows", "WriterStopped"]

"""PostgreSQL: a batch's writes in one statement, and a batch in one round trip.

A lone batch made nine round trips (``log_statement=all`` on
bench/writer_alone.py): BEGIN, the dedup, the conversations' lock, one
``executemany`` for each kind of row (the messages, their search text, push
jobs, the conversations' counters, the senders' read cursors) and COMMIT.

**The rows in one statement.** ``Tail`` stands for the batch's cursor while
the rows are written and sends them as one statement of data-modifying
CTEs, each over ``unnest`` of one array per parameter::

    WITH w0 AS (INSERT INTO messages (...) SELECT u._1, ... FROM unnest($1::int8[], ...)
                AS u(_1, ...)),
         w1 AS (UPDATE conversations SET last_seq = u._1 ... FROM unnest(...) AS u(...)
                WHERE id = u._5)
    SELECT 0

What one statement changes against several in order, and when a write is
therefore sent on its own (in its place, so order is kept): the
sub-statements share one snapshot and none sees another's rows, so a table
written twice starts a new statement (foreign keys are checked at the
statement's end, so a row and one referring to it may share one); an
``UPDATE`` meets each target row once, so one whose ``WHERE`` parameters
repeat across rows goes on its own; only the plain forms are rewritten
(``INSERT INTO t (...) VALUES (...)``, optionally ``ON CONFLICT DO
NOTHING`` or ``ON CONFLICT (...) DO UPDATE SET`` without a parameter, and
``UPDATE t SET ... WHERE ...`` without a subquery).

**The batch in one statement** (``seq_gate``, short_way.py): when a batch holds only
sends to conversations the writer has in memory, it skips the dedup and the
lock: the seqs come from memory, and the statement's first part locks the
conversations (in id order) whose ``last_seq`` is still what memory says;
if one is missing it calls ``tidings_seq_moved()`` (migration 0022), which
fails the statement before any row is written, with SQLSTATE 40001. A send
stored before (a resend) fails it on the client id's unique key (23505).
Either way the writer tries again the long way (``MessageWriter._commit``),
with the conversations' counters in memory put back as they were before
the short way advanced them (``Gate.restore``): the long way locks each
conversation it writes and takes its counters from the database, and
one it does not write in (only resent to) keeps what memory held, which
the next short way checks again. So nothing is read again for a resend
(a group's state and members were, when the batch's conversations were
forgotten); when a group refused a send from memory (``SeqMoved`` before
the statement) they still are, for the group to judge it as committed.
One statement needs no transaction of its own: it runs outside one
(``synchronous_commit`` stays on: it returns after its commit is flushed),
one round trip for the batch. When the rows need more than one statement
they run in a transaction, the gate first.

A column whose values and type repeat an earlier one's (a message's text
and push job repeat its conversation, seq, app, sender and time) is sent
once and read by each CTE from the same parameter, and a column of one
value in every row (the app, the commit's time, a default) as that value,
which the statement repeats (``array_fill``) to its write's row count
(both from 16 rows, ``_MANY``):
asyncpg encodes every element of every array, a tenth of the server's CPU
per message at saturation (py-spy, bench/pg_saturation.py --profile); the
two cut the writer's CPU per message by a fifth at 256 per batch
(bench/journal/perf-pgsat.md).

The parameters' types come from the server (each source statement
prepared once per process); a combined statement is prepared once per shape
by the driver's statement cache like any other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.util import await_only

# An upsert's ``DO UPDATE`` may take no parameter (its values are
# ``excluded``'s): each row's key must be one the write holds once (an
# ``INSERT ... ON CONFLICT DO UPDATE`` meets a row once), as the app's
# message counts are (MessageRows._write_counts).
_INSERT = re.compile(
    r"^INSERT INTO (\w+) (\([^()]*\)) VALUES \(([^()]*)\)"
    r"( ON CONFLICT (?:DO NOTHING|\([\w, ]+\) DO UPDATE SET [^$()]*))?$", re.S)
_UPDATE = re.compile(r"^UPDATE (\w+) SET ((?:(?! WHERE ).)*) WHERE (.*)$", re.S)
_PARAM = re.compile(r"\$(\d+)")
_GATE = ("g AS (SELECT c.id FROM conversations c JOIN unnest($1::int8[], $2::int8[])"
         " AS e(id, seq) ON c.id = e.id AND c.last_seq = e.seq ORDER BY c.id FOR UPDATE OF c)")
_GATE_CHECK = ("SELECT CASE WHEN (SELECT count(*) FROM g) = $3 THEN 0"
               " ELSE tidings_seq_moved() END")

# (table, the CTE's text (see ``_shape``), the parameters' types, the
# WHERE's parameter positions)
_Plan = tuple[str, str, tuple[str, ...], tuple[int, ...]]
# Source SQL -> its plan, or None: sent as it came.
_plans: dict[str, _Plan | None] = {}
# Rows from which a write's columns are compared (``_same_columns``, one
# value): a few rows gain little, and their chance equalities (two seqs, a
# lone sender) would make a statement shape each, prepared again each time
# the driver's statement cache lets one go.
_MANY = 16
# Combined statements by their parts' source SQL (and whether gated, which
# columns repeat another (``_same_columns``) and which hold one value).
_combined: dict[tuple[bool, tuple[str, ...], tuple[int, ...], tuple[bool, ...]], str] = {}


def _columns(sql: str) -> str:
    """``$n`` as the unnest's column ``u._n``."""
    return _PARAM.sub(r"u._\1", sql)


def _shape(sql: str) -> tuple[str, str, tuple[int, ...]] | None:
    """(table, the statement with ``$n`` as ``u._n`` and ``<args>`` and
    ``<names>`` slots for the ``unnest``, the WHERE's parameters) for a form
    ``Tail`` may combine; None for others."""
    if "SELECT" in sql.upper() or "RETURNING" in sql.upper():
        return None
    if m := _INSERT.match(sql):
        table, columns, values, conflict = m.groups()
        body = (f"INSERT INTO {table} {columns} SELECT {_columns(values)}"
                " FROM unnest(<args>) AS u(<names>)" + (conflict or ""))
        return table, body, ()
    if m := _UPDATE.match(sql):
        table, sets, where = m.groups()
        if " FROM " in sets.upper() or " FROM " in where.upper():
            return None
        body = (f"UPDATE {table} SET {_columns(sets)} FROM unnest(<args>) AS u(<names>)"
                f" WHERE {_columns(where)}")
        return table, body, tuple(int(n) for n in _PARAM.findall(where))
    return None


def _driver(conn: Connection) -> Any:
    return conn.connection.driver_connection


def _plan(conn: Connection, sql: str) -> _Plan | None:
    if sql in _plans:
        return _plans[sql]
    shape = _shape(sql)
    plan: _Plan | None = None
    if shape is not None:
        table, body, where = shape
        stmt = await_only(_driver(conn).prepare(sql))
        types = tuple(f'"{t.schema}"."{t.name}"' for t in stmt.get_parameters())
        count = len(types)
        if count and {int(n) for n in _PARAM.findall(sql)} == set(range(1, count + 1)):
            plan = (table, body, types, where)
    _plans[sql] = plan
    return plan


# One write collected: its SQL, its plan (None: sent as it came), its rows.
_Write = tuple[str, _Plan | None, Sequence[tuple[Any, ...]]]


class Tail:
    """Stands for the batch's DBAPI cursor while the batch's rows are
    written (``executemany`` only). Without a gate each statement is sent
    when the next cannot join it, the last by ``send``; with one
    (``seq_gate``), everything by ``send``."""

    def __init__(self, conn: Connection, cursor: DBAPICursor,
                 gate: Mapping[int, int] | None = None) -> None:
        self._conn = conn
        self._cursor = cursor
        self._gate = gate
        # The statements to send: each a list of writes.
        self._statements: list[list[_Write]] = []
        self._tables: set[str] = set()

    def executemany(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        plan = _plan(self._conn, sql)
        if plan is not None and plan[3] and len(rows) > 1:
            where = [tuple(row[i - 1] for i in plan[3]) for row in rows]
            if len(set(where)) != len(where):
                plan = None  # a target row updated twice: each in turn
        if plan is None:
            self._statements.append([(sql, None, rows)])
            self._tables = set()
            self._statements.append([])
        else:
            if plan[0] in self._tables or not self._statements:
                self._statements.append([])
                self._tables = set()
            self._tables.add(plan[0])
            self._statements[-1].append((sql, plan, rows))
        if self._gate is None and len(self._statements) > 1:
            for statement in self._statements[:-1]:
                if statement:
                    self._run(statement, None)
            del self._statements[:-1]

    def send(self) -> None:
        """Write what was collected."""
        statements = [s for s in self._statements if s]
        self._statements = []
        self._tables = set()
        gate = self._gate
        if gate is not None and statements and len(statements) == 1 and (
                statements[0][0][1] is not None) and not _in_transaction(self._conn):
            sql, params = self._combined(statements[0], gate)
            await_only(_driver(self._conn).fetchval(sql, *params))
            return
        for i, statement in enumerate(statements):
            self._run(statement, gate if i == 0 else None)

    def _run(self, statement: list[_Write], gate: Mapping[int, int] | None) -> None:
        sql, plan, rows = statement[0]
        if plan is None or (gate is None and len(statement) == 1 and len(rows) == 1):
            if gate is not None:
                self._cursor.execute(*self._combined([], gate))
            if len(rows) == 1:
                self._cursor.execute(sql, rows[0])  # no arrays to build
            else:
                self._cursor.executemany(sql, rows)
            return
        self._cursor.execute(*self._combined(statement, gate))

    def _combined(self, statement: list[_Write], gate: Mapping[int, int] | None
                  ) -> tuple[str, tuple[Any, ...]]:
        writes = [(plan, rows) for _, plan, rows in statement if plan is not None]
        # Each column as the tuple zip makes (the driver takes any sequence
        # for an array): copying each into a list cost a third more.
        columns = [column for _, rows in writes for column in zip(*rows, strict=True)]
        same = _same_columns(columns, [t for plan, _ in writes for t in plan[2]])
        # A column of one value in every row (an app, a commit's time, a
        # default) goes as that value, repeated by the statement. Its ends
        # first: most columns differ there, and counting every element of
        # each cost more than the rest of this (bench/journal/perf-pgsat2.md).
        one = tuple(len(c) >= _MANY and c[0] == c[-1] and c.count(c[0]) == len(c)
                    for c in columns)
        key = (gate is not None, tuple(sql for sql, _, _ in statement), same, one)
        combined = _combined.get(key)
        if combined is None:
            combined = _combine([plan for plan, _ in writes], gate is not None, same, one)
            if len(_combined) < 256:
                _combined[key] = combined
        params: list[Any] = []
        if gate is not None:
            params += [list(gate), list(gate.values()), len(gate)]
        column = 0
        for plan, rows in writes:  # in _combine's order
            width = len(plan[2])
            if any(one[column:column + width]):
                params.append(len(rows))
            params += [columns[i][0] if one[i] else columns[i]
                       for i in range(column, column + width) if same[i] == i]
            column += width
        return combined, tuple(params)


def _same_columns(columns: Sequence[Sequence[Any]], types: Sequence[str]
                  ) -> tuple[int, ...]:
    """For each column, the first column of the same type and values (itself
    if none): a message's text and push job repeat its conversation, seq,
    app, sender and time, sent once instead of three times (asyncpg encodes
    every element of every array: about a third of a batch's parameters)."""
    same: list[int] = []
    for i, column in enumerate(columns):
        same.append(next((j for j in range(i) if same[j] == j and types[j] == types[i]
                          and columns[j] == column), i) if len(column) >= _MANY else i)
    return tuple(same)


def _in_transaction(conn: Connection) -> bool:
    """Whether the driver's connection has begun a transaction (the dialect
    begins one at a batch's first statement); if it cannot tell, yes."""
    return getattr(conn.connection.dbapi_connection, "_transaction", True) is not None


def _combine(plans: list[_Plan], gated: bool, same: Sequence[int], one: Sequence[bool]) -> str:
    """The statement of ``plans``' CTEs; column ``i`` of the writes in turn
    is read from the parameter of column ``same[i]`` (see ``_same_columns``),
    one value repeated to its write's row count (a parameter before the
    write's own) when ``one[i]``."""
    ctes = [_GATE] if gated else []
    first = 4 if gated else 1
    number: list[int] = []  # each column's parameter
    for i, (_, body, types, _) in enumerate(plans):
        column = len(number)
        count = first if any(one[column:column + len(types)]) else 0
        first += count > 0
        args: list[str] = []
        for k, t in enumerate(types, column):
            number.append(first if same[k] == k else number[same[k]])
            first += same[k] == k
            args.append(f"array_fill(${number[k]}::{t}, ARRAY[${count}::int4])" if one[k]
                        else f"${number[k]}::{t}[]")
        names = ", ".join(f"_{j + 1}" for j in range(len(types)))
        cte = body.replace("<args>", ", ".join(args)).replace("<names>", names)
        ctes.append(f"w{i} AS ({cte})")
    return "WITH " + ", ".join(ctes) + " " + (_GATE_CHECK if gated else "SELECT 0")

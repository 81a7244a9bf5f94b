"""Message search rules: what text of a message is searchable, how a query
is read, what a match is, and the paging cursor. No I/O here.

Matching is the same on SQLite and PostgreSQL: the query is split on
whitespace into terms, and a message matches when its searchable text
contains every term as a substring, ignoring case. Both the stored text and
the terms are lowered here, in Python, so neither database's collation
decides what "ignoring case" means. Substrings rather than words because
Chinese and Japanese are written without spaces between words: a word in
the middle of a sentence must be found.

Terms of three characters or more are looked up in a trigram index (FTS5's
trigram tokenizer, PostgreSQL's pg_trgm): it gives the rows holding all of a
term's trigrams, and LIKE keeps those holding the term. Shorter terms cannot
be looked up, so they only filter what the other terms found, or, when the
query has no longer term, what the searcher's own conversations hold (a
bounded scan).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import Field

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.requests import Payload

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
# The shortest term a trigram index can find.
INDEXED_TERM = 3
# Characters of context either side of the first match in a snippet.
SNIPPET_CONTEXT = 30


def searchable_text(elements_json: str) -> str:
    """The text of a message that search finds, lowered: text elements,
    file names, location descriptions and custom elements' ``desc``, one a
    line. A reply's quote is not included (it is the quoted message's text,
    found there), nor opaque app data (``data``, ``ext``, cloud custom data)
    or URLs."""
    return _joined(elements_json).lower()


def _joined(elements_json: str) -> str:
    try:
        elements = orjson.loads(elements_json)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(elements, list):
        return ""
    parts: list[str] = []
    for element in elements:
        if not isinstance(element, dict):
            continue
        kind = element.get("type")
        value: Any = None
        if kind == "text":
            value = element.get("text")
        elif kind == "file":
            value = element.get("name")
        elif kind in ("location", "custom"):
            value = element.get("desc")
        if isinstance(value, str) and value:
            parts.append(value)
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed query: its terms, lowered, longest first."""

    terms: tuple[str, ...]

    @property
    def indexed(self) -> tuple[str, ...]:
        """The terms a trigram index can look up."""
        return tuple(t for t in self.terms if len(t) >= INDEXED_TERM)

    @property
    def short(self) -> tuple[str, ...]:
        return tuple(t for t in self.terms if len(t) < INDEXED_TERM)


def matches(text: str, query: SearchQuery) -> bool:
    """Whether a searchable text (lowered) holds every term: the match the
    indexes and LIKE make, for the rows SQLite has not built yet."""
    return all(term in text for term in query.terms)


def parse_query(text: object) -> SearchQuery:
    """Read the user's query. Any string is safe: it only ever becomes
    quoted FTS5 strings or escaped LIKE patterns. Control characters are
    dropped (PostgreSQL text cannot hold NUL). An empty or oversize query is
    10002."""
    if not isinstance(text, str):
        raise TidingsError(ErrorCode.INVALID_REQUEST, "q must be a string")
    if len(text) > MAX_QUERY_CHARS:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           f"q is at most {MAX_QUERY_CHARS} characters")
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text)
    terms = list(dict.fromkeys(t for t in cleaned.lower().split() if t))
    if not terms:
        raise TidingsError(ErrorCode.INVALID_REQUEST, "q must contain something to search for")
    if len(terms) > MAX_TERMS:
        raise TidingsError(ErrorCode.INVALID_REQUEST, f"q has at most {MAX_TERMS} words")
    terms.sort(key=len, reverse=True)
    return SearchQuery(tuple(terms))


def trigrams(term: str) -> list[str]:
    """The term's distinct trigrams (three characters, as FTS5's trigram
    tokenizer cuts them: Unicode code points, case kept), in order."""
    return list(dict.fromkeys(term[i:i + 3] for i in range(len(term) - 2)))


def covering_trigrams(term: str) -> list[str]:
    """Trigrams of the term that hold each of its characters once at least:
    those at 0, 3, 6, ... and the last (``deadline``: ``dea dli ine``, of
    its six). Fewer lists for FTS5 to intersect, about as few candidates:
    on bench/search.py's 250k texts the same rows, and the FTS5 part of a
    search 1.3-2.1x faster than with all of them (bench/journal/perf-fts7.md)."""
    last = len(term) - 3
    if last < 0:
        return []
    return list(dict.fromkeys([term[i:i + 3] for i in range(0, last, 3)] + [term[last:]]))


def fts5_match(terms: tuple[str, ...]) -> str:
    """An FTS5 MATCH expression for terms of three characters or more:
    covering trigrams of every term, each a quoted string (the only
    character special inside one is the quote, doubled), implicitly ANDed.
    Not a phrase: SQLite's index keeps no positions (``detail=none``,
    migration 0034), and FTS5 refuses a phrase there ("phrase queries are
    not supported"); so a row that holds a term's trigrams apart
    (``abcxbcd`` for ``abcd``) is a candidate too, and the search's LIKE
    of every term (store/search.py) keeps only the rows that hold the term
    itself."""
    grams = dict.fromkeys(g for t in terms for g in covering_trigrams(t))
    return " ".join('"' + g.replace('"', '""') + '"' for g in grams)


LIKE_ESCAPE = "!"


def like_pattern(term: str) -> str:
    """``%term%`` for ``LIKE ... ESCAPE '!'``, the term's wildcards escaped
    (``!`` rather than a backslash, which the two databases quote differently)."""
    escaped = term.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def highlight(elements_json: str, query: SearchQuery) -> dict[str, Any]:
    """A short piece of the searchable text around the first match, and
    where in it each term matches (``[start, end)`` character offsets)."""
    text = _joined(elements_json).replace("\n", " ")
    lowered = text.lower()
    if len(lowered) != len(text):
        # Lowering changed lengths (rare letters): offsets must fit the text shown.
        text = lowered
    first = min((i for t in query.terms if (i := lowered.find(t)) >= 0), default=0)
    start = max(0, first - SNIPPET_CONTEXT)
    end = min(len(text), first + SNIPPET_CONTEXT * 2)
    piece = lowered[start:end]
    ranges: list[list[int]] = []
    for term in query.terms:
        at = piece.find(term)
        while at >= 0:
            ranges.append([at, at + len(term)])
            at = piece.find(term, at + len(term))
    ranges.sort()
    return {"snippet": text[start:end], "highlights": ranges}


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: results come newest first by (time, conversation
    number, seq), and the next page starts strictly after this."""

    time: int
    conversation_id: int
    seq: int

    def encode(self) -> str:
        return f"{self.time}.{self.conversation_id}.{self.seq}"


MAX_INT = 2**63 - 1


def parse_cursor(text: str | None) -> Cursor | None:
    if text is None or text == "":
        return None
    parts = text.split(".")
    if len(parts) == 3 and all(p.isascii() and p.isdecimal() and len(p) <= 19 for p in parts):
        time, conv, seq = (int(p) for p in parts)
        if max(time, conv, seq) <= MAX_INT:
            return Cursor(time, conv, seq)
    raise TidingsError(ErrorCode.INVALID_REQUEST, "cursor: not one this server gave")


class SearchIn(Payload):
    """A search, as the WebSocket op's data and the REST query parameters."""

    # The exact limit on the query is parse_query's, with its own message.
    q: str = Field(max_length=MAX_QUERY_CHARS * 4, examples=["dinner 北京"])
    conversation_id: str | None = Field(None, max_length=128, examples=["group_trip"])
    sender: str | None = Field(None, max_length=128)
    since: int | None = Field(None, description="time >= since (ms since the epoch)")
    until: int | None = Field(None, description="time < until (ms since the epoch)")
    cursor: str | None = Field(None, max_length=64)
    limit: int | None = None

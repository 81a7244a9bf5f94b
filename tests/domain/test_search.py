"""The search rules without a server: what text is searchable, how a query
is read, that any query becomes an FTS5 expression SQLite accepts and that
matches exactly the texts holding every term, snippets and cursors."""

from __future__ import annotations

import sqlite3

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.errors import TidingsError
from tidings.domain.search import (
    Cursor,
    fts5_match,
    highlight,
    like_pattern,
    parse_cursor,
    parse_query,
    searchable_text,
)


def test_searchable_text_takes_what_a_reader_sees() -> None:
    elements = [{"type": "text", "text": "Hello 北京"},
                {"type": "quote", "seq": 1, "text": "quoted words"},
                {"type": "file", "url": "https://x/y", "name": "Plan.PDF"},
                {"type": "location", "desc": "Main Square", "latitude": 1, "longitude": 2},
                {"type": "custom", "data": "secret", "desc": "Order shipped", "ext": "e"},
                {"type": "image", "variants": []}, {"type": "face", "index": 1}]
    assert searchable_text(orjson.dumps(elements).decode()) == (
        "hello 北京\nplan.pdf\nmain square\norder shipped")
    assert searchable_text("[]") == ""
    assert searchable_text("not json") == ""


def test_queries() -> None:
    assert parse_query("  Duck  北京 duck a ").terms == ("duck", "北京", "a")
    q = parse_query("abc de fghi")
    assert (q.indexed, q.short) == (("fghi", "abc"), ("de",))
    assert parse_query("x\x00y").terms == ("x", "y")
    for bad in ("", "   ", "\x00", "x" * 201, "a b c d e f g h i", 5, None):
        with pytest.raises(TidingsError) as refused:
            parse_query(bad)
        assert refused.value.code == 10002


def test_like_patterns_escape_wildcards() -> None:
    assert like_pattern("5%_!") == "%5!%!_!!%"


def test_highlight_marks_each_term() -> None:
    elements = orjson.dumps([{"type": "text", "text": "Dinner at the Peking Duck, duck!"}])
    got = highlight(elements.decode(), parse_query("duck peking"))
    assert [got["snippet"][a:b] for a, b in got["highlights"]] == ["Peking", "Duck", "duck"]


def test_cursors() -> None:
    c = Cursor(1_700_000_000_000, 41, 7)
    assert parse_cursor(c.encode()) == c
    assert parse_cursor(None) is None and parse_cursor("") is None
    for bad in ("1.2", "a.b.c", "1.2.3.4", "-1.2.3", "1.2.99999999999999999999", "\uff11.2.3"):
        with pytest.raises(TidingsError):
            parse_cursor(bad)


TEXTS = ['say "hi" to NEAR(me)', "100% * off", "北京烤鸭 tonight", "col:val AND OR NOT",
         "plain words here", "a^b -c +d {e}"]


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    """FTS5 with the trigram tokenizer, as migration 0009 makes it."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(body, tokenize='trigram case_sensitive 1')")
    conn.executemany("INSERT INTO f (rowid, body) VALUES (?, ?)",
                     [(i, t.lower()) for i, t in enumerate(TEXTS)])
    return conn


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30) | st.lists(st.sampled_from(
    ['"', "*", "^", "-", "+", "(", ")", ":", "NEAR", "AND", "OR", "NOT", "{", "}", "hi",
     "北京", " ", "100", "col"]), max_size=8).map("".join))
def test_any_query_is_a_valid_fts5_expression_matching_substrings(
        fts: sqlite3.Connection, text: str) -> None:
    try:
        query = parse_query(text)
    except TidingsError:
        return
    if not query.indexed:
        return
    rows = fts.execute("SELECT rowid FROM f WHERE f MATCH ?",
                       (fts5_match(query.indexed),)).fetchall()
    expected = {i for i, t in enumerate(TEXTS) if all(term in t.lower()
                                                      for term in query.indexed)}
    assert {r[0] for r in rows} == expected

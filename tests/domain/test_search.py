"""The search rules without a server: what text is searchable, how a query
is read, that any query becomes an FTS5 expression SQLite accepts (on an
index without positions, as migration 0034 makes it) whose candidates,
checked with LIKE, are exactly the texts holding every term, snippets and
cursors."""

from __future__ import annotations

import sqlite3

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.errors import TidingsError
from tidings.domain.search import (
    LIKE_ESCAPE,
    Cursor,
    covering_trigrams,
    fts5_match,
    highlight,
    like_pattern,
    parse_cursor,
    parse_query,
    searchable_text,
    trigrams,
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


def test_trigrams_are_code_points_each_once() -> None:
    assert trigrams("abc") == ["abc"]
    assert trigrams("aaaa") == ["aaa"]
    assert trigrams("abcabc") == ["abc", "bca", "cab"]
    assert trigrams("去北京吃") == ["去北京", "北京吃"]
    assert trigrams("cafe\u0301") == ["caf", "afe", "fe\u0301"]
    assert trigrams("ab") == []
    # Trigrams that hold every character, each quoted, ANDed: no phrase
    # (detail=none has none).
    assert covering_trigrams("deadline") == ["dea", "dli", "ine"]
    assert covering_trigrams("budget") == ["bud", "get"]
    assert covering_trigrams("abcde") == ["abc", "cde"]
    assert covering_trigrams("aaaaaaa") == ["aaa"]
    assert covering_trigrams("ab") == []
    assert fts5_match(("abcd", 'x"yz', "abc")) == '"abc" "bcd" "x""y" """yz"'


TEXTS = ['say "hi" to NEAR(me)', "100% * off", "北京烤鸭 tonight", "col:val AND OR NOT",
         "plain words here", "a^b -c +d {e}", "abcxbcd aaaa", "北京吃了 京吃烤肉",
         "cafe\u0301 café"]


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    """FTS5 with the trigram tokenizer, as migrations 0009 and 0034 make it."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(body, tokenize='trigram case_sensitive 1',"
                 " detail=none)")
    conn.executemany("INSERT INTO f (rowid, body) VALUES (?, ?)",
                     [(i, t.lower()) for i, t in enumerate(TEXTS)])
    return conn


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30) | st.lists(st.sampled_from(
    ['"', "*", "^", "-", "+", "(", ")", ":", "NEAR", "AND", "OR", "NOT", "{", "}", "hi",
     "北京", " ", "100", "col", "a", "bc", "d", "x", "京吃", "烤", "cafe", "\u0301", "é"]),
    max_size=8).map("".join))
def test_any_query_is_a_valid_fts5_expression_matching_substrings(
        fts: sqlite3.Connection, text: str) -> None:
    try:
        query = parse_query(text)
    except TidingsError:
        return
    if not query.indexed:
        return
    expected = {i for i, t in enumerate(TEXTS) if all(term in t.lower()
                                                      for term in query.indexed)}
    match = fts5_match(query.indexed)
    candidates = {r[0] for r in fts.execute("SELECT rowid FROM f WHERE f MATCH ?", (match,))}
    assert candidates >= expected
    likes = " AND ".join(["body LIKE ? ESCAPE ?"] * len(query.indexed))
    rows = fts.execute(f"SELECT rowid FROM f WHERE f MATCH ? AND {likes}", (match, *(
        v for term in query.indexed for v in (like_pattern(term), LIKE_ESCAPE)))).fetchall()
    assert {r[0] for r in rows} == expected


@pytest.mark.parametrize(("term", "holds"), [("abcd", False), ("aaaa", True), ("aaaaa", False),
                                             ("北京吃烤", False), ("cafe\u0301", True),
                                             ("xbcd", True)])
def test_trigrams_apart_are_candidates_only(fts: sqlite3.Connection, term: str,
                                            holds: bool) -> None:
    """A text holding every trigram of a term but not the term: the index
    gives it, the LIKE takes it out."""
    row = TEXTS.index("abcxbcd aaaa") if term.isascii() else next(
        i for i, t in enumerate(TEXTS) if all(g in t for g in trigrams(term)))
    got = fts.execute("SELECT rowid, body LIKE ? ESCAPE ? FROM f WHERE f MATCH ?",
                      (like_pattern(term), LIKE_ESCAPE, fts5_match((term,)))).fetchall()
    assert (row, int(holds)) in got

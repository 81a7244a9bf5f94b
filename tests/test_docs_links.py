"""The documentation's links lead somewhere: every relative link of a
Markdown page names a file of the repository (and, with ``#``, a heading of
it), and every ``bench/journal/<branch>.md`` the code and docs cite exists
(bench/README.md's results moved there in session 17; a wrong name would
send a reader of a comment nowhere)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
CITED = re.compile(r"bench/journal/([A-Za-z0-9_-]+)\.md")


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    return [ROOT / p for p in out if (ROOT / p).is_file()]


def _pages() -> list[Path]:
    return [p for p in _tracked("*.md") if "node_modules" not in p.parts]


def _anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lowercased, punctuation but ``-`` and ``_``
    dropped, spaces as ``-``; a repeated heading gets ``-1``, ``-2``..."""
    seen: dict[str, int] = {}
    fence = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"#{1,6} (.*)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            if n:
                seen[f"{slug}-{n}"] = 1
    return set(seen)


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() or (anchor and dest.suffix == ".md"
                                 and anchor.lower() not in _anchors(dest)):
            broken.append(target)
    assert broken == []


def test_cited_journal_pages_exist() -> None:
    missing = set()
    for f in _tracked("src", "tests", "docs", "bench", "clients/typescript/src", "README.md"):
        if f.suffix in {".py", ".md", ".ts"}:
            missing |= {m for m in CITED.findall(f.read_text(encoding="utf-8"))
                        if not (ROOT / "bench/journal" / f"{m}.md").exists()}
    assert missing == set()

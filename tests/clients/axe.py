"""axe-core in the browser tests: ``assert_accessible(page, "sign-in")`` runs
axe (clients/web's pinned dev dependency, read from its node_modules) on the
page as it is now, with the WCAG 2.1 A and AA rules, and fails listing each
violation with the nodes that break it (docs/messenger.md#accessibility).

The script goes in through Playwright's ``evaluate`` (the DevTools protocol),
which the page's strict Content-Security-Policy does not apply to: the page
itself still runs only its own script, and a CSP test still sees any
violation of its own."""

from __future__ import annotations

from functools import cache
from typing import Any

from playwright.sync_api import Page

from tests.clients.node import WEB, ensure_web_packages

AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
WCAG21_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")

BEST_PRACTICE = (*WCAG21_AA, "best-practice")

_RUN = """async ([tags, exclude, skip]) => {
  const result = await axe.run({ exclude: exclude.map((s) => [s]) }, {
    runOnly: { type: "tag", values: tags }, resultTypes: ["violations"],
    rules: Object.fromEntries(skip.map((id) => [id, { enabled: false }])) });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), why: n.failureSummary })) }));
}"""


@cache
def _source() -> str:
    if not AXE.exists():
        ensure_web_packages()
    return AXE.read_text(encoding="utf-8")


def violations(page: Page, *, tags: tuple[str, ...] = WCAG21_AA, exclude: tuple[str, ...] = (),
               skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (``exclude``: CSS selectors
    of parts another test owns; ``skip``: ids of rules not to run)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_source() + "\n;undefined")
    found: list[dict[str, Any]] = page.evaluate(_RUN, [list(tags), list(exclude), list(skip)])
    return found


def report(name: str, found: list[dict[str, Any]]) -> str:
    lines = [f"{name}: {len(found)} accessibility violation(s) (axe-core)"]
    for v in found:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        lines += [f"    {n['target']}: {' '.join(str(n['why']).split())}" for n in v["nodes"]]
    return "\n".join(lines)


def assert_accessible(page: Page, name: str, *, tags: tuple[str, ...] = WCAG21_AA,
                      exclude: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> None:
    """Fails with each axe violation of ``page`` and its nodes; ``name`` says
    which screen in the message."""
    found = violations(page, tags=tags, exclude=exclude, skip=skip)
    assert not found, report(name, found)

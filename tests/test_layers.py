"""The layers of docs/architecture.md hold with no exceptions: every import
of every module under src/tidings (type-only and function-level imports
included) is read from its source and checked."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "tidings"
MAX_LINES = 500
# A module over MAX_LINES says why at its top, in its docstring, with this.
LONG_REASON = "Longer than 500 lines"

# Layer of a module: its first package under tidings (a top-level module is
# its own layer). What each layer may import, besides itself.
EDGES = {"api", "gateway", "cli", "cli_common", "cli_config", "cli_push", "cli_operator",
         "protocol_cli", "server", "server_workers", "__main__"}
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "protocol": {"domain"},
    "sdk": {"domain", "protocol"},
    "config": set(),
    # Where the settings come from, their reference page: beside config.
    "config_sources": {"config"},
    "config_docs": {"config"},
    # Leaves like config: the process's metrics and its logging set-up.
    "metrics": set(),
    "logs": set(),
    "adapters": {"domain", "config", "metrics"},
    "bus": {"domain", "protocol", "metrics"},
    "store": {"domain", "protocol", "config", "metrics"},
    "services": {"domain", "protocol", "store", "bus", "adapters", "config", "metrics"},
}
# The composition roots wire everything: the server's, and the CLI's smaller
# one (only the services a command needs, nothing started in the background).
COMPOSITION = {"runtime", "cli_services", "tidings"}
# Edges may import anything but the store (and never each other's insides
# is not a rule: the CLI may use the schema command, the server the app).
FORBIDDEN_FOR_EDGES = {"store"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every tidings import, at any depth."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tidings":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.split(".")[0] != "tidings":
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                yield (sub if sub in MODULES else module), node.lineno


GRAPH = {name: sorted({m for m, _ in _imports(name, path) if m in MODULES and m != name})
         for name, path in MODULES.items()}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "tidings"


def test_every_import_respects_the_layers() -> None:
    wrong = []
    for name, path in sorted(MODULES.items()):
        mine = layer(name)
        for imported, line in _imports(name, path):
            theirs = layer(imported)
            if theirs == mine or theirs == "tidings":
                continue
            if mine in ALLOWED:
                ok = theirs in ALLOWED[mine]
            elif mine in EDGES:
                ok = theirs not in FORBIDDEN_FOR_EDGES
            else:
                assert mine in COMPOSITION, f"{name}: in no layer; add it to one"
                ok = True
            if not ok:
                wrong.append(f"{path.relative_to(SRC)}:{line}: {mine} imports {imported}")
    assert not wrong, "layer violations:\n" + "\n".join(wrong)


def test_services_and_lower_layers_never_import_an_edge() -> None:
    wrong = [f"{name} -> {dep}" for name, deps in GRAPH.items()
             if layer(name) not in EDGES | COMPOSITION for dep in deps if layer(dep) in EDGES]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components over the module graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_long_module_says_why(name: str) -> None:
    path = MODULES[name]
    lines = path.read_text().count("\n")
    if lines <= MAX_LINES:
        return
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert LONG_REASON in doc, (
        f"{path.relative_to(SRC)} has {lines} lines: split it, or say at its top "
        f"'{LONG_REASON} ...'")


def test_the_rules_see_the_whole_package() -> None:
    """The checks above would pass vacuously on an empty or unparsed tree."""
    assert len(MODULES) > 100
    assert "tidings.domain.records" in MODULES and "tidings.protocol.views" in MODULES
    assert "tidings.protocol.views" in GRAPH["tidings.protocol.events"]

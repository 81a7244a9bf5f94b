"""The hot path's modules compiled with mypyc against the same source in pure
Python, through chat_load, run by run (issue 19, perf-mypyc).

    python bench/mypyc_compare.py build --out /tmp/NAME-mypyc            # ~3-5 min
    git archive HEAD src | tar -x -C /tmp/NAME-pure
    python bench/mypyc_compare.py run --pure /tmp/NAME-pure/src \\
        --compiled /tmp/NAME-mypyc/src --rounds 3 -- \\
        --spread split --mode throughput --pairs 50 --window 16 --duration 6

``build`` copies ``git archive HEAD src`` into ``--out``, makes there the
few edits mypyc needs (``EDITS``: each says why; none is in the project,
whose default stays pure Python), and compiles ``--set``'s modules in place
(one shared library, ``mypycify``). ``run`` alternates the two sides, the
order flipped each round, each one ``bench/chat_load.py`` with its side on
``PYTHONPATH``, and prints each run's JSON figures and the compiled/pure
ratios of the server's CPU per message (whole process, the loop's thread,
the other threads). Read the CPU per message on a loaded machine, not msg/s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# What py-spy showed on the loop and the batch thread at saturation (the
# session's base, af69695). "narrow" is the set the loop gains from;
# "wide" adds the rest of the Python under a message.
NARROW = [
    "services/messaging/sending.py", "services/messaging/delivery.py",
    "services/messaging/lanes.py", "services/messaging/service.py",
    "store/writer/messages.py", "store/writer/core.py", "store/writer/conversations.py",
    "store/writer/rows.py", "store/batch_thread.py", "bus/local.py",
    "gateway/ops.py", "gateway/ws_lean.py", "gateway/session.py", "gateway/message_ops.py",
    "gateway/ws_frames.py", "gateway/timer_wheel.py", "protocol/frames.py",
    "protocol/sends.py", "services/ttl_cache.py", "domain/ids.py",
]
WIDE = [*NARROW,
        "domain/records.py", "protocol/views.py", "domain/media.py", "domain/clock.py",
        "services/callbacks.py", "services/friends.py", "services/media.py",
        "services/push.py", "metrics.py", "store/engine.py", "store/media.py",
        "store/callbacks.py", "store/mentions.py", "store/push_jobs.py",
        "store/writer/short_way.py"]
SETS = {"narrow": NARROW, "wide": WIDE}

_ALLOW = "@mypyc_attr(allow_interpreted_subclasses=True)\n"


def _replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        if old not in text:
            raise SystemExit(f"edit no longer applies: {old!r} not found")
        return text.replace(old, new)
    return edit


def _subclassed(*names: str) -> Callable[[str], str]:
    """Interpreted classes (the store's rows, the Redis bus, link ops, tests)
    subclass these: a native class refuses that unless told at compile time."""
    def edit(text: str) -> str:
        for name in names:
            text, found = re.subn(rf"^class {name}\b", f"{_ALLOW}class {name}", text,
                                  flags=re.M)
            if not found:
                raise SystemExit(f"edit no longer applies: class {name}")
        return _replace("from __future__ import annotations\n",
                        "from __future__ import annotations\n\n"
                        "from mypy_extensions import mypyc_attr\n")(text)
    return edit


# (file under src/tidings, why, edit); each found by its text, failing loudly.
EDITS: list[tuple[str, str, Callable[[str], str]]] = [
    ("store/batch_thread.py",
     "an attribute named _thread becomes the C field __thread, a GCC keyword",
     lambda t: re.sub(r"self\._thread\b", "self._worker", t)),
    ("gateway/session.py",
     "a class attribute bound to a method (me = _me) leaves an exception set at "
     "import, raised later as a SystemError from an unrelated call",
     lambda t: _replace("\n    # The same function (no second call per send: issue 19).\n"
                        "    me = _me\n", "\n")(
         _replace("    def _me(self) -> Identity:", "    def me(self) -> Identity:")(t)
     ).replace("self._me()", "self.me()")),
    ("store/writer/rows.py", "subclassed", _subclassed("LaterWork", "TransactionRows")),
    ("bus/local.py", "subclassed", _subclassed("LocalBus")),
    ("gateway/ops.py", "subclassed", _subclassed("Ack")),
]


def _split_records(src: Path) -> None:
    """``record`` (dataclass_transform over a function) moves to an
    interpreted module: a compiled function takes no attribute."""
    path = src / "tidings/domain/records.py"
    text = path.read_text()
    start, end = text.index("@dataclass_transform"), text.index("class GroupOperation")
    (src / "tidings/domain/record_type.py").write_text(
        "from __future__ import annotations\n\nfrom dataclasses import dataclass\n"
        "from typing import TypeVar, dataclass_transform\n\n_R = TypeVar(\"_R\")\n\n\n"
        + text[start:end])
    path.write_text(_replace("from tidings.domain.ids import ConversationKey\n",
                             "from tidings.domain.ids import ConversationKey\n"
                             "from tidings.domain.record_type import record\n")(
        text[:start] + text[end:]))


def _split_views(src: Path) -> None:
    """The views' TypedDicts move to an interpreted module: mypyc rebuilds a
    TypedDict from erased annotations (NotRequired and Annotated lost:
    MessageView fails at import, the schema would be wrong)."""
    import ast

    path = src / "tidings/protocol/views.py"
    text = path.read_text()
    lines = text.split("\n")
    first = next(n.lineno for n in ast.parse(text).body if isinstance(n, ast.FunctionDef))
    head = "\n".join(lines[:first - 1])
    names: list[str] = []
    for node in ast.parse(head).body:
        if isinstance(node, ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    (src / "tidings/protocol/view_types.py").write_text(head + "\n")
    imports = "".join(f"    {n} as {n},\n" for n in names)
    path.write_text(
        '"""The views\' builders (compiled); their declarations: view_types."""\n\n'
        "from __future__ import annotations\n\nfrom collections.abc import Mapping\n"
        "from typing import cast\n\nimport orjson\n\n"
        "from tidings.domain.conversations import DEFAULT as DEFAULT_SETTINGS\n"
        "from tidings.domain.conversations import ConversationSettings\n"
        "from tidings.domain.elements import EntryKind\n"
        "from tidings.domain.ids import ConversationKind\n"
        "from tidings.domain.records import Committed, ConversationState, StoredMessage\n"
        f"from tidings.protocol.view_types import (\n{imports})\n\n\n"
        + "\n".join(lines[first - 1:]))


def build(out: Path, modules: list[str], commit: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src"],
                             check=True, capture_output=True).stdout
    with tempfile.TemporaryFile() as tmp:
        tmp.write(archive)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            tar.extractall(out, filter="data")
    src = out / "src"
    for name, _why, edit in EDITS:
        path = src / "tidings" / name
        path.write_text(edit(path.read_text()))
    if "domain/records.py" in modules:
        _split_records(src)
    if "protocol/views.py" in modules:
        _split_views(src)
    (out / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (out / "setup.py").write_text(
        "from setuptools import setup\nfrom mypyc.build import mypycify\n"
        f"setup(name='tidings-mypyc-bench', packages=[], ext_modules=mypycify("
        f"{[f'src/tidings/{m}' for m in modules]!r}, opt_level='3'))\n")
    subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=out,
                   check=True, stdout=subprocess.DEVNULL)
    check = "import tidings.api.app, tidings.gateway.session as s; print(s.__file__)"
    subprocess.run([sys.executable, "-c", check], check=True,
                   env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"})


def _load(side: Path, load_args: list[str]) -> dict[str, Any] | None:
    done = subprocess.run([sys.executable, str(HERE / "chat_load.py"), *load_args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(side)})
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def _cpu(run: dict[str, Any]) -> tuple[float, float, float]:
    by = run["server_us_per_msg_by_thread"]
    return (run["server_us_per_msg"], by["loop_user"] + by["loop_system"],
            by["threads_user"] + by["threads_system"])


def compare(pure: Path, compiled: Path, rounds: int, load_args: list[str]) -> None:
    sides = {"pure": pure, "compiled": compiled}
    seen: dict[str, list[tuple[float, float, float]]] = {"pure": [], "compiled": []}
    for n in range(rounds):
        order = ["pure", "compiled"] if n % 2 == 0 else ["compiled", "pure"]
        for name in order:
            run = _load(sides[name], load_args)
            if run is None or not run.get("ok"):
                print(json.dumps({"side": name, "round": n + 1, "failed": run}))
                continue
            seen[name].append(_cpu(run))
            print(json.dumps({"side": name, "round": n + 1, **run}), flush=True)
    if seen["pure"] and seen["compiled"]:
        mean = {k: [sum(v[i] for v in rows) / len(rows) for i in range(3)]
                for k, rows in seen.items()}
        print(json.dumps({"us_per_msg_mean": mean, "compiled_over_pure": {
            part: round(mean["compiled"][i] / mean["pure"][i], 3)
            for i, part in enumerate(("server", "loop", "threads"))}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="compile a copy of src/ with mypyc")
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--set", choices=sorted(SETS), default="narrow")
    b.add_argument("--commit", default="HEAD")
    b.add_argument("--without", action="append", default=[], metavar="MODULE",
                   help="leave this module of the set pure (e.g. store/engine.py)")
    r = sub.add_parser("run", help="chat_load, pure and compiled alternated")
    r.add_argument("--pure", type=Path, required=True, help="a pure copy's src/")
    r.add_argument("--compiled", type=Path, required=True, help="build's OUT/src")
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("load", nargs=argparse.REMAINDER, help="-- then chat_load's arguments")
    args = parser.parse_args()
    if args.command == "build":
        build(args.out, [m for m in SETS[args.set] if m not in args.without], args.commit)
    else:
        compare(args.pure, args.compiled, args.rounds,
                [a for a in args.load if a != "--"])


if __name__ == "__main__":
    main()

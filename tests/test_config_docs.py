"""The settings' reference (docs/configuration.md) is made from config.py
and must be current; every CLI option says what it does; the migrations'
chain read from their files is alembic's (the CLI's quick start relies on it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main
from alembic.script import ScriptDirectory

from tidings.cli import cli
from tidings.config import Settings
from tidings.config_docs import configuration_page, descriptions
from tidings.store.engine import MIGRATIONS, revisions

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def test_configuration_md_is_current() -> None:
    assert DOC.read_text() == configuration_page(), (
        "docs/configuration.md is stale: run tidings config docs --out docs/configuration.md")


def test_every_setting_is_documented_with_its_variable_and_default() -> None:
    page = DOC.read_text()
    meaning = descriptions()
    for name in Settings.model_fields:
        assert meaning.get(name), f"{name} has no docstring in config.py"
        assert f"| `{name}` | `TIDINGS_{name.upper()}` |" in page, name


def _commands(command: Any, path: str = "tidings") -> list[tuple[str, Any]]:
    """Every command under ``command`` (Typer's own click: duck-typed)."""
    found = [(path, command)]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            found += _commands(sub, f"{path} {name}")
    return found


def test_every_command_and_option_has_help() -> None:
    missing = []
    commands = _commands(typer.main.get_command(cli))
    assert len(commands) > 15 and any(path == "tidings app push" for path, _ in commands)
    for path, command in commands:
        if not (command.help or command.short_help):
            missing.append(path)
        for param in command.params:
            if param.param_type_name == "option" and not param.help:
                missing.append(f"{path} {param.opts[0]}")
    assert not missing, "no help text: " + ", ".join(missing)


def test_the_migrations_chain_read_from_files_is_alembics() -> None:
    script = ScriptDirectory(str(MIGRATIONS))
    walked = [r.revision for r in script.walk_revisions("base", "heads")]
    assert revisions() == tuple(reversed(walked))
    assert revisions()[-1] == script.get_current_head()

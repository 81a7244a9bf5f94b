"""``tidings config``: the effective settings and where they came from, and
the settings' reference page (docs/configuration.md) made from config.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tidings.cli_common import DataDir, fail, load, print_json

config_cli = typer.Typer(help="The settings: what is in effect, and their reference.",
                         no_args_is_help=True,
                  rich_markup_mode=None)


@config_cli.command("show")
def show(data_dir: DataDir = None) -> None:
    """Print every setting's effective value as JSON (secrets as ***), the
    config file read, and where each value that is not a default came from.
    A bad setting is refused here as it would be by serve."""
    loaded = load(data_dir)
    print_json({"config_file": str(loaded.config_file) if loaded.config_file else None,
                "settings": loaded.effective(), "sources": loaded.sources})


@config_cli.command("docs")
def docs(
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", show_default=False,
        help="Write to this file [default: standard output]")] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Only compare with --out's file; exit 1 when it differs")] = False,
) -> None:
    """The reference of every setting (docs/configuration.md) in Markdown,
    made from the settings themselves."""
    from tidings.config_docs import configuration_page

    page = configuration_page()
    if out is None:
        if check:
            fail("--check needs --out")
        typer.echo(page, nl=False)
    elif check:
        if not out.is_file() or out.read_text() != page:
            fail(f"{out} is stale: run tidings config docs --out {out}")
    else:
        out.write_text(page)
        typer.echo(f"wrote {out}", err=True)

"""What every ``tidings`` command shares: its settings (config_sources.py,
with ``tidings --config``), its one-line JSON errors, and the services over
its database, with a line on standard error when that database is new.

Imports stay light here (no pydantic, no SQLAlchemy at import): they come
inside the functions, so ``tidings --help`` and ``--version`` start fast."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import orjson
import typer

if TYPE_CHECKING:
    from tidings.cli_services import CliServices
    from tidings.config import Settings
    from tidings.config_sources import Loaded

T = TypeVar("T")

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", show_default=False,
    help="Where the database and media live [env TIDINGS_DATA_DIR, or data_dir in the config "
         "file; default ./tidings-data]")]

# ``tidings --config FILE``, set by the root command before any subcommand runs.
config_file: list[Path | None] = [None]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(orjson.dumps({"error": message}).decode(), err=True)
    raise typer.Exit(code)


def print_json(doc: object) -> None:
    typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


def load(data_dir: Path | None = None, **options: Any) -> Loaded:
    """The command's settings and their sources; a bad setting ends the
    command with one line naming it."""
    from tidings.config_sources import ConfigError, load

    try:
        return load({"data_dir": data_dir, **options}, config=config_file[0])
    except ConfigError as exc:
        fail(str(exc), 2)


def settings(data_dir: Path | None = None, **options: Any) -> Settings:
    return load(data_dir, **options).settings


def database_line(loaded: Loaded) -> str:
    """Which database a command opened, and why that one."""
    from tidings.config_sources import mask_url

    s = loaded.settings
    if s.database_url:
        return f"{mask_url(s.database_url)} (from {loaded.source('database_url')})"
    return f"{s.data_dir / 'tidings.db'} (data dir from {loaded.data_dir_origin()})"


def _progress(done: int, total: int, revision: str) -> None:
    """Migrations, on a terminal only, erased when done."""
    if not sys.stderr.isatty():
        return
    end = "\r\x1b[K" if done >= total else ""
    sys.stderr.write(f"\rtidings: migrating the database {done}/{total} ({revision}){end}")
    sys.stderr.flush()


def with_services(loaded: Loaded, work: Callable[[CliServices], Awaitable[T]]) -> T:
    """Run ``work`` with the services over the settings' database."""
    import asyncio

    from tidings.cli_services import open_services
    from tidings.config_sources import DataDirError, check_data_dir

    s = loaded.settings
    if not s.database_url:
        try:
            check_data_dir(s.data_dir)
        except DataDirError as exc:
            fail(str(exc), 2)

    async def run() -> T:
        async with open_services(s, _progress) as services:
            if services.new_database:
                typer.echo(f"tidings: created a new database: {database_line(loaded)}",
                           err=True)
            return await work(services)
    return asyncio.run(run())

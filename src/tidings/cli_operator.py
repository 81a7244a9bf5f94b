"""``tidings operator``: the deployment's operators, who sign in on the
console at ``/console`` and see every app (docs/console.md)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from tidings.cli_common import DataDir, fail, load, print_json, with_services

T = TypeVar("T")

operator_cli = typer.Typer(help="Operators of the deployment (the console at /console).",
                           no_args_is_help=True, rich_markup_mode=None)

NameArg = Annotated[str, typer.Argument(metavar="NAME",
                                        help="3-32 of a-z, 0-9, '_', '.' and '-'")]
StdinOption = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password (12 characters or more) from the first line "
                             "of standard input instead of making one")]


def _password(from_stdin: bool) -> tuple[str, bool]:
    """The password to set, and whether this command made it (then it is printed once)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    from tidings.domain.operators import new_password

    return new_password(), True


def _checked(work: Callable[[], T]) -> T:
    """``work``'s result; a refusal (a bad name, a weak password) ends the command."""
    from tidings.domain.errors import TidingsError

    try:
        return work()
    except TidingsError as exc:
        fail(exc.message)


@operator_cli.command("create")
def create(name: NameArg, password_stdin: StdinOption = False,
           data_dir: DataDir = None) -> None:
    """Make an operator; prints its name and, when this command made the
    password, the password (once: only a hash is kept)."""
    password, made = _password(password_stdin)
    loaded = load(data_dir)
    made_name = _checked(lambda: with_services(loaded, lambda s: s.operators.create(name,
                                                                                   password)))
    print_json({"name": made_name, **({"password": password} if made else {})})


@operator_cli.command("password")
def set_password(name: NameArg, password_stdin: StdinOption = False,
                 data_dir: DataDir = None) -> None:
    """Give an operator a new password (ends its console sign-ins); prints
    the password when this command made it."""
    password, made = _password(password_stdin)
    loaded = load(data_dir)
    changed = _checked(lambda: with_services(loaded, lambda s: s.operators.set_password(
        name, password)))
    if not changed:
        fail(f"no operator named {name!r}", 2)
    print_json({"name": name.strip().lower(), **({"password": password} if made else {})})


@operator_cli.command("list")
def list_operators(data_dir: DataDir = None) -> None:
    """The operators, by name."""
    print_json(with_services(load(data_dir), lambda s: s.operators.list()))


@operator_cli.command("remove")
def remove(name: NameArg, data_dir: DataDir = None) -> None:
    """Remove an operator and end its sign-ins."""
    loaded = load(data_dir)
    if not _checked(lambda: with_services(loaded, lambda s: s.operators.remove(name))):
        fail(f"no operator named {name!r}", 2)
    print_json({"name": name.strip().lower(), "removed": True})

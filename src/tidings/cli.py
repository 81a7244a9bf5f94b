"""The ``tidings`` command: run the server and manage apps.

Every command reads the same settings as ``serve`` (its options, then
``TIDINGS_*``, then the config file: config_sources.py), and app commands
work while a server runs on the same data. An edge like the HTTP APIs:
commands go through the server's services (cli_services.py), never to the
store, so a running server's caches see each change within
``TIDINGS_APP_CACHE_TTL``. Everything but Typer is imported inside the
commands, so ``tidings --help`` and ``--version`` load no pydantic, SQLAlchemy
or domain module.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tidings.cli_common import DataDir, config_file, load, settings, with_services
from tidings.cli_common import fail as _fail
from tidings.cli_common import print_json as _print
from tidings.cli_config import config_cli
from tidings.cli_operator import operator_cli
from tidings.cli_push import app_push
from tidings.protocol_cli import protocol_cli

if TYPE_CHECKING:
    from tidings.cli_services import CliServices
    from tidings.domain.apps import ApiKey, AppRecord

# Plain help: Typer's rich help costs an import of rich several times Typer's own.
cli = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
apps_cli = typer.Typer(help="Create and manage apps (tenants).", no_args_is_help=True,
                       rich_markup_mode=None)
cli.add_typer(apps_cli, name="app")
api_keys_cli = typer.Typer(help="API keys for an app's admin API.", no_args_is_help=True,
                           rich_markup_mode=None)
apps_cli.add_typer(api_keys_cli, name="api-key")
cli.add_typer(protocol_cli, name="protocol")
cli.add_typer(config_cli, name="config")
cli.add_typer(operator_cli, name="operator")


def _version(value: bool) -> None:
    if value:
        from tidings import __version__

        typer.echo(f"tidings {__version__}")
        raise typer.Exit()


@cli.callback()
def root(
    config: Annotated[Path | None, typer.Option(
        "--config", show_default=False,
        help="The TOML config file [env TIDINGS_CONFIG; default: the first of ./tidings.toml, "
             "$XDG_CONFIG_HOME/tidings/tidings.toml, /etc/tidings/tidings.toml]")] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the version and exit")] = False,
) -> None:
    """Tidings: self-hosted instant messaging. Every command reads the same
    settings (docs/configuration.md): the command line, then TIDINGS_*
    variables, then the config file."""
    config_file[0] = config


def _app_view(app: AppRecord, *, with_keys: bool) -> dict[str, Any]:
    from tidings.domain.apps import app_view

    return app_view(app, with_keys=with_keys)


@cli.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(
        show_default=False,
        help="Address to listen on [env TIDINGS_HOST; default 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(
        show_default=False, help="TCP port to listen on [env TIDINGS_PORT; default 8080]")] = None,
    workers: Annotated[int | None, typer.Option(
        show_default=False,
        help="Processes sharing the port, supervised (more than 1 needs PostgreSQL and "
             "TIDINGS_REDIS_URL) [env TIDINGS_WORKERS; default 1]")] = None,
) -> None:
    """Run the server (SQLite under the data dir unless TIDINGS_DATABASE_URL says
    otherwise). Bad settings, a data dir it cannot write and a port in use each
    stop it with one line, before it binds or touches any data."""
    from tidings.cli_common import database_line
    from tidings.config_sources import DataDirError, check_data_dir

    loaded = load(data_dir, host=host, port=port, workers=workers)
    s = loaded.settings
    try:
        check_data_dir(s.data_dir)
    except DataDirError as exc:
        _fail(str(exc), 2)
    new = not s.database_url and not (s.data_dir / "tidings.db").exists()
    from tidings.server import StartupError, run

    try:
        run(s, announce=f"{'creating a new' if new else 'using the'} database "
                        f"{database_line(loaded)}", new_database=new)
    except StartupError as exc:
        _fail(str(exc), 1)


@cli.command()
def backup(
    out: Annotated[Path, typer.Argument(help="The backup file to write (must not exist)")],
    data_dir: DataDir = None,
) -> None:
    """Copy the SQLite database while the server runs (SQLite's online backup
    API); on PostgreSQL use pg_dump. Copy the data dir's media/ and
    media-url.key too (docs/operations.md)."""
    from tidings.cli_services import backup as backup_database

    chosen = settings(data_dir)

    def progress(done: int, total: int) -> None:
        typer.echo(f"\rcopied {done} of {total} pages", nl=False, err=True)

    try:
        pages = backup_database(chosen, out, progress)
    except (ValueError, OSError, RuntimeError) as exc:
        _fail(str(exc))
    typer.echo("", err=True)
    _print({"backup": str(out.resolve()), "pages": pages,
            "bytes": out.stat().st_size})


@apps_cli.command("create")
def app_create(
    name: Annotated[str, typer.Option(help="The app's name, shown to users")],
    icon_url: Annotated[str, typer.Option(help="URL of the app's icon (https://)")] = "",
    admin: Annotated[str, typer.Option(help="The first admin's user id")] = "administrator",
    data_dir: DataDir = None,
) -> None:
    """Create an app; prints its sdkappid, secret key and admin as JSON."""
    from tidings.domain.apps import check_app_fields
    from tidings.domain.errors import TidingsError
    from tidings.domain.ids import check_user_id

    # The API's own checks, so the command refuses what the API refuses.
    for option, check in (("--name", lambda: check_app_fields(name, None)),
                          ("--icon-url", lambda: check_app_fields(None, icon_url)),
                          ("--admin", lambda: check_user_id(admin))):
        try:
            check()
        except TidingsError as exc:
            _fail(f"{option}: {exc.message}")
    app, key = with_services(load(data_dir),
                              lambda s: s.apps.create(name.strip(), icon_url, admin))
    _print({"sdkappid": app.sdkappid, "name": app.name, "icon_url": app.icon_url,
            "secret_key": key, "admin": admin})


@apps_cli.command("list")
def app_list(data_dir: DataDir = None) -> None:
    """List the apps (without their keys)."""
    found = with_services(load(data_dir), lambda s: s.apps.list())
    _print([_app_view(a, with_keys=False) for a in found])


def _existing(services: CliServices, sdkappid: int) -> Awaitable[AppRecord | None]:
    return services.apps.find(sdkappid)


async def _named(services: CliServices, app: str) -> AppRecord | list[int] | None:
    """The app whose sdkappid or else whose name is ``app``; the sdkappids
    when several apps have that name."""
    if app.isdigit() and (found := await services.apps.find(int(app))) is not None:
        return found
    matches = [a for a in await services.apps.list() if a.name == app]
    if len(matches) > 1:
        return [a.sdkappid for a in matches]
    return matches[0] if matches else None


@apps_cli.command("show")
def app_show(
    app: Annotated[str, typer.Argument(metavar="APP", help="The app's sdkappid or its name")],
    data_dir: DataDir = None,
) -> None:
    """Show one app with its keys."""
    found = with_services(load(data_dir), lambda s: _named(s, app))
    if found is None:
        _fail(f"no app with sdkappid or name {app!r}", 2)
    if isinstance(found, list):
        _fail(f"several apps are named {app!r}: give one's sdkappid "
              f"({', '.join(map(str, found))})", 2)
    _print(_app_view(found, with_keys=True))


@apps_cli.command("rotate-key")
def app_rotate_key(
    sdkappid: int,
    retire_old: Annotated[bool, typer.Option(
        "--retire-old", help="Retire every key but the newest instead of adding one")] = False,
    data_dir: DataDir = None,
) -> None:
    """Add a new secret key (old keys keep working), or with --retire-old,
    retire every key but the newest once your servers sign with it."""
    async def work(services: CliServices) -> dict[str, Any] | None:
        apps = services.apps
        if await apps.find(sdkappid) is None:
            return None
        if retire_old:
            return {"sdkappid": sdkappid, "retired": await apps.retire_all_but_newest(sdkappid)}
        return {"sdkappid": sdkappid, "secret_key": await apps.add_key(sdkappid)}

    result = with_services(load(data_dir), work)
    if result is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    _print(result)


def _api_key_view(key: ApiKey) -> dict[str, Any]:
    from tidings.domain.apps import api_key_view

    return api_key_view(key)


@api_keys_cli.command("create")
def api_key_create(
    sdkappid: int,
    name: Annotated[str, typer.Option(help="What the key is for (shown by list)")] = "",
    data_dir: DataDir = None,
) -> None:
    """Make an API key for the app's admin API; prints it once, as JSON.
    Only its hash is stored: keep it now or make another."""
    if len(name) > 64:
        _fail("--name must be at most 64 characters")

    async def work(services: CliServices) -> dict[str, Any] | None:
        if await services.apps.find(sdkappid) is None:
            return None
        record, key = await services.apps.create_api_key(sdkappid, name)
        return {**_api_key_view(record), "key": key}

    result = with_services(load(data_dir), work)
    if result is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    _print(result)


@api_keys_cli.command("list")
def api_key_list(sdkappid: int, data_dir: DataDir = None) -> None:
    """List the app's API keys (prefixes only), revoked ones included."""
    async def work(services: CliServices) -> list[dict[str, Any]] | None:
        if await services.apps.find(sdkappid) is None:
            return None
        return [_api_key_view(k) for k in await services.apps.list_api_keys(sdkappid)]

    result = with_services(load(data_dir), work)
    if result is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    _print(result)


@api_keys_cli.command("revoke")
def api_key_revoke(sdkappid: int, key_id: int, data_dir: DataDir = None) -> None:
    """Revoke one API key of the app; a running server refuses it at once."""
    revoked = with_services(load(data_dir),
                             lambda s: s.apps.revoke_api_key(sdkappid, key_id))
    if not revoked:
        _fail(f"app {sdkappid} has no live API key {key_id}", 2)
    _print({"sdkappid": sdkappid, "id": key_id, "revoked": True})


# -- callbacks -----------------------------------------------------------------------

# The list is docs/callbacks.md's (and a wrong name is refused with it): the
# names come from the callbacks module, too slow to import for --help.
EVENT_HELP = "an event of docs/callbacks.md, e.g. after_send; repeat for more"


@apps_cli.command("update")
def app_update(
    sdkappid: int,
    callback_url: Annotated[str | None, typer.Option(
        help="Where the app's callbacks go (http:// or https://); turns them on")] = None,
    callback_token: Annotated[str | None, typer.Option(
        help="Signs every callback (8-128 printable ASCII); made for you when absent")] = None,
    callback_format: Annotated[str | None, typer.Option(
        help="native (signed JSON, docs/callbacks.md) or tencent (Tencent Cloud IM's shape)")
    ] = None,
    callback_timeout: Annotated[int | None, typer.Option(
        help="Milliseconds to wait for an answer (100-10000; default 2000)")] = None,
    callback_policy: Annotated[str | None, typer.Option(
        help="When a before-callback fails: allow (default) or block the message")] = None,
    callback_enable: Annotated[list[str] | None, typer.Option(
        "--callback-enable", help=f"Switch an event on ({EVENT_HELP})")] = None,
    callback_disable: Annotated[list[str] | None, typer.Option(
        "--callback-disable", help=f"Switch an event off ({EVENT_HELP})")] = None,
    no_callbacks: Annotated[bool, typer.Option(
        "--no-callbacks", help="Turn the app's callbacks off")] = False,
    c2c_needs_friendship: Annotated[bool | None, typer.Option(
        "--c2c-needs-friendship/--no-c2c-needs-friendship",
        help="Whether one-to-one messages need a friendship both ways (20009)")] = None,
    blocked_sender_sees: Annotated[str | None, typer.Option(
        help="What a blocked sender sees: sent (default; acked, stored nowhere) or error "
             "(20007)")] = None,
    read_receipts: Annotated[bool | None, typer.Option(
        "--read-receipts/--no-read-receipts",
        help="Whether one-to-one read receipts are on (the default)")] = None,
    group_default_member: Annotated[list[str] | None, typer.Option(
        "--group-default-member",
        help="An account added to every new group of the app; repeat for more "
             "(replaces the list)")] = None,
    no_group_default_members: Annotated[bool, typer.Option(
        "--no-group-default-members", help="New groups get no default members")] = False,
    retention_days: Annotated[int | None, typer.Option(
        help="Days to keep the app's messages (0: for ever, the default; at most 3650); "
             "older ones are expired by the server's retention collector")] = None,
    data_dir: DataDir = None,
) -> None:
    """Change an app's callback settings, one-to-one rules and message
    retention (a running server uses them within TIDINGS_APP_CACHE_TTL);
    prints them. Once a URL is set every event is on unless switched off."""
    changing = any(v is not None for v in (callback_url, callback_token, callback_format,
                                            callback_timeout, callback_policy,
                                            callback_enable, callback_disable))
    if no_callbacks and changing:
        _fail("--no-callbacks goes alone")
    from tidings.domain.callbacks import apply_changes
    from tidings.domain.errors import TidingsError
    from tidings.domain.friends import BlockedSenderSees, C2CSettingsIn

    if blocked_sender_sees is not None and blocked_sender_sees not in ("sent", "error"):
        _fail("--blocked-sender-sees must be sent or error")

    async def work(services: CliServices) -> dict[str, Any] | None:
        if await services.apps.find(sdkappid) is None:
            return None
        friends = services.friends
        if (c2c_needs_friendship, blocked_sender_sees, read_receipts) != (None, None, None):
            rules = await friends.put_c2c_settings(sdkappid, C2CSettingsIn(
                needs_friendship=c2c_needs_friendship,
                blocked_sender_sees=None if blocked_sender_sees is None
                else BlockedSenderSees(blocked_sender_sees),
                read_receipts=read_receipts))
        else:
            rules = await friends.c2c_settings(sdkappid)
        callbacks = services.callbacks
        current = await callbacks.settings(sdkappid)
        extra: dict[str, Any] = {}
        if group_default_member is not None or no_group_default_members:
            extra["group_default_members"] = await services.group_defaults.put(
                sdkappid, list(group_default_member or ()))
        if retention_days is not None:
            extra["retention_days"] = await services.retention.set_days(sdkappid,
                                                                        retention_days)
        if no_callbacks:
            await callbacks.delete_settings(sdkappid)
            return {"sdkappid": sdkappid, "callbacks": None, "c2c": rules, **extra}
        if changing:
            current = await callbacks.put_settings(apply_changes(
                current, sdkappid, url=callback_url, token=callback_token,
                format=callback_format, enable=callback_enable or (),
                disable=callback_disable or (), timeout_ms=callback_timeout,
                failure_policy=callback_policy))
        return {"sdkappid": sdkappid, "callbacks": current.view() if current else None,
                "c2c": rules, **extra}

    try:
        result = with_services(load(data_dir), work)
    except TidingsError as exc:
        _fail(f"{exc.message}")
    if result is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    _print(result)


@apps_cli.command("callbacks")
def app_callbacks(
    sdkappid: int,
    limit: Annotated[int, typer.Option(help="How many, newest first (1-500)")] = 20,
    status: Annotated[str | None, typer.Option(
        help="Only these: pending, delivered, failed or skipped")] = None,
    data_dir: DataDir = None,
) -> None:
    """Show the app's callback settings and its recent callback deliveries."""
    from tidings.domain.callbacks import STATUSES

    if not 1 <= limit <= 500:
        _fail("--limit must be 1 to 500")
    if status is not None and status not in STATUSES:
        _fail(f"--status must be one of {', '.join(STATUSES)}")

    async def work(services: CliServices) -> dict[str, Any] | None:
        if await services.apps.find(sdkappid) is None:
            return None
        current = await services.callbacks.settings(sdkappid)
        return {"sdkappid": sdkappid, "callbacks": current.view() if current else None,
                "deliveries": await services.callbacks.deliveries(sdkappid, limit, status)}

    result = with_services(load(data_dir), work)
    if result is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    _print(result)


@apps_cli.command("callback-test")
def app_callback_test(sdkappid: int, data_dir: DataDir = None) -> None:
    """Send the test event to the app's callback URL now (from this command)
    and print how it went; exits 1 when the app did not acknowledge it."""
    from tidings.domain.errors import ErrorCode, TidingsError

    async def work(services: CliServices) -> dict[str, Any] | None:
        if await services.apps.find(sdkappid) is None:
            return None
        callbacks = services.callbacks
        callbacks.start(dispatch=False)  # sent from this command, not by the server
        try:
            return await callbacks.send_test(sdkappid)
        except TidingsError as exc:
            if exc.code is not ErrorCode.NOT_FOUND:
                raise
            return {"error": exc.message}  # no callback URL

    result = with_services(load(data_dir), work)
    if result is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    assert result is not None
    if "delivery" not in result:
        _fail(str(result["error"]), 2)
    _print(result)
    if not result["ok"]:
        raise typer.Exit(1)


@cli.command("usersig")
def make_usersig(
    sdkappid: Annotated[int, typer.Option(help="The app")],
    user: Annotated[str, typer.Option(help="The user id to sign for")],
    expire: Annotated[int, typer.Option(help="Lifetime in seconds (180 days)")] = 180 * 86400,
    data_dir: DataDir = None,
) -> None:
    """Sign a UserSig with the app's newest key (for trying things out; your
    app server signs its own with TLSSigAPIv2)."""
    from tidings.domain import usersig
    from tidings.domain.errors import TidingsError
    from tidings.domain.ids import check_user_id

    try:
        check_user_id(user)
    except TidingsError as exc:
        _fail(f"--user: {exc.message}")
    if expire <= 0:
        _fail("--expire must be positive")
    found = with_services(load(data_dir), lambda s: _existing(s, sdkappid))
    if found is None or not found.live_keys:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    assert found is not None
    typer.echo(usersig.sign(sdkappid, found.live_keys[-1], user, expire))


apps_cli.command("push")(app_push)


def main() -> None:
    if sys.platform != "win32":
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
    # One name however it is started (python -m tidings too): usage lines,
    # and the _TIDINGS_COMPLETE variable of shell completion.
    cli(prog_name="tidings")

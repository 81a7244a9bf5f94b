"""The ``tidings`` command: run the server and manage apps.

Every command reads the same settings as ``serve`` (``--data-dir``,
``TIDINGS_*``), and app commands work while a server runs on the same data.
An edge like the HTTP APIs: commands go through the server's services
(cli_services.py), never to the store, so a running server's caches see
each change within ``TIDINGS_APP_CACHE_TTL``. What they need beyond the
domain is imported inside each command, to keep ``tidings --help`` quick.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
import typer

from tidings.config import Settings
from tidings.domain import usersig
from tidings.domain.apps import ApiKey, AppRecord
from tidings.domain.callbacks import STATUSES, apply_changes, switchable_events
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.friends import BlockedSenderSees, C2CSettingsIn
from tidings.domain.ids import check_user_id
from tidings.protocol_cli import protocol_cli

if TYPE_CHECKING:
    from tidings.cli_services import CliServices

T = TypeVar("T")

cli = typer.Typer(help="Tidings: self-hosted instant messaging.", no_args_is_help=True,
                  add_completion=False)
apps_cli = typer.Typer(help="Create and manage apps (tenants).", no_args_is_help=True)
cli.add_typer(apps_cli, name="app")
api_keys_cli = typer.Typer(help="API keys for an app's admin API.", no_args_is_help=True)
apps_cli.add_typer(api_keys_cli, name="api-key")
cli.add_typer(protocol_cli, name="protocol")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the SQLite file lives "
                                              "[env TIDINGS_DATA_DIR; default ./tidings-data]")]


def _settings(data_dir: Path | None, **extra: Any) -> Settings:
    values = {k: v for k, v in extra.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


def _print(doc: object) -> None:
    typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


def _fail(message: str, code: int = 1) -> None:
    typer.echo(orjson.dumps({"error": message}).decode(), err=True)
    raise typer.Exit(code)


def _with_services(settings: Settings, work: Callable[[CliServices], Awaitable[T]]) -> T:
    """Run ``work`` with the services over the settings' database."""
    from tidings.cli_services import open_services

    async def run() -> T:
        async with open_services(settings) as services:
            return await work(services)
    return asyncio.run(run())


def _app_view(app: AppRecord, *, with_keys: bool) -> dict[str, Any]:
    view: dict[str, Any] = {"sdkappid": app.sdkappid, "name": app.name,
                            "icon_url": app.icon_url, "created_at": app.created_at,
                            "admins": list(app.admins), "kind": app.kind}
    if with_keys:
        view["keys"] = [{"id": k.id, "secret_key": k.secret_key, "created_at": k.created_at,
                         "retired_at": k.retired_at} for k in app.keys]
    return view


@cli.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="[env TIDINGS_HOST; default 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="[env TIDINGS_PORT; default 8080]")] = None,
) -> None:
    """Run the server (SQLite under the data dir unless TIDINGS_DATABASE_URL says otherwise)."""
    from tidings.server import run

    run(_settings(data_dir, host=host, port=port))


@cli.command()
def backup(
    out: Annotated[Path, typer.Argument(help="The backup file to write (must not exist)")],
    data_dir: DataDir = None,
) -> None:
    """Copy the SQLite database while the server runs (SQLite's online backup
    API); on PostgreSQL use pg_dump. Copy the data dir's media/ and
    media-url.key too (docs/operations.md)."""
    from tidings.cli_services import backup as backup_database

    settings = _settings(data_dir)

    def progress(done: int, total: int) -> None:
        typer.echo(f"\rcopied {done} of {total} pages", nl=False, err=True)

    try:
        pages = backup_database(settings, out, progress)
    except (ValueError, OSError, RuntimeError) as exc:
        _fail(str(exc))
    typer.echo("", err=True)
    _print({"backup": str(out.resolve()), "pages": pages,
            "bytes": out.stat().st_size})


@apps_cli.command("create")
def app_create(
    name: Annotated[str, typer.Option(help="The app's name, shown to users")],
    icon_url: Annotated[str, typer.Option(help="URL of the app's icon")] = "",
    admin: Annotated[str, typer.Option(help="The first admin's user id")] = "administrator",
    data_dir: DataDir = None,
) -> None:
    """Create an app; prints its sdkappid, secret key and admin as JSON."""
    if not name.strip() or len(name) > 64:
        _fail("--name must be 1 to 64 characters")
    if len(icon_url) > 512:
        _fail("--icon-url must be at most 512 characters")
    try:
        check_user_id(admin)
    except TidingsError as exc:
        _fail(f"--admin: {exc.message}")
    app, key = _with_services(_settings(data_dir),
                              lambda s: s.apps.create(name.strip(), icon_url, admin))
    _print({"sdkappid": app.sdkappid, "name": app.name, "icon_url": app.icon_url,
            "secret_key": key, "admin": admin})


@apps_cli.command("list")
def app_list(data_dir: DataDir = None) -> None:
    """List the apps (without their keys)."""
    found = _with_services(_settings(data_dir), lambda s: s.apps.list())
    _print([_app_view(a, with_keys=False) for a in found])


def _existing(services: CliServices, sdkappid: int) -> Awaitable[AppRecord | None]:
    return services.apps.find(sdkappid)


@apps_cli.command("show")
def app_show(sdkappid: int, data_dir: DataDir = None) -> None:
    """Show one app with its keys."""
    found = _with_services(_settings(data_dir), lambda s: _existing(s, sdkappid))
    if found is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    assert found is not None
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

    result = _with_services(_settings(data_dir), work)
    if result is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    _print(result)


def _api_key_view(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "sdkappid": key.sdkappid, "name": key.name, "prefix": key.prefix,
            "created_at": key.created_at, "revoked_at": key.revoked_at}


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

    result = _with_services(_settings(data_dir), work)
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

    result = _with_services(_settings(data_dir), work)
    if result is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    _print(result)


@api_keys_cli.command("revoke")
def api_key_revoke(sdkappid: int, key_id: int, data_dir: DataDir = None) -> None:
    """Revoke one API key of the app; a running server refuses it at once."""
    revoked = _with_services(_settings(data_dir),
                             lambda s: s.apps.revoke_api_key(sdkappid, key_id))
    if not revoked:
        _fail(f"app {sdkappid} has no live API key {key_id}", 2)
    _print({"sdkappid": sdkappid, "id": key_id, "revoked": True})


# -- callbacks -----------------------------------------------------------------------

EVENT_HELP = f"one of {', '.join(switchable_events())}; repeat for more"


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
    data_dir: DataDir = None,
) -> None:
    """Change an app's callback settings and one-to-one rules (a running
    server uses them within TIDINGS_APP_CACHE_TTL); prints them. Once a URL is set every event is on
    unless switched off."""
    changing = any(v is not None for v in (callback_url, callback_token, callback_format,
                                            callback_timeout, callback_policy,
                                            callback_enable, callback_disable))
    if no_callbacks and changing:
        _fail("--no-callbacks goes alone")

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
        result = _with_services(_settings(data_dir), work)
    except TidingsError as exc:
        _fail(f"{exc.message}")
    if result is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    _print(result)


@apps_cli.command("callbacks")
def app_callbacks(
    sdkappid: int,
    limit: Annotated[int, typer.Option(help="How many, newest first (1-500)")] = 20,
    status: Annotated[str | None, typer.Option(help=f"Only these: {', '.join(STATUSES)}")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Show the app's callback settings and its recent callback deliveries."""
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

    result = _with_services(_settings(data_dir), work)
    if result is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    _print(result)


@apps_cli.command("callback-test")
def app_callback_test(sdkappid: int, data_dir: DataDir = None) -> None:
    """Send the test event to the app's callback URL now (from this command)
    and print how it went; exits 1 when the app did not acknowledge it."""
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

    result = _with_services(_settings(data_dir), work)
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
    expire: Annotated[int, typer.Option(help="Lifetime in seconds")] = usersig.DEFAULT_EXPIRE,
    data_dir: DataDir = None,
) -> None:
    """Sign a UserSig with the app's newest key (for trying things out; your
    app server signs its own with TLSSigAPIv2)."""
    try:
        check_user_id(user)
    except TidingsError as exc:
        _fail(f"--user: {exc.message}")
    if expire <= 0:
        _fail("--expire must be positive")
    found = _with_services(_settings(data_dir), lambda s: _existing(s, sdkappid))
    if found is None or not found.live_keys:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    assert found is not None
    typer.echo(usersig.sign(sdkappid, found.live_keys[-1], user, expire))


@apps_cli.command("push")
def app_push(
    sdkappid: int,
    private_previews: Annotated[bool | None, typer.Option(
        "--private-previews/--no-private-previews",
        help="Hide the content of every notification")] = None,
    use_callback: Annotated[bool | None, typer.Option(
        "--use-callback/--no-use-callback",
        help="Receivers with no registered device go to the offline_push callback")] = None,
    vapid_subject: Annotated[str | None, typer.Option(
        help="Web Push contact: mailto: or https:")] = None,
    apns_key_file: Annotated[Path | None, typer.Option(help="The APNs .p8 key")] = None,
    apns_key_id: Annotated[str | None, typer.Option()] = None,
    apns_team_id: Annotated[str | None, typer.Option()] = None,
    apns_topic: Annotated[str | None, typer.Option(help="The iOS app's bundle id")] = None,
    fcm_credentials: Annotated[Path | None, typer.Option(
        help="The Firebase service account key file (JSON)")] = None,
    clear_apns: Annotated[bool, typer.Option(help="Remove the APNs credentials")] = False,
    clear_fcm: Annotated[bool, typer.Option(help="Remove the FCM credentials")] = False,
    data_dir: DataDir = None,
) -> None:
    """Show or change the app's push settings (docs/push.md); the VAPID
    public key appears once a browser asked for it."""
    from pydantic import ValidationError

    from tidings.domain.push import PushAppRequest, app_changes

    body: dict[str, Any] = {k: v for k, v in (
        ("private_previews", private_previews), ("use_callback", use_callback),
        ("vapid_subject", vapid_subject)) if v is not None}
    apns = (apns_key_file, apns_key_id, apns_team_id, apns_topic)
    if any(v is not None for v in apns):
        if any(v is None for v in apns):
            _fail("APNs needs --apns-key-file, --apns-key-id, --apns-team-id and --apns-topic")
        assert apns_key_file is not None
        body["apns"] = {"key": apns_key_file.read_text(), "key_id": apns_key_id,
                        "team_id": apns_team_id, "topic": apns_topic}
    elif clear_apns:
        body["apns"] = None
    if fcm_credentials is not None:
        try:
            body["fcm"] = orjson.loads(fcm_credentials.read_bytes())
        except orjson.JSONDecodeError:
            _fail("--fcm-credentials: not a JSON file")
    elif clear_fcm:
        body["fcm"] = None
    settings = _settings(data_dir)
    try:
        req = PushAppRequest.model_validate(body)
        values = app_changes(req, req.model_fields_set, settings.push_allow_http)
    except ValidationError as exc:
        _fail(str(exc).splitlines()[0] + ": " + str(exc).splitlines()[-1].strip())
    except TidingsError as exc:
        _fail(exc.message)

    async def work(services: CliServices) -> dict[str, Any] | None:
        if await services.apps.find(sdkappid) is None:
            return None
        push = services.push
        found = await (push.put_app_settings(sdkappid, values) if values
                       else push.app_settings(sdkappid))
        return {"sdkappid": sdkappid, **found}

    result = _with_services(settings, work)
    if result is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    _print(result)


def main() -> None:
    if sys.platform != "win32":
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cli()

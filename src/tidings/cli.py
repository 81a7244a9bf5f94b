"""The ``tidings`` command: run the server and manage apps.

Every command reads the same settings as ``serve`` (``--data-dir``,
``TIDINGS_*``), and app commands work while a server runs on the same data.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer

from tidings.config import Settings
from tidings.domain import usersig
from tidings.domain.errors import TidingsError
from tidings.domain.ids import check_user_id
from tidings.store.apps import ApiKey, AppRecord, AppStore
from tidings.store.engine import migrate, open_database

T = TypeVar("T")

cli = typer.Typer(help="Tidings: self-hosted instant messaging.", no_args_is_help=True,
                  add_completion=False)
apps_cli = typer.Typer(help="Create and manage apps (tenants).", no_args_is_help=True)
cli.add_typer(apps_cli, name="app")
api_keys_cli = typer.Typer(help="API keys for an app's admin API.", no_args_is_help=True)
apps_cli.add_typer(api_keys_cli, name="api-key")

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


def _with_store(settings: Settings, work: Callable[[AppStore], Awaitable[T]]) -> T:
    async def run() -> T:
        db = open_database(settings.resolved_database_url())
        try:
            await migrate(db)
            return await work(AppStore(db))
        finally:
            await db.dispose()
    return asyncio.run(run())


def _app_view(app: AppRecord, *, with_keys: bool) -> dict[str, Any]:
    view: dict[str, Any] = {"sdkappid": app.sdkappid, "name": app.name,
                            "icon_url": app.icon_url, "created_at": app.created_at,
                            "admins": list(app.admins)}
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
    app, key = _with_store(_settings(data_dir), lambda s: s.create(name.strip(), icon_url, admin))
    _print({"sdkappid": app.sdkappid, "name": app.name, "icon_url": app.icon_url,
            "secret_key": key, "admin": admin})


@apps_cli.command("list")
def app_list(data_dir: DataDir = None) -> None:
    """List the apps (without their keys)."""
    found = _with_store(_settings(data_dir), lambda s: s.list())
    _print([_app_view(a, with_keys=False) for a in found])


def _existing(store: AppStore, sdkappid: int) -> Awaitable[AppRecord | None]:
    return store.get(sdkappid)


@apps_cli.command("show")
def app_show(sdkappid: int, data_dir: DataDir = None) -> None:
    """Show one app with its keys."""
    found = _with_store(_settings(data_dir), lambda s: _existing(s, sdkappid))
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
    async def work(store: AppStore) -> dict[str, Any] | None:
        if await store.get(sdkappid) is None:
            return None
        if retire_old:
            return {"sdkappid": sdkappid, "retired": await store.retire_all_but_newest(sdkappid)}
        return {"sdkappid": sdkappid, "secret_key": await store.add_key(sdkappid)}

    result = _with_store(_settings(data_dir), work)
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

    async def work(store: AppStore) -> dict[str, Any] | None:
        if await store.get(sdkappid) is None:
            return None
        record, key = await store.create_api_key(sdkappid, name)
        return {**_api_key_view(record), "key": key}

    result = _with_store(_settings(data_dir), work)
    if result is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    _print(result)


@api_keys_cli.command("list")
def api_key_list(sdkappid: int, data_dir: DataDir = None) -> None:
    """List the app's API keys (prefixes only), revoked ones included."""
    async def work(store: AppStore) -> list[dict[str, Any]] | None:
        if await store.get(sdkappid) is None:
            return None
        return [_api_key_view(k) for k in await store.list_api_keys(sdkappid)]

    result = _with_store(_settings(data_dir), work)
    if result is None:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    _print(result)


@api_keys_cli.command("revoke")
def api_key_revoke(sdkappid: int, key_id: int, data_dir: DataDir = None) -> None:
    """Revoke one API key of the app; a running server refuses it at once."""
    revoked = _with_store(_settings(data_dir), lambda s: s.revoke_api_key(sdkappid, key_id))
    if not revoked:
        _fail(f"app {sdkappid} has no live API key {key_id}", 2)
    _print({"sdkappid": sdkappid, "id": key_id, "revoked": True})


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
    found = _with_store(_settings(data_dir), lambda s: _existing(s, sdkappid))
    if found is None or not found.live_keys:
        _fail(f"no app with sdkappid {sdkappid}", 2)
    assert found is not None
    typer.echo(usersig.sign(sdkappid, found.live_keys[-1], user, expire))


def main() -> None:
    if sys.platform != "win32":
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cli()

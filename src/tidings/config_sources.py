"""Where the settings come from, for ``tidings serve`` and every other command.

Precedence, highest first: the command line (``--data-dir``, ``--port``...),
``TIDINGS_*`` environment variables, the TOML config file, the defaults in
config.py. The config file is the first of: ``--config FILE``,
``$TIDINGS_CONFIG`` (empty: no file at all), ``./tidings.toml``,
``$XDG_CONFIG_HOME/tidings/tidings.toml`` (``~/.config/...``), and
``/etc/tidings/tidings.toml``; only that one file is read. Its keys are the
settings' names (``port = 8080``), and a relative path in it is relative to
the file's own directory: the server and a command run from elsewhere find
the same data (Gitea learned this the hard way: its CLI subcommands guessed
their work path from where they ran).

A ``TIDINGS_*`` variable or a file key that names no setting is refused with
the closest valid name, rather than silently ignored: a misspelt
``TIDINGS_DATABSE_URL`` would otherwise run on a fresh SQLite file.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from tidings.config import SECRETS, Settings

PREFIX = "TIDINGS_"
CONFIG_VARIABLE = "TIDINGS_CONFIG"
# Variables of the project's own test suite (scripts/test), not settings.
RESERVED_PREFIXES = ("TIDINGS_TEST_",)
DEFAULT = "default"


class ConfigError(Exception):
    """A setting or config file that stops a command from starting: the
    message is one line, for an operator, naming the name at fault."""


class DataDirError(ConfigError):
    """The data dir cannot be used (a file, not writable): found before
    anything is created in it."""


def _paths() -> set[str]:
    return {name for name, f in Settings.model_fields.items()
            if "Path" in str(f.annotation)}


def search_path(env: Mapping[str, str], cwd: Path) -> list[Path]:
    """The config files looked for, in order, when none is named."""
    xdg = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return [cwd / "tidings.toml", Path(xdg) / "tidings" / "tidings.toml",
            Path("/etc/tidings/tidings.toml")]


def find_config_file(explicit: Path | None, env: Mapping[str, str], cwd: Path
                     ) -> Path | None:
    """The config file to read (``explicit`` is ``--config``'s), or None."""
    named, how = (explicit, "--config") if explicit is not None else (None, "")
    if named is None and CONFIG_VARIABLE in env:
        if not env[CONFIG_VARIABLE]:
            return None  # set empty: no config file, on purpose
        named, how = Path(env[CONFIG_VARIABLE]), CONFIG_VARIABLE
    if named is not None:
        path = (cwd / named.expanduser()).resolve()
        if not path.is_file():
            raise ConfigError(f"config file {path} (from {how}) does not exist"
                              if not path.exists() else
                              f"config file {path} (from {how}) is not a file")
        return path
    for path in search_path(env, cwd):
        if path.is_file():
            return path.resolve()
    return None


def _unknown(names: list[str], shown: Callable[[str], str]) -> str:
    """Each unknown name with the closest setting, as ``shown`` writes names."""
    valid = list(Settings.model_fields)
    parts = []
    for name in names:
        close = difflib.get_close_matches(name.lower(), valid, n=1, cutoff=0.6)
        hint = f" (did you mean {shown(close[0])}?)" if close else ""
        parts.append(f"{shown(name)}{hint}")
    return "; ".join(parts)


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's settings, checked by name (values are checked with the rest)."""
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read: {exc.strerror}") from None
    unknown = [k for k in doc if k not in Settings.model_fields]
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting {_unknown(unknown, repr)}")
    tables = [k for k, v in doc.items() if isinstance(v, dict | list)]
    if tables:
        raise ConfigError(f"config file {path}: {tables[0]} must be a single value, not a "
                          "table or a list")
    values = dict(doc)
    for name in _paths() & set(values):
        if values[name] == "":
            del values[name]
        else:
            values[name] = path.parent / Path(str(values[name])).expanduser()
    return values


def environment_values(env: Mapping[str, str]) -> dict[str, str]:
    """The settings that ``TIDINGS_*`` variables set; unknown ones refused."""
    values: dict[str, str] = {}
    unknown = []
    for name, value in env.items():
        if not name.startswith(PREFIX) or name == CONFIG_VARIABLE \
                or name.startswith(RESERVED_PREFIXES):
            continue
        key = name[len(PREFIX):].lower()
        if key in Settings.model_fields:
            values[key] = value
        else:
            unknown.append(name[len(PREFIX):])
    if unknown:
        raise ConfigError("unknown environment variable "
                          + _unknown(sorted(unknown), lambda n: PREFIX + n.upper()))
    return values


class _Given(Settings):
    """Settings from the values given only: the environment is read above,
    with the other sources, so that each value's source is known (and a
    caller's ``env`` is the only environment)."""

    @classmethod
    def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


@dataclass(frozen=True)
class Loaded:
    """The settings of one command and where each came from."""

    settings: Settings
    # Setting name -> "--option", "TIDINGS_NAME", or "FILE" (a path); a
    # setting missing here has its default.
    sources: dict[str, str]
    config_file: Path | None

    def source(self, name: str) -> str:
        return self.sources.get(name, DEFAULT)

    def data_dir_origin(self) -> str:
        """Where the data dir came from, in words, for the lines that name it."""
        source = self.source("data_dir")
        if source == DEFAULT:
            return "the default ./tidings-data, in the current directory"
        if source.startswith(("--", PREFIX)):
            return source
        return f"data_dir in {source}"

    def effective(self) -> dict[str, Any]:
        """Every setting's value as JSON, secrets masked."""
        values: dict[str, Any] = self.settings.model_dump(mode="json")
        for name in SECRETS:
            if values.get(name):
                values[name] = "***"
        values["database_url"] = mask_url(values["database_url"])
        return values


def mask_url(url: str) -> str:
    """A database URL with its password replaced by ***."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _describe(exc: ValidationError, sources: dict[str, str]) -> str:
    """The first invalid value, named as the operator wrote it."""
    error = exc.errors()[0]
    if not error["loc"]:  # a rule across settings (config.py's validators)
        return str(error["msg"]).removeprefix("Value error, ")
    name = str(error["loc"][0])
    source = sources.get(name, DEFAULT)
    if source.startswith(("--", PREFIX)):
        label = source
    else:
        label = f"{name} ({source})" if source == DEFAULT else f"{name} in {source}"
    return f"{label}={error.get('input')!r}: {error['msg']}"


def load(options: Mapping[str, Any] | None = None, *, config: Path | None = None,
         env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Loaded:
    """The settings of a command: ``options`` are its command-line values
    by setting name (None: not given)."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    path = find_config_file(config, env, cwd)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if path is not None:
        for name, value in read_config_file(path).items():
            values[name], sources[name] = value, str(path)
    for name, value in environment_values(env).items():
        values[name], sources[name] = value, PREFIX + name.upper()
    for name, value in (options or {}).items():
        if value is not None:
            values[name], sources[name] = value, "--" + name.replace("_", "-")
    for name in _paths() & set(values):
        if sources[name] != str(path):  # the file's are already absolute
            if values[name] in ("", None):
                del values[name]
            else:
                values[name] = cwd / Path(str(values[name])).expanduser()
    try:
        settings: Settings = _Given(**values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, sources)) from None
    if "data_dir" not in values:
        settings = settings.model_copy(update={"data_dir": cwd / settings.data_dir})
    return Loaded(settings, sources, path)


def check_data_dir(path: Path) -> None:
    """Refuse a data dir that cannot hold the database, without creating
    anything: a directory (or a place to make one) this user can write, and
    a database file in it that this user can read and write."""
    user = _user()

    def unwritable(place: Path) -> str:
        try:
            if os.statvfs(place).f_flag & os.ST_RDONLY:
                return "is on a read-only file system"
        except OSError:
            pass
        return f"is not writable by {user}"

    try:
        exists = path.exists()
    except PermissionError:
        raise DataDirError(f"data dir {path} cannot be reached by {user}") from None
    if exists:
        if not path.is_dir():
            raise DataDirError(f"data dir {path} is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise DataDirError(f"data dir {path} {unwritable(path)}")
        db = path / "tidings.db"
        if db.exists() and not os.access(db, os.R_OK | os.W_OK):
            raise DataDirError(f"database {db} {unwritable(db)}")
        return
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise DataDirError(f"cannot create data dir {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataDirError(f"cannot create data dir {path}: {parent} {unwritable(parent)}")


def _user() -> str:
    import pwd

    try:
        return f"user {pwd.getpwuid(os.getuid()).pw_name}"
    except KeyError:
        return f"uid {os.getuid()}"

"""docs/configuration.md, made from the settings themselves (config.py):
``tidings config docs --out docs/configuration.md`` writes it, and
tests/test_config_docs.py fails when the page differs from what this makes,
so a new setting cannot go undocumented."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

from tidings import config
from tidings.config import SECRETS, Settings

# Headings of the table, each at the first setting it covers (in config.py's
# order; a new setting falls under the heading before it).
SECTIONS = {
    "data_dir": "Server and storage",
    "max_message_bytes": "Limits on what clients send",
    "header_timeout": "Connections",
    "app_cache_ttl": "Caches, commits and pages",
    "callback_retry_base": "Callbacks to app servers ([callbacks.md](callbacks.md))",
    "recall_window": "Messages and groups",
    "home_app_name": "The home app",
    "push_delay": "Push ([push.md](push.md))",
    "media_backend": "Media ([media.md](media.md))",
    "home_ticket_lifetime": "Home accounts ([home-accounts.md](home-accounts.md))",
    "trusted_proxies": "Behind a proxy",
}

INTRO = """\
# Configuration

<!-- Generated from src/tidings/config.py by `tidings config docs --out
docs/configuration.md`; tests/test_config_docs.py fails when it is stale. -->

Every setting can be given in a TOML config file or as a `TIDINGS_*`
environment variable; a few also as options of `tidings serve` (`--data-dir`,
`--host`, `--port`). Every command (`tidings serve`, `tidings app ...`) reads
them the same way, so the server and the commands run beside it find the same
data.

## Where values come from

Highest first:

1. the command line (`--data-dir`, `--host`, `--port`);
2. `TIDINGS_*` environment variables (the setting's name in capitals:
   `TIDINGS_PORT=8081`);
3. the config file;
4. the defaults below.

`tidings config show` prints the effective value of every setting (secrets
masked as `***`) and where each one that is not a default came from.

## The config file

TOML, one key per setting, with the names below in lower case:

```toml
data_dir = "/var/lib/tidings"
host = "0.0.0.0"
port = 8080
database_url = "postgresql+asyncpg://tidings:secret@db/tidings"
```

Tidings reads one file, the first of:

1. `--config FILE` (an option of `tidings` itself: `tidings --config FILE serve`);
2. `$TIDINGS_CONFIG` (set but empty: no config file at all);
3. `./tidings.toml` in the current directory;
4. `$XDG_CONFIG_HOME/tidings/tidings.toml` (`~/.config/tidings/tidings.toml`);
5. `/etc/tidings/tidings.toml`.

A relative path in the file (`data_dir`, `media_dir`) is relative to the
file's own directory; on the command line or in a variable, to the current
directory.

A key or a `TIDINGS_*` variable that names no setting stops every command
with the name and the closest valid one (`unknown environment variable
TIDINGS_PROT (did you mean TIDINGS_PORT?)`), as does a value that is not
valid; nothing is touched. Variables starting with `TIDINGS_TEST_` belong to
the test suite and are not settings.

## The data dir

Without a setting, the data dir is `./tidings-data` under the current
directory: a command run from another directory than the server would find
other, empty data. So that this cannot go unnoticed, `tidings serve` logs the
data dir and where it came from when it starts, and every command that
creates a new database says so on standard error, with its path. For a real
deployment, set `data_dir` in `/etc/tidings/tidings.toml` (or
`~/.config/tidings/tidings.toml`): the server and every command then use it
wherever they run.

Before anything is created, every command checks that the data dir is a
directory it can write (or one it can make), and that the database in it can
be written; `tidings serve` then binds its port, and only then opens the
database: a second server on a port in use stops with `cannot listen on
127.0.0.1:8080: Address already in use` and leaves the data alone.

## Settings

Secrets (masked by `tidings config show`): {secrets}; and the password in
`database_url`.
"""


def _default(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return f"`{value if value.is_absolute() else './' + str(value)}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def descriptions() -> dict[str, str]:
    """Each setting's docstring, from config.py's source."""
    tree = ast.parse(inspect.getsource(config))
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings"]
    found: dict[str, str] = {}
    for node, after in zip(cls.body, cls.body[1:], strict=False):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            found[node.target.id] = " ".join(after.value.value.split())
    return found


def configuration_page() -> str:
    secrets = ", ".join(f"`{name}`" for name in sorted(SECRETS))
    lines = [INTRO.replace("{secrets}", secrets)]
    meaning = descriptions()
    missing = sorted(set(Settings.model_fields) - set(meaning))
    if missing:
        raise ValueError(f"settings without a docstring in config.py: {', '.join(missing)}")
    for name, field in Settings.model_fields.items():
        if name in SECTIONS:
            lines += ["", f"### {SECTIONS[name]}", "",
                      "| setting | variable | default | meaning |", "|---|---|---|---|"]
        lines.append(f"| `{name}` | `TIDINGS_{name.upper()}` | {_default(field.default)} "
                     f"| {_cell(meaning[name])} |")
    return "\n".join(lines) + "\n"

"""Running Tidings as an operator does (issue 17): the CLI and the server
find the same data through the config file from any directory, a new
database is announced, bad settings and unusable data dirs stop every
command with one line before anything is touched, and a second ``serve``
on a port in use stops before it opens the database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.pg import free_port
from tests.support import App, Server
from tidings import __version__

pytestmark = pytest.mark.process_server("the CLI and tidings serve as processes")


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of an operator's shell: no TIDINGS_* settings, and a
    home and XDG config dir of the test's own (so no real config file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")})
    env.update(extra)
    return env


def tidings(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tidings", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=90)


def one_line_refusal(result: subprocess.CompletedProcess[str], *mentions: str) -> str:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    message = str(json.loads(lines[0])["error"])
    for mention in mentions:
        assert mention in message, (mention, message)
    return message


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    (path / ".config").mkdir(parents=True)
    return path


def test_misspelt_variables_and_file_keys_are_refused_with_the_closest_name(
        tmp_path: Path, home: Path) -> None:
    data = tmp_path / "data"
    env = clean_env(home, TIDINGS_DATA_DIR=str(data), TIDINGS_DATABSE_URL="sqlite://")
    for args in (("app", "list"), ("serve",), ("config", "show")):
        one_line_refusal(tidings(env, tmp_path, *args),
                         "TIDINGS_DATABSE_URL", "did you mean TIDINGS_DATABASE_URL?")
    config = home / ".config" / "tidings" / "tidings.toml"
    config.parent.mkdir()
    config.write_text('data_dir = "data"\nprot = 9000\n')
    one_line_refusal(tidings(clean_env(home), tmp_path, "serve"),
                     str(config), "'prot'", "did you mean 'port'?")
    # The suite's own variables are not settings, and not refused.
    config.write_text(f'data_dir = "{data}"\n')
    ok = tidings(clean_env(home, TIDINGS_TEST_WORKERS="0"), tmp_path, "config", "show")
    assert ok.returncode == 0, ok.stderr
    assert not data.exists()  # nothing above made the data dir


def test_env_beats_the_file_and_config_show_says_where_each_value_came_from(
        tmp_path: Path, home: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    config = etc / "tidings.toml"
    config.write_text('data_dir = "data"\nport = 9000\nhost = "0.0.0.0"\n'
                      's3_secret_key = "s3-very-secret"\n'
                      'database_url = "postgresql+asyncpg://tidings:pw-secret@db/tidings"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = clean_env(home, TIDINGS_CONFIG=str(config), TIDINGS_PORT="9001")
    shown = tidings(env, elsewhere, "config", "show")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["config_file"] == str(config)
    values, sources = doc["settings"], doc["sources"]
    assert values["port"] == 9001 and sources["port"] == "TIDINGS_PORT"
    assert values["host"] == "0.0.0.0" and sources["host"] == str(config)
    # A relative path in the file is the file's directory's, not the shell's.
    assert values["data_dir"] == str(etc / "data") and sources["data_dir"] == str(config)
    assert values["max_page"] == 200 and "max_page" not in sources  # a default
    assert values["s3_secret_key"] == "***"
    assert values["database_url"] == "postgresql+asyncpg://tidings:***@db/tidings"
    assert "s3-very-secret" not in shown.stdout and "pw-secret" not in shown.stdout
    # The command line beats both; an empty TIDINGS_CONFIG reads no file.
    shown = tidings(env, elsewhere, "config", "show", "--data-dir", "mine")
    doc = json.loads(shown.stdout)
    assert doc["settings"]["data_dir"] == str(elsewhere / "mine")
    assert doc["sources"]["data_dir"] == "--data-dir"
    no_file = json.loads(tidings(clean_env(home, TIDINGS_CONFIG=""), elsewhere,
                                 "config", "show").stdout)
    assert no_file["config_file"] is None and no_file["settings"]["port"] == 8080
    # --config names the file; else ./tidings.toml is found before ~/.config's.
    given = json.loads(tidings(clean_env(home), elsewhere, "--config", str(config),
                               "config", "show").stdout)
    assert given["config_file"] == str(config) and given["settings"]["port"] == 9000
    one_line_refusal(tidings(clean_env(home), elsewhere, "--config", "nowhere.toml",
                             "config", "show"), f"{elsewhere / 'nowhere.toml'}", "does not exist")
    (home / ".config" / "tidings").mkdir()
    (home / ".config" / "tidings" / "tidings.toml").write_text("port = 7000\n")
    assert json.loads(tidings(clean_env(home), elsewhere, "config", "show").stdout
                      )["settings"]["port"] == 7000
    (elsewhere / "tidings.toml").write_text("port = 7001\n")
    here = json.loads(tidings(clean_env(home), elsewhere, "config", "show").stdout)
    assert here["config_file"] == str(elsewhere / "tidings.toml")
    assert here["settings"]["port"] == 7001


def test_a_new_database_is_named_once_on_stderr(tmp_path: Path, home: Path) -> None:
    env = clean_env(home)
    first = tidings(env, tmp_path, "app", "list")
    assert first.returncode == 0 and first.stdout.strip() == "[]", first
    db = tmp_path / "tidings-data" / "tidings.db"
    assert first.stderr == (f"tidings: created a new database: {db} (data dir from the "
                            "default ./tidings-data, in the current directory)\n")
    again = tidings(env, tmp_path, "app", "list")
    assert again.returncode == 0 and again.stderr == ""


@pytest.fixture
def served(tmp_path: Path, home: Path) -> Iterator[tuple[dict[str, str], int]]:
    """``tidings serve`` started in one directory, its data dir set by the
    operator's config file (~/.config/tidings/tidings.toml) only."""
    srv = tmp_path / "srv"
    srv.mkdir()
    config = home / ".config" / "tidings" / "tidings.toml"
    config.parent.mkdir()
    config.write_text(f'data_dir = "{tmp_path / "data"}"\nlog_level = "warning"\n'
                      'home_argon2_time_cost = 1\nhome_argon2_memory_kib = 1024\n')
    port = free_port()
    env = clean_env(home, TIDINGS_PORT=str(port))
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "tidings", "serve"], env=env, cwd=srv,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)
        yield env, port
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def test_the_cli_from_another_directory_finds_the_servers_data(
        served: tuple[dict[str, str], int], tmp_path: Path) -> None:
    env, port = served
    log = (tmp_path / "server.log").read_text()
    assert f"database {tmp_path / 'data' / 'tidings.db'} (data dir from data_dir in " in log
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    created = tidings(env, elsewhere, "app", "create", "--name", "ShopX")
    assert created.returncode == 0 and created.stderr == "", created  # no new database
    doc = json.loads(created.stdout)
    app = App(doc["sdkappid"], doc["secret_key"], doc["admin"])
    headers = {"Authorization": f"Bearer {app.sig('alice')}"}
    answer = httpx.get(f"http://127.0.0.1:{port}/v1/conversations", headers=headers,
                       timeout=10)
    assert answer.status_code == 200, answer.text
    assert not (elsewhere / "tidings-data").exists()
    # By name as well as by id.
    shown = tidings(env, elsewhere, "app", "show", "ShopX")
    assert json.loads(shown.stdout)["sdkappid"] == app.sdkappid
    assert json.loads(tidings(env, elsewhere, "app", "show", str(app.sdkappid)).stdout
                      )["name"] == "ShopX"
    tidings(env, elsewhere, "app", "create", "--name", "ShopX")
    one_line_refusal(tidings(env, elsewhere, "app", "show", "ShopX"),
                     "several apps are named 'ShopX'", str(app.sdkappid))
    one_line_refusal(tidings(env, elsewhere, "app", "show", "NoSuchApp"), "'NoSuchApp'")


def test_bad_startup_settings_stop_serve_with_one_line(tmp_path: Path, home: Path) -> None:
    data = tmp_path / "data"
    base = clean_env(home, TIDINGS_DATA_DIR=str(data), TIDINGS_PORT=str(free_port()))
    one_line_refusal(tidings({**base, "TIDINGS_PORT": "abc"}, tmp_path, "serve"),
                     "TIDINGS_PORT='abc'", "integer")
    one_line_refusal(tidings(base, tmp_path, "serve", "--port", "99999"),
                     "--port=99999", "65535")
    one_line_refusal(tidings({**base, "TIDINGS_LOG_LEVEL": "verbose"}, tmp_path, "serve"),
                     "TIDINGS_LOG_LEVEL='verbose'")
    one_line_refusal(tidings({**base, "TIDINGS_HOME_EMAIL_SENDER": "smtp"}, tmp_path, "serve"),
                     "home_email_sender = smtp needs home_smtp_host")
    assert not data.exists()
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    for args in (("serve",), ("app", "list")):
        one_line_refusal(tidings({**base, "TIDINGS_DATA_DIR": str(a_file)}, tmp_path, *args),
                         f"data dir {a_file} is not a directory")
        one_line_refusal(tidings({**base, "TIDINGS_DATA_DIR": str(a_file / "x")}, tmp_path,
                                 *args), f"{a_file} is not a directory")
    assert a_file.read_text() == "not a directory"


def test_an_unwritable_data_dir_stops_serve_and_the_cli(tmp_path: Path, home: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    if os.getuid() == 0:
        # root writes through any mode bits: the commands run where the data
        # dir is a read-only bind mount (their own mount namespace).
        prefix = ["unshare", "--mount", "sh", "-c",
                  'mount --bind -o ro "$0" "$0" && exec "$@"', str(data)]
        why = "read-only file system"
    else:
        data.chmod(0o555)
        prefix, why = [], "not writable by"
    env = clean_env(home, TIDINGS_DATA_DIR=str(data), TIDINGS_PORT=str(free_port()))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*prefix, sys.executable, "-m", "tidings", *args], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=90)

    for args in (("serve",), ("app", "create", "--name", "X")):
        one_line_refusal(run(*args), f"data dir {data}", why)
    env["TIDINGS_DATA_DIR"] = str(data / "sub")
    one_line_refusal(run("serve"), f"cannot create data dir {data / 'sub'}: {data}", why)
    assert list(data.iterdir()) == []


def test_a_second_serve_on_a_port_in_use_stops_before_touching_data(
        server: Server, tmp_path: Path, home: Path) -> None:
    fresh = tmp_path / "second"
    env = clean_env(home, TIDINGS_DATA_DIR=str(fresh), TIDINGS_PORT=str(server.port))
    message = one_line_refusal(tidings(env, tmp_path, "serve"),
                               f"cannot listen on 127.0.0.1:{server.port}",
                               "is another tidings serve running?")
    assert "in use" in message
    assert not fresh.exists()
    # The same data dir as the running server: its database is not opened.
    db = server.data_dir / "tidings.db"
    if db.exists():
        before = {p.name: p.stat().st_mtime_ns for p in server.data_dir.iterdir()}
        env["TIDINGS_DATA_DIR"] = str(server.data_dir)
        one_line_refusal(tidings(env, tmp_path, "serve"), "cannot listen on")
        after = {p.name: p.stat().st_mtime_ns for p in server.data_dir.iterdir()
                 if p.name in before}
        assert {k: v for k, v in before.items() if k != "server.log"} == \
            {k: v for k, v in after.items() if k != "server.log"}
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass  # the first server still listens


def test_version_and_completion(tmp_path: Path, home: Path) -> None:
    env = clean_env(home)
    version = tidings(env, tmp_path, "--version")
    assert version.returncode == 0 and version.stdout == f"tidings {__version__}\n"
    completed = tidings({**env, "_TIDINGS_COMPLETE": "complete_bash",
                         "COMP_WORDS": "tidings app sh", "COMP_CWORD": "2"}, tmp_path)
    assert completed.stdout.split() == ["show"], completed


def _imported(env: dict[str, str], cwd: Path, *args: str) -> set[str]:
    """The modules a command imports (python -X importtime)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "tidings", *args],
                            env=env, cwd=cwd, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
            if line.startswith("import time:")}


def test_quick_commands_import_little(tmp_path: Path, home: Path) -> None:
    """Start-up time is the imports': --help and --version load no pydantic,
    SQLAlchemy or alembic, and a command on an up-to-date database no alembic.
    (Typer itself validates every non-flag option's value with pydantic, so a
    subcommand, even its --help, loads pydantic.)"""
    env = clean_env(home)
    for args in (("--help",), ("--version",)):
        heavy = {m for m in _imported(env, tmp_path, *args)
                 if m.split(".")[0] in {"pydantic", "sqlalchemy", "alembic", "uvicorn"}}
        assert not heavy, (args, sorted(heavy)[:5])
    first = _imported(env, tmp_path, "app", "list")  # a new database: migrated
    assert "alembic" in first
    again = _imported(env, tmp_path, "app", "list")
    assert "sqlalchemy" in again and "alembic" not in again


def test_migrations_show_progress_with_a_total_on_a_terminal(tmp_path: Path,
                                                             home: Path) -> None:
    import pty

    from tidings.store.engine import revisions

    main, replica = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "tidings", "app", "list"],
                              env=clean_env(home), cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=replica, timeout=90)
        os.close(replica)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal's other side is closed: all read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(main)
    shown = b"".join(chunks).decode()
    assert done.returncode == 0
    total = len(revisions())
    assert f"migrating the database 1/{total} " in shown
    assert f"migrating the database {total}/{total} ({revisions()[-1]})\r\x1b[K" in shown
    assert "created a new database" in shown  # after the erased progress line

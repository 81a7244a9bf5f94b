"""The other servers of bench/xmpp_compare.py: ejabberd and Prosody (Debian's
packages) and a PostgreSQL for Tidings, each started from a throwaway config
in a temporary folder, on its own loopback port, pinned to CPU 0, and stopped
(the whole process group) when the ``with`` block ends.

Both XMPP servers get the configuration the comparison needs and no more:
c2s on 127.0.0.1 without TLS (PLAIN over loopback), in-band registration
open to loopback without throttling, roster, XEP-0198 stream management (the
sender's ack), no offline storage, no archive (MAM), no s2s. ejabberd keeps
its accounts in Mnesia in the temporary folder, Prosody in memory: neither
writes a message anywhere, which is the difference a reader of the table must
keep in mind (Tidings acks after the commit's fsync).

ejabberd runs as a plain ``erl`` without a node name: no epmd (nothing is
left running after the bench) and no ``ejabberdctl`` (it would ``su`` to the
ejabberd user and need the distribution), one scheduler (``+S 1:1``, it has
one core). Prosody runs with the epoll backend (its default in 0.12). Both
listen with a backlog of 1,024 (ejabberd's default is 5, Prosody's 128: a
login storm of 100 at a time overflowed them and connections waited for SYN
retries), as uvicorn's 2,048 for Tidings.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]

HOST = "127.0.0.1"
DOMAIN = "bench.local"
SERVER_CPU = 0

EJABBERD_YML = """\
hosts: ["{domain}"]
loglevel: warning
log_rotate_count: 0
hide_sensitive_log_data: true
certfiles: []
listen:
  -
    port: {port}
    ip: "{host}"
    module: ejabberd_c2s
    starttls: false
    max_stanza_size: 262144
    backlog: 1024
    shaper: none
    access: all
auth_method: internal
auth_password_format: plain
registration_timeout: infinity
acl: {{}}
access_rules:
  register:
    allow: all
shaper_rules: {{}}
modules:
  mod_register:
    access: register
    ip_access: all
  mod_roster: {{}}
  mod_stream_mgmt:
    resume_timeout: 0
  mod_disco: {{}}
  mod_ping: {{}}
"""

PROSODY_CFG = """\
daemonize = false
run_as_root = true
pidfile = "{dir}/prosody.pid"
data_path = "{dir}"
log = {{ warn = "{dir}/prosody.log" }}
network_backend = "epoll"
network_settings = {{ tcp_backlog = 1024 }}
interfaces = {{ "{host}" }}
local_interfaces = {{ "{host}" }}
c2s_ports = {{ {port} }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "memory"
allow_registration = true
modules_enabled = {{ "roster", "saslauth", "register", "smacks", "disco", "ping" }}
modules_disabled = {{ "s2s", "offline", "tls", "c2s_limits", "limits" }}
smacks_hibernation_time = 0
VirtualHost "{domain}"
"""


@dataclass
class Running:
    """A server the bench started: where it listens and the pid to watch (its
    CPU and RSS: beam.smp's, Prosody's lua, the Tidings process)."""

    name: str
    port: int
    pid: int
    version: str


@dataclass
class Postgres:
    url: str
    pid: int  # the postmaster: its children are the backends, WAL writer...

    def cpu_seconds(self) -> float:
        """CPU of the whole cluster so far: the postmaster's, its live
        children's and (``children_*``) those it has reaped, so a backend that
        ended still counts."""
        with contextlib.suppress(psutil.Error):
            main = psutil.Process(self.pid)
            own = main.cpu_times()
            live = sum(float(sum(p.cpu_times()[:2])) for p in main.children(recursive=True))
            return float(own.user + own.system + own.children_user + own.children_system) + live
        return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}:\n{tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
            return
        time.sleep(0.1)
    sys.exit(f"server did not listen on {port}:\n{tail(log)}")


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (its own: ``start_new_session``),
    SIGKILL after 15 s: nothing it spawned outlives the bench."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the group, if any


def package_version(name: str) -> str:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], check=True,
                              capture_output=True, text=True).stdout.strip()
    return "?"


@contextlib.contextmanager
def ejabberd() -> Iterator[Running]:
    if shutil.which("erl") is None or not Path("/usr/lib/x86_64-linux-gnu").exists():
        sys.exit("ejabberd is not installed (apt-get install -y ejabberd)")
    with tempfile.TemporaryDirectory(prefix="bench-ejabberd-") as tmp:
        port = free_port()
        config = Path(tmp) / "ejabberd.yml"
        config.write_text(EJABBERD_YML.format(domain=DOMAIN, port=port, host=HOST))
        log = Path(tmp) / "ejabberd.log"
        env = {**os.environ, "EJABBERD_CONFIG_PATH": str(config),
               "EJABBERD_LOG_PATH": str(log), "ERL_LIBS": "/usr/lib/x86_64-linux-gnu",
               "ERL_CRASH_DUMP_BYTES": "0", "HOME": tmp}
        cmd = ["erl", "-noinput", "+K", "true", "+P", "1000000", "+S", "1:1",
               "-mnesia", "dir", f'"{tmp}/mnesia"', "-s", "ejabberd"]
        with open(Path(tmp) / "stdout.log", "wb") as out:
            proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True,
                                    preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}))
        try:
            wait_listening(port, proc, Path(tmp) / "stdout.log", 120)
            yield Running("ejabberd", port, beam_pid(proc.pid), package_version("ejabberd"))
        finally:
            stop_group(proc)


def beam_pid(pid: int) -> int:
    """``erl`` execs beam.smp (same pid) on Debian; if it forked, the child."""
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            if "beam" in Path(f"/proc/{child}/comm").read_text():
                return int(child)
    return pid


@contextlib.contextmanager
def prosody() -> Iterator[Running]:
    if shutil.which("prosody") is None:
        sys.exit("Prosody is not installed (apt-get install -y prosody)")
    with tempfile.TemporaryDirectory(prefix="bench-prosody-") as tmp:
        port = free_port()
        config = Path(tmp) / "prosody.cfg.lua"
        config.write_text(PROSODY_CFG.format(dir=tmp, domain=DOMAIN, port=port, host=HOST))
        log = Path(tmp) / "stdout.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(["prosody", "-F", "--config", str(config)], cwd=tmp,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}))
        try:
            wait_listening(port, proc, log, 60)
            yield Running("prosody", port, proc.pid, package_version("prosody"))
        finally:
            stop_group(proc)


def pg_bin_dir() -> Path | None:
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists():
            return folder
    return None


def prewarm_sql(megabytes: int) -> str:
    """Write ``megabytes`` of WAL (TRUNCATE keeps the table small) then
    checkpoint twice around a segment switch, so the segments are recycled
    (renamed for reuse up to ``max_wal_size``), not removed."""
    return f"""
CREATE TABLE prewarm (v text);
DO $$
DECLARE start pg_lsn := pg_current_wal_lsn();
BEGIN
  WHILE pg_wal_lsn_diff(pg_current_wal_lsn(), start) < {megabytes} * 1048576.0 LOOP
    INSERT INTO prewarm SELECT repeat('x', 1000) FROM generate_series(1, 20000);
    TRUNCATE prewarm;
  END LOOP;
END $$;
DROP TABLE prewarm;
CHECKPOINT;
SELECT pg_switch_wal();
CHECKPOINT;
"""


@contextlib.contextmanager
def postgres(settings: Sequence[str] = (), prewarm_wal_mb: int = 0) -> Iterator[Postgres]:
    """A PostgreSQL cluster with the defaults that matter here (fsync on,
    synchronous_commit on: a commit waits for its WAL flush, as SQLite's
    does), pinned to CPU 0 with the Tidings server it serves; ``settings``
    are more ``name=value`` for its command line (a bench's extensions).
    ``prewarm_wal_mb``: that much WAL written and checkpointed away before
    the cluster is handed over, so its commits reuse recycled segments as a
    cluster running for a while does, rather than zero-filling and syncing
    a new 16 MB segment every ~11,000 messages (perf-pgsat4: ~1-2 % of the
    shared core at saturation)."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        sys.exit("PostgreSQL is not installed (apt-get install -y postgresql)")
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    as_root = os.geteuid() == 0
    if as_root:
        shutil.chown(root, "postgres")
    os.chmod(root, 0o700)
    port = free_port()

    def run(*args: str) -> None:
        cmd = [str(bin_dir / args[0]), *args[1:]]
        subprocess.run(["runuser", "-u", "postgres", "--", *cmd] if as_root else cmd,
                       check=True, capture_output=True, timeout=120)

    try:
        run("initdb", "-D", f"{root}/data", "-U", "postgres", "-A", "trust", "-E", "UTF8")
        options = (f"-c listen_addresses={HOST} -c port={port} "
                   f"-c unix_socket_directories={root} -c max_connections=200"
                   + "".join(f" -c {setting}" for setting in settings))
        start = ["taskset", "-c", str(SERVER_CPU), str(bin_dir / "pg_ctl"), "-D",
                 f"{root}/data", "-o", options, "-l", f"{root}/log", "-w", "start"]
        subprocess.run(["runuser", "-u", "postgres", "--", *start] if as_root else start,
                       check=True, capture_output=True, timeout=120)
        try:
            run("createdb", "-h", HOST, "-p", str(port), "-U", "postgres", "bench")
            if prewarm_wal_mb:
                run("psql", "-h", HOST, "-p", str(port), "-U", "postgres", "-d", "bench",
                    "-v", "ON_ERROR_STOP=1", "-q", "-c", prewarm_sql(prewarm_wal_mb))
            pid = int((root / "data" / "postmaster.pid").read_text().split()[0])
            yield Postgres(f"postgresql+asyncpg://postgres@{HOST}:{port}/bench", pid)
        finally:
            run("pg_ctl", "-D", f"{root}/data", "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)

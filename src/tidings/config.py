"""Settings: every knob of a Tidings server, with its default and meaning.

Each setting's docstring (the string under it) is its documentation:
docs/configuration.md is generated from them (config_docs.py reads this
file's source: pydantic's ``use_attribute_docstrings`` would parse it at every
start, a quarter of a CLI command's import) and a test fails when the page is
stale. Where values come from (command
line, ``TIDINGS_*`` variables, the TOML config file, defaults) and the checks
on names are config_sources.py's; this class only says what is valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Shown as "***" by ``tidings config show`` (database_url: its password only).
SECRETS = frozenset({"media_url_secret", "s3_secret_key", "home_smtp_password",
                     "home_webhook_secret"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIDINGS_", extra="ignore")

    data_dir: Path = Path("./tidings-data")
    """Where the SQLite database (tidings.db), uploaded media and the media URL key live. A
    relative path in the config file is relative to that file's directory; on the command line
    or in TIDINGS_DATA_DIR, to the current directory."""
    database_url: str = ""
    """SQLAlchemy URL of the database, e.g. postgresql+asyncpg://user:pw@host/db; empty: SQLite
    in WAL mode at data_dir/tidings.db."""
    sqlite_checkpoint_pages: int = Field(1000, ge=0)
    """SQLite: a thread of its own copies the write-ahead log into the database file once it holds
    this many pages not yet copied, so no message's commit waits for that copy; past four times
    as many the writer copies it itself. Once the log first holds this many pages, its file is
    made four times as long (zeros; ~16 MiB at the default, 64 MiB at most) and kept so, so commits
    overwrite it rather than lengthen it. 0: SQLite's own checkpoints, inside the commit that
    passes 1,000 pages (docs/operations.md, "WAL checkpoints")."""
    host: str = "127.0.0.1"
    """Address to listen on (0.0.0.0 or :: for every interface)."""
    port: int = Field(8080, ge=1, le=65535)
    """TCP port to listen on."""
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    """Least severe log level written."""

    max_message_bytes: int = Field(12 * 1024, ge=256)
    """Largest message (its elements and custom data, encoded), in bytes."""
    max_frame_bytes: int = Field(64 * 1024, ge=1024)
    """Largest WebSocket frame a client may send, in bytes."""
    ws_compression: bool = False
    """Accept WebSocket per-message compression (permessage-deflate) when a client offers it, as
    browsers do. Off: each compressing connection holds zlib's state (tens of KiB of server
    memory) and spends CPU on every frame, for frames that are mostly small JSON."""
    ws_direct: bool = True
    """Serve /v1/ws straight from the WebSocket protocol rather than through the ASGI application
    (the same protocol; less CPU per frame and memory per connection: bench/README.md). Off only
    to compare the two."""
    ws_lean: bool = True
    """With ws_direct: read and write /v1/ws frames with Tidings' own small codec on the upgraded
    socket rather than the websockets library under uvicorn (less CPU per frame, a third of the
    memory per idle connection: bench/README.md). Not used while ws_compression is on. Off only
    to compare the two."""
    rate_limit_per_second: float = Field(100.0, gt=0)
    """Ops per second one WebSocket session may send, on average."""
    rate_limit_burst: int = Field(200, ge=1)
    """Ops a WebSocket session may send in a burst (the token bucket's size)."""
    max_body_bytes: int = Field(0, ge=0)
    """Largest REST request body, in bytes, refused with 413 10070 before it is read (docs/rest.md);
    0: eight times max_message_bytes, at least 64 KiB. Media uploads have their own limits."""
    max_admin_body_bytes: int = Field(16 * 1024 * 1024, ge=64 * 1024)
    """Largest request body of the admin API (/v1/admin/..., /v4/...: imports, batch sends)."""

    header_timeout: float = Field(10.0, gt=0)
    """Seconds a connection may take to send a request's headers (or a WebSocket upgrade's)
    before it is closed."""
    max_connections: int = Field(10_000, ge=1)
    """Open connections (HTTP and WebSocket) per server process; past it new ones are closed."""
    max_connections_per_address: int = Field(256, ge=1)
    """Open connections per peer address (peers in trusted_proxies are exempt)."""
    login_timeout: float = Field(10.0, gt=0)
    """Seconds a new WebSocket has to log in before it is closed."""
    heartbeat_interval: float = Field(25.0, gt=0)
    """Seconds of silence from a client after which the server pings it (clients are told it at
    login)."""
    heartbeat_timeout: float = Field(60.0, gt=0)
    """Seconds without a frame from a client before its connection is closed."""
    outbound_queue_limit: int = Field(5000, ge=10)
    """Frames queued for one slow WebSocket client before it is disconnected (it resyncs)."""

    app_cache_ttl: float = Field(2.0, ge=0)
    """Seconds the server trusts its cached copy of an app's keys and settings: a change made in
    another process (the CLI) is in effect for requests that start this long after it."""
    max_commit_batch: int = Field(1000, ge=1)
    """Group commit: most messages stored in one transaction."""
    max_page: int = Field(200, ge=1)
    """Largest page of history or sync, in messages."""
    max_sync_bytes: int = Field(1024 * 1024, ge=16 * 1024)
    """A sync answer stops adding messages past about this many bytes and says more."""

    callback_retry_base: float = Field(1.0, gt=0)
    """Seconds before an after-callback's first retry; it doubles at each retry."""
    callback_retry_cap: float = Field(300.0, gt=0)
    """Longest wait between two retries of an after-callback, in seconds."""
    callback_max_attempts: int = Field(20, ge=1)
    """Attempts of an after-callback, in all, before it is marked failed."""
    callback_poll_interval: float = Field(1.0, gt=0)
    """Seconds between the dispatcher's looks for rows that came due, in a cluster (another
    process's whose lease ran out); a process alone sleeps until the next retry is due."""
    callback_app_concurrency: int = Field(32, ge=1)
    """After-callbacks in flight at once, per app."""
    callback_concurrency: int = Field(512, ge=1)
    """After-callbacks in flight at once, in all."""
    callback_before_send_concurrency: int = Field(64, ge=1)
    """Before-send callbacks in flight at once, per app."""
    callback_before_send_queue: int = Field(5000, ge=1)
    """Messages that may wait for a before-send callback; past it the app's failure policy
    applies at once."""
    callback_retention: float = Field(3 * 86400.0, ge=0)
    """Seconds finished callback rows (delivered, failed, skipped) are kept."""

    recall_window: float = Field(120.0, ge=0)
    """Seconds after a message's time its sender may recall it (admins: always); 0: no limit."""
    edit_window: float = Field(0.0, ge=0)
    """Seconds after a message's time its sender may edit it (admins: always); 0: no limit."""
    search_fts_probe: int = Field(5000, ge=1)
    """SQLite search: FTS5 matches counted before a common word is searched another way."""
    search_index: Literal["trigram", "none"] = "trigram"
    """Message search's index: trigram (fast search, ~9 us a message on SQLite, ~15 on
    PostgreSQL) or none (no index kept: more messages a second; search finds exactly the same,
    reading the texts of the conversations searched, slower on long histories). PostgreSQL: a
    node drops or makes the shared index at its start (docs/search.md)."""
    live_room_rate: float = Field(40.0, gt=0)
    """Live groups (AVChatRoom): messages per second per room before Low, then Normal messages are
    shed."""
    group_receipts_max_members: int = Field(200, ge=0, le=100_000)
    """Group read receipts are kept for groups of at most this many members, unless the app sets
    its own limit; 0 turns them off."""

    home_app_name: str = Field("Tidings", min_length=1, max_length=64)
    """Name of the built-in home app (hosted accounts), made on first start; rename it later with
    tidings app."""
    home_app_admin: str = Field("administrator", min_length=1, max_length=32)
    """Admin account of the home app, made on first start."""

    push_delay: float = Field(0.0, ge=0)
    """Seconds after its commit that a message's push to offline receivers is decided."""
    push_enabled: bool = True
    """Off: no push at all (no push jobs are written); for servers whose apps do not push."""
    push_poll_interval: float = Field(1.0, gt=0)
    """Seconds between looks for push jobs and sends that came due, in a cluster (another
    process's whose lease ran out); a process alone sleeps until the next is due."""
    push_retry_base: float = Field(5.0, gt=0)
    """Seconds before a failed push send's first retry; it doubles at each retry."""
    push_retry_cap: float = Field(600.0, gt=0)
    """Longest wait between two retries of a push send, in seconds."""
    push_max_attempts: int = Field(8, ge=1)
    """Attempts of a push send, in all."""
    push_concurrency: int = Field(64, ge=1)
    """Push sends in flight at once."""
    push_timeout: float = Field(10.0, gt=0)
    """Seconds to wait for a push service's answer."""
    push_apns_url: str = "https://api.push.apple.com"
    """Apple's push service (APNs)."""
    push_fcm_url: str = "https://fcm.googleapis.com"
    """Firebase Cloud Messaging's service."""
    push_vapid_subject: str = "mailto:push@localhost"
    """Web Push: the VAPID "sub" claim when an app set none."""
    push_allow_http: bool = False
    """Accept Web Push endpoints over plain http (a local test push service only)."""

    media_backend: str = Field("local", pattern="^(local|s3)$")
    """Where uploaded files go: local (under media_dir) or s3 (any S3-compatible store)."""
    media_dir: Path | None = None
    """Directory of uploaded files with the local backend; empty: data_dir/media."""
    media_max_bytes: int = Field(100 * 1024 * 1024, ge=1024)
    """Largest upload, in bytes, until an app's admin sets its own."""
    media_kinds: str = "image,sound,video,file"
    """Kinds of upload accepted (comma-separated), until an app's admin sets its own."""
    media_keep_location: bool = False
    """Keep the location in uploaded images' metadata, until an app's admin sets its own."""
    media_part_max_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    """Bytes one PUT of an upload in parts may carry."""
    media_max_open_uploads: int = Field(20, ge=1)
    """Unfinished uploads one user may have at once."""
    media_url_ttl: int = Field(3600, ge=10)
    """Lifetime of a signed download URL, in seconds."""
    media_url_secret: str = ""
    """Key that signs download URLs; empty: a random key kept in data_dir/media-url.key (set it
    in a cluster)."""
    media_public_url: str = ""
    """Put in front of the media URLs that messages carry; empty: relative to this server."""
    media_upload_ttl: float = Field(86400.0, ge=0)
    """Seconds after which an unfinished upload is removed."""
    media_grace: float = Field(86400.0, ge=0)
    """Seconds after which an upload no stored message carries is removed."""
    media_gc_interval: float = Field(600.0, gt=0)
    """Seconds between runs of the media collector."""
    retention_interval: float = Field(3600.0, gt=0)
    """Seconds between runs of the retention collector (apps' message windows)."""
    figures_interval: float = Field(60.0, gt=0, le=60)
    """Seconds between samples of each app's connections and active users (console figures)."""
    media_large_px: int = Field(1280, ge=16)
    """Longest side of an image's large version, in pixels."""
    media_thumb_px: int = Field(256, ge=16)
    """Longest side of an image's thumbnail, in pixels."""
    ffmpeg_path: str = "ffmpeg"
    """The ffmpeg program (video posters; optional)."""
    ffprobe_path: str = "ffprobe"
    """The ffprobe program (video durations; optional)."""
    s3_endpoint_url: str = ""
    """S3 backend: the service's URL; empty: AWS."""
    s3_bucket: str = ""
    """S3 backend: the bucket."""
    s3_region: str = "us-east-1"
    """S3 backend: the region."""
    s3_access_key: str = ""
    """S3 backend: the access key id."""
    s3_secret_key: str = ""
    """S3 backend: the secret access key."""
    s3_prefix: str = "media/"
    """S3 backend: put in front of every object's key."""

    home_ticket_lifetime: int = Field(30 * 86400, ge=60)
    """Seconds a home account's sign-in ticket lasts."""
    home_code_lifetime: int = Field(600, ge=60)
    """Seconds a one-time code (e-mail or phone) stays valid: 10 minutes, time for a person to
    open the mail and type it (at least 60; Stytch's e-mail codes allow 1 to 10 minutes,
    Serverpod's last 15)."""
    home_code_tries: int = Field(5, ge=1)
    """Wrong tries of a one-time code before it is spent."""
    home_code_resend_after: int = Field(60, ge=0)
    """Seconds before a new code may be sent to the same address."""
    home_rate_window: int = Field(3600, ge=1)
    """Seconds of the window the home_*_per_* limits count in."""
    home_codes_per_address: int = Field(5, ge=1)
    """Codes sent to one address per home_rate_window."""
    home_codes_per_ip: int = Field(20, ge=1)
    """Codes requested from one client IP per home_rate_window."""
    home_attempts_per_ip: int = Field(60, ge=1)
    """Sign-ins (password or code) and registrations from one client IP per home_rate_window."""
    home_password_tries: int = Field(5, ge=1)
    """Password tries per username (known or not) before a lock-out."""
    home_lockout_seconds: int = Field(900, ge=1)
    """Length of a lock-out, in seconds."""
    home_argon2_time_cost: int = Field(3, ge=1)
    """argon2id passes (the defaults are RFC 9106's second choice)."""
    home_argon2_memory_kib: int = Field(65536, ge=8)
    """argon2id memory, in KiB."""
    home_argon2_parallelism: int = Field(4, ge=1)
    """argon2id lanes."""
    home_email_sender: Literal["console", "smtp", "webhook"] = "console"
    """How e-mail codes are sent: console (the server's log), smtp or webhook."""
    home_phone_sender: Literal["console", "webhook"] = "console"
    """How phone codes are sent: console (the server's log) or webhook."""
    home_smtp_host: str = ""
    """SMTP sender: the server."""
    home_smtp_port: int = Field(587, ge=1, le=65535)
    """SMTP sender: the port."""
    home_smtp_from: str = ""
    """SMTP sender: the From address."""
    home_smtp_security: Literal["none", "starttls", "ssl"] = "starttls"
    """SMTP sender: none, starttls or ssl."""
    home_smtp_username: str = ""
    """SMTP sender: the user name; empty: no login."""
    home_smtp_password: str = ""
    """SMTP sender: the password."""
    home_webhook_url: str = ""
    """Webhook sender: where codes are posted."""
    home_webhook_secret: str = ""
    """Webhook sender: the key that signs each post."""

    operator_session_hours: int = Field(12, ge=1, le=24 * 30)
    """Hours an operator's console sign-in lasts (operators: tidings operator create)."""
    operator_password_tries: int = Field(5, ge=1)
    """Wrong passwords per operator name (known or not) before a lock-out."""
    operator_attempts_per_ip: int = Field(30, ge=1)
    """Operator sign-ins from one client IP per operator_lockout_seconds."""
    operator_lockout_seconds: int = Field(900, ge=1)
    """Length of an operator lock-out, and of the window its counters count in, in seconds."""

    trusted_proxies: str = ""
    """Peers (comma-separated IPs or CIDR networks) whose X-Forwarded-For names the client; *
    trusts all; empty: the header is ignored and the socket's peer is the client."""

    @model_validator(mode="after")
    def _senders_complete(self) -> Settings:
        # Found when the settings are read (one line, before anything starts),
        # not when the server builds its code senders.
        if self.home_email_sender == "smtp" and not (self.home_smtp_host
                                                     and self.home_smtp_from):
            raise ValueError("home_email_sender = smtp needs home_smtp_host and home_smtp_from")
        if "webhook" in (self.home_email_sender, self.home_phone_sender) and not (
                self.home_webhook_url and self.home_webhook_secret):
            raise ValueError("a webhook code sender needs home_webhook_url and "
                             "home_webhook_secret")
        return self

    log_format: Literal["text", "json"] = "text"
    """Log lines: text (one line a record, key=value fields) or json (one object a line),
    at log_level ([logging.md](logging.md))."""
    metrics_enabled: bool = True
    """Serve Prometheus metrics at GET /metrics ([operations.md](operations.md#metrics))."""
    metrics_token: str = ""
    """Empty: /metrics answers loopback peers that no proxy forwarded (no
    X-Forwarded-For/Forwarded/X-Real-IP header); set: any peer sending
    "Authorization: Bearer <token>"."""

    redis_url: str = ""
    """A cluster ([cluster.md](cluster.md)): processes that share one PostgreSQL database
    (database_url) and this Redis (redis://host:port/db) route live frames, presence and
    cache changes to each other. Empty: one process alone (a second one refuses to start)."""
    cluster_name: str = Field("tidings", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    """The prefix of the cluster's Redis keys and channels: clusters that share one Redis
    (staging and production, say) each have their own."""
    cluster_heartbeat: float = Field(1.0, gt=0)
    """Seconds between a process's signs of life to the others."""
    cluster_node_timeout: float = Field(5.0, gt=0)
    """Seconds without a word after which the others take a process for dead (and forget
    its devices)."""
    cluster_settle_timeout: float = Field(2.0, gt=0)
    """Seconds a device's first sync after its login waits, at most, for every other process
    to acknowledge that it knows of the device (so that a message committed elsewhere after
    the sync's read is delivered live). Past it the sync reads anyway, and the log says which
    process did not answer."""
    cluster_order_wait: float = Field(0.1, gt=0)
    """Seconds a process holds, at most, an entry of a conversation that reached it before
    an earlier one committed by another process (so that devices see a conversation's
    entries in seq order); past it the entry goes on without the missing one, which follows
    when it comes."""
    cluster_lease: float = Field(60.0, gt=0)
    """Seconds that queued work (a callback, a push) claimed by a process is its own: past
    it, a process that died leaves it to the others. Longer than any callback's or push's
    timeout."""
    drain_timeout: float = Field(30.0, gt=0)
    """Seconds a process stopping on SIGTERM (a drain: docs/cluster.md) waits for its REST
    requests in flight and its WebSocket closes before it cancels what is left; the writer
    then commits what it was given, and the process exits."""
    gil_switch_ms: float = Field(5.0, ge=0.1, le=100.0)
    """Milliseconds a thread of the server process may hold Python's interpreter lock while
    another waits for it (sys.setswitchinterval; 5 is Python's own). The process's threads
    (the database's, the writer's) hold the event loop up to this long at a time. 1 lowered
    the p99 at 500 msg/s under a large push backlog (9.4 to 8.7 ms, on a quiet machine) for
    ~2% more CPU a message with 16 senders awaiting their acks and none at saturation
    (bench/README.md, "Figures, session 14" and "a 1 ms GIL switch interval")."""
    workers: int = Field(1, ge=1, le=256)
    """Processes tidings serve runs on one host, sharing its port (a supervising parent
    restarts any that dies); more than 1 needs PostgreSQL and TIDINGS_REDIS_URL."""
    cluster_broadcast_lease: float = Field(15.0, gt=0)
    """Seconds that a running broadcast is the walking process's own; it renews the lease
    every third of it while it walks, and every process looks for jobs whose lease ended
    as often: a process that dies leaves its broadcast to another within this time."""

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tidings.db').resolve()}"

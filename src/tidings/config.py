"""Settings, from the command line or ``TIDINGS_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIDINGS_", extra="ignore")

    data_dir: Path = Path("./tidings-data")
    # Empty means the embedded default: SQLite in WAL mode under data_dir.
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "info"

    # Limits on what clients send.
    max_message_bytes: int = Field(12 * 1024, ge=256)
    max_frame_bytes: int = Field(64 * 1024, ge=1024)
    rate_limit_per_second: float = Field(100.0, gt=0)
    rate_limit_burst: int = Field(200, ge=1)
    # REST request bodies (api/limits.py; docs/rest.md "Request sizes"),
    # refused with 413 10070 before they are read, or as soon as a chunked
    # body passes the limit. 0: eight times max_message_bytes, at least
    # 64 KiB. The admin API (/v1/admin/..., /v4/...: imports, batch sends)
    # has its own; media uploads keep the media limits below.
    max_body_bytes: int = Field(0, ge=0)
    max_admin_body_bytes: int = Field(16 * 1024 * 1024, ge=64 * 1024)

    # Connections.
    # Seconds a connection may take to send a request's headers (also a
    # WebSocket upgrade's), from its first byte or from connecting; then it
    # is closed (server.py).
    header_timeout: float = Field(10.0, gt=0)
    # Open connections (HTTP and WebSocket) per server process, and per
    # socket peer address; past either a new connection is closed at once.
    # Peers named in trusted_proxies have no per-address cap (the users
    # behind a proxy share its address), only the process's.
    max_connections: int = Field(10_000, ge=1)
    max_connections_per_address: int = Field(256, ge=1)
    login_timeout: float = Field(10.0, gt=0)
    heartbeat_interval: float = Field(25.0, gt=0)
    heartbeat_timeout: float = Field(60.0, gt=0)
    outbound_queue_limit: int = Field(5000, ge=10)

    # How long the server trusts its cached copy of an app's keys and
    # settings (callbacks, one-to-one rules, group settings, push, links);
    # a change made in another process (the CLI) is in effect for every
    # request that starts more than this many seconds after it.
    app_cache_ttl: float = Field(2.0, ge=0)

    # Group commit: at most this many messages in one transaction.
    max_commit_batch: int = Field(1000, ge=1)

    # History and sync page sizes.
    max_page: int = Field(200, ge=1)
    # A sync answer stops adding messages past about this many bytes (and
    # says ``more``), so a device that was away long gets it in pieces.
    max_sync_bytes: int = Field(1024 * 1024, ge=16 * 1024)

    # Callbacks to app servers (docs/callbacks.md). After-callbacks are
    # retried with exponential backoff from ``callback_retry_base`` seconds,
    # capped at ``callback_retry_cap``, ``callback_max_attempts`` times in all.
    callback_retry_base: float = Field(1.0, gt=0)
    callback_retry_cap: float = Field(300.0, gt=0)
    callback_max_attempts: int = Field(20, ge=1)
    # How often the dispatcher looks for retries that came due.
    callback_poll_interval: float = Field(1.0, gt=0)
    # After-callbacks in flight at once, per app and in all.
    callback_app_concurrency: int = Field(32, ge=1)
    callback_concurrency: int = Field(512, ge=1)
    # Before-send callbacks in flight per app, and how many messages may wait
    # for one (past it the app's failure policy applies at once).
    callback_before_send_concurrency: int = Field(64, ge=1)
    callback_before_send_queue: int = Field(5000, ge=1)
    # Finished outbox rows (delivered, failed, skipped) are deleted after this.
    callback_retention: float = Field(3 * 86400.0, ge=0)
    # Recall and edit by the sender (admins have no limit): seconds after the
    # message's time; 0 means no limit.
    recall_window: float = Field(120.0, ge=0)
    edit_window: float = Field(0.0, ge=0)
    # Search on SQLite: FTS5 matches counted before a common word is searched
    # another way (store/search.py, fts_pays).
    search_fts_probe: int = Field(5000, ge=1)
    # Live groups (AVChatRoom): messages per second per room before Low, then
    # Normal messages are shed (Tencent's limit is 40).
    live_room_rate: float = Field(40.0, gt=0)

    # Group read receipts (per-message read counts and who has read) are
    # kept for groups of at most this many members, unless the app sets its
    # own limit (0 turns them off).
    group_receipts_max_members: int = Field(200, ge=0, le=100_000)

    # The built-in home app (hosted Tidings accounts), made on first start
    # with this name and admin account; rename it later with `tidings app`.
    home_app_name: str = Field("Tidings", min_length=1, max_length=64)
    home_app_admin: str = Field("administrator", min_length=1, max_length=32)
    # Push for receivers who are offline (docs/push.md): a message's push is
    # decided this many seconds after its commit; failed sends are retried
    # from push_retry_base seconds, doubling up to push_retry_cap, at most
    # push_max_attempts times.
    push_delay: float = Field(0.0, ge=0)
    # Off: no push at all (the writer writes no push jobs); for a server whose
    # apps do not push, and to measure what push costs (bench/).
    push_enabled: bool = True
    push_poll_interval: float = Field(1.0, gt=0)
    push_retry_base: float = Field(5.0, gt=0)
    push_retry_cap: float = Field(600.0, gt=0)
    push_max_attempts: int = Field(8, ge=1)
    push_concurrency: int = Field(64, ge=1)
    push_timeout: float = Field(10.0, gt=0)
    push_apns_url: str = "https://api.push.apple.com"
    push_fcm_url: str = "https://fcm.googleapis.com"
    # The VAPID "sub" claim when an app set none.
    push_vapid_subject: str = "mailto:push@localhost"
    # Web Push endpoints over plain http (a local test push service only).
    push_allow_http: bool = False
    # Uploaded media (docs/media.md). Where files go: "local" (under
    # media_dir, data_dir/media by default) or "s3" (any S3-compatible store).
    media_backend: str = Field("local", pattern="^(local|s3)$")
    media_dir: Path | None = None
    # An app's defaults until its admin sets its own (PUT /v1/admin/media/settings).
    media_max_bytes: int = Field(100 * 1024 * 1024, ge=1024)
    media_kinds: str = "image,sound,video,file"
    media_keep_location: bool = False
    # Bytes one PUT of an upload in parts may carry.
    media_part_max_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    media_max_open_uploads: int = Field(20, ge=1)
    # Lifetime of a signed download URL; the key that signs them (empty: a
    # random key kept in data_dir/media-url.key; set it in a cluster).
    media_url_ttl: int = Field(3600, ge=10)
    media_url_secret: str = ""
    # Put in front of the media URLs that messages carry ("" keeps them
    # relative to this server: /v1/media/<id>).
    media_public_url: str = ""
    # Unfinished uploads, and uploads no stored message carries, are removed
    # after these many seconds; the collector runs every media_gc_interval.
    media_upload_ttl: float = Field(86400.0, ge=0)
    media_grace: float = Field(86400.0, ge=0)
    media_gc_interval: float = Field(600.0, gt=0)
    # Longest side of an image's large version and of its thumbnail.
    media_large_px: int = Field(1280, ge=16)
    media_thumb_px: int = Field(256, ge=16)
    # Video posters and durations (optional: without them no poster).
    ffmpeg_path: str = "ffmpeg"
    ffprobe_path: str = "ffprobe"
    s3_endpoint_url: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_prefix: str = "media/"

    # Home accounts (docs/home-accounts.md). Counting windows are seconds;
    # the ``*_per_*`` limits count within ``home_rate_window``.
    home_ticket_lifetime: int = Field(30 * 86400, ge=60)
    home_code_lifetime: int = Field(600, ge=30)
    home_code_tries: int = Field(5, ge=1)
    home_code_resend_after: int = Field(60, ge=0)
    home_rate_window: int = Field(3600, ge=1)
    home_codes_per_address: int = Field(5, ge=1)
    home_codes_per_ip: int = Field(20, ge=1)
    # Sign-ins (password or code) and registrations from one client IP.
    home_attempts_per_ip: int = Field(60, ge=1)
    # Password tries per username (known or not) before a lock-out.
    home_password_tries: int = Field(5, ge=1)
    home_lockout_seconds: int = Field(900, ge=1)
    # argon2id; the defaults are argon2-cffi's (RFC 9106's second choice).
    home_argon2_time_cost: int = Field(3, ge=1)
    home_argon2_memory_kib: int = Field(65536, ge=8)
    home_argon2_parallelism: int = Field(4, ge=1)
    home_email_sender: Literal["console", "smtp", "webhook"] = "console"
    home_phone_sender: Literal["console", "webhook"] = "console"
    home_smtp_host: str = ""
    home_smtp_port: int = Field(587, ge=1, le=65535)
    home_smtp_from: str = ""
    home_smtp_security: Literal["none", "starttls", "ssl"] = "starttls"
    home_smtp_username: str = ""
    home_smtp_password: str = ""
    home_webhook_url: str = ""
    home_webhook_secret: str = ""
    # Peers (comma-separated IPs or CIDR networks) whose X-Forwarded-For
    # names the client (uvicorn's forwarded_allow_ips; "*" trusts all);
    # empty: the header is ignored and the socket's peer is the client.
    trusted_proxies: str = ""

    # A cluster (docs/cluster.md): processes that share one PostgreSQL
    # database (database_url) and this Redis (redis://host:port/db) route
    # live frames, presence and cache changes to each other. Empty: one
    # process alone (tidings serve refuses to start beside another).
    redis_url: str = ""
    # The prefix of the cluster's Redis keys and channels: clusters that
    # share one Redis (staging and production, say) each have their own.
    cluster_name: str = Field("tidings", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # How often a process tells the others it is alive, and after how many
    # seconds without a word they take it for dead (and forget its devices).
    cluster_heartbeat: float = Field(1.0, gt=0)
    cluster_node_timeout: float = Field(5.0, gt=0)
    # Seconds that queued work (a callback, a push) claimed by a process is
    # its own: past it, a process that died leaves it to the others. Longer
    # than any callback's or push's timeout.
    cluster_lease: float = Field(60.0, gt=0)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tidings.db').resolve()}"

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

    # Connections.
    login_timeout: float = Field(10.0, gt=0)
    heartbeat_interval: float = Field(25.0, gt=0)
    heartbeat_timeout: float = Field(60.0, gt=0)
    outbound_queue_limit: int = Field(5000, ge=10)

    # How long the server trusts its cached copy of an app's keys; a key
    # retired from the CLI stops working on a running server within this.
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

    # The built-in home app (hosted Tidings accounts), made on first start
    # with this name and admin account; rename it later with `tidings app`.
    home_app_name: str = Field("Tidings", min_length=1, max_length=64)
    home_app_admin: str = Field("administrator", min_length=1, max_length=32)

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

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tidings.db').resolve()}"

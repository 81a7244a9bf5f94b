"""Apps as every layer sees them: an app (tenant) with its secret keys and
admins, and its admin API keys (only their prefix; the store keeps a hash)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AppKey:
    id: int
    secret_key: str
    created_at: int
    retired_at: int | None


@dataclass(frozen=True, slots=True)
class AppRecord:
    sdkappid: int
    name: str
    icon_url: str
    created_at: int
    keys: tuple[AppKey, ...] = ()
    admins: tuple[str, ...] = field(default=())
    kind: str = "app"

    @property
    def live_keys(self) -> tuple[str, ...]:
        return tuple(k.secret_key for k in self.keys if k.retired_at is None)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    sdkappid: int
    name: str
    prefix: str
    created_at: int
    revoked_at: int | None

"""Apps as every layer sees them: an app (tenant) with its secret keys and
admins, and its admin API keys (only their prefix; the store keeps a hash)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tidings.domain.errors import ErrorCode, TidingsError


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


def app_view(app: AppRecord, *, with_keys: bool) -> dict[str, object]:
    """An app as the CLI and the admin API show it; its secret keys only to
    those who may manage it."""
    view: dict[str, object] = {"sdkappid": app.sdkappid, "name": app.name,
                               "icon_url": app.icon_url, "created_at": app.created_at,
                               "admins": list(app.admins), "kind": app.kind}
    if with_keys:
        view["keys"] = [{"id": k.id, "secret_key": k.secret_key, "created_at": k.created_at,
                         "retired_at": k.retired_at} for k in app.keys]
    return view


def api_key_view(key: ApiKey) -> dict[str, object]:
    """An API key as shown: its prefix, never the key (only its hash is kept)."""
    return {"id": key.id, "sdkappid": key.sdkappid, "name": key.name, "prefix": key.prefix,
            "created_at": key.created_at, "revoked_at": key.revoked_at}


def check_app_fields(name: str | None, icon_url: str | None) -> None:
    """An app's name (1 to 64 characters, not blank) and icon URL (empty, or
    https: the messenger and the console show it as an image, and their
    Content-Security-Policy loads images over https only) as the API takes them."""
    if name is not None and (not name.strip() or len(name) > 64):
        raise TidingsError(ErrorCode.INVALID_REQUEST, "name: 1 to 64 characters, not blank")
    if icon_url and (len(icon_url) > 512 or not icon_url.lower().startswith("https://")):
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           "icon_url: an https URL of at most 512 characters, or empty")

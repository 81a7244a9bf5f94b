"""Apps, their secret keys and their admin accounts."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tidings.domain.apps import ApiKey, AppKey, AppRecord
from tidings.domain.clock import now_ms
from tidings.store.engine import Database
from tidings.store.schema import app_admins, app_api_keys, app_keys, apps

FIRST_SDKAPPID = 1_400_000_000
LAST_SDKAPPID = 1_999_999_999

API_KEY_PREFIX = "tdk_"


def hash_api_key(key: str) -> str:
    # Keys carry 288 random bits: a plain SHA-256 is enough, no slow KDF.
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key(sdkappid: int) -> str:
    return f"{API_KEY_PREFIX}{sdkappid}_{secrets.token_urlsafe(36)}"


def api_key_app(key: str) -> int | None:
    """The sdkappid an API key names, or None when it is not shaped like one."""
    if not key.startswith(API_KEY_PREFIX) or len(key) > 128:
        return None
    app, _, rest = key[len(API_KEY_PREFIX):].partition("_")
    if not (app.isascii() and app.isdigit() and len(app) <= 12) or len(rest) != 48:
        return None
    return int(app)


def new_secret_key() -> str:
    # Same shape as Tencent's keys: 64 hex digits.
    return secrets.token_hex(32)


class AppStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, name: str, icon_url: str, admin: str,
                     kind: str = "app") -> tuple[AppRecord, str]:
        key = new_secret_key()
        created = now_ms()
        for _ in range(20):
            sdkappid = FIRST_SDKAPPID + secrets.randbelow(LAST_SDKAPPID - FIRST_SDKAPPID)
            try:
                async with self._db.writer.begin() as conn:
                    await conn.execute(insert(apps).values(
                        sdkappid=sdkappid, name=name, icon_url=icon_url, created_at=created,
                        kind=kind))
                    await conn.execute(insert(app_keys).values(
                        sdkappid=sdkappid, secret_key=key, created_at=created))
                    await conn.execute(insert(app_admins).values(
                        sdkappid=sdkappid, user_id=admin))
            except IntegrityError:
                if kind == "home" and await self.home() is not None:
                    raise  # another process made the home app meanwhile
                continue  # that sdkappid was taken; draw another
            record = await self.get(sdkappid)
            assert record is not None
            return record, key
        raise RuntimeError("could not allocate an sdkappid")

    async def get(self, sdkappid: int) -> AppRecord | None:
        """In one hand-off (``Database.read``): logins read it whenever the
        app cache's entry is older than ``app_cache_ttl``."""
        return await self._db.read(lambda conn: _app(conn, sdkappid))

    async def home(self) -> AppRecord | None:
        """The built-in home app, once it exists."""
        found = await self._db.scalar(select(apps.c.sdkappid).where(apps.c.kind == "home"))
        return None if found is None else await self.get(found)

    async def ensure_home(self, name: str, admin: str) -> AppRecord:
        """The home app, made on first start. Two processes starting at once on
        one database make one: the unique index on the home kind refuses the
        second, which then reads the first one's."""
        found = await self.home()
        if found is not None:
            return found
        try:
            made, _ = await self.create(name, "", admin, kind="home")
        except IntegrityError:
            other = await self.home()
            assert other is not None
            return other
        return made

    async def list(self) -> list[AppRecord]:
        wanted = await self._db.rows(select(apps.c.sdkappid).order_by(apps.c.created_at))
        records = [await self.get(r.sdkappid) for r in wanted]
        return [r for r in records if r is not None]

    async def update(self, sdkappid: int, name: str | None, icon_url: str | None) -> bool:
        """Change the app's name and/or icon; False when there is no such app."""
        values = {k: v for k, v in (("name", name), ("icon_url", icon_url)) if v is not None}
        async with self._db.writer.begin() as conn:
            if not values:
                found = (await conn.execute(select(apps.c.sdkappid)
                                            .where(apps.c.sdkappid == sdkappid))).first()
                return found is not None
            changed = await conn.execute(update(apps).where(apps.c.sdkappid == sdkappid)
                                         .values(**values))
        return int(changed.rowcount) == 1

    async def add_key(self, sdkappid: int) -> str:
        key = new_secret_key()
        async with self._db.writer.begin() as conn:
            await conn.execute(insert(app_keys).values(
                sdkappid=sdkappid, secret_key=key, created_at=now_ms()))
        return key

    async def retire_all_but_newest(self, sdkappid: int) -> int:
        """Retire every live key except the newest; returns how many."""
        async with self._db.writer.begin() as conn:
            newest = (await conn.execute(
                select(func.max(app_keys.c.id)).where(app_keys.c.sdkappid == sdkappid)
            )).scalar_one()
            result = await conn.execute(
                update(app_keys)
                .where(app_keys.c.sdkappid == sdkappid, app_keys.c.id != newest,
                       app_keys.c.retired_at.is_(None))
                .values(retired_at=now_ms())
            )
        return int(result.rowcount)

    # -- API keys ----------------------------------------------------------

    async def create_api_key(self, sdkappid: int, name: str) -> tuple[ApiKey, str]:
        key = new_api_key(sdkappid)
        prefix = key[: len(API_KEY_PREFIX) + len(str(sdkappid)) + 1 + 6]
        created = now_ms()
        async with self._db.writer.begin() as conn:
            result = await conn.execute(insert(app_api_keys).values(
                sdkappid=sdkappid, name=name, prefix=prefix, key_hash=hash_api_key(key),
                created_at=created).returning(app_api_keys.c.id))
            key_id = int(result.scalar_one())
        return ApiKey(key_id, sdkappid, name, prefix, created, None), key

    async def list_api_keys(self, sdkappid: int) -> tuple[ApiKey, ...]:
        rows = await self._db.rows(select(app_api_keys).where(
            app_api_keys.c.sdkappid == sdkappid).order_by(app_api_keys.c.id))
        return tuple(ApiKey(r.id, r.sdkappid, r.name, r.prefix, r.created_at, r.revoked_at)
                     for r in rows)

    async def revoke_api_key(self, sdkappid: int, key_id: int) -> bool:
        """True when the key existed in that app and was live."""
        async with self._db.writer.begin() as conn:
            result = await conn.execute(
                update(app_api_keys)
                .where(app_api_keys.c.sdkappid == sdkappid, app_api_keys.c.id == key_id,
                       app_api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now_ms()))
        return int(result.rowcount) == 1

    async def find_live_api_key(self, key: str) -> ApiKey | None:
        row = await self._db.first(select(app_api_keys).where(
            app_api_keys.c.key_hash == hash_api_key(key), app_api_keys.c.revoked_at.is_(None)))
        if row is None:
            return None
        return ApiKey(row.id, row.sdkappid, row.name, row.prefix, row.created_at, None)


def _app(conn: Connection, sdkappid: int) -> AppRecord | None:
    row = conn.execute(select(apps).where(apps.c.sdkappid == sdkappid)).first()
    if row is None:
        return None
    keys = conn.execute(
        select(app_keys).where(app_keys.c.sdkappid == sdkappid).order_by(app_keys.c.id)).all()
    admins = conn.execute(
        select(app_admins.c.user_id).where(app_admins.c.sdkappid == sdkappid)
        .order_by(app_admins.c.user_id)).scalars().all()
    return AppRecord(
        sdkappid=row.sdkappid, name=row.name, icon_url=row.icon_url,
        created_at=row.created_at,
        keys=tuple(AppKey(k.id, k.secret_key, k.created_at, k.retired_at) for k in keys),
        admins=tuple(admins), kind=row.kind,
    )

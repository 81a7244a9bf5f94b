"""Broadcast jobs (``broadcasts``) and the pages of recipients they walk.

In a cluster a store has a lease (``lease_ms`` > 0, ``owner`` this
process's id): a running job is walked by the process holding its lease
(``lease_owner``, ``lease_until``), claimed like the callback outbox
(store/leases.py), renewed while walked, and every write of its progress
is fenced by the owner, so a process whose lease another took over stops at
its next page. A process alone (``lease_ms`` 0) takes every running job."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError

from tidings.domain.accounts import AccountState
from tidings.domain.clock import now_ms
from tidings.store import leases
from tidings.store.engine import Database
from tidings.store.schema import broadcasts, users


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    sdkappid: int
    sender: str
    client_msg_id: str
    elements: bytes
    cloud_custom_data: str
    state: str
    cursor: str
    sent: int
    skipped: int
    created_at: int
    finished_at: int | None


def _broadcast(row: Row[tuple[object, ...]]) -> Broadcast:
    m = row._mapping
    return Broadcast(m["id"], m["sdkappid"], m["sender"], m["client_msg_id"],
                     str(m["elements"]).encode(), m["cloud_custom_data"], m["state"],
                     m["cursor"], m["sent"], m["skipped"], m["created_at"], m["finished_at"])


class BroadcastStore:
    def __init__(self, db: Database, lease_ms: int = 0, owner: str = "") -> None:
        self._db = db
        self.lease_ms = lease_ms
        self.owner = owner

    def _lease(self) -> dict[str, object]:
        """The columns that make a job this process's from now on."""
        if not self.lease_ms:
            return {}
        return {"lease_owner": self.owner, "lease_until": now_ms() + self.lease_ms}

    async def create(self, sdkappid: int, sender: str, client_msg_id: str,
                     elements: bytes, cloud_custom_data: str) -> tuple[Broadcast, bool]:
        """The new job, True; or the one made earlier with this client id, False."""
        try:
            async with self._db.writer.begin() as conn:
                await conn.execute(broadcasts.insert().values(
                    sdkappid=sdkappid, sender=sender, client_msg_id=client_msg_id,
                    elements=elements.decode(), cloud_custom_data=cloud_custom_data,
                    created_at=now_ms(), **self._lease()))
            created = True
        except IntegrityError:
            created = False
        found = await self.find(sdkappid, client_msg_id=client_msg_id)
        assert found is not None
        return found, created

    async def find(self, sdkappid: int, *, broadcast_id: int | None = None,
                   client_msg_id: str | None = None) -> Broadcast | None:
        query = select(broadcasts).where(broadcasts.c.sdkappid == sdkappid)
        if broadcast_id is not None:
            query = query.where(broadcasts.c.id == broadcast_id)
        if client_msg_id is not None:
            query = query.where(broadcasts.c.client_msg_id == client_msg_id)
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _broadcast(row)

    async def recent(self, sdkappid: int, limit: int) -> list[Broadcast]:
        async with self._db.reader.connect() as conn:
            rows = await conn.execute(select(broadcasts).where(
                broadcasts.c.sdkappid == sdkappid).order_by(broadcasts.c.id.desc()).limit(limit))
            return [_broadcast(r) for r in rows]

    async def claim(self, limit: int = 10) -> list[Broadcast]:
        """Running jobs to walk: alone, all of them; in a cluster, those
        whose lease ended (a dead process's, or new), now leased to this
        process (``FOR UPDATE SKIP LOCKED``: two processes never both)."""
        b = broadcasts.c
        now = now_ms()
        where = [b.state == "running"]
        if self.lease_ms:
            where.append(b.lease_until <= now)
        rows = await leases.due(self._db, broadcasts, "lease_until", where,
                                limit if self.lease_ms else 1_000_000, now, self.lease_ms,
                                {"lease_owner": self.owner})
        return [_broadcast(r) for r in rows]

    async def renew(self, job_id: int) -> bool:
        """Keep the job's lease; False when it is no longer this process's
        (another took it over, or it ended)."""
        b = broadcasts.c
        async with self._db.writer.begin() as conn:
            return bool((await conn.execute(update(broadcasts).where(
                b.id == job_id, b.lease_owner == self.owner, b.state == "running",
            ).values(**self._lease()))).rowcount)

    async def release(self, job_ids: Collection[int]) -> None:
        """Leave these jobs to the other processes at once (a clean stop)."""
        if not (self.lease_ms and job_ids):
            return
        b = broadcasts.c
        async with self._db.writer.begin() as conn:
            await conn.execute(update(broadcasts).where(
                b.id.in_(list(job_ids)), b.lease_owner == self.owner).values(lease_until=0))

    async def recipients_after(self, job: Broadcast, limit: int,
                               exclude: Collection[str]) -> list[str]:
        """The next page of accounts in user id order: not deleted, not the
        sender, none of ``exclude``."""
        async with self._db.reader.connect() as conn:
            rows = await conn.execute(select(users.c.user_id).where(
                users.c.sdkappid == job.sdkappid, users.c.user_id > job.cursor,
                users.c.user_id.notin_([job.sender, *exclude]),
                users.c.state != AccountState.DELETED.value,
            ).order_by(users.c.user_id).limit(limit))
            return list(rows.scalars())

    async def advance(self, job: Broadcast, cursor: str, sent: int, skipped: int,
                      state: str = "running") -> Broadcast | None:
        """Record a page done (and renew the lease); ``state`` "done" or
        "failed" ends the job. None when the job is not where ``job`` says
        any more, or its lease is another process's: that one walks it, so
        this one stops."""
        changes: dict[str, object] = {"cursor": cursor, "sent": job.sent + sent,
                                      "skipped": job.skipped + skipped, "state": state,
                                      **self._lease()}
        if state != "running":
            changes["finished_at"] = now_ms()
        b = broadcasts.c
        fence = [b.lease_owner == self.owner] if self.lease_ms else []
        async with self._db.writer.begin() as conn:
            moved = (await conn.execute(update(broadcasts).where(
                b.id == job.id, b.cursor == job.cursor, b.sent == job.sent,
                b.state == "running", *fence).values(**changes))).rowcount
        if not moved:
            return None
        found = await self.find(job.sdkappid, broadcast_id=job.id)
        assert found is not None
        return found

"""A broadcast: one message from one account to every account of the app.

It is a durable job, not one long request: each recipient gets the message in
the one-to-one conversation with the sender (every account but the deleted
ones and the app's admin accounts) (stored, delivered live to those
online, synced by the rest, exactly like a batch send), page by page in user
id order. After each page the job's cursor is written; a process that dies
mid-page resumes from the last cursor at its next start, and the resent part
of the page is recognised by its client message ids (no duplicates).

In a cluster a job is walked by the process that holds its lease
(store/broadcasts.py): renewed every third of the lease while it walks;
every process looks for jobs whose lease ended as often, so a job whose
process died is carried on by another within the lease, and a process
that lost its lease (stalled past it) stops before its next page.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import MAX_CLIENT_MSG_ID
from tidings.services.admin_messaging import AdminMessagingService
from tidings.services.apps import AppRegistry
from tidings.services.messaging import SendContext
from tidings.store.broadcasts import Broadcast, BroadcastStore

log = logging.getLogger(__name__)

PAGE = 500
# One message to every account is not a conversation the app needs to vet or
# hear about per recipient (as Tencent's push to all users triggers no
# per-message callbacks): the app started it, and knows.
BROADCAST_CONTEXT = SendContext("RESTAPI", "", frozenset({"before_send", "after_send"}))


def broadcast_view(job: Broadcast) -> dict[str, Any]:
    return {"broadcast_id": job.id, "from": job.sender, "client_msg_id": job.client_msg_id,
            "state": job.state, "sent": job.sent, "skipped": job.skipped,
            "created_at": job.created_at, "finished_at": job.finished_at}


class BroadcastService:
    def __init__(self, store: BroadcastStore, admin_messaging: AdminMessagingService,
                 apps: AppRegistry) -> None:
        self._store = store
        self._admin = admin_messaging
        self._apps = apps
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._adopter: asyncio.Task[None] | None = None
        # Seconds between lease renewals and looks for jobs to take over.
        self._every = store.lease_ms / 3000

    async def start(self) -> None:
        """Carry on with the jobs that a previous process left running. In
        a cluster (the store has a lease), look again every third of the
        lease: a job whose process died is taken over. Were a stalled
        process to walk on past its lease beside the new holder, each
        recipient's message is still one (the writer's dedup), and its
        next page's record is refused (``advance``): it stops."""
        await self._adopt()
        if self._every:
            self._adopter = asyncio.create_task(self._adopt_loop(self._every),
                                                name="broadcast-adopt")

    async def _adopt(self) -> None:
        for job in await self._store.claim():
            if job.id not in self._tasks:
                self._run(job)

    async def _adopt_loop(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self._adopt()
            except Exception:
                log.exception("looking for broadcasts to carry on failed")

    async def stop(self) -> None:
        walking = list(self._tasks)
        tasks = list(self._tasks.values())
        if self._adopter is not None:
            tasks.append(self._adopter)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A clean stop: the others need not wait for the leases to end.
        try:
            await self._store.release(walking)
        except Exception:
            log.exception("releasing the broadcasts' leases failed (they end by themselves)")

    async def create(self, sdkappid: int, sender: str, client_msg_id: str,
                     elements_json: bytes, cloud_custom_data: str) -> dict[str, Any]:
        """Start a broadcast; the same ``client_msg_id`` again answers the
        first one (with its progress), or 10012 if the content differs."""
        if not 1 <= len(client_msg_id) <= MAX_CLIENT_MSG_ID:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"client_msg_id: 1 to {MAX_CLIENT_MSG_ID} characters")
        await self._admin.check_sender(sdkappid, sender)
        job, created = await self._store.create(sdkappid, sender, client_msg_id,
                                                elements_json, cloud_custom_data)
        if not created and (job.sender, job.elements, job.cloud_custom_data) != (
                sender, elements_json, cloud_custom_data):
            raise TidingsError(ErrorCode.CLIENT_MSG_ID_REUSED,
                               f"broadcast {client_msg_id!r} was made with other content")
        if created:
            self._run(job)
        return {**broadcast_view(job), "duplicate": not created}

    async def get(self, sdkappid: int, broadcast_id: int) -> dict[str, Any]:
        job = await self._store.find(sdkappid, broadcast_id=broadcast_id)
        if job is None:
            raise TidingsError(ErrorCode.NOT_FOUND, f"no broadcast {broadcast_id} in this app")
        return broadcast_view(job)

    async def recent(self, sdkappid: int, limit: int) -> list[dict[str, Any]]:
        return [broadcast_view(j) for j in await self._store.recent(sdkappid, limit)]

    def _run(self, job: Broadcast) -> None:
        task = asyncio.create_task(self._walk(job), name=f"broadcast-{job.id}")
        self._tasks[job.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job.id, None))

    async def _keep_lease(self, job_id: int, lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                kept = await self._store.renew(job_id)
            except Exception:
                log.exception("renewing broadcast %d's lease failed", job_id)
                continue  # the next page's record renews it too, or is refused
            if not kept:
                lost.set()
                return

    async def _walk(self, job: Broadcast) -> None:
        lost = asyncio.Event()
        keeper = (asyncio.create_task(self._keep_lease(job.id, lost),
                                      name=f"broadcast-lease-{job.id}")
                  if self._every else None)
        try:
            await self._pages(job, lost)
        finally:
            if keeper is not None:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)

    async def _pages(self, job: Broadcast, lost: asyncio.Event) -> None:
        try:
            while job.state == "running":
                if lost.is_set():
                    log.info("broadcast %d is carried on by another process", job.id)
                    return
                # The app's admin accounts are its servers' voices, not its people.
                admins = (await self._apps.get(job.sdkappid)).admins
                page = await self._store.recipients_after(job, PAGE, admins)
                if not page:
                    done = await self._store.advance(job, job.cursor, 0, 0, "done")
                    job = done or job
                    break
                results = await self._admin.batch_send(
                    job.sdkappid, job.sender, page, job.client_msg_id, job.elements,
                    job.cloud_custom_data, BROADCAST_CONTEXT)
                sent = sum(1 for r in results if r["error"] is None)
                advanced = await self._store.advance(job, page[-1], sent, len(page) - sent)
                if advanced is None:
                    log.info("broadcast %d is carried on by another process", job.id)
                    return
                job = advanced
            log.info("broadcast %d of app %d done: %d sent, %d skipped",
                     job.id, job.sdkappid, job.sent, job.skipped)
        except asyncio.CancelledError:
            raise
        except TidingsError as exc:
            if exc.code in (ErrorCode.ACCOUNT_DELETED, ErrorCode.ACCOUNT_DISABLED):
                # The sender was deleted or disabled meanwhile: that ends it.
                await self._store.advance(job, job.cursor, 0, 0, "failed")
                log.warning("broadcast %d stopped: %s", job.id, exc.message)
            else:
                # The store is shutting down, say: it resumes at next start.
                log.warning("broadcast %d paused: %s", job.id, exc.message)
        except Exception:
            log.exception("broadcast %d paused by an unexpected error", job.id)

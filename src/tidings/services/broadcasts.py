"""A broadcast: one message from one account to every account of the app.

It is a durable job, not one long request: each recipient gets the message in
the one-to-one conversation with the sender (every account but the deleted
ones and the app's admin accounts) (stored, delivered live to those
online, synced by the rest, exactly like a batch send), page by page in user
id order. After each page the job's cursor is written; a process that dies
mid-page resumes from the last cursor at its next start, and the resent part
of the page is recognised by its client message ids (no duplicates).
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

    async def start(self, adopt_every: float = 0.0) -> None:
        """Carry on with the jobs that a previous process left running. In
        a cluster (``adopt_every`` seconds), look again and again: a job
        whose process died is taken over. Two processes walking one job is
        harmless: each recipient's message is one (the writer's dedup), and
        the first to record a page wins; the other stops (``advance``)."""
        await self._adopt()
        if adopt_every:
            self._adopter = asyncio.create_task(self._adopt_loop(adopt_every),
                                                name="broadcast-adopt")

    async def _adopt(self) -> None:
        for job in await self._store.running():
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
        tasks = list(self._tasks.values())
        if self._adopter is not None:
            tasks.append(self._adopter)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

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

    async def _walk(self, job: Broadcast) -> None:
        try:
            while job.state == "running":
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

"""Push for receivers who are offline (docs/push.md).

The durable record is one ``push_jobs`` row per message, written by the
message writer in the message's own transaction: an acked message has its
job even if the process dies right after the ack. Who gets a push is
decided when the job runs, not at commit time, because only then is it
known who is still away: a receiver with a connected device in the
foreground got the live frame and gets nothing; so does one who muted the
conversation or has read up to the message. One row per message (rather
than one per offline receiver) keeps a message to a 10,000-member group one
insert in the send path; the expansion to receivers happens here, off it.

Running a job replaces it, in one transaction, by a ``push_sends`` row per
device of each receiver (retried with backoff; a send whose message was
read or recalled meanwhile is dropped) and by ``offline_push`` callback
events for the receivers who have no device with us, when the app chose
its own server as a channel (those inherit the outbox's signing and retries).

This module is the service: devices, the app's settings, and whether a
message needs a job at all. Deciding a job is ``push_decisions``; running
jobs and sends is ``push_worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson

from tidings.bus.local import LocalBus, Subscriber
from tidings.config import Settings
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity
from tidings.domain.push import Channel, PushRegisterRequest, PushSettings, check_address
from tidings.domain.records import CommitHook, Committed
from tidings.services.callbacks import CallbackService
from tidings.services.idle import Nudge
from tidings.services.push_decisions import Decisions, LinkedHomes
from tidings.services.push_worker import PushWorker
from tidings.store.push import PushStore
from tidings.store.push_jobs import PushJobRows

PUSH_APPS_TOPIC = "push_apps"
# An app's "no" is asked again this far into app_cache_ttl (before it expires,
# with room for a loaded loop).
RENEW_AT = 0.75

log = logging.getLogger("tidings.services.push")


class PushService:
    def __init__(self, store: PushStore, bus: LocalBus, callbacks: CallbackService,
                 settings: Settings) -> None:
        self._store = store
        self._bus = bus
        self._cfg = settings
        self._decisions = Decisions(store, bus, callbacks)
        self._worker = PushWorker(store, callbacks, settings, self._decisions,
                                  self._app_pushes, self.vapid)
        self._vapid_lock = asyncio.Lock()
        # sdkappid -> (when checked, whether the app can push at all). A "no"
        # (no device, no callback channel) is believed for app_cache_ttl; after
        # that the next message of the app writes a job again (which checks),
        # so a device or a callback channel set in another process (the CLI)
        # counts for every message sent more than app_cache_ttl after it.
        self._pushes: dict[int, tuple[float, bool]] = {}
        # In a cluster, the other processes forget their "no" at once when a
        # device registers or the app's push settings change here (a "no"
        # believed for app_cache_ttl would drop the pushes of every message
        # sent through them meanwhile).
        bus.on_change(PUSH_APPS_TOPIC, self._may_push_now)
        # Apps whose messages were told "no" since the last renewal (added
        # on the writer's thread; the renewal swaps the set on the loop).
        self._told_no: set[int] = set()
        self._told = Nudge()  # the renewal sleeps while nobody is told "no"
        self._renewer: asyncio.Task[None] | None = None

    def _may_push_now(self, data: dict[str, Any]) -> None:
        self._pushes.pop(int(data["sdkappid"]), None)

    @property
    def links(self) -> LinkedHomes | None:
        return self._decisions.links

    @links.setter
    def links(self, links: LinkedHomes | None) -> None:
        """Set once the links are loaded (runtime), before start()."""
        self._decisions.links = links

    @property
    def sent(self) -> int:
        """Pushes the channels accepted since the start."""
        return self._worker.sent

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self._worker.start()
        if self._cfg.app_cache_ttl > 0:
            self._renewer = asyncio.create_task(self._renew(), name="push-renew")

    async def stop(self) -> None:
        """Stop; what is not done stays queued for the next start."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        await self._worker.stop()

    def wake(self) -> None:
        self._worker.wake()

    def hook(self, inner: CommitHook, jobs: PushJobRows) -> CommitHook:
        """The writer's commit hook: ``inner``, then wake the worker when the
        batch wrote push jobs (``jobs`` counted them as it wrote them). Each
        wake reads the store, so a batch that wrote none (an app that does
        not push, history imports, resends) wakes nothing."""
        def on_commit(batch: list[Committed]) -> None:
            inner(batch)
            if jobs.take_written():
                self._worker.wake()
        return on_commit

    # -- devices -----------------------------------------------------------------

    def set_app_state(self, me: Identity, device: Subscriber, state: str) -> None:
        """The device's app is in the background (its user gets pushes) or
        the foreground; every process of a cluster learns it (the bus)."""
        self._bus.set_away(me, device, state == "background")

    async def register(self, me: Identity, device_id: str,
                       req: PushRegisterRequest) -> dict[str, Any]:
        if not device_id:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               "a device id is needed (log in with device.id, or give device_id)")
        token = check_address(req, allow_http=self._cfg.push_allow_http)
        if req.channel is not Channel.WEBPUSH:
            app = await self._store.settings(me.sdkappid)
            if not app.has(req.channel):
                raise TidingsError(ErrorCode.PUSH_CHANNEL_NOT_CONFIGURED,
                                   f"this app has no {req.channel.value} credentials;"
                                   " its admin sets them with PUT /v1/admin/push")
        # Before the write: a message committed from now on gets its job.
        self._pushes[me.sdkappid] = (time.monotonic(), True)
        self._bus.changed(PUSH_APPS_TOPIC, {"sdkappid": me.sdkappid})
        device = await self._store.register(me.sdkappid, me.user_id, device_id, req.channel,
                                            token, req.private_previews)
        return device.view()

    async def unregister(self, me: Identity, device_id: str) -> dict[str, Any]:
        if not device_id:
            raise TidingsError(ErrorCode.INVALID_REQUEST, "a device id is needed")
        if not await self._store.unregister(me.sdkappid, me.user_id, device_id):
            raise TidingsError(ErrorCode.NOT_FOUND,
                               f"device {device_id!r} has no push registration")
        return {"device_id": device_id, "removed": True}

    async def devices(self, me: Identity) -> dict[str, Any]:
        found = await self._store.devices_of(me.sdkappid, [me.user_id])
        return {"user_id": me.user_id, "devices": [d.view() for d in found],
                "queued": await self._store.sends_of(me.sdkappid, me.user_id)}

    # -- the app's settings ------------------------------------------------------

    async def app_settings(self, sdkappid: int) -> dict[str, Any]:
        return app_view(await self._store.settings(sdkappid))

    async def put_app_settings(self, sdkappid: int, values: dict[str, Any]) -> dict[str, Any]:
        self._pushes.pop(sdkappid, None)  # unknown again: the next message checks
        self._bus.changed(PUSH_APPS_TOPIC, {"sdkappid": sdkappid})
        return app_view(await self._store.put_settings(sdkappid, values))

    async def vapid(self, sdkappid: int) -> PushSettings:
        """The app's settings with its VAPID pair, made and stored on first use."""
        app = await self._store.settings(sdkappid)
        if app.vapid_public:
            return app
        # Imported here: the channels' libraries cost ~0.3 s at start-up.
        from tidings.adapters.push_channels import new_vapid_pair

        async with self._vapid_lock:
            private, public = new_vapid_pair()
            return await self._store.put_settings(
                sdkappid, {"vapid_private": private, "vapid_public": public},
                only_if_empty="vapid_public")

    # -- whether a message needs a job -------------------------------------------

    def wants_push(self, sdkappid: int) -> bool:
        """For the writer: whether a message of the app needs a push job.
        Only a recent "no" (no device, no callback channel) says False: an
        app that never pushes costs the send path nothing, and one unknown
        or not checked lately gets its job (whose deciding checks again)."""
        hit = self._pushes.get(sdkappid)
        if hit is None or hit[1] or self._decisions.linked(sdkappid):
            return True
        self._told_no.add(sdkappid)
        self._told.poke()
        return time.monotonic() - hit[0] > self._cfg.app_cache_ttl

    async def _renew(self) -> None:
        """Ask again, before it expires, whether an app whose messages were
        told "no" can push. An expired "no" made a job of each message
        until the worker had decided one: a wake, five store reads and a
        write every app_cache_ttl for an app that never pushes, at any
        rate of messages. One read here keeps the answer fresh, and a
        device or channel set in another process still counts for the
        messages sent app_cache_ttl after it (an answer is stamped before
        its reads; one renewed late has expired, and jobs are written).
        While no app is told "no" it sleeps (an idle process should), and
        the first "no" renews at once."""
        while True:
            await asyncio.sleep(self._cfg.app_cache_ttl * RENEW_AT)
            await self._told.sleep_until(lambda: bool(self._told_no))
            told, self._told_no = self._told_no, set()
            for sdkappid in list(told):  # the writer's thread may still add to it
                try:
                    await self._app_pushes(sdkappid)
                except Exception:  # the "no" expires: jobs again, as before
                    log.exception("could not ask whether app %s can push", sdkappid)

    async def _app_pushes(self, sdkappid: int) -> bool:
        """Whether the app can push at all: a device registered, or the
        callback channel on (or a linked home). A "yes" checked within
        app_cache_ttl is believed without a read (the worker asks at every
        step): deciding finds no device and no callback channel anyway if
        it is no longer true."""
        asked = time.monotonic()  # what we read is at least this recent
        hit = self._pushes.get(sdkappid)
        if hit is not None and hit[1] and asked - hit[0] < self._cfg.app_cache_ttl:
            return True
        found = self._decisions.linked(sdkappid) or await self._store.can_push(sdkappid)
        if len(self._pushes) > 100_000:
            self._pushes.clear()
        current = self._pushes.get(sdkappid)
        if current is None or current[0] <= asked:  # a register() meanwhile is newer
            self._pushes[sdkappid] = (asked, found)
        return found


def app_view(s: PushSettings) -> dict[str, Any]:
    """An app's push settings as its admin sees them (secrets left out)."""
    return {"private_previews": s.private_previews, "use_callback": s.use_callback,
            "vapid_public_key": s.vapid_public, "vapid_subject": s.vapid_subject,
            "apns": {"configured": s.has(Channel.APNS), "key_id": s.apns_key_id,
                     "team_id": s.apns_team_id, "topic": s.apns_topic},
            "fcm": {"configured": s.has(Channel.FCM),
                    "project_id": _project_id(s.fcm_credentials)}}


def _project_id(credentials: str) -> str:
    if not credentials:
        return ""
    try:
        return str(orjson.loads(credentials).get("project_id", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return ""


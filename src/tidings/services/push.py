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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import weakref
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import httpx
import orjson

from tidings.bus.local import LocalBus, Subscriber
from tidings.config import Settings
from tidings.domain.callbacks import register_event
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity
from tidings.domain.links import qualify
from tidings.domain.push import (
    Channel,
    PushOptions,
    PushRegisterRequest,
    check_address,
    notification,
    payload,
)
from tidings.domain.records import CommitHook, Committed, NewMessage
from tidings.services.callbacks import CallbackService
from tidings.services.push_channels import PushChannel, Result, channels, new_vapid_pair
from tidings.store.push import (
    Device,
    Job,
    JobContext,
    PushSettings,
    PushStore,
    Send,
    SendOutcome,
)

log = logging.getLogger(__name__)

OFFLINE_PUSH = "offline_push"
# Receivers per offline_push callback event (Tencent batches 1 to 100 events).
CALLBACK_CHUNK = 100
# Jobs decided (and replaced in one transaction) per step of the worker.
JOBS_PER_STEP = 200


def _tencent_offline_push(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"From_Account": data["from"], "GroupId": data["group_id"],
            "MsgKey": data["msg_id"], "MsgSeq": data["seq"], "Title": data["title"],
            "Desc": data["text"], "Ext": data["ext"],
            "To_Account": [{"To_Account": r["user_id"], "Badge": r["badge"]}
                           for r in data["receivers"]],
            "EventTime": data["time"]}


# Tencent's nearest is Push.OfflinePush, which reports a push it made; ours
# asks the app's server to make it.
register_event(OFFLINE_PUSH, "Push.CallbackOfflinePush", _tencent_offline_push)


class LinkedHomes(Protocol):
    """What push needs of the links (services/links.py): a linked
    identity's home account is one more place where its person may be."""

    home_sdkappid: int

    def home_of(self, identity: Identity) -> Identity | None: ...

    def linked_identities(self, home_user: str) -> list[Identity]: ...

    def has_links(self, sdkappid: int) -> bool: ...

    async def app_card(self, sdkappid: int) -> dict[str, Any]: ...


class NewSend(NamedTuple):
    """One push to one device, as a job's deciding makes it (the device may
    be of the home account linked to the receiver: then ``sdkappid`` is the
    home app's, whose credentials send it)."""

    job: Job
    sdkappid: int
    user_id: str
    device_id: str
    payload: str


class PushService:
    def __init__(self, store: PushStore, bus: LocalBus, callbacks: CallbackService,
                 settings: Settings) -> None:
        self._store = store
        self._bus = bus
        self._callbacks = callbacks
        self._cfg = settings
        # Devices that said their app is in the background: still connected,
        # but they want pushes.
        self._background: weakref.WeakSet[Any] = weakref.WeakSet()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._http2: httpx.AsyncClient | None = None
        self._channels: dict[Channel, PushChannel] = {}
        self._vapid_lock = asyncio.Lock()
        self._last_prune = 0.0
        # sdkappid -> (when checked, whether the app can push at all). A "no"
        # (no device, no callback channel) is believed for app_cache_ttl; after
        # that the next message of the app writes a job again (which checks),
        # so a device or a callback channel set in another process (the CLI)
        # counts for every message sent more than app_cache_ttl after it.
        self._pushes: dict[int, tuple[float, bool]] = {}
        self.sent = 0
        # Set once the links are loaded (runtime), before start().
        self.links: LinkedHomes | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        limits = httpx.Limits(max_connections=self._cfg.push_concurrency)
        self._http = httpx.AsyncClient(timeout=self._cfg.push_timeout, limits=limits,
                                       follow_redirects=False, trust_env=False)
        self._http2 = httpx.AsyncClient(http2=True, timeout=self._cfg.push_timeout,
                                        limits=limits, follow_redirects=False,
                                        trust_env=False)
        self._channels = channels(self._http, self._http2,
                                  vapid_subject=self._cfg.push_vapid_subject,
                                  apns_url=self._cfg.push_apns_url,
                                  fcm_url=self._cfg.push_fcm_url)
        self._task = asyncio.create_task(self._run(), name="push-worker")

    async def stop(self) -> None:
        """Stop; what is not done stays queued for the next start."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        for client in (self._http, self._http2):
            if client is not None:
                await client.aclose()

    def wake(self) -> None:
        self._wakeup.set()

    def hook(self, inner: CommitHook) -> CommitHook:
        """The writer's commit hook: ``inner``, then wake the worker when the
        batch wrote push jobs."""
        def on_commit(batch: list[Committed]) -> None:
            inner(batch)
            if any(isinstance(c.request, NewMessage) and not c.duplicate
                   and c.request.push is not None and self.wants_push(c.request.key.sdkappid)
                   for c in batch):
                self._wakeup.set()
        return on_commit

    # -- devices -----------------------------------------------------------------

    def set_app_state(self, device: Subscriber, state: str) -> None:
        if state == "background":
            self._background.add(device)
        else:
            self._background.discard(device)

    def _foreground(self, identity: Identity) -> bool:
        return any(d not in self._background for d in self._bus.devices(identity))

    def _present(self, identity: Identity) -> bool:
        """Some device of the user is connected with its app in the
        foreground: the app's, or the messenger's of the home account linked
        to the identity (which got the message relayed)."""
        if self._foreground(identity):
            return True
        home = self.links.home_of(identity) if self.links is not None else None
        return home is not None and self._foreground(home)

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
        return app_view(await self._store.put_settings(sdkappid, values))

    async def vapid(self, sdkappid: int) -> PushSettings:
        """The app's settings with its VAPID pair, made and stored on first use."""
        app = await self._store.settings(sdkappid)
        if app.vapid_public:
            return app
        async with self._vapid_lock:
            private, public = new_vapid_pair()
            return await self._store.put_settings(
                sdkappid, {"vapid_private": private, "vapid_public": public},
                only_if_empty="vapid_public")

    # -- the worker --------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._prune()
                busy = await self._jobs_step()
                busy = await self._sends_step() or busy
            except Exception:
                log.exception("push worker step failed")
                busy = False
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._cfg.push_poll_interval)
            self._wakeup.clear()

    async def _prune(self) -> None:
        """Forget notifications given up on, after the callbacks' retention."""
        now = time.monotonic()
        if now - self._last_prune < 60:
            return
        self._last_prune = now
        await self._store.prune_failed(now_ms() - int(self._cfg.callback_retention * 1000))

    async def _jobs_step(self) -> bool:
        """Decide the due jobs and replace them, all in one transaction (a
        job whose deciding fails stays, and is tried again next step)."""
        jobs = await self._store.due_jobs(now_ms() - int(self._cfg.push_delay * 1000),
                                          JOBS_PER_STEP)
        if not jobs:
            return False
        done: list[Job] = []
        sends: list[NewSend] = []
        events: list[tuple[int, str, str]] = []
        wanted: dict[int, bool] = {}
        for job in jobs:
            try:
                if job.sdkappid not in wanted:
                    wanted[job.sdkappid] = await self._app_pushes(job.sdkappid)
                if wanted[job.sdkappid]:
                    await self._decide(job, sends, events)
            except Exception:
                log.exception("push job %s failed", job.id)
                continue
            done.append(job)
        await self._store.finish_jobs(done, sends, events)
        if events:
            self._callbacks.wake()
        return len(jobs) == JOBS_PER_STEP

    def wants_push(self, sdkappid: int) -> bool:
        """For the writer: whether a message of the app needs a push job.
        Only a recent "no" (no device, no callback channel) says False: an
        app that never pushes costs the send path nothing, and one unknown
        or not checked lately gets its job (whose deciding checks again)."""
        hit = self._pushes.get(sdkappid)
        return (hit is None or hit[1] or time.monotonic() - hit[0] > self._cfg.app_cache_ttl
                or self._linked(sdkappid))

    def _linked(self, sdkappid: int) -> bool:
        return self.links is not None and self.links.has_links(sdkappid)

    async def _app_pushes(self, sdkappid: int) -> bool:
        """Whether the app can push at all: a device registered, or the
        callback channel on."""
        asked = time.monotonic()  # what we read is at least this recent
        settings = await self._store.settings(sdkappid)
        found = (settings.use_callback or self._linked(sdkappid)
                 or await self._store.has_devices(sdkappid))
        if len(self._pushes) > 100_000:
            self._pushes.clear()
        current = self._pushes.get(sdkappid)
        if current is None or current[0] <= asked:  # a register() meanwhile is newer
            self._pushes[sdkappid] = (asked, found)
        return found

    async def _decide(self, job: Job, sends: list[NewSend],
                      events: list[tuple[int, str, str]]) -> None:
        ctx = await self._store.job_context(job)
        if ctx is None or ctx.state == 2:
            return
        app = job.sdkappid
        away = [user for user, (read_seq, muted) in ctx.receivers.items()
                if not muted and read_seq < job.seq and not self._present(Identity(app, user))]
        if not away:
            return
        settings = await self._store.settings(app)
        devices = await self._store.devices_of(app, away)
        homes = self._homes_of(app, away)
        home_devices = await self._home_devices(homes)
        reached = {d.user_id for d in devices} | {
            user for user, home in homes.items() if home.user_id in home_devices}
        callback_users: list[str] = []
        if settings.use_callback and self._callbacks.wants(
                await self._callbacks.settings(app), OFFLINE_PUSH):
            # The app's own server reaches whom Tidings cannot: no device of
            # the app's and none of a linked home account's.
            callback_users = [u for u in away if u not in reached]
        badges = await self._store.unread_totals(
            app, sorted({d.user_id for d in devices} | set(callback_users)))
        options = PushOptions.from_stored(job.options)
        msg_id = f"{job.conversation_id}-{job.seq}"
        for device in devices:
            title, body = notification(ctx.sender_name, ctx.group_name, ctx.elements, options,
                                       settings.private_previews or device.private_previews)
            sends.append(NewSend(job, app, device.user_id, device.device_id, orjson.dumps(
                payload(title, body, badges.get(device.user_id, 0),
                        _conversation_for(ctx, device.user_id), msg_id, options.ext)).decode()))
        if home_devices:
            await self._home_sends(job, ctx, homes, home_devices, settings.private_previews,
                                   sends)
        title, body = notification(ctx.sender_name, ctx.group_name, ctx.elements, options,
                                   settings.private_previews)
        for start in range(0, len(callback_users), CALLBACK_CHUNK):
            events.append((app, OFFLINE_PUSH, orjson.dumps({
                "from": ctx.sender, "group_id": ctx.a if ctx.kind == "group" else "",
                "msg_id": msg_id, "seq": job.seq, "title": title, "text": body,
                "ext": options.ext, "time": now_ms(),
                "receivers": [{"user_id": u, "conversation_id": _conversation_for(ctx, u),
                               "badge": badges.get(u, 0)}
                              for u in callback_users[start:start + CALLBACK_CHUNK]],
            }).decode()))

    # -- linked identities -------------------------------------------------------------

    def _homes_of(self, app: int, users: list[str]) -> dict[str, Identity]:
        """The away receivers that are linked, with their home accounts."""
        if not self._linked(app):
            return {}
        assert self.links is not None
        found = {}
        for user in users:
            home = self.links.home_of(Identity(app, user))
            if home is not None:
                found[user] = home
        return found

    async def _home_devices(self, homes: dict[str, Identity]) -> dict[str, list[Device]]:
        """The push devices of those home accounts, by home user."""
        if not homes or self.links is None:
            return {}
        found: dict[str, list[Device]] = {}
        for device in await self._store.devices_of(
                self.links.home_sdkappid, sorted({h.user_id for h in homes.values()})):
            found.setdefault(device.user_id, []).append(device)
        return found

    async def _home_sends(self, job: Job, ctx: JobContext, homes: dict[str, Identity],
                          home_devices: dict[str, list[Device]], app_private: bool,
                          sends: list[NewSend]) -> None:
        """Pushes to the messenger's devices of linked receivers: titled with
        the app's name, for the qualified conversation, with the home
        account's whole badge. The app's private previews hold here too."""
        assert self.links is not None
        home_app = self.links.home_sdkappid
        home_settings = await self._store.settings(home_app)
        app_name = (await self.links.app_card(job.sdkappid))["name"]
        badges = await self._home_badges(set(home_devices))
        options = PushOptions.from_stored(job.options)
        msg_id = f"{job.conversation_id}-{job.seq}"
        for user, home in homes.items():
            for device in home_devices.get(home.user_id, ()):
                title, body = notification(
                    ctx.sender_name, ctx.group_name, ctx.elements, options,
                    app_private or home_settings.private_previews or device.private_previews)
                sends.append(NewSend(job, home_app, home.user_id, device.device_id, orjson.dumps(
                    payload(f"{app_name}: {title}" if title else app_name, body,
                            badges.get(home.user_id, 0),
                            qualify(job.sdkappid, _conversation_for(ctx, user)), msg_id,
                            options.ext)).decode()))

    async def _home_badges(self, home_users: set[str]) -> dict[str, int]:
        """Each home account's unread total: its own conversations and those
        of every identity it holds through a link."""
        assert self.links is not None
        per_app: dict[int, list[tuple[str, str]]] = {
            self.links.home_sdkappid: [(h, h) for h in home_users]}
        for home_user in home_users:
            for identity in self.links.linked_identities(home_user):
                per_app.setdefault(identity.sdkappid, []).append((home_user, identity.user_id))
        badges: dict[str, int] = {}
        for app, pairs in per_app.items():
            totals = await self._store.unread_totals(app, sorted({u for _, u in pairs}))
            for home_user, user in pairs:
                badges[home_user] = badges.get(home_user, 0) + totals.get(user, 0)
        return badges

    async def _sends_step(self) -> bool:
        limit = self._cfg.push_concurrency
        due = await self._store.due_sends(now_ms(), limit)
        if not due:
            return False
        outcomes = await asyncio.gather(*(self._attempt(s) for s in due))
        await self._store.record(outcomes)
        return len(due) == limit

    async def _attempt(self, send: Send) -> SendOutcome:
        try:
            receiver = await self._receiver(send)
            if receiver is None or not await self._store.still_due(send, receiver.user_id):
                return SendOutcome(send.id, "dropped")
            device = await self._store.device(send.sdkappid, send.user_id, send.device_id)
            if device is None:
                return SendOutcome(send.id, "dropped")
            if self._present(receiver):
                # Back in the foreground meanwhile: the app shows it itself.
                return SendOutcome(send.id, "dropped")
            app = (await self.vapid(send.sdkappid) if device.channel is Channel.WEBPUSH
                   else await self._store.settings(send.sdkappid))
            if not app.has(device.channel):
                return self._retry(send, f"the app has no {device.channel.value} credentials")
            delivery = await self._channels[device.channel].send(
                app, device, orjson.loads(send.payload))
        except (httpx.HTTPError, OSError) as exc:
            return self._retry(send, f"{type(exc).__name__}: {str(exc)[:200]}")
        except Exception as exc:  # never lose the send over a bug: retry it
            log.exception("push send %s failed unexpectedly", send.id)
            return self._retry(send, f"internal error: {type(exc).__name__}")
        if delivery.result is Result.SENT:
            self.sent += 1
            return SendOutcome(send.id, "sent")
        if delivery.result is Result.GONE:
            await self._store.remove_token(device.sdkappid, device.user_id, device.device_id,
                                           device.token)
            log.info("push token of %s/%s is gone (%s): removed", device.user_id,
                     device.device_id, delivery.detail)
            return SendOutcome(send.id, "dropped")
        if delivery.result is Result.FAILED:
            return SendOutcome(send.id, "failed", delivery.detail, now_ms())
        return self._retry(send, delivery.detail)

    async def _receiver(self, send: Send) -> Identity | None:
        """Whose read cursor and presence a send answers to: its own user,
        or for a push to a home account's device about an app's message, the
        identity linked to it (None once unlinked: nothing more goes
        through the link)."""
        if self.links is None or send.sdkappid != self.links.home_sdkappid:
            return Identity(send.sdkappid, send.user_id)
        app = await self._store.conversation_app(send.conversation_id)
        if app is None or app == send.sdkappid:
            return Identity(send.sdkappid, send.user_id)
        return next((i for i in self.links.linked_identities(send.user_id)
                     if i.sdkappid == app), None)

    def _retry(self, send: Send, error: str) -> SendOutcome:
        attempts = send.attempts + 1
        if attempts >= self._cfg.push_max_attempts:
            return SendOutcome(send.id, "failed", f"gave up after {attempts} attempts: {error}",
                               now_ms())
        delay = min(self._cfg.push_retry_cap,
                    self._cfg.push_retry_base * 2 ** (attempts - 1) * random.uniform(0.8, 1.2))
        return SendOutcome(send.id, "retry", error, now_ms() + int(delay * 1000))


def _conversation_for(ctx: JobContext, user: str) -> str:
    if ctx.kind == "group":
        return f"group_{ctx.a}"
    return f"c2c_{ctx.b if user == ctx.a else ctx.a}"


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


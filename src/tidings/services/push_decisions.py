"""Deciding a push job (docs/push.md): when a message's job runs, who is
still away (no connected device in the foreground, here or in the messenger
of the home account linked to them; not muted; not read up to it), which of
their devices get a push and with what text and badge, and which receivers
the app's own server is asked to reach through an ``offline_push`` callback.
The worker that runs the jobs and the sends is in ``services/push_worker.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import orjson

from tidings.bus.local import LocalBus
from tidings.domain.callbacks import register_event
from tidings.domain.clock import now_ms
from tidings.domain.ids import Identity
from tidings.domain.links import qualify
from tidings.domain.push import Device, PushOptions, notification, payload
from tidings.services.callbacks import CallbackService
from tidings.store.push import PushStore
from tidings.store.push_jobs import Job
from tidings.store.push_reads import JobContext, Reach, StepReceivers

log = logging.getLogger("tidings.services.push")

OFFLINE_PUSH = "offline_push"
# Receivers per offline_push callback event (Tencent batches 1 to 100 events).
CALLBACK_CHUNK = 100


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


class _HomeSends(NamedTuple):
    """What a job's pushes to linked receivers' home accounts need
    (``Decisions._home_sends``)."""

    ctx: JobContext
    homes: dict[str, Identity]
    devices: dict[str, list[Device]]
    app_private: bool


@dataclass(frozen=True, slots=True)
class Step:
    """What a step's reads found for its jobs (``Decisions._read``)."""

    # The step's jobs: held while ``away`` and ``homes`` are keyed by their
    # ``id()`` (an id is only a job's while the job lives).
    jobs: Sequence[Job]
    first: StepReceivers
    # Per job (by ``id(job)``): the receivers away, and those of them linked
    # to a home account (with it; a job with none has no entry). By job,
    # not by place: a step is decided and written in pieces
    # (services/push_worker.py). Not by the ``Job`` itself: hashing its
    # seven fields at each insert and lookup was ~2-4 ms of a 3,200-job
    # step on the loop, ~0.9 by id (timeit, review mend13).
    away: dict[int, list[str]]
    homes: dict[int, dict[str, Identity]]
    # Per app: whether its own server is asked to reach receivers.
    callback: dict[int, bool]
    reach: Reach
    # The jobs' options as read (``PushOptions.from_stored``), by their
    # stored text, filled as the jobs are decided: a step's jobs share a
    # few (most ""), and pydantic's model a job was ~1 us of the loop's.
    options: dict[str, PushOptions] = field(default_factory=dict)


class Decisions:
    """Who gets a push for a job, and where it goes."""

    def __init__(self, store: PushStore, bus: LocalBus, callbacks: CallbackService) -> None:
        self._store = store
        self._bus = bus
        self._callbacks = callbacks
        # Set once the links are loaded (runtime), before the worker starts.
        self.links: LinkedHomes | None = None

    def _foreground(self, identity: Identity) -> bool:
        # Devices whose app is in the background are connected, but want
        # pushes; the bus knows the devices of every process.
        return self._bus.foreground(identity)

    def present(self, identity: Identity) -> bool:
        """Some device of the user is connected with its app in the
        foreground: the app's, or the messenger's of the home account linked
        to the identity (which got the message relayed)."""
        return self._where(identity) is True

    def linked(self, sdkappid: int) -> bool:
        return self.links is not None and self.links.has_links(sdkappid)

    def _where(self, identity: Identity) -> Identity | bool:
        """Where a receiver is: True when present (``present``);
        else the home account linked to it (None's place: False)."""
        if self._foreground(identity):
            return True
        home = self.links.home_of(identity) if self.links is not None else None
        if home is None:
            return False
        return True if self._foreground(home) else home

    async def read(self, jobs: Sequence[Job], first: StepReceivers | None) -> Step | None:
        """A step's reads (``_read``); None when they failed (logged): each
        job is then decided on its own (``decide_one``), so one that cannot
        be holds no other back. The worker reads a step once, then decides
        its jobs one by one as it writes the step in pieces."""
        try:
            return await self._read(jobs, first)
        except Exception:
            log.exception("push: the reads of %d jobs failed%s", len(jobs),
                          "" if len(jobs) == 1 else "; deciding them one by one")
            return None

    async def decide_one(self, job: Job, step: Step | None, sends: list[NewSend],
                         events: list[tuple[int, str, str]]) -> bool:
        """Add a job of ``step`` to ``sends`` and ``events``; False when its
        deciding failed (logged; it added nothing). Without ``step`` (the
        step's reads failed) the job has reads of its own."""
        if step is None:
            step = await self.read([job], None)
            if step is None:
                return False
        made = len(sends), len(events)
        try:
            home = self._decide(job, step, sends, events)
            if home is not None:
                await self._home_sends(job, home.ctx, home.homes, home.devices, step,
                                       home.app_private, sends)
        except Exception:
            log.exception("push job %s of message %s-%s failed", job.id,
                          job.conversation_id, job.seq)
            del sends[made[0]:], events[made[1]:]
            return False
        return True

    async def _read(self, jobs: Sequence[Job], first: StepReceivers | None) -> Step:
        """A step's reads: the jobs' receivers who may need a push (unless
        read: ``first``), and for those away (no device in the foreground:
        the bus, in memory) their devices and badges and their jobs'
        contexts: a step whose receivers are all in the foreground reads
        no context (perf-pgpush)."""
        if first is None:
            first = await self._store.step_receivers(jobs)
        away: dict[int, list[str]] = {}
        homes: dict[int, dict[str, Identity]] = {}
        by_app: dict[int, set[str]] = {}
        # Each receiver's answer (``_where``), asked once a step: in a
        # backlog a receiver has several jobs of a step (~1.6 in push_p99's;
        # an ``Identity`` and the bus's lookup a job and receiver were ~4.4
        # ms of a 3,200-job step on the loop, perf-pushreads).
        answers: dict[tuple[int, str], Identity | bool] = {}
        linked: dict[int, bool] = {}
        for job, receivers in zip(jobs, first.receivers, strict=True):
            app = job.sdkappid
            users = []
            found: dict[str, Identity] = {}
            for user in receivers:
                answer = answers.get((app, user))
                if answer is None:
                    answer = answers[app, user] = self._where(Identity(app, user))
                if answer is True:
                    continue
                users.append(user)
                if answer is not False:
                    linked_app = linked.get(app)
                    if linked_app is None:
                        linked_app = linked[app] = self.linked(app)
                    if linked_app:
                        found[user] = answer
            if users:
                by_app.setdefault(app, set()).update(users)
                if found:
                    homes[id(job)] = found
            away[id(job)] = users
        callback: dict[int, bool] = {}
        for app in by_app:
            callback[app] = first.settings[app].use_callback and self._callbacks.wants(
                await self._callbacks.settings(app), OFFLINE_PUSH)
        badged = {app: set(users) for app, users in by_app.items() if callback[app]}
        apps = self._home_reach(homes, by_app, badged, first)
        reach = Reach({}, {}) if not by_app else await self._store.reach(
            by_app, badged, apps, [job for job in jobs if away[id(job)]])
        return Step(jobs, first, away, homes, callback, reach)

    def _home_reach(self, homes: dict[int, dict[str, Identity]], by_app: dict[int, set[str]],
                    badged: dict[int, set[str]], first: StepReceivers) -> list[int]:
        """Add what the pushes to linked receivers' home accounts need to the
        step's second read: the home users' devices, and for their badges
        their unread totals and those of every identity they hold through a
        link; and the home app's settings (the apps to read them of)."""
        home_users = {home.user_id for found in homes.values() for home in found.values()}
        if not home_users or self.links is None:
            return []
        home_app = self.links.home_sdkappid
        by_app.setdefault(home_app, set()).update(home_users)
        badged.setdefault(home_app, set()).update(home_users)
        for home_user in home_users:
            for identity in self.links.linked_identities(home_user):
                badged.setdefault(identity.sdkappid, set()).add(identity.user_id)
        return [] if home_app in first.settings else [home_app]

    def _decide(self, job: Job, step: Step, sends: list[NewSend],
                events: list[tuple[int, str, str]]) -> _HomeSends | None:
        """A job of the step: its sends and callback events; what its sends
        to linked receivers' home accounts need, when it has any (made by
        ``_home_sends``, which awaits the app's card: only those jobs
        await)."""
        away = step.away[id(job)]
        ctx = step.reach.contexts.get((job.conversation_id, job.seq)) if away else None
        if ctx is None:  # nobody away, or the message is gone since the first read
            return None
        app = job.sdkappid
        settings = step.first.settings[app]
        app_devices = step.reach.devices.get(app, {})
        devices = [d for user in away for d in app_devices.get(user, ())]
        homes = step.homes.get(id(job))
        home_devices = self._home_devices(homes, step.reach) if homes else {}
        badges = step.reach.totals.get(app, {})
        options = step.options.get(job.options)
        if options is None:  # a step's jobs share their options' few texts
            options = step.options[job.options] = PushOptions.from_stored(job.options)
        msg_id = f"{job.conversation_id}-{job.seq}"
        if devices:
            # One text a job, but for a device that wants private previews.
            shown = notification(ctx.sender_name, ctx.group_name, ctx.elements, options,
                                 settings.private_previews)
            for device in devices:
                title, body = notification(
                    ctx.sender_name, ctx.group_name, ctx.elements, options, True,
                ) if device.private_previews else shown
                sends.append(NewSend(job, app, device.user_id, device.device_id, orjson.dumps(
                    payload(title, body, badges.get(device.user_id, 0),
                            conversation_for(ctx, device.user_id), msg_id,
                            options.ext)).decode()))
        if step.callback[app]:
            # The app's own server reaches whom Tidings cannot: no device of
            # the app's and none of a linked home account's.
            reached = {d.user_id for d in devices}
            if homes:
                reached.update(user for user, home in homes.items()
                               if home.user_id in home_devices)
            callback_users = [u for u in away if u not in reached]
            if callback_users:
                self._callback_events(job, ctx, callback_users, options, settings.private_previews,
                                      badges, msg_id, events)
        if home_devices:
            assert homes is not None
            return _HomeSends(ctx, homes, home_devices, settings.private_previews)
        return None

    def _callback_events(self, job: Job, ctx: JobContext, callback_users: list[str],
                         options: PushOptions, private: bool, badges: dict[str, int],
                         msg_id: str, events: list[tuple[int, str, str]]) -> None:
        """A job's ``offline_push`` events, ``CALLBACK_CHUNK`` receivers each."""
        app = job.sdkappid
        title, body = notification(ctx.sender_name, ctx.group_name, ctx.elements, options,
                                   private)
        for start in range(0, len(callback_users), CALLBACK_CHUNK):
            events.append((app, OFFLINE_PUSH, orjson.dumps({
                "from": ctx.sender, "group_id": ctx.a if ctx.kind == "group" else "",
                "msg_id": msg_id, "seq": job.seq, "title": title, "text": body,
                "ext": options.ext, "time": now_ms(),
                "receivers": [{"user_id": u, "conversation_id": conversation_for(ctx, u),
                               "badge": badges.get(u, 0)}
                              for u in callback_users[start:start + CALLBACK_CHUNK]],
            }).decode()))

    def _home_devices(self, homes: dict[str, Identity], reach: Reach
                      ) -> dict[str, list[Device]]:
        """The push devices of those home accounts, by home user (read with
        the step's away receivers': ``_home_reach``)."""
        if not homes or self.links is None:
            return {}
        found = reach.devices.get(self.links.home_sdkappid, {})
        return {home.user_id: found[home.user_id] for home in homes.values()
                if found.get(home.user_id)}

    async def _home_sends(self, job: Job, ctx: JobContext, homes: dict[str, Identity],
                          home_devices: dict[str, list[Device]], step: Step,
                          app_private: bool, sends: list[NewSend]) -> None:
        """Pushes to the messenger's devices of linked receivers: titled with
        the app's name, for the qualified conversation, with the home
        account's whole badge. The app's private previews hold here too."""
        assert self.links is not None
        home_app = self.links.home_sdkappid
        home_settings = step.first.settings.get(home_app) or step.reach.settings[home_app]
        app_name = (await self.links.app_card(job.sdkappid))["name"]
        options = PushOptions.from_stored(job.options)
        msg_id = f"{job.conversation_id}-{job.seq}"
        for user, home in homes.items():
            for device in home_devices.get(home.user_id, ()):
                title, body = notification(
                    ctx.sender_name, ctx.group_name, ctx.elements, options,
                    app_private or home_settings.private_previews or device.private_previews)
                sends.append(NewSend(job, home_app, home.user_id, device.device_id, orjson.dumps(
                    payload(f"{app_name}: {title}" if title else app_name, body,
                            self._home_badge(home.user_id, step.reach),
                            qualify(job.sdkappid, conversation_for(ctx, user)), msg_id,
                            options.ext)).decode()))

    def _home_badge(self, home_user: str, reach: Reach) -> int:
        """A home account's unread total: its own conversations and those of
        every identity it holds through a link (read with the step's)."""
        assert self.links is not None
        own = reach.totals.get(self.links.home_sdkappid, {}).get(home_user, 0)
        return own + sum(reach.totals.get(i.sdkappid, {}).get(i.user_id, 0)
                         for i in self.links.linked_identities(home_user))


def conversation_for(ctx: JobContext, user: str) -> str:
    if ctx.kind == "group":
        return f"group_{ctx.a}"
    return f"c2c_{ctx.b if user == ctx.a else ctx.a}"

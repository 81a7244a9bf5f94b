"""The push worker: a loop that decides the due jobs (``push_decisions``)
and replaces them by their sends and callback events (a transaction a
step, on SQLite one a piece of a step: ``PIECE_ROWS``), then
makes the due sends through the channels (``adapters/push_channels``),
retrying with backoff; what is not done when it stops stays queued."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable

import orjson

from tidings.adapters.push_clients import PushClients
from tidings.config import Settings
from tidings.domain.clock import now_ms
from tidings.domain.ids import Identity
from tidings.domain.push import Channel, PushSettings, Result
from tidings.services.callbacks import CallbackService
from tidings.services.faults import FAULTS
from tidings.services.idle import idle_wait
from tidings.services.push_decisions import Decisions, NewSend
from tidings.store.push import PushStore, Send, SendOutcome
from tidings.store.push_jobs import Job, Move, PointerMoved
from tidings.store.push_reads import SendsContext, StepReceivers

log = logging.getLogger("tidings.services.push")

# Jobs decided (and replaced: one transaction, on SQLite one a piece) per step;
# while steps come back full (a backlog) each takes twice the last's, up to
# MAX_JOBS_PER_STEP. At saturation the loop is busy with the load and a
# step's awaits wait their turn: a step's time is mostly those turns, not
# its jobs, so a step of 200 decided about a third of the jobs written on
# PostgreSQL and the backlog grew while the load lasted (bench/journal/perf-pgpush.md).
JOBS_PER_STEP = 200
MAX_JOBS_PER_STEP = 3200
# On SQLite a step's writes are transactions on the message writer's
# thread, where the messages queue: a step is decided and written in
# pieces of at most this many rows to write (sends, callback events, rows
# deleted or made), the pointer moved past each piece's messages with it.
# A 3,200-job step with a device away each was one ~13-15 ms transaction
# and ~31 ms of deciding on the loop without a turn for the messages: at
# 500 msg/s under such a backlog the messages' p99 was ~40 ms, ~15 in
# pieces (bench/journal/perf-p99.md). A piece holds whole jobs (a job's sends
# are written together) and jobs with nothing to write only move the
# pointer, with the next piece: a step whose receivers are all in the
# foreground is still one write.
PIECE_ROWS = 200


def _past(piece: list[Job], left: Move | None) -> Move | None:
    """The pointer's move past a piece's messages: the step's move that is
    ``left`` but to the piece's last message (None: no move, or the piece
    has no message: rows only)."""
    to = max((job.rowid for job in piece), default=0)
    return None if left is None or to <= left.made_to else Move(left.made_to, left.gen, to)


class PushWorker:
    """Runs the due jobs and sends until stopped."""

    def __init__(self, store: PushStore, callbacks: CallbackService, settings: Settings,
                 decisions: Decisions, app_pushes: Callable[[int], Awaitable[bool]],
                 vapid: Callable[[int], Awaitable[PushSettings]]) -> None:
        self._store = store
        self._callbacks = callbacks
        self._cfg = settings
        self._decisions = decisions
        # Whether an app can push at all, and its settings with a VAPID pair
        # (both the service's: it caches the one, makes the other).
        self._app_pushes = app_pushes
        self._vapid = vapid
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        # Made on the first push (adapters/push_clients.py).
        self._clients = PushClients(settings)
        self._last_prune = 0.0
        self.sent = 0
        # The next jobs step's limit (JOBS_PER_STEP, more while behind).
        self._step = JOBS_PER_STEP
        # ``next_due`` as the last sends step read it and left it (its
        # retries included); None: not read, the idle sleep reads it.
        self._upcoming: tuple[int | None, int | None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="push-worker")

    async def stop(self) -> None:
        """Stop; what is not done stays queued for the next start."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        await self._clients.aclose()

    def wake(self) -> None:
        self._wakeup.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._upcoming = None
            try:
                await self._prune()
                busy = await self._jobs_step()
                busy = await self._sends_step(upcoming=not busy) or busy
            except Exception:
                log.exception("push worker step failed")
                busy = False
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), await self._idle_wait())
            self._wakeup.clear()

    async def _idle_wait(self) -> float:
        """How long to sleep unless woken (services/idle.py): until what
        the sends step's read found queued (``_upcoming``), else read."""
        poll = self._cfg.push_poll_interval
        if not self._store.alone or self._stopping:
            return poll
        try:
            jobs, sends = self._upcoming or await self._store.next_due()
        except Exception:
            log.exception("push worker: could not read when work comes due")
            return poll
        due = [at for at in (None if jobs is None else jobs + int(self._cfg.push_delay * 1000),
                             sends) if at is not None]
        return idle_wait(min(due, default=None), now_ms(), poll)

    async def _prune(self) -> None:
        """Forget notifications given up on, after the callbacks' retention."""
        now = time.monotonic()
        if now - self._last_prune < 60:
            return
        self._last_prune = now
        await self._store.prune_failed(now_ms() - int(self._cfg.callback_retention * 1000))

    async def _jobs_step(self) -> bool:
        """Decide the due jobs and replace them: in one transaction, but on
        SQLite in pieces of about ``PIECE_ROWS`` rows, each moving the
        pointer past its own messages (a crash between two leaves the rest
        to be decided again, as a smaller step would). A job whose
        deciding fails stays, and is tried again next step; on SQLite a
        message's is made a row so, and the pointer moves on."""
        due = await self._store.due_jobs(now_ms() - int(self._cfg.push_delay * 1000),
                                         self._step)
        self._step = min(2 * self._step, MAX_JOBS_PER_STEP) if due.full else JOBS_PER_STEP
        if not due.jobs and due.move is None:
            return False
        sends: list[NewSend] = []
        events: list[tuple[int, str, str]] = []
        wanted: dict[int, bool] = {}
        for app in dict.fromkeys(job.sdkappid for job in due.jobs):
            try:
                wanted[app] = await self._app_pushes(app)
            except Exception:
                log.exception("push: could not ask whether app %s can push", app)
        deciding = [job for job in due.jobs if wanted.get(job.sdkappid)]
        # The receivers read with the jobs, those of the jobs decided.
        first = due.first
        if first is not None and len(deciding) != len(due.jobs):
            first = StepReceivers([users for job, users in zip(due.jobs, first.receivers,
                                                              strict=True)
                                  if wanted.get(job.sdkappid)], first.settings)
        step = await self._decisions.read(deciding, first) if deciding else None
        piece: list[Job] = []
        failed: list[Job] = []
        rows = 0  # the piece's rows deleted (push_jobs'), besides its sends and events
        # PostgreSQL's writes do not queue with the messages': one a step.
        most = PIECE_ROWS if self._store.shares_writer else None
        move = due.move
        for n, job in enumerate(due.jobs, 1):
            piece.append(job)
            rows += bool(job.id)
            if job.sdkappid not in wanted:
                failed.append(job)  # not asked: tried again
            elif not wanted[job.sdkappid]:
                pass
            # Without ``step`` (the step's reads failed) each job reads alone.
            elif not await self._decisions.decide_one(job, step, sends, events):
                failed.append(job)
            if (most is not None and rows + len(sends) + len(events) + len(failed) >= most
                    and n < len(due.jobs)):
                done = _past(piece, move)
                if not await self._finish(piece, sends, events, done, failed):
                    return True
                if done is not None and move is not None:
                    move = Move(done.to, move.gen, move.to)
                piece, sends, events, failed, rows = [], [], [], [], 0
        if not await self._finish(piece, sends, events, move, failed):
            return True
        return due.full

    async def _finish(self, piece: list[Job], sends: list[NewSend],
                      events: list[tuple[int, str, str]], move: Move | None,
                      failed: list[Job]) -> bool:
        """Write a piece of a step (all of it but on SQLite): its jobs
        replaced by their sends and events, the pointer moved past its
        messages; False when the pointer had moved (nothing written: the
        step is done again from where it stands)."""
        # A row whose deciding failed stays and is tried again next step; a
        # message (SQLite) is made a row.
        gone = {id(job) for job in failed}
        done = [job for job in piece if id(job) not in gone]
        if FAULTS is not None:  # decided, not yet recorded: where a test kills it
            await FAULTS.reach("push.decide", [job.id or -job.rowid for job in done])
        try:
            await self._store.finish_jobs(done, sends, events, move,
                                          [job for job in failed if job.rowid])
        except PointerMoved:
            log.info("push: the newest messages were deleted meanwhile; deciding again")
            return False
        if events:
            self._callbacks.wake()
        return True

    async def _sends_step(self, upcoming: bool = False) -> bool:
        """Make the due sends and record their outcomes. With ``upcoming``
        (the jobs step left nothing due) the read has what comes due next,
        for the idle sleep (``_upcoming``), but for this step's retries,
        added here."""
        limit = self._cfg.push_concurrency
        links = self._decisions.links
        home = None if links is None else links.home_sdkappid
        read = await self._store.due_sends_checked(now_ms(), limit, home,
                                                   upcoming and self._store.alone)
        due, ctx = read.sends, read.context
        if not due:
            self._upcoming = read.upcoming
            return False
        receivers = [self._receiver(send) for send in due]
        # Those the due read did not check: all when claimed, else the home app's.
        unchecked = [(send, who.user_id) for send, who in zip(due, receivers, strict=True)
                     if who is not None and (ctx is None or send.sdkappid == home)]
        if ctx is None or unchecked:
            more = await self._store.sends_context(unchecked)
            ctx = more if ctx is None else ctx.merged(more)
        outcomes = await asyncio.gather(*(self._attempt(s, who, ctx)
                                          for s, who in zip(due, receivers, strict=True)))
        await self._store.record(outcomes)
        if read.upcoming is not None:
            jobs, sends = read.upcoming
            retries = [o.next_attempt_at for o in outcomes if o.result == "retry"]
            self._upcoming = jobs, min(retries + ([] if sends is None else [sends]),
                                       default=None)
        return len(due) == limit

    async def _attempt(self, send: Send, receiver: Identity | None,
                       ctx: SendsContext) -> SendOutcome:
        """One send, with what the step read for it (``ctx``): dropped when
        its receiver is gone (unlinked), it is no longer due (read,
        recalled, muted) or its device is gone."""
        try:
            if receiver is None or send.id not in ctx.due:
                return SendOutcome(send.id, "dropped")
            device = ctx.devices.get((send.sdkappid, send.user_id, send.device_id))
            if device is None:
                return SendOutcome(send.id, "dropped")
            if self._decisions.present(receiver):
                # Back in the foreground meanwhile: the app shows it itself.
                return SendOutcome(send.id, "dropped")
            app = ctx.settings[send.sdkappid]
            if device.channel is Channel.WEBPUSH and not app.vapid_public:
                app = await self._vapid(send.sdkappid)  # made and stored on first use
            if not app.has(device.channel):
                return self._retry(send, f"the app has no {device.channel.value} credentials")
            delivery = await self._clients.channel(device.channel).send(
                app, device, orjson.loads(send.payload))
        except self._clients.transport_errors() as exc:
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

    def _receiver(self, send: Send) -> Identity | None:
        """Whose read cursor and presence a send answers to: its own user,
        or for a push to a home account's device about an app's message, the
        identity linked to it (None once unlinked: nothing more goes
        through the link). The message's app came with the due sends' read
        (it was a read per send: ~65 for a step of 64)."""
        links = self._decisions.links
        if links is None or send.sdkappid != links.home_sdkappid:
            return Identity(send.sdkappid, send.user_id)
        app = send.conversation_app
        if app is None or app == send.sdkappid:
            return Identity(send.sdkappid, send.user_id)
        return next((i for i in links.linked_identities(send.user_id)
                     if i.sdkappid == app), None)

    def _retry(self, send: Send, error: str) -> SendOutcome:
        attempts = send.attempts + 1
        if attempts >= self._cfg.push_max_attempts:
            return SendOutcome(send.id, "failed", f"gave up after {attempts} attempts: {error}",
                               now_ms())
        delay = min(self._cfg.push_retry_cap,
                    self._cfg.push_retry_base * 2 ** (attempts - 1) * random.uniform(0.8, 1.2))
        return SendOutcome(send.id, "retry", error, now_ms() + int(delay * 1000))

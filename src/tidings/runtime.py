"""Everything one server process holds, wired together and started once: the
composition root (server.py runs it under uvicorn). The stores, services, bus
and adapters are built here and nowhere else."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tidings.adapters.home_passwords import Passwords
from tidings.adapters.home_senders import (
    CodeSender,
    ConsoleSender,
    SmtpSender,
    SmtpSettings,
    WebhookSender,
)
from tidings.bus.local import LocalBus
from tidings.config import Settings
from tidings.domain.cluster import DRAIN_CLOSE, DRAIN_REASON
from tidings.domain.home_accounts import Channel
from tidings.domain.ids import Identity
from tidings.services.account_mutes import AccountMuteService
from tidings.services.accounts import AccountService
from tidings.services.admin_messaging import AdminMessagingService
from tidings.services.apps import AppRegistry
from tidings.services.auth import Authenticator
from tidings.services.broadcasts import BroadcastService
from tidings.services.callbacks import CallbackService
from tidings.services.conversations import ConversationSettingsService
from tidings.services.friends import FriendService, Relations
from tidings.services.group_joins import GroupJoinService
from tidings.services.group_notices import GroupNoticeService
from tidings.services.group_receipts import GroupReceiptService
from tidings.services.groups import GroupService
from tidings.services.health import Health
from tidings.services.home_accounts import HomeAccountService
from tidings.services.home_recovery import HomeRecovery
from tidings.services.linked_messaging import LinkedMessaging
from tidings.services.links import LinkService
from tidings.services.live import LiveService
from tidings.services.media import MediaService
from tidings.services.messaging import MessagingService
from tidings.services.operators import OperatorService, operator_service
from tidings.services.profiles import ProfileService
from tidings.services.push import PushService
from tidings.services.reactions import ReactionService
from tidings.services.retention import RetentionService
from tidings.services.search import SearchService
from tidings.services.stats import StatsService
from tidings.services.typing import TypingService
from tidings.store.account_mutes import AccountMuteStore
from tidings.store.accounts import AccountStore
from tidings.store.apps import AppStore
from tidings.store.broadcasts import BroadcastStore
from tidings.store.callbacks import CallbackStore, OutboxRows
from tidings.store.conversation_settings import ConversationSettingsStore
from tidings.store.engine import Database, migrate, open_database
from tidings.store.friends import FriendStore
from tidings.store.group_departures import DepartureStore
from tidings.store.group_joins import JoinRequestStore
from tidings.store.groups import GroupStore
from tidings.store.home_accounts import HomeAccountStore
from tidings.store.home_recovery import HomeRecoveryStore
from tidings.store.links import LinkStore
from tidings.store.media import MediaRefRows, MediaStore
from tidings.store.mentions import MentionRows
from tidings.store.messages import MessageStore
from tidings.store.node_lock import NodeLock, claim
from tidings.store.profiles import ProfileStore
from tidings.store.push import PushStore
from tidings.store.push_jobs import PushJobRows
from tidings.store.rate_limits import DatabaseRateCounter
from tidings.store.reactions import ReactionStore
from tidings.store.retention import RetentionStore
from tidings.store.search import SearchStore, TextRows
from tidings.store.search_gin import TrigramIndex
from tidings.store.search_index import FtsIndex
from tidings.store.stats import StatsStore
from tidings.store.writer import MessageWriter

if TYPE_CHECKING:
    from tidings.bus.redis import RedisBus

log = logging.getLogger(__name__)


def _redis_bus(settings: Settings) -> RedisBus:
    # Imported only for a cluster: redis-py costs ~0.1 s of CPU at start-up.
    from tidings.bus.redis import RedisBus

    return RedisBus(settings.redis_url, heartbeat=settings.cluster_heartbeat,
                    node_timeout=settings.cluster_node_timeout, cluster=settings.cluster_name,
                    settle_timeout=settings.cluster_settle_timeout,
                    order_wait=settings.cluster_order_wait)


@dataclass(kw_only=True)
class Runtime:
    settings: Settings
    db: Database
    bus: LocalBus
    apps: AppRegistry
    auth: Authenticator
    messaging: MessagingService
    writer: MessageWriter
    accounts: AccountService
    admin_messaging: AdminMessagingService
    profiles: ProfileService
    broadcasts: BroadcastService
    stats: StatsService
    callbacks: CallbackService
    groups: GroupService
    friends: FriendService
    conversation_settings: ConversationSettingsService
    typing: TypingService
    reactions: ReactionService
    # The built-in home app's sdkappid (issue 5: hosted accounts and links).
    home_sdkappid: int
    group_receipts: GroupReceiptService
    search: SearchService
    group_joins: GroupJoinService
    live: LiveService
    push: PushService
    media: MediaService
    # Hosted accounts of the home app: sign-in, sessions, one-time codes.
    home_accounts: HomeAccountService
    # Links between home accounts and app identities (issue 5).
    links: LinkService
    linked_messaging: LinkedMessaging
    # Home accounts' addresses, password reset and deletion by the owner.
    home_recovery: HomeRecovery
    # Each app's message window and the collector that expires older entries.
    retention: RetentionService
    # Global mutes of accounts (Tencent's setnospeaking), checked by every send.
    account_mutes: AccountMuteService
    # Group system notifications: live events to a group's members.
    group_notices: GroupNoticeService
    # The deployment's operators (the console, docs/console.md).
    operators: OperatorService
    # Readiness (/readyz) and the drain flag it reports.
    health: Health
    # PostgreSQL's trigram index made or dropped at start (``search_index``).
    search_index: TrigramIndex

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        # The process's: every thread started below hands the interpreter
        # lock to a waiting one (the event loop) after this long.
        sys.setswitchinterval(settings.gil_switch_ms / 1000)
        db = open_database(settings.resolved_database_url(), settings.sqlite_checkpoint_pages)
        await migrate(db, lambda done, total, revision: log.info(
            "database migration %d/%d applied: %s", done, total, revision))
        search_index = TrigramIndex(db, wanted=settings.search_index == "trigram")
        search_index.start()
        redis_bus = _redis_bus(settings) if settings.redis_url else None
        bus = redis_bus if redis_bus is not None else LocalBus()
        await bus.start()
        app_store = AppStore(db)
        home = await app_store.ensure_home(settings.home_app_name, settings.home_app_admin)
        apps = AppRegistry(app_store, settings.app_cache_ttl)
        auth = Authenticator(apps, AccountStore(db), app_store)
        accounts = AccountService(AccountStore(db), auth, bus)
        messaging = MessagingService(MessageStore(db), bus,
                                     max_message_bytes=settings.max_message_bytes,
                                     max_page=settings.max_page,
                                     max_sync_bytes=settings.max_sync_bytes,
                                     recall_window=settings.recall_window,
                                     edit_window=settings.edit_window)
        # Queued work is claimed with a lease only in a cluster (store/leases.py).
        lease_ms = int(settings.cluster_lease * 1000) if settings.redis_url else 0
        callbacks = CallbackService(CallbackStore(db, lease_ms), settings)
        push = PushService(PushStore(db, lease_ms), bus, callbacks, settings)
        # The worker wakes after a batch that wrote push jobs, and only then
        # (each wake reads the store); push off: no jobs, no wakes.
        push_jobs = PushJobRows(db, push.wants_push) if settings.push_enabled else None
        writer = MessageWriter(db, max_batch=settings.max_commit_batch,
                               on_commit=push.hook(messaging.on_commit, push_jobs)
                               if push_jobs is not None else messaging.on_commit,
                               on_refusal=messaging.on_refusal)
        # The features' rows in each message's transaction, in this order.
        writer.register(TextRows(db, FtsIndex(feed=settings.search_index == "trigram")),
                        MediaRefRows(db), MentionRows(db), OutboxRows(db))
        if push_jobs is not None:
            push_jobs.attach(writer)
        friends = FriendService(FriendStore(db), AccountStore(db), ProfileStore(db), bus,
                                callbacks, settings.app_cache_ttl)
        settings_store = ConversationSettingsStore(db)
        reaction_store = ReactionStore(db)
        messaging.bind(writer, callbacks, friends.relations, settings_store, reaction_store)
        account_mutes = AccountMuteService(AccountMuteStore(db))
        account_mutes.share(bus)
        await account_mutes.start()
        messaging.mute_accounts(account_mutes)
        share_changes(bus, auth, friends.relations)
        for cache in (apps, callbacks, friends.relations):
            cache.share(bus)
        conversation_settings = ConversationSettingsService(settings_store, MessageStore(db),
                                                            messaging, bus)
        group_receipts = GroupReceiptService(db, MessageStore(db), GroupStore(db), bus,
                                             settings.group_receipts_max_members,
                                             ttl=settings.app_cache_ttl)
        messaging.group_receipts = group_receipts
        group_receipts.share(bus)
        callbacks.start()
        writer.start()
        admin_messaging = AdminMessagingService(messaging, AccountStore(db))
        # In a cluster, a job is leased: one whose process died is carried
        # on by another within the lease.
        broadcasts = BroadcastService(BroadcastStore(
            db, int(settings.cluster_broadcast_lease * 1000) if settings.redis_url else 0,
            redis_bus.node if redis_bus is not None else ""), admin_messaging, apps)
        await broadcasts.start()
        home_accounts = home_accounts_service(db, settings, home.sdkappid, apps, auth,
                                              accounts, bus, redis_bus)
        links = LinkService(LinkStore(db), apps, AccountStore(db), ProfileStore(db), friends,
                            bus, home.sdkappid, callbacks)
        await links.start()
        links.share(bus)
        # Push starts once it knows the links: a job left by a crash may be
        # for a linked identity whose home devices count.
        push.links = links
        push.start()
        home_recovery = HomeRecovery(home_accounts, HomeRecoveryStore(db, home.sdkappid), links)
        accounts.before_delete = account_deletion(home.sdkappid, home_recovery, links)
        log.info("store ready: %s", db.writer.url.render_as_string(hide_password=True))
        groups = GroupService(GroupStore(db), writer, callbacks, ttl=settings.app_cache_ttl)
        groups.defaults.share(bus)
        media = MediaService.create(MediaStore(db), settings)
        await media.start()
        retention = RetentionService(RetentionStore(db), interval=settings.retention_interval)
        await retention.start()
        stats = StatsService(StatsStore(db), bus, node=writer.node)
        stats.start(auth, settings.figures_interval)
        # Keywords only: each new service is one more line, not a position.
        return cls(
            settings=settings, db=db, bus=bus, apps=apps, auth=auth, messaging=messaging,
            writer=writer, accounts=accounts, admin_messaging=admin_messaging,
            profiles=ProfileService(ProfileStore(db), bus), broadcasts=broadcasts,
            stats=stats, callbacks=callbacks, groups=groups,
            friends=friends, conversation_settings=conversation_settings,
            typing=TypingService(bus, friends.relations),
            reactions=ReactionService(reaction_store, MessageStore(db), friends.relations,
                                      bus, writer),
            home_sdkappid=home.sdkappid,
            group_receipts=group_receipts,
            search=SearchService(SearchStore(db, settings.search_fts_probe,
                                             index=settings.search_index == "trigram"),
                                 MessageStore(db), messaging),
            group_joins=GroupJoinService(JoinRequestStore(db), DepartureStore(db),
                                         GroupStore(db), groups, bus, callbacks),
            live=LiveService(groups, bus, rate=settings.live_room_rate,
                             max_message_bytes=settings.max_message_bytes),
            push=push,
            media=media,
            home_accounts=home_accounts,
            links=links,
            linked_messaging=LinkedMessaging(links, messaging, auth),
            home_recovery=home_recovery,
            retention=retention, account_mutes=account_mutes,
            group_notices=GroupNoticeService(GroupStore(db), groups, bus),
            operators=operator_service(db, settings),
            health=Health(db, bus, clustered=bool(settings.redis_url)),
            search_index=search_index,
        )

    def drain(self) -> int:
        """The process was asked to stop (SIGTERM): report not ready, and
        tell every device connected here to reconnect at once, to any node
        (the server stops accepting first; the writer keeps committing
        until ``stop``). Returns how many devices were told."""
        self.health.draining = True
        return self.bus.disconnect_here(DRAIN_CLOSE, DRAIN_REASON)

    async def stop(self) -> None:
        await self.stats.stop()
        await self.retention.stop()
        await self.media.stop()
        await self.broadcasts.stop()
        await self.writer.stop()
        await self.push.stop()
        await self.callbacks.stop()
        await self.bus.stop()
        await self.search_index.stop()
        await self.db.dispose()


# The home app: which sender per channel, the password hasher, the shared
# rate counters; and what an admin's account delete also removes.

def _sender(kind: str, s: Settings) -> CodeSender:
    if kind == "smtp":
        if not s.home_smtp_host or not s.home_smtp_from:
            raise ValueError("TIDINGS_HOME_EMAIL_SENDER=smtp needs TIDINGS_HOME_SMTP_HOST "
                             "and TIDINGS_HOME_SMTP_FROM")
        return SmtpSender(SmtpSettings(s.home_smtp_host, s.home_smtp_port, s.home_smtp_from,
                                       s.home_smtp_security, s.home_smtp_username,
                                       s.home_smtp_password))
    if kind == "webhook":
        if not s.home_webhook_url or not s.home_webhook_secret:
            raise ValueError("a webhook sender needs TIDINGS_HOME_WEBHOOK_URL and "
                             "TIDINGS_HOME_WEBHOOK_SECRET")
        return WebhookSender(s.home_webhook_url, s.home_webhook_secret)
    return ConsoleSender()


def home_accounts_service(db: Database, settings: Settings, home_sdkappid: int,
                          apps: AppRegistry, auth: Authenticator,
                          accounts: AccountService, bus: LocalBus,
                          redis_bus: RedisBus | None) -> HomeAccountService:
    """Made at start-up; the Authenticator learns to check home sessions."""
    senders = {Channel.EMAIL: _sender(settings.home_email_sender, settings),
               Channel.PHONE: _sender(settings.home_phone_sender, settings)}
    passwords = Passwords(settings.home_argon2_time_cost, settings.home_argon2_memory_kib,
                          settings.home_argon2_parallelism)
    # A cluster counts in Redis (one round trip, no database write per attempt).
    counter = redis_bus.rate_counter() if redis_bus is not None else DatabaseRateCounter(db)
    service = HomeAccountService(HomeAccountStore(db, home_sdkappid), counter,
                                 passwords, senders, apps, auth, accounts,
                                 ProfileService(ProfileStore(db), bus), bus,
                                 settings, home_sdkappid)
    auth.ticket_check = service.check_ticket
    return service


def share_changes(bus: LocalBus, auth: Authenticator, relations: Relations) -> None:
    """What a process keeps exact in memory and another process of a cluster
    may change: account states and friend/block lists (links tell their own
    changes: services/links.py; app and group settings live
    ``app_cache_ttl``)."""
    auth.announce = lambda identities: bus.changed(
        "accounts", {"ids": [[i.sdkappid, i.user_id] for i in identities]})
    bus.on_change("accounts", lambda data: auth.forget_here(
        [Identity(sdkappid, user_id) for sdkappid, user_id in data["ids"]]))
    relations.announce = lambda sdkappid, user_id: bus.changed(
        "relations", {"sdkappid": sdkappid, "user_id": user_id})
    bus.on_change("relations", lambda data: relations.forget_lists(data["sdkappid"],
                                                                   data["user_id"]))


def claim_node(settings: Settings) -> NodeLock:
    """``tidings serve``'s place on the database, taken before it serves:
    refuses (``StartRefused``) a second process on an SQLite file, or
    processes on one PostgreSQL database that do not all share a Redis."""
    if settings.redis_url:
        from tidings.bus.redis import check_reachable

        check_reachable(settings.redis_url)
    return claim(settings.resolved_database_url(), clustered=bool(settings.redis_url))


def account_deletion(home_sdkappid: int, recovery: HomeRecovery, links: LinkService
                     ) -> Callable[[int, list[str]], Awaitable[None]]:
    """An admin's delete: in the home app it also removes the hosted
    sign-in and the links; in an app, the deleted users' links end."""
    async def before_delete(sdkappid: int, user_ids: list[str]) -> None:
        if sdkappid == home_sdkappid:
            await recovery.admin_deleted(user_ids)
        else:
            await links.identities_deleted(sdkappid, user_ids)
    return before_delete

"""Everything one server process holds, wired together and started once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tidings.bus.local import LocalBus
from tidings.config import Settings
from tidings.services.accounts import AccountService
from tidings.services.admin_messaging import AdminMessagingService
from tidings.services.apps import AppRegistry
from tidings.services.auth import Authenticator
from tidings.services.broadcasts import BroadcastService
from tidings.services.callbacks import CallbackService
from tidings.services.conversations import ConversationSettingsService
from tidings.services.friends import FriendService
from tidings.services.group_joins import GroupJoinService
from tidings.services.group_receipts import GroupReceiptService
from tidings.services.groups import GroupService
from tidings.services.home_accounts import HomeAccountService
from tidings.services.home_recovery import HomeRecovery
from tidings.services.home_wiring import account_deletion, home_accounts_service
from tidings.services.linked_messaging import LinkedMessaging
from tidings.services.links import LinkService
from tidings.services.live import LiveService
from tidings.services.media import MediaService
from tidings.services.messaging import MessagingService
from tidings.services.profiles import ProfileService
from tidings.services.push import PushService
from tidings.services.reactions import ReactionService
from tidings.services.search import SearchService
from tidings.services.stats import StatsService
from tidings.services.typing import TypingService
from tidings.store.accounts import AccountStore
from tidings.store.apps import AppStore
from tidings.store.broadcasts import BroadcastStore
from tidings.store.callbacks import CallbackStore
from tidings.store.conversation_settings import ConversationSettingsStore
from tidings.store.engine import Database, migrate, open_database
from tidings.store.friends import FriendStore
from tidings.store.group_departures import DepartureStore
from tidings.store.group_joins import JoinRequestStore
from tidings.store.groups import GroupStore
from tidings.store.home_recovery import HomeRecoveryStore
from tidings.store.links import LinkStore
from tidings.store.media import MediaStore
from tidings.store.messages import MessageStore
from tidings.store.profiles import ProfileStore
from tidings.store.push import PushStore
from tidings.store.reactions import ReactionStore
from tidings.store.search import SearchStore
from tidings.store.stats import StatsStore
from tidings.store.writer import MessageWriter

log = logging.getLogger(__name__)


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

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        db = open_database(settings.resolved_database_url())
        await migrate(db)
        bus = LocalBus()
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
        callbacks = CallbackService(CallbackStore(db), settings)
        push = PushService(PushStore(db), bus, callbacks, settings)
        writer = MessageWriter(db, max_batch=settings.max_commit_batch,
                               on_commit=push.hook(messaging.on_commit),
                               push=push.wants_push if settings.push_enabled
                               else lambda sdkappid: False)
        friends = FriendService(FriendStore(db), AccountStore(db), ProfileStore(db), bus,
                                callbacks, settings.app_cache_ttl)
        settings_store = ConversationSettingsStore(db)
        reaction_store = ReactionStore(db)
        messaging.bind(writer, callbacks, friends.relations, settings_store, reaction_store)
        conversation_settings = ConversationSettingsService(settings_store, MessageStore(db),
                                                            messaging, bus)
        group_receipts = GroupReceiptService(db, MessageStore(db), GroupStore(db), bus,
                                             settings.group_receipts_max_members,
                                             ttl=settings.app_cache_ttl)
        messaging.group_receipts = group_receipts
        callbacks.start()
        writer.start()
        admin_messaging = AdminMessagingService(messaging, AccountStore(db))
        broadcasts = BroadcastService(BroadcastStore(db), admin_messaging, apps)
        await broadcasts.start()
        home_accounts = home_accounts_service(db, settings, home.sdkappid, apps, auth,
                                              accounts, bus)
        links = LinkService(LinkStore(db), apps, AccountStore(db), ProfileStore(db), friends,
                            bus, home.sdkappid, callbacks)
        await links.start()
        # Push starts once it knows the links: a job left by a crash may be
        # for a linked identity whose home devices count.
        push.links = links
        push.start()
        home_recovery = HomeRecovery(home_accounts, HomeRecoveryStore(db, home.sdkappid), links)
        accounts.before_delete = account_deletion(home.sdkappid, home_recovery, links)
        log.info("store ready: %s", db.writer.url.render_as_string(hide_password=True))
        groups = GroupService(GroupStore(db), writer, callbacks, ttl=settings.app_cache_ttl)
        media = MediaService.create(MediaStore(db), settings)
        await media.start()
        # Keywords only: each new service is one more line, not a position.
        return cls(
            settings=settings, db=db, bus=bus, apps=apps, auth=auth, messaging=messaging,
            writer=writer, accounts=accounts, admin_messaging=admin_messaging,
            profiles=ProfileService(ProfileStore(db), bus), broadcasts=broadcasts,
            stats=StatsService(StatsStore(db), bus), callbacks=callbacks, groups=groups,
            friends=friends, conversation_settings=conversation_settings,
            typing=TypingService(bus, friends.relations),
            reactions=ReactionService(reaction_store, MessageStore(db), friends.relations,
                                      bus, writer),
            home_sdkappid=home.sdkappid,
            group_receipts=group_receipts,
            search=SearchService(SearchStore(db, settings.search_fts_probe),
                                 MessageStore(db), messaging),
            group_joins=GroupJoinService(JoinRequestStore(db), DepartureStore(db),
                                         GroupStore(db), groups, bus, callbacks),
            live=LiveService(groups, rate=settings.live_room_rate,
                             max_message_bytes=settings.max_message_bytes),
            push=push,
            media=media,
            home_accounts=home_accounts,
            links=links,
            linked_messaging=LinkedMessaging(links, messaging, auth),
            home_recovery=home_recovery,
        )

    async def stop(self) -> None:
        await self.media.stop()
        await self.broadcasts.stop()
        await self.writer.stop()
        await self.push.stop()
        await self.callbacks.stop()
        await self.db.dispose()

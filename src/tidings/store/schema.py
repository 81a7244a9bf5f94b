"""The tables, in SQLAlchemy Core. docs/schema.md explains each one.

One schema for SQLite and PostgreSQL: plain types only, times as integer
milliseconds since the epoch, JSON as text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

apps = Table(
    "apps",
    metadata,
    Column("sdkappid", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False),
    Column("icon_url", String(512), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    # "app", or "home" for the built-in home app (at most one: the index below).
    Column("kind", String(8), nullable=False, server_default="app"),
    Index("ux_apps_home", "kind", unique=True,
          sqlite_where=text("kind = 'home'"), postgresql_where=text("kind = 'home'")),
)

app_keys = Table(
    "app_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sdkappid", BigInteger, ForeignKey("apps.sdkappid", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("secret_key", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("retired_at", BigInteger, nullable=True),
)

app_admins = Table(
    "app_admins",
    metadata,
    Column("sdkappid", BigInteger, ForeignKey("apps.sdkappid", ondelete="CASCADE"),
           primary_key=True),
    Column("user_id", String(32), primary_key=True),
)

users = Table(
    "users",
    metadata,
    Column("sdkappid", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", String(32), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("nickname", String(500), nullable=False, server_default=""),
    Column("avatar_url", String(512), nullable=False, server_default=""),
    Column("state", String(8), nullable=False, server_default="active"),
    Column("sessions_valid_after", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", BigInteger, nullable=False, server_default="0"),
    # The standard profile fields beyond nickname and avatar (domain/profiles.py).
    Column("gender", String(8), nullable=False, server_default="unknown"),
    Column("birthday", BigInteger, nullable=False, server_default="0"),
    Column("location", String(16), nullable=False, server_default=""),
    Column("signature", String(500), nullable=False, server_default=""),
    Column("language", BigInteger, nullable=False, server_default="0"),
    Column("level", BigInteger, nullable=False, server_default="0"),
    Column("role", BigInteger, nullable=False, server_default="0"),
    Column("allow_type", String(16), nullable=False, server_default="need_confirm"),
    Column("profile_updated_at", BigInteger, nullable=False, server_default="0"),
    Column("last_login_at", BigInteger, nullable=False, server_default="0"),
    Index("ix_users_last_login", "sdkappid", "last_login_at"),
)

# An app's own profile fields, one row per set key.
user_profile_custom = Table(
    "user_profile_custom",
    metadata,
    Column("sdkappid", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", String(32), primary_key=True),
    Column("key", String(32), primary_key=True),
    Column("value", Text, nullable=False),
)

app_api_keys = Table(
    "app_api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sdkappid", BigInteger, ForeignKey("apps.sdkappid", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("name", String(64), nullable=False, server_default=""),
    Column("prefix", String(32), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    UniqueConstraint("key_hash", name="uq_app_api_keys_key_hash"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sdkappid", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("a", String(48), nullable=False),
    Column("b", String(48), nullable=False),
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    Column("last_time", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("sdkappid", "kind", "a", "b", name="uq_conversations_key"),
    # 0004: the seq of the newest message (changes are not previews), and how
    # many countable messages the conversation has (see messages.msg_no).
    Column("last_message_seq", BigInteger, nullable=False, server_default="0"),
    Column("last_msg_no", BigInteger, nullable=False, server_default="0"),
    # 0006: the last seq that mentioned everyone ("@all", groups).
    Column("at_all_seq", BigInteger, nullable=False, server_default="0"),
)

conversation_members = Table(
    "conversation_members",
    metadata,
    Column("conversation_id", Integer, ForeignKey("conversations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("sdkappid", BigInteger, nullable=False),
    Column("read_seq", BigInteger, nullable=False, server_default="0"),
    Column("joined_at", BigInteger, nullable=False),
    Index("ix_members_user", "sdkappid", "user_id"),
    # 0004: messages.msg_no at read_seq; unread = last_msg_no - read_msg_no.
    Column("read_msg_no", BigInteger, nullable=False, server_default="0"),
    # 0006 (groups): domain.groups.Role (0 in a one-to-one conversation), muted
    # until (ms, 0: not), the member's name card, and the seq after which the
    # member sees the group's entries (its join seq - 1; 0 in Meeting groups).
    Column("role", SmallInteger, nullable=False, server_default="0"),
    Column("muted_until", BigInteger, nullable=False, server_default="0"),
    Column("name_card", String(200), nullable=False, server_default=""),
    Column("visible_after", BigInteger, nullable=False, server_default="0"),
    # 0006: the last seq that mentioned this member (groups; the "@me" marker).
    Column("mention_seq", BigInteger, nullable=False, server_default="0"),
)

messages = Table(
    "messages",
    metadata,
    Column("conversation_id", Integer, ForeignKey("conversations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("sdkappid", BigInteger, nullable=False),
    Column("sender", String(32), nullable=False),
    Column("client_msg_id", String(64), nullable=False),
    Column("elements", Text, nullable=False),
    Column("cloud_custom_data", Text, nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("state", SmallInteger, nullable=False, server_default="0"),
    UniqueConstraint("sdkappid", "sender", "client_msg_id", name="uq_messages_client_id"),
    # 0004: message changes and imports.
    # domain.elements.EntryKind: 0 message, 1 recall of target_seq, 2 edit of it.
    Column("kind", SmallInteger, nullable=False, server_default="0"),
    Column("target_seq", BigInteger, nullable=True),
    # Countable messages (kind 0, not a history import) up to this entry.
    Column("msg_no", BigInteger, nullable=False, server_default="0"),
    # domain.elements.ImportMode: 0 sent, 1 realtime import, 2 history import.
    Column("imported", SmallInteger, nullable=False, server_default="0"),
    Column("edited_at", BigInteger, nullable=True),
    # On a message: the seq of its latest change entry (0: never changed).
    Column("change_seq", BigInteger, nullable=False, server_default="0"),
    # Who made the (latest) change: "user:<id>" or "admin:<actor>".
    Column("changed_by", String(64), nullable=True),
    # 0006: group messages: the JSON list of user ids mentioned ("@all"), or NULL.
    Column("mentions", Text, nullable=True),
    # Operational figures (messages today); see docs/schema.md for its cost.
    Index("ix_messages_app_time", "sdkappid", "created_at"),
)

# Admin broadcasts: a durable job that sends one message to every account of
# the app, page by page; ``cursor`` is the last user id done, so a restart
# carries on where it stopped (resends are idempotent by client message id).
broadcasts = Table(
    "broadcasts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sdkappid", BigInteger, nullable=False),
    Column("sender", String(32), nullable=False),
    Column("client_msg_id", String(64), nullable=False),
    Column("elements", Text, nullable=False),
    Column("cloud_custom_data", Text, nullable=False, server_default=""),
    Column("state", String(8), nullable=False, server_default="running"),
    Column("cursor", String(32), nullable=False, server_default=""),
    Column("sent", BigInteger, nullable=False, server_default="0"),
    Column("skipped", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    UniqueConstraint("sdkappid", "client_msg_id", name="uq_broadcasts_client_id"),
)

# -- callbacks (revision 0005) ----------------------------------------------------

# Per app: where its callbacks go and how. No row: callbacks are off.
app_callbacks = Table(
    "app_callbacks",
    metadata,
    Column("sdkappid", BigInteger, ForeignKey("apps.sdkappid", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("url", String(2048), nullable=False),
    Column("token", String(128), nullable=False),
    Column("format", String(8), nullable=False, server_default="native"),
    # Comma-separated names of the events switched off; every other is on.
    Column("disabled_events", String(512), nullable=False, server_default=""),
    Column("timeout_ms", Integer, nullable=False, server_default="2000"),
    Column("failure_policy", String(8), nullable=False, server_default="allow"),
    Column("updated_at", BigInteger, nullable=False),
)

# The durable queue of after-callbacks: one row per event, written in the
# transaction of the change it reports.
callback_outbox = Table(
    "callback_outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("sdkappid", BigInteger, nullable=False),
    Column("event", String(32), nullable=False),
    Column("event_id", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(10), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("last_error", String(512), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
    Index("ix_callback_outbox_due", "status", "next_attempt_at"),
    Index("ix_callback_outbox_app", "sdkappid", "id"),
)

# -- groups (revision 0006) -------------------------------------------------------

# One row per group; its members are conversation_members rows of its
# conversation (kind "group", a = group id), its entries are messages rows.
groups = Table(
    "groups",
    metadata,
    Column("sdkappid", BigInteger, primary_key=True, autoincrement=False),
    Column("group_id", String(48), primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False),
    Column("type", String(12), nullable=False),
    Column("name", String(400), nullable=False, server_default=""),
    Column("face_url", String(500), nullable=False, server_default=""),
    Column("introduction", String(1600), nullable=False, server_default=""),
    Column("notification", String(1600), nullable=False, server_default=""),
    # "" for a group without owner (made by the app's admin without one).
    Column("owner", String(32), nullable=False, server_default=""),
    Column("join_option", String(16), nullable=False),
    Column("mute_all", SmallInteger, nullable=False, server_default="0"),
    Column("max_members", BigInteger, nullable=False),
    # The app's own attributes: a JSON object of strings.
    Column("custom", Text, nullable=False, server_default="{}"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("conversation_id", name="uq_groups_conversation"),
)

# Per app: group settings. ``default_members``: a JSON list of the accounts
# added to every new group of the app (a guest, a customer-service account).
app_group_settings = Table(
    "app_group_settings",
    metadata,
    Column("sdkappid", BigInteger, ForeignKey("apps.sdkappid", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("default_members", Text, nullable=False, server_default="[]"),
    Column("updated_at", BigInteger, nullable=False),
)


# -- friends and blocks (revision 0007) -----------------------------------------------

# One row per side of a friendship: ``user_id`` has ``friend_id`` in their
# list. A friendship both ways is two rows; deleting "one side" removes one.
friends = Table(
    "friends",
    metadata,
    Column("sdkappid", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", String(32), primary_key=True),
    Column("friend_id", String(32), primary_key=True),
    Column("remark", String(96), nullable=False, server_default=""),
    Column("source", String(32), nullable=False, server_default=""),
    Column("wording", String(256), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Friend requests waiting for an answer (an answer deletes the row).
friend_requests = Table(
    "friend_requests",
    metadata,
    Column("sdkappid", BigInteger, primary_key=True, autoincrement=False),
    Column("from_user", String(32), primary_key=True),
    Column("to_user", String(32), primary_key=True),
    Column("wording", String(256), nullable=False, server_default=""),
    Column("source", String(32), nullable=False, server_default=""),
    # What the requester calls the friend once accepted.
    Column("remark", String(96), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_friend_requests_to", "sdkappid", "to_user"),
)

# ``user_id`` blocks ``blocked_id``: one-to-one messages from blocked_id to
# user_id are refused (docs/protocol.md says how the sender sees it).
blocks = Table(
    "blocks",
    metadata,
    Column("sdkappid", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", String(32), primary_key=True),
    Column("blocked_id", String(32), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)

# Per app: the one-to-one rules. No row: the defaults.
app_c2c_settings = Table(
    "app_c2c_settings",
    metadata,
    Column("sdkappid", BigInteger, ForeignKey("apps.sdkappid", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    # 1: one-to-one messages need a friendship both ways (20009 otherwise).
    Column("needs_friendship", SmallInteger, nullable=False, server_default="0"),
    # What a blocked sender sees: "sent" (an ack that stores nothing) or
    # "error" (20007, Tencent's "blocked by the peer").
    Column("blocked_sender_sees", String(8), nullable=False, server_default="sent"),
    Column("updated_at", BigInteger, nullable=False),
    # 1: one-to-one read receipts (the peer's read position, peer_read events).
    Column("read_receipts", SmallInteger, nullable=False, server_default="1"),
)

# One user's settings of one conversation (revision 0007); no row: defaults.
conversation_settings = Table(
    "conversation_settings",
    metadata,
    Column("conversation_id", Integer, ForeignKey("conversations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("sdkappid", BigInteger, nullable=False),
    Column("pinned", SmallInteger, nullable=False, server_default="0"),
    Column("muted", SmallInteger, nullable=False, server_default="0"),
    # Hidden from the list while the newest message's seq is at most this.
    Column("hidden_seq", BigInteger, nullable=True),
    # History, sync and the list show this user nothing at or below this seq.
    Column("cleared_seq", BigInteger, nullable=False, server_default="0"),
    Column("draft", Text, nullable=False, server_default=""),
    Column("draft_time", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_conversation_settings_user", "sdkappid", "user_id"),
)

# Reactions: one row per user, emoji and message (revision 0007).
message_reactions = Table(
    "message_reactions",
    metadata,
    Column("conversation_id", Integer, ForeignKey("conversations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", String(32), primary_key=True),
    Column("emoji", String(32), primary_key=True),
    Column("sdkappid", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Links between home accounts and app identities (issue 5,
# docs/linked-identity.md): an app identity links to at most one home
# account (the primary key), a home account to at most one identity per app.
links = Table(
    "links",
    metadata,
    Column("sdkappid", BigInteger, ForeignKey("apps.sdkappid", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("user_id", String(32), primary_key=True),
    Column("home_user", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ux_links_home", "home_user", "sdkappid", unique=True),
)

# Link tickets already used, kept until they expire: a ticket links once.
link_tickets_used = Table(
    "link_tickets_used",
    metadata,
    Column("sdkappid", BigInteger, primary_key=True, autoincrement=False),
    # The ticket's MAC (base64 of HMAC-SHA256): unique per ticket.
    Column("sig", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False, index=True),
)

# Per app: whether the cards of its users come from its profile callback
# (domain/link_profiles.py), and how long an answer is reused.
app_link_settings = Table(
    "app_link_settings",
    metadata,
    Column("sdkappid", BigInteger, ForeignKey("apps.sdkappid", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("profile_callback", SmallInteger, nullable=False, server_default="0"),
    Column("profile_ttl", Integer, nullable=False, server_default="300"),
    Column("updated_at", BigInteger, nullable=False),
)

"""The tables, in SQLAlchemy Core. docs/schema.md explains each one.

One schema for SQLite and PostgreSQL: plain types only, times as integer
milliseconds since the epoch, JSON as text.

Longer than 500 lines on purpose: it is one list of tables (42), read whole
and in the order of docs/schema.md, with one ``metadata`` that the
migrations are checked against; split by feature, a table's foreign keys
and a reader's view of the whole database would be spread over files.
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
    # 0017 (retention): entries up to this seq are expired, and the running
    # message count (messages.msg_no) at it.
    Column("expired_seq", BigInteger, nullable=False, server_default="0"),
    Column("expired_msg_no", BigInteger, nullable=False, server_default="0"),
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
    # 0025: on SQLite, the sender's push options (domain.push.PushOptions.stored(),
    # "" for defaults) of a message whose push is decided later: the push
    # worker reads these past its pointer instead of push_jobs rows (store/push.py).
    # NULL: no push (a history import, an app that does not push, PostgreSQL).
    Column("push_options", Text, nullable=True),
    # PostgreSQL only since 0033 (SQLITE_ABSENT): the admin's whole-app
    # search walk (store/search.py); its other readers have other ways
    # (0032). See docs/schema.md for its cost.
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
    # 0020: in a cluster, the process walking the job and until when (ms);
    # past it, another process takes the job over (docs/cluster.md).
    Column("lease_until", BigInteger, nullable=False, server_default="0"),
    Column("lease_owner", String(32), nullable=False, server_default=""),
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
    # Group read receipts are kept for groups of at most this many members
    # (0: off for the app). NULL: the server's default. (0015)
    Column("read_receipts_max_members", Integer, nullable=True),
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
# user_id are refused (docs/friends.md says how the sender sees it).
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

# -- message search (revision 0009) ----------------------------------------------------

# The searchable text of each message that has some (domain/search.py), lowered;
# written, replaced (edit) and deleted (recall) by the message writer in the
# transaction of the message or its change (on SQLite a new message's row is
# made after its commit: store/search_index.py, revision 0024). Each database
# indexes ``body`` its own way, made by migrations 0009 and 0021 and not
# described here (see made_by_migrations_only): on PostgreSQL
# ``ix_message_texts_body_trgm``, a GIN index with pg_trgm's gin_trgm_ops; on
# SQLite ``message_texts_fts``, an FTS5 table with the trigram tokenizer
# (external content: this table; no positions since migration 0034) written
# after the commits, and its pointers.
# On SQLite (migration 0030) ``id`` is the message's rowid in ``messages``,
# the text's only key there: neither ``uq_message_texts_message`` nor the key
# to conversations (a trigger deletes a conversation's texts through its
# messages); see SQLITE_ABSENT.
message_texts = Table(
    "message_texts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("sdkappid", BigInteger, nullable=False),
    Column("sender", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    UniqueConstraint("conversation_id", "seq", name="uq_message_texts_message"),
    # SQLite only (0033; POSTGRESQL_ABSENT): an admin's whole-app search walks
    # the texts newest first, an index the search step pays for, not the
    # ack's commit. PostgreSQL writes the texts in the batch: there (0023)
    # the walk reads messages' ix_messages_app_time (store/search.py).
    Index("ix_message_texts_app_time", "sdkappid", "created_at"),
)


# Keys to conversations PostgreSQL keeps by statement triggers instead of
# foreign keys (migration 0026: one check per statement, not per row); the
# schema comparison skips these on PostgreSQL.
KEYS_BY_TRIGGER = frozenset({"messages", "message_texts"})

# Columns SQLite alone has: ``message_texts.id`` is the FTS5 table's rowid
# there; PostgreSQL finds a text by ``uq_message_texts_message`` only
# (migration 0027 dropped the column, its key and its sequence: a b-tree and a
# ``nextval`` fewer per message). The schema comparison skips these on
# PostgreSQL, and nothing that runs there names them.
SQLITE_ONLY_COLUMNS = frozenset({("message_texts", "id")})

# What SQLite has not (migration 0030): ``message_texts`` keyed by its id
# alone, its message's rowid (store/search_index.py). The unique key was a
# third of the search step's work; the foreign key would read the whole
# table at each disbanded group without it. The schema comparison skips
# these on SQLite (the key to conversations as KEYS_BY_TRIGGER's).
SQLITE_ABSENT = frozenset({"uq_message_texts_message",
                           # 0033: the admin's walk reads the texts' own index.
                           "ix_messages_app_time"})

# What PostgreSQL has not (0033): the texts' index by app and time, which
# would cost its batches what ``ix_messages_app_time`` does.
POSTGRESQL_ABSENT = frozenset({"ix_message_texts_app_time"})


def made_by_migrations_only(name: str | None) -> bool:
    """The objects of one database only that migration 0009 makes and this
    metadata leaves out: SQLite's FTS5 table ``message_texts_fts`` with the
    shadow tables FTS5 makes for it, and PostgreSQL's trigram index
    ``ix_message_texts_body_trgm`` (schema comparisons skip them); and
    SQLite's push pointer ``push_jobs_made`` (migration 0025, store/push.py)."""
    return name is not None and (name.startswith("message_texts_fts")
                                 or name in ("ix_message_texts_body_trgm", "push_jobs_made"))


# Join applications (revision 0010): one per applicant and group. Pending
# until an owner or admin answers; the answered row stays (state, by whom,
# when) so an applicant who was offline learns the answer on reconnect, and is
# replaced by the next application. Gone with the group.
group_join_requests = Table(
    "group_join_requests",
    metadata,
    Column("conversation_id", Integer, ForeignKey("conversations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("sdkappid", BigInteger, nullable=False),
    Column("group_id", String(48), nullable=False),
    Column("message", String(1200), nullable=False, server_default=""),
    # domain.group_joins.JoinState
    Column("state", String(10), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # NULL: not answered yet, or answered by the app's admin.
    Column("handled_by", String(32), nullable=True),
    Column("handled_at", BigInteger, nullable=False, server_default="0"),
    Index("ix_group_join_requests_user", "sdkappid", "user_id"),
)

# Who left a group or was removed from it (revision 0010), so that a member
# removed while offline learns it on reconnect. Deleted when they join again,
# and with the group.
group_departures = Table(
    "group_departures",
    metadata,
    Column("conversation_id", Integer, ForeignKey("conversations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("sdkappid", BigInteger, nullable=False),
    Column("group_id", String(48), nullable=False),
    # The system entry's op ("left", "kicked") and seq, and who did it.
    Column("op", String(16), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("by_user", String(32), nullable=True),
    Column("left_at", BigInteger, nullable=False),
    Index("ix_group_departures_user", "sdkappid", "user_id"),
)

# -- push (revision 0012) ---------------------------------------------------------

# Per app: its push credentials (APNs, FCM), its Web Push VAPID key pair
# (made on first use) and whether previews are private. No row: defaults.
app_push = Table(
    "app_push",
    metadata,
    Column("sdkappid", BigInteger, ForeignKey("apps.sdkappid", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("private_previews", SmallInteger, nullable=False, server_default="0"),
    # Receivers without a registered device go to the app's offline_push callback.
    Column("use_callback", SmallInteger, nullable=False, server_default="0"),
    Column("vapid_private", Text, nullable=False, server_default=""),
    Column("vapid_public", String(128), nullable=False, server_default=""),
    Column("vapid_subject", String(256), nullable=False, server_default=""),
    Column("apns_key_id", String(32), nullable=False, server_default=""),
    Column("apns_team_id", String(32), nullable=False, server_default=""),
    Column("apns_topic", String(256), nullable=False, server_default=""),
    Column("apns_key", Text, nullable=False, server_default=""),
    Column("fcm_credentials", Text, nullable=False, server_default=""),
    Column("updated_at", BigInteger, nullable=False),
)

# A device's push address: an APNs or FCM token, or a Web Push subscription
# (JSON); one per device of a user. token_hash finds a token that moved.
push_devices = Table(
    "push_devices",
    metadata,
    Column("sdkappid", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", String(32), primary_key=True),
    Column("device_id", String(64), primary_key=True),
    Column("channel", String(8), nullable=False),
    Column("token", Text, nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("private_previews", SmallInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_push_devices_token", "sdkappid", "token_hash"),
)

# One row per message whose push may be due, written in the message's own
# commit on PostgreSQL (on SQLite the message's push_options is the job, and
# a row is written only for a job whose deciding failed); the push worker
# decides per receiver (online? muted? read?) when it runs, and replaces
# the row by push_sends rows in one transaction.
push_jobs = Table(
    "push_jobs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("sdkappid", BigInteger, nullable=False),
    Column("conversation_id", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    # The sender's per-message options (domain.push.PushOptions as JSON; "": none).
    Column("options", Text, nullable=False, server_default=""),
    Column("due_at", BigInteger, nullable=False),
    Index("ix_push_jobs_due", "due_at"),
)

# One notification to one device, retried with backoff until it is sent,
# the device is gone, the message was read or recalled, or it failed for good.
push_sends = Table(
    "push_sends",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("sdkappid", BigInteger, nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("conversation_id", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(10), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("last_error", String(512), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_push_sends_due", "status", "next_attempt_at"),
    Index("ix_push_sends_device", "sdkappid", "user_id", "device_id"),
)


# -- media (revision 0011; docs/media.md) ------------------------------------------

# One row per stored file, by the SHA-256 of its bytes: the same bytes are
# stored once, however many uploads (and variants) they make; ``refs`` counts
# the uploads that use it, and the collector removes it at 0.
media_blobs = Table(
    "media_blobs",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("refs", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
)

# A finished upload. ``variants`` is JSON: {"large"|"thumb"|"poster":
# {"hash", "size", "width", "height", "mime"}}.
media = Table(
    "media",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("sdkappid", BigInteger, nullable=False),
    Column("uploader", String(48), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("mime", String(64), nullable=False),
    Column("format", String(16), nullable=False, server_default=""),
    Column("name", String(200), nullable=False, server_default=""),
    Column("size", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("width", Integer, nullable=False, server_default="0"),
    Column("height", Integer, nullable=False, server_default="0"),
    Column("duration_ms", BigInteger, nullable=False, server_default="0"),
    Column("variants", Text, nullable=False, server_default="{}"),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_media_app_time", "sdkappid", "created_at"),
    Index("ix_media_hash", "hash"),
)

# Which entries carry an upload: written by the message writer in the
# message's (or edit's) own transaction; downloads and collection read it.
media_refs = Table(
    "media_refs",
    metadata,
    Column("media_id", String(32), primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("sdkappid", BigInteger, nullable=False),
    Index("ix_media_refs_entry", "conversation_id", "seq"),
)

# An upload in parts that is not finished: ``received`` bytes are durable in
# its part file (which may be longer after a crash: it is cut back).
media_uploads = Table(
    "media_uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("sdkappid", BigInteger, nullable=False),
    Column("owner", String(48), nullable=False),
    Column("kind", String(8), nullable=False, server_default=""),
    Column("name", String(200), nullable=False, server_default=""),
    Column("size", BigInteger, nullable=False),
    Column("received", BigInteger, nullable=False, server_default="0"),
    Column("duration_ms", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_media_uploads_owner", "sdkappid", "owner"),
)

# How many days an app keeps its messages (revision 0017); no row: for ever.
app_retention = Table(
    "app_retention",
    metadata,
    Column("sdkappid", BigInteger, ForeignKey("apps.sdkappid", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("days", Integer, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

app_media_settings = Table(
    "app_media_settings",
    metadata,
    Column("sdkappid", BigInteger, ForeignKey("apps.sdkappid", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("max_bytes", BigInteger, nullable=False),
    Column("kinds", String(64), nullable=False),
    Column("keep_location", SmallInteger, nullable=False, server_default="0"),
    Column("updated_at", BigInteger, nullable=False),
)


# Hosted accounts of the home app (revision 0013). The identity is
# (home sdkappid, user_id) in ``users``; this row holds how its owner signs in.
home_accounts = Table(
    "home_accounts",
    metadata,
    Column("user_id", String(32), primary_key=True),
    # The public handle, lower case; e-mail and phone are private addresses.
    Column("username", String(32), nullable=True),
    Column("password_hash", String(256), nullable=True),
    Column("email", String(254), nullable=True),
    Column("phone", String(16), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("username", name="ux_home_accounts_username"),
    UniqueConstraint("email", name="ux_home_accounts_email"),
    UniqueConstraint("phone", name="ux_home_accounts_phone"),
)

# One row per sign-in: its UserSig carries the id, so that one ticket can be
# revoked (sign-out, a password change) though tickets are stateless.
home_sessions = Table(
    "home_sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), nullable=False),
    Column("method", String(8), nullable=False),
    Column("client_ip", String(64), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Index("ix_home_sessions_user", "user_id"),
)

# The live one-time code of each address and purpose (a new request
# replaces it); the purpose (revision 0016: sign_in, attach, reset, delete)
# keeps a code of one use from working for another.
home_codes = Table(
    "home_codes",
    metadata,
    Column("channel", String(8), primary_key=True),
    Column("address", String(254), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("tries_left", SmallInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("purpose", String(8), primary_key=True, server_default="sign_in"),
)

# Fixed-window counters for rate limits and lock-outs, in the database so
# that every process of a cluster counts the same.
rate_counters = Table(
    "rate_counters",
    metadata,
    Column("key", String(320), primary_key=True),
    Column("window_start", BigInteger, nullable=False),
    Column("hits", Integer, nullable=False),
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


# -- global mutes of accounts (revision 0017) --------------------------------------

# An account muted for all its one-to-one sends and/or all its group sends
# until a time (ms; 0: not muted, FOREVER in domain/account_mutes.py: until
# unmuted). A row of zeros is an unmuted account.
account_mutes = Table(
    "account_mutes",
    metadata,
    Column("sdkappid", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", String(32), primary_key=True),
    Column("c2c_until", BigInteger, nullable=False, server_default="0"),
    Column("group_until", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", BigInteger, nullable=False),
)


# -- the deployment's operators (revision 0019, the console: issue 14) ------------

# An operator account, made with ``tidings operator create``: the password's
# argon2id hash, as home accounts' (adapters/home_passwords.py).
operators = Table(
    "operators",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# A signed-in operator: only the SHA-256 of its token is kept, so a copy of
# the database signs no one in. Removed at sign-out; expired ones are pruned.
operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("name", String(32), ForeignKey("operators.name", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("client_ip", String(64), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

# 0032 (issue 19): messages stored per app and minute of their time
# (``created_at`` less its remainder of 60,000 ms; an import by its own
# time), kept by the message writer (one upsert per app and minute per
# batch, store/writer/messages.py) for the figures' "messages" (store/stats.py):
# counted when sent, so a retention expiry or a deleted conversation does not
# take them off. No row: none in that minute. Each process adds to its own
# rows (``node``, the writer's, as app_minutes'; '' for the counts migration
# 0032 filled), so two processes of a cluster writing one app never wait on
# one row's lock; the readers sum them.
app_message_counts = Table(
    "app_message_counts",
    metadata,
    Column("sdkappid", BigInteger, primary_key=True, autoincrement=False),
    Column("minute", BigInteger, primary_key=True, autoincrement=False),
    Column("node", String(32), primary_key=True),
    Column("messages", BigInteger, nullable=False),
)

# Per app, minute and server process: its connections and its active users
# (distinct users whose ticket it checked), the most sampled in that minute,
# for the console's figures over time. Each
# process writes its own rows (``node``), so a cluster's are summed when
# read; rows older than 8 days are deleted by the sampler.
app_minutes = Table(
    "app_minutes",
    metadata,
    Column("sdkappid", BigInteger, primary_key=True, autoincrement=False),
    Column("minute", BigInteger, primary_key=True, autoincrement=False),
    Column("node", String(32), primary_key=True),
    Column("connections", Integer, nullable=False, server_default="0"),
    Column("active_users", Integer, nullable=False, server_default="0"),
    Index("ix_app_minutes_minute", "minute"),
)

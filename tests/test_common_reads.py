"""A user's common reads through ``Database.read`` (branch perf-reads), on
SQLite and PostgreSQL: a sync's pages (one compiled select per range; one
statement for all on PostgreSQL) answer what each range's ``page`` answers,
a change entry with its target; history's one read answers what the
membership, the cleared seq, the page and the reactions answered apart; a
group's members seen by a member, or None for anyone else; none of them
goes through the
async reader (aiosqlite's round trips); and SQLite's reader threads, which
keep their connections between chunks, see each commit made before a read
was asked and stay usable after a read that failed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.test_login_storage import count_calls
from tidings.domain.accounts import AccountState, AccountStatus
from tidings.domain.elements import EntryKind
from tidings.domain.home_accounts import Channel as HomeChannel
from tidings.domain.ids import ConversationKey, ConversationKind, Identity
from tidings.services.messaging.reading import Reading
from tidings.services.messaging.sync import Sync
from tidings.store import messages as message_rows
from tidings.store.account_mutes import AccountMuteStore
from tidings.store.accounts import AccountStore
from tidings.store.apps import AppStore
from tidings.store.conversation_settings import ConversationSettingsStore
from tidings.store.engine import Database
from tidings.store.group_joins import JoinRequestStore
from tidings.store.groups import GroupStore
from tidings.store.home_accounts import HomeAccountStore
from tidings.store.home_recovery import HomeRecoveryStore
from tidings.store.links import LinkStore
from tidings.store.messages import MessageStore, PageRange
from tidings.store.operators import OperatorStore
from tidings.store.push import PushStore
from tidings.store.reactions import ReactionStore
from tidings.store.schema import (
    conversation_members,
    conversation_settings,
    conversations,
    groups,
    message_reactions,
    messages,
)

APP = 1400000081
C2C = ConversationKey(APP, ConversationKind.C2C, "ann", "ben")
OTHER = ConversationKey(APP, ConversationKind.C2C, "ann", "cat")
GROUP = ConversationKey(APP, ConversationKind.GROUP, "g1", "")


def entry(cid: int, seq: int, **more: Any) -> dict[str, Any]:
    return {"conversation_id": cid, "seq": seq, "sdkappid": APP, "sender": "ann",
            "client_msg_id": f"m{cid}-{seq}", "elements": f'[{{"text":"{seq}"}}]',
            "created_at": seq, "msg_no": seq, "kind": EntryKind.MESSAGE.value,
            "target_seq": None, **more}  # every row the same keys: one executemany


async def seed(db: Database) -> None:
    async with db.writer.begin() as conn:
        for cid, key in ((1, C2C), (2, OTHER), (3, GROUP)):
            await conn.execute(conversations.insert().values(
                id=cid, sdkappid=APP, kind=key.kind.value, a=key.a, b=key.b, last_seq=6,
                created_at=1))
        await conn.execute(conversation_members.insert(), [
            {"conversation_id": cid, "user_id": u, "sdkappid": APP, "joined_at": 1,
             "visible_after": after, "role": 1}
            for cid, u, after in ((1, "ann", 0), (1, "ben", 0), (2, "ann", 0), (2, "cat", 0),
                                  (3, "ann", 0), (3, "ben", 2))])
        await conn.execute(groups.insert().values(
            conversation_id=3, sdkappid=APP, group_id="g1", type="Work", name="g", owner="ann",
            join_option="FreeAccess", max_members=200, created_at=1, updated_at=1))
        rows = [entry(cid, seq) for cid in (1, 2, 3) for seq in range(1, 6)]
        # Seq 6 of conversation 1 recalls its seq 2 (a change entry and its target).
        rows.append(entry(1, 6, kind=EntryKind.RECALL.value, target_seq=2))
        await conn.execute(messages.insert(), rows)
        await conn.execute(message_reactions.insert(), [
            {"conversation_id": 1, "seq": seq, "user_id": u, "emoji": e, "sdkappid": APP,
             "created_at": t} for seq, u, e, t in ((5, "ben", "+1", 2), (5, "ann", "ok", 1),
                                                   (1, "ann", "+1", 1))])
        # ben cleared conversation 1 up to seq 3.
        await conn.execute(conversation_settings.insert().values(
            conversation_id=1, user_id="ben", sdkappid=APP, cleared_seq=3, updated_at=1))


def no_async_reader(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The async reader refuses (on SQLite: on PostgreSQL it is the writer's
    engine, and the reads have a pool of their own)."""
    if db.reader is db.writer:
        return
    connect = AsyncEngine.connect

    def refused(engine: AsyncEngine) -> Any:
        if engine is db.reader:
            raise AssertionError("a common read went through the async reader")
        return connect(engine)

    monkeypatch.setattr(AsyncEngine, "connect", refused)


async def test_pages_answer_what_each_range_answers(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await seed(db)
    store = MessageStore(db)
    ranges = [PageRange(1, C2C, 0, 6, 10), PageRange(2, OTHER, 1, 4, 2),
              PageRange(3, GROUP, 4, 6, 5), PageRange(1, C2C, 5, 6, 1)]
    alone = {r.conversation_id: await store.page(r.conversation_id, r.key,
                                                 after_seq=r.after_seq, up_to_seq=r.up_to_seq,
                                                 limit=r.limit) for r in ranges[:3]}
    no_async_reader(db, monkeypatch)
    one_by_one = count_calls(monkeypatch, message_rows._RANGE, "rows")
    found, none = await store.pages(ranges[:3])
    assert found == alone and none == {}
    # On PostgreSQL one statement for the three ranges, not one each.
    assert one_by_one[0] == (0 if db.dialect == "postgresql" else 3)
    assert [m.seq for m in found[1]] == [1, 2, 3, 4, 5, 6]
    assert [m.seq for m in found[2]] == [2, 3]  # its own limit
    assert [m.seq for m in found[3]] == [5]
    recall = found[1][-1]
    assert recall.kind == EntryKind.RECALL and recall.target is not None
    assert recall.target.seq == 2
    # A conversation's range given twice: each range's entries, as before.
    again, _ = await store.pages([ranges[0], ranges[3]])
    assert [m.seq for m in again[1]] == [1, 2, 3, 4, 5, 6, 6]


async def test_history_in_one_read_answers_what_the_reads_apart_answered(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await seed(db)
    store = MessageStore(db)
    no_async_reader(db, monkeypatch)
    cases = [("ann", C2C, None), ("ben", C2C, None), ("ben", C2C, 5), ("ben", GROUP, None),
             ("ann", GROUP, 3), ("cat", C2C, None), ("cat", GROUP, None)]
    for user, key, before in cases:
        found, rows, _ = await store.history_page(key, user, before_seq=before, limit=3)
        member = await store.membership(key, user)
        assert found == member
        if member is None:
            assert rows == []
            continue
        cleared = 3 if (user, key) == ("ben", C2C) else 0
        assert rows == await store.page(
            member.conversation_id, key, before_seq=before,
            after_seq=max(member.visible_after, cleared), limit=3, newest_first=True,
            messages_only=True)
    _, ben, none = await store.history_page(C2C, "ben", before_seq=None, limit=10)
    assert [m.seq for m in ben] == [5, 4]  # cleared up to 3; the recall is not a message
    assert none == {}
    # The page's reactions in the same read, as the reactions' store answers them.
    _, _, reactions = await store.history_page(C2C, "ben", before_seq=None, limit=10,
                                               reactions=True)
    assert reactions == {(1, 5): [("ok", "ann"), ("+1", "ben")]}
    assert reactions == await ReactionStore(db).of_messages([(1, 5), (1, 4)])
    _, ben_group, _ = await store.history_page(GROUP, "ben", before_seq=None, limit=10)
    assert [m.seq for m in ben_group] == [5, 4, 3]  # joined after seq 2


async def test_sync_pages_and_history_around_read_their_reactions_with_them(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync's pages and a page around a message take their messages'
    reactions in their own read (as history's), and the page around a
    message answers what the membership, the cleared seq and the two pages
    answered apart."""
    await seed(db)
    store = MessageStore(db)
    no_async_reader(db, monkeypatch)
    found, reactions = await store.pages([PageRange(1, C2C, 0, 6, 10),
                                          PageRange(2, OTHER, 0, 6, 10)], reactions=True)
    shown = [(m.conversation_id, m.seq) for rows in found.values() for m in rows
             if m.kind == EntryKind.MESSAGE]
    assert reactions == await ReactionStore(db).of_messages(shown)
    assert reactions == {(1, 1): [("+1", "ann")], (1, 5): [("ok", "ann"), ("+1", "ben")]}
    cases = [("ann", C2C, 3), ("ben", C2C, 2), ("ben", C2C, 4), ("ben", GROUP, 1),
             ("ann", GROUP, 5), ("cat", C2C, 3), ("cat", GROUP, 3)]
    for user, key, seq in cases:
        member, older, newer, around = await store.history_around(
            key, user, seq=seq, limit=2, reactions=True)
        assert member == await store.membership(key, user)
        if member is None:
            assert (older, newer, around) == ([], [], {})
            continue
        seen_after = max(member.visible_after, 3 if (user, key) == ("ben", C2C) else 0)
        assert older == await store.page(member.conversation_id, key, before_seq=seq + 1,
                                         after_seq=seen_after, limit=2, newest_first=True,
                                         messages_only=True)
        assert newer == await store.page(member.conversation_id, key,
                                         after_seq=max(seq, seen_after), limit=2,
                                         messages_only=True)
        assert around == await ReactionStore(db).of_messages(
            [(m.conversation_id, m.seq) for m in older + newer])
    _, older, newer, around = await store.history_around(C2C, "ben", seq=2, limit=5)
    # Cleared up to 3: nothing at or before 2; the recall (seq 6) is not a message.
    assert ([m.seq for m in older], [m.seq for m in newer], around) == ([], [4, 5], {})


async def test_sync_and_history_around_are_one_hand_off_each(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync is its first sync's read and its pages' (their reactions
    with them: they were a third); a page around a message is one read
    (it was the membership, the settings, two pages and the reactions)."""
    await seed(db)
    store = MessageStore(db)
    reading = Reading(store, 50)
    reading.bind(None, ConversationSettingsStore(db), ReactionStore(db))
    sync = Sync(store, reading, max_page=50, max_sync_bytes=1 << 20)
    ann = Identity(APP, "ann")
    assert db.reads is not None
    hand_offs = count_calls(monkeypatch, db.reads, "run")
    result = await sync.sync(ann, {"c2c_ben": 3}, 20)
    assert hand_offs[0] == 2
    shown = {(m["conversation_id"], m["seq"]): m for m in result.messages}
    assert shown[("c2c_ben", 5)]["reactions"] == [
        {"emoji": "ok", "count": 1, "users": ["ann"]},
        {"emoji": "+1", "count": 1, "users": ["ben"]}]
    assert shown[("c2c_ben", 4)]["reactions"] == []
    hand_offs[0] = 0
    views, more, newer = await reading.history_around(ann, "c2c_ben", seq=1, limit=2)
    assert hand_offs[0] == 1
    assert [v["seq"] for v in views] == [1, 2] and (more, newer) == (False, True)
    assert views[0]["reactions"] == [{"emoji": "+1", "count": 1, "users": ["ann"]}]


def quoting(*seqs: int) -> str:
    """A reply's elements as stored (compact JSON), quoting ``seqs``."""
    return orjson.dumps([*({"type": "quote", "seq": q, "text": f"{q}", "state": "normal"}
                           for q in seqs), {"type": "text", "text": "re"}]).decode()


async def test_a_syncs_quotes_of_recalled_messages_are_one_read(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The quotes of messages recalled since show as recalled: the quoted
    messages' states of a whole sync in one read (it was a read per quoted
    message of each page)."""
    await seed(db)
    async with db.writer.begin() as conn:
        await conn.execute(messages.insert(), [
            entry(2, seq, elements=quoting(*quoted))
            for seq, quoted in ((7, (1,)), (8, (2,)), (9, (3,)), (10, (1, 4)))])
        await conn.execute(messages.update().where(
            messages.c.conversation_id == 2, messages.c.seq.in_([1, 4])).values(state=2))
        await conn.execute(conversations.update().where(conversations.c.id == 2)
                           .values(last_seq=10))
    store = MessageStore(db)
    reading = Reading(store, 50)
    reading.bind(None, ConversationSettingsStore(db), ReactionStore(db))
    sync = Sync(store, reading, max_page=50, max_sync_bytes=1 << 20)
    assert db.reads is not None
    hand_offs = count_calls(monkeypatch, db.reads, "run")
    result = await sync.sync(Identity(APP, "ann"), {"c2c_ben": 6, "c2c_cat": 6}, 20)
    # The first sync, the pages (with their reactions), the quoted states.
    assert hand_offs[0] == 3
    states = {m["seq"]: [(e["seq"], e["state"], e["text"]) for e in
                         orjson.loads(orjson.dumps(m["elements"])) if e["type"] == "quote"]
              for m in result.messages if m["conversation_id"] == "c2c_cat"}
    assert states == {7: [(1, "recalled", "")], 8: [(2, "normal", "2")],
                      9: [(3, "normal", "3")], 10: [(1, "recalled", ""), (4, "recalled", "")]}


async def test_the_conversation_list_is_cut_by_the_database_in_one_read(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The conversation list: pinned first, then by last activity, a hidden
    one left out until a message newer than the hide, the first ``limit``
    of those (the database sorts and cuts: not all a user's conversations
    read and cut in Python), with their last messages: one read (was two)."""
    await seed(db)
    async with db.writer.begin() as conn:
        for cid, at in ((1, 30), (2, 20), (3, 10)):
            await conn.execute(conversations.update().where(conversations.c.id == cid)
                               .values(last_time=at, last_message_seq=5))
        # ann pinned the group (the oldest) and hid the first up to seq 5.
        await conn.execute(conversation_settings.insert(), [
            {"conversation_id": 3, "user_id": "ann", "sdkappid": APP, "pinned": 1,
             "hidden_seq": None, "updated_at": 1},
            {"conversation_id": 1, "user_id": "ann", "sdkappid": APP, "pinned": 0,
             "hidden_seq": 5, "updated_at": 1}])
    reading = Reading(MessageStore(db), 50)
    reading.bind(None, ConversationSettingsStore(db), ReactionStore(db))
    ann = Identity(APP, "ann")
    no_async_reader(db, monkeypatch)
    assert db.reads is not None
    hand_offs = count_calls(monkeypatch, db.reads, "run")
    listed = await reading.conversations(ann, None)
    assert hand_offs[0] == 1
    assert [c["conversation_id"] for c in listed] == ["group_g1", "c2c_cat"]
    assert listed[0]["pinned"] and listed[0]["last_message"]["seq"] == 5
    assert [c["conversation_id"] for c in await reading.conversations(ann, 1)] == ["group_g1"]
    assert await reading.conversations(ann, 0) == []
    # A message newer than the hide shows it again, in its place.
    async with db.writer.begin() as conn:
        await conn.execute(conversation_settings.update().where(
            conversation_settings.c.conversation_id == 1).values(hidden_seq=4))
    listed = await reading.conversations(ann, 2)
    assert [c["conversation_id"] for c in listed] == ["group_g1", "c2c_ben"]
    assert listed[1]["last_message"]["seq"] == 5


async def test_the_rarer_reads_an_op_waits_on_skip_the_async_reader(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Accounts (the existence check, the status, the admin's pages), apps,
    API keys, account mutes, a group's pending applications, links, home
    accounts, their sessions and recovery addresses, operators and theirs, a
    user's push sends: through
    ``Database.read`` (aiosqlite's round trips were ~0.4 ms of CPU each)."""
    accounts, app_store, operators = AccountStore(db), AppStore(db), OperatorStore(db)
    await accounts.ensure(APP, "ann")
    await operators.create("root", "hash", 5)
    await AccountMuteStore(db).set(APP, "ann", 10**15, None)
    no_async_reader(db, monkeypatch)
    assert await accounts.existing(APP, ["ann", "bob"]) == {"ann"}
    assert await accounts.status(APP, "ann") == AccountStatus(AccountState.ACTIVE, 0)
    assert await accounts.status(APP, "bob") is None
    assert [a["user_id"] for a in await accounts.page(APP, after="", limit=5, state=None)] == [
        "ann"]
    assert await operators.password_hash("root") == "hash"
    assert await operators.password_hash("nobody") is None
    assert await operators.names() == [("root", 5)]
    assert await operators.session("token", 0) is None
    assert await operators.sessions("root", 0) == []
    assert list(await AccountMuteStore(db).active(0)) == [(APP, "ann")]
    assert await app_store.home() is None
    assert await app_store.list() == []
    assert await app_store.list_api_keys(APP) == ()
    assert await app_store.find_live_api_key("nope") is None
    assert await JoinRequestStore(db).pending_of_group(GROUP) == []
    assert await LinkStore(db).all() == []
    home = HomeAccountStore(db, APP + 1)
    assert await home.by_username("ann") is None
    assert await home.by_user_id("h-ann") is None
    assert await home.by_address(HomeChannel.EMAIL, "ann@example.com") is None
    assert await home.session("s") is None
    assert await home.live_sessions("h-ann", 0) == []
    assert not await HomeRecoveryStore(db, APP + 1).has_address(HomeChannel.EMAIL,
                                                                "ann@example.com")
    assert await PushStore(db).sends_of(APP, "ann") == []


async def test_members_seen_by_a_member_only(db: Database,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    await seed(db)
    store = GroupStore(db)
    no_async_reader(db, monkeypatch)
    everyone = await store.members(GROUP, after="", limit=10)
    assert [m["user_id"] for m in everyone] == ["ann", "ben"]
    assert await store.members_seen_by(GROUP, "ben", after="", limit=10) == everyone
    assert await store.members_seen_by(GROUP, "ben", after="ann", limit=10) == everyone[1:]
    assert await store.members_seen_by(GROUP, "cat", after="", limit=10) is None
    assert await store.members_seen_by(
        ConversationKey(APP, ConversationKind.GROUP, "nope", ""), "ann", after="",
        limit=10) is None
    info = await store.info(GROUP)
    assert info is not None and info["member_count"] == 2


async def test_reader_threads_see_new_commits_and_outlive_a_failed_read(db: Database) -> None:
    await seed(db)
    store = GroupStore(db)
    for _ in range(6):  # more reads than reader threads: each thread's kept connection
        assert [m["user_id"] for m in await store.members(GROUP, after="", limit=10)] == [
            "ann", "ben"]
    with pytest.raises(Exception, match="no_such_table"):
        await db.rows(text("SELECT * FROM no_such_table"))
    async with db.writer.begin() as conn:
        await conn.execute(conversation_members.insert().values(
            conversation_id=3, user_id="cat", sdkappid=APP, joined_at=2, role=1))
    for _ in range(6):
        assert [m["user_id"] for m in await store.members(GROUP, after="", limit=10)] == [
            "ann", "ben", "cat"]

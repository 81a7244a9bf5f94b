"""Each user's settings of a conversation: pin, mute, hide, cleared history,
draft (``conversation_settings``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.conversations import DEFAULT, ConversationSettings
from tidings.store.engine import Database
from tidings.store.prepared import Prepared
from tidings.store.schema import conversation_settings


def settings_of_row(r: Any) -> ConversationSettings:
    return ConversationSettings(bool(r.pinned), bool(r.muted), r.hidden_seq, r.cleared_seq,
                                r.draft, r.draft_time)


# Read by every login's first sync: built once (building it cost more than
# running it).
_OF_USER = Prepared(select(conversation_settings).where(
    conversation_settings.c.sdkappid == bindparam("sdkappid"),
    conversation_settings.c.user_id == bindparam("user_id")))


class ConversationSettingsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def of_user(self, sdkappid: int, user_id: str) -> dict[int, ConversationSettings]:
        """The user's settings by conversation number (conversations with
        default settings are not there)."""
        who = {"sdkappid": sdkappid, "user_id": user_id}
        rows = await self._db.read(lambda conn: _OF_USER.rows(conn, who))
        return {r.conversation_id: settings_of_row(r) for r in rows}

    async def of_one(self, conversation_id: int, user_id: str) -> ConversationSettings:
        s = conversation_settings.c
        row = await self._db.first(select(conversation_settings).where(
            s.conversation_id == conversation_id, s.user_id == user_id))
        return DEFAULT if row is None else settings_of_row(row)

    async def put(self, conversation_id: int, user_id: str, sdkappid: int,
                  new: ConversationSettings, now: int) -> None:
        values = {"pinned": int(new.pinned), "muted": int(new.muted),
                  "hidden_seq": new.hidden_seq, "cleared_seq": new.cleared_seq,
                  "draft": new.draft, "draft_time": new.draft_time, "updated_at": now}
        t = conversation_settings
        insert = sqlite.insert(t) if self._db.dialect == "sqlite" else postgresql.insert(t)
        async with self._db.writer.begin() as conn:
            await conn.execute(insert.values(
                conversation_id=conversation_id, user_id=user_id, sdkappid=sdkappid, **values,
            ).on_conflict_do_update(index_elements=[t.c.conversation_id, t.c.user_id],
                                    set_=values))

"""The rights table of docs/groups.md is the one the code enforces."""

from __future__ import annotations

from pathlib import Path

from tidings.domain.group_rights import Action, rights_table

_NAMES = {
    "invite": "Invite members (`group_invite`)", "kick": "Kick a member (`group_kick`)",
    "mute": "Mute / unmute one member (`group_mute`)",
    "mute_all": "Mute / unmute the whole group (`group_mute_all`)",
    "update_profile": "Change the profile and join option (`group_update`)",
    "set_name_card": "Set **another** member's name card (`group_set_name_card`)",
    "set_role": "Promote / demote (`group_set_role`)",
    "transfer": "Transfer ownership (`group_transfer`)", "disband": "Disband (`group_disband`)",
    "recall": "Recall **another** member's message (`recall`)",
    "handle_join": "Approve / decline a join application (`group_join_approve`)",
}


def test_docs_table_is_the_enforced_one() -> None:
    table = rights_table()
    docs = (Path(__file__).parents[2] / "docs" / "groups.md").read_text()
    for action in Action:
        cells = [", ".join(table[t][action.value]) or "app admin only" for t in table]
        row = f"| {_NAMES[action.value]} | " + " | ".join(cells) + " |"
        assert row in docs, row

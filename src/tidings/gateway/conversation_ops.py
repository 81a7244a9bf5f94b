"""The conversation ops of the real-time protocol: a conversation's settings,
hiding and deleting it (docs/conversations.md, "Conversation settings"), typing
("Typing indicators") and reactions ("Reactions"). The caller's other
devices learn of a change by its event (the acting device excepted)."""

from __future__ import annotations

from tidings.gateway.context import OpContext
from tidings.gateway.ops import Handler, op
from tidings.protocol import ops


def handlers(ctx: OpContext) -> dict[str, Handler]:
    rt = ctx.runtime
    settings = rt.conversation_settings
    reactions = rt.reactions

    def react(add: bool) -> Handler:
        return op(ctx, ops.ReactionData, lambda me, r: reactions.react(
            me, r.conversation_id, r.seq, r.emoji, add, skip=ctx))

    return {
        "conversation_set": op(ctx, ops.ConversationSetData, lambda me, r: settings.update(
            me, r.conversation_id, r, skip=ctx)),
        "conversation_hide": op(ctx, ops.ConversationIdData, lambda me, r: settings.hide(
            me, r.conversation_id, skip=ctx)),
        "conversation_delete": op(ctx, ops.ConversationDeleteData, lambda me, r: (
            settings.delete(me, r.conversation_id, r.clear_history, skip=ctx))),
        "typing": op(ctx, ops.TypingData, lambda me, r: rt.typing.typing(
            me, r.conversation_id, r.typing)),
        "reaction_add": react(True),
        "reaction_remove": react(False),
    }

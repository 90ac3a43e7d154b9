"""Approval cards' buttons, "my requests" (/mine) and "pending for me" (/pending)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from assistant import callbacks
from assistant.bot import conversations
from assistant.bot.context import BotContext
from assistant.services import grid
from assistant.services import mine as listing
from assistant.services.approvals import Approvals, Handling, asking


async def approval_pressed(update: Update, context: BotContext) -> None:
    """Approve or Reject on an approval card; Reject (and some approvals) ask a question first."""
    query, chat = update.callback_query, update.effective_chat
    if query is None or chat is None or context.actor is None:
        return
    fields = callbacks.APPROVAL.unpack(query.data)
    assert fields is not None, "routed here by the codec's pattern"
    request_id, stage_no = callbacks.number(fields["request"]), callbacks.number(fields["stage"])
    approvals: Approvals = context.application.bot_data["approvals"]
    if request_id is None or stage_no is None:
        toast = context.text("button_expired")
        context.after_commit(lambda: query.answer(toast, show_alert=True))
        return
    result = await approvals.pressed(
        context.session, context.actor, request_id, stage_no, fields["action"], now=context.now()
    )
    if result.handling is Handling.ASK:
        assert result.conversation is not None and result.request is not None
        await conversations.begin(
            update,
            context,
            result.conversation,
            preset=asking(result.request, stage_no),
        )
        return
    toast = "" if result.handling is Handling.DONE else context.text(f"approval_{result.handling}")
    alert = result.handling is not Handling.DONE
    context.after_commit(lambda: query.answer(toast or None, show_alert=alert))


async def mine(update: Update, context: BotContext) -> None:
    """/mine: everything I started, newest first, with where it stands."""
    if context.actor is None:
        return
    items = await listing.started_by(
        context.session, context.actor.person_id, context.deps.settings.tz
    )
    context.reply(update, "mine", items=items)


async def pending(update: Update, context: BotContext) -> None:
    """/pending: what waits for me to decide or handle, then each one's card with its buttons
    (in my private chat, wherever I asked)."""
    user = update.effective_user
    if context.actor is None or user is None:
        return
    approvals: Approvals = context.application.bot_data["approvals"]
    items = await listing.waiting_for(context.session, context.actor, approvals)
    context.reply(update, "pending", items=items)
    await listing.send_cards(
        context.session,
        context.actor,
        items,
        user.id,
        context.language,
        approvals=approvals,
        cards=grid.Cards(context.deps.texts, context.deps.settings.language),
        now=context.now(),
    )


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CallbackQueryHandler(approval_pressed, pattern=callbacks.APPROVAL.matches),
    CommandHandler("mine", mine),
    CommandHandler("pending", pending),
]

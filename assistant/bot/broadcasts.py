"""The Cancel button of a broadcast's progress message (/broadcast itself is a conversation)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from assistant import callbacks
from assistant.bot.context import BotContext
from assistant.services import broadcasts
from assistant.services.broadcasts import Cancelling


def pressed_broadcast(data: object) -> int | None:
    """The broadcast a Cancel button names, or None for anything forged beyond recognition."""
    fields = broadcasts.CANCEL.unpack(data)
    return callbacks.number(fields["broadcast"]) if fields else None


async def cancel_pressed(update: Update, context: BotContext) -> None:
    """Cancel on a progress message: what is not sent yet is dropped, if the presser sent it."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    broadcast_id = pressed_broadcast(query.data)
    if broadcast_id is None:
        result = Cancelling.GONE
    else:
        settings = context.deps.settings
        broadcaster = broadcasts.Broadcaster(
            context.application.bot_data["rules"],
            context.deps.texts,
            settings.language,
            settings.tz,
        )
        result = await broadcaster.cancel(
            context.session, context.actor, broadcast_id, now=context.now()
        )
    toast = context.text(f"broadcast/cancel_{result}")
    alert = result is not Cancelling.DONE
    context.after_commit(lambda: query.answer(toast, show_alert=alert))


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CallbackQueryHandler(cancel_pressed, pattern=broadcasts.CANCEL.matches),
]

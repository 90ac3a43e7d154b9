"""The Cancel button of a broadcast's progress message and its question's "yes" and "no"
(/broadcast itself is a conversation). Cancel only asks, in the progress message itself, which
goes on counting; the "yes" drops what is not sent yet, checked again in full on the server."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from assistant import callbacks
from assistant.bot.context import BotContext
from assistant.callbacks import CallbackCodec
from assistant.services import broadcasts
from assistant.services.broadcasts import Cancelling

_STEPS = {
    broadcasts.CANCEL.prefix: broadcasts.Broadcaster.ask_cancel,
    broadcasts.CANCEL_SURE.prefix: broadcasts.Broadcaster.cancel,
    broadcasts.KEEP_SENDING.prefix: broadcasts.Broadcaster.keep_sending,
}
# What the sender is told in a toast; asking, or not cancelling after all, shows in the message.
_QUIET = (Cancelling.ASKED, Cancelling.KEPT)


def pressed_broadcast(codec: CallbackCodec, data: object) -> int | None:
    """The broadcast a button of ``codec`` names, or None for anything forged beyond
    recognition."""
    fields = codec.unpack(data)
    return callbacks.number(fields["broadcast"]) if fields else None


def _pressed(codec: CallbackCodec) -> CallbackQueryHandler[BotContext, None]:
    async def handle(update: Update, context: BotContext) -> None:
        query = update.callback_query
        if query is None or context.actor is None:
            return
        broadcast_id = pressed_broadcast(codec, query.data)
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
            step = _STEPS[codec.prefix]
            result = await step(
                broadcaster, context.session, context.actor, broadcast_id, now=context.now()
            )
        toast = None if result in _QUIET else context.text(f"broadcast/cancel_{result}")
        alert = result not in (Cancelling.DONE, *_QUIET)
        context.after_commit(lambda: query.answer(toast, show_alert=alert))

    return CallbackQueryHandler(handle, pattern=codec.matches)


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    _pressed(broadcasts.CANCEL),
    _pressed(broadcasts.CANCEL_SURE),
    _pressed(broadcasts.KEEP_SENDING),
]

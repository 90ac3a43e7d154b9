"""Duty shift buttons: "I can't make it", "Take it" and "Write the work log".

Each carries only the shift and what was pressed (``dt:<shift>:<op>``); whether the presser may
is decided by :mod:`assistant.services.duty` on the server.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from assistant.bot import conversations
from assistant.bot.context import BotContext, current_scope
from assistant.callbacks import number
from assistant.rules import Rules
from assistant.services.duty import CANT, DUTY, OPS, TAKE, Duty, Handling


def parsed(data: object) -> tuple[int | None, str]:
    """The shift and the operation a duty button names; no shift for anything forged."""
    fields = DUTY.unpack(data)
    if fields is None or fields["op"] not in OPS:
        return None, ""
    return number(fields["shift"]), fields["op"]


def _duty(context: BotContext) -> Duty:
    rules: Rules = context.application.bot_data["rules"]
    settings = context.deps.settings
    return Duty(rules, context.deps.texts, settings.language, settings.tz)


async def pressed(update: Update, context: BotContext) -> None:
    """A button of a duty reminder, offer card or end-of-shift message."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    shift_id, op = parsed(query.data)
    duty, session, now = _duty(context), context.session, context.now()
    if shift_id is None:
        handling = Handling.ALREADY
    elif op == CANT:
        handling = await duty.cant_make_it(session, context.actor, shift_id, now)
    elif op == TAKE:
        # A taken card is rewritten by the service, with every other card of the shift.
        handling = await duty.take(session, context.actor, shift_id, now)
    else:
        handling, preset = await duty.log_preset(session, context.actor, shift_id, now)
        if handling is Handling.DONE:
            # The conversation's first question answers the press and takes the button away.
            await conversations.begin(update, context, "duty_log", preset=preset)
            return
    message = query.message
    if handling is Handling.DONE and op == CANT and message is not None:
        # The reminder's step is over: its button goes.
        current_scope.get().strip_keyboard(message.chat.id, message.message_id, now=now)
    alert = handling is not Handling.DONE
    toast = context.text(f"duty_{handling}" if alert else f"duty_toast_{op}")
    context.after_commit(lambda: query.answer(toast, show_alert=alert))


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CallbackQueryHandler(pressed, pattern=DUTY.matches),
]

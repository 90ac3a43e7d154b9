"""Red Service Team buttons: "I'll help" on a volunteer's card, "Done" on the student's news.

Each carries only the request and what was pressed (``rs:<request>:<op>``); whether the presser
may is decided by :mod:`assistant.services.red_service` on the server.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from assistant.bot import conversations
from assistant.bot.context import BotContext
from assistant.callbacks import number
from assistant.rules import Rules
from assistant.services.red_service import OPS, RED_SERVICE, TAKE, THANKS, Handling, Pressed, Team


def parsed(data: object) -> tuple[int | None, str]:
    """The request and the operation a button names; no request for anything forged."""
    fields = RED_SERVICE.unpack(data)
    if fields is None or fields["op"] not in OPS:
        return None, ""
    return number(fields["request"]), fields["op"]


def _team(context: BotContext) -> Team:
    rules: Rules = context.application.bot_data["rules"]
    settings = context.deps.settings
    return Team(rules, context.deps.texts, settings.language, settings.tz)


async def pressed(update: Update, context: BotContext) -> None:
    """A button of a volunteer's card or of the student's news."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    request_id, op = parsed(query.data)
    team, session, now = _team(context), context.session, context.now()
    if request_id is None:
        outcome = Pressed(Handling.ALREADY)
    elif op == TAKE:
        # The cards, the presser's too, are rewritten by the service.
        outcome = await team.take(session, context.actor, request_id, now)
    else:
        outcome, preset = await team.done_preset(session, context.actor, request_id, now)
        if outcome.handling is Handling.DONE:
            # The thanks question answers the press; the news keeps its button until Submit.
            await conversations.begin(update, context, THANKS, preset=preset)
            return
    alert = outcome.handling is not Handling.DONE
    name = f"red_service_{outcome.handling}" if alert else f"red_service_toast_{op}"
    toast = context.text(name, taker=outcome.taker)
    context.after_commit(lambda: query.answer(toast, show_alert=alert))


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CallbackQueryHandler(pressed, pattern=RED_SERVICE.matches),
]

"""/duty (my coming shifts) and /onduty (who is on duty now and next near me, and when the
counsellors are in their office): read-only views of :mod:`assistant.services.onduty`."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from assistant.bot.context import BotContext
from assistant.rules import Rules
from assistant.services import people
from assistant.services.duty import Duty
from assistant.services.onduty import OnDuty

SEE = "duty.see"
"""The access rule /onduty asks."""


def _onduty(context: BotContext) -> OnDuty:
    rules: Rules = context.application.bot_data["rules"]
    settings = context.deps.settings
    return OnDuty(Duty(rules, context.deps.texts, settings.language, settings.tz))


async def my_shifts(update: Update, context: BotContext) -> None:
    """/duty: my shifts still to come, in the activity rooms' rosters."""
    actor = context.actor
    if actor is None or update.effective_message is None:
        return
    board = _onduty(context)
    shifts = await board.mine(context.session, actor, context.now())
    context.reply(update, "duty_mine", shifts=shifts, in_pool=board.in_a_pool(actor))


async def on_duty(update: Update, context: BotContext) -> None:
    """/onduty: who is on duty now and next in the rooms of my building and college, and my
    community counsellors' office hours."""
    actor = context.actor
    if actor is None or update.effective_message is None:
        return
    rules: Rules = context.application.bot_data["rules"]
    decision = rules.allowed(SEE, people.rule_subject(actor))
    if not decision.outcome.allowed:
        reason = decision.outcome.reason
        context.reply(update, "flow_denied", reason=reason.text(context.language) if reason else "")
        return
    board = await _onduty(context).board(context.session, actor, context.now())
    context.reply(update, "onduty", board=board)


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CommandHandler("duty", my_shifts),
    CommandHandler("onduty", on_duty),
]

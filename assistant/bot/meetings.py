"""The meeting system's edge: /meetings lists the recorded minutes, and the "Record the minutes"
button sent after a meeting starts the minutes' conversation.

The button carries only the meeting (``mt:<meeting>``); whether the presser may record its
minutes, and who may read them, is decided by :mod:`assistant.services.meetings` on the server.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from assistant.bot import conversations
from assistant.bot.context import BotContext
from assistant.callbacks import number
from assistant.services.meetings import MEETING, Handling, Meetings, meeting_number


def _meetings(context: BotContext) -> Meetings:
    settings = context.deps.settings
    return Meetings(
        context.application.bot_data["rules"], context.deps.texts, settings.language, settings.tz
    )


async def list_minutes(update: Update, context: BotContext) -> None:
    """/meetings [M-3]: the latest minutes of every unit, or one in full (coordination group)."""
    # The problems minutes record may name students: not for a group.
    if context.actor is None or not context.private_only(update):
        return
    asked = " ".join(context.args or [])
    wanted = meeting_number(asked) if asked else None
    if asked and wanted is None:
        context.reply(update, "meetings_unknown", text=asked)
        return
    found = await _meetings(context).listing(
        context.session, context.actor, context.language, wanted
    )
    if not found.allowed:
        context.reply(update, "meetings_not_allowed", reason=found.reason)
    elif wanted is not None:
        if found.meetings:
            context.reply(update, "meetings_one", meeting=found.meetings[0])
        else:
            context.reply(update, "meetings_unknown", text=asked)
    elif not found.meetings:
        context.reply(update, "meetings_empty")
    else:
        context.reply(update, "meetings_list", meetings=found.meetings, total=found.total)


async def minutes_pressed(update: Update, context: BotContext) -> None:
    """ "Record the minutes": the conversation starts with the meeting as its preset answer, if
    the presser may record them now."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    fields = MEETING.unpack(query.data)
    meeting = number(fields["meeting"]) if fields else None
    if meeting is None:
        handling = Handling.ALREADY
    else:
        handling, preset = await _meetings(context).minutes_preset(
            context.session, context.actor, meeting, context.now()
        )
        if handling is Handling.DONE:
            # The conversation's first question answers the press.
            await conversations.begin(update, context, "meeting_minutes", preset=preset)
            return
    text = context.text(f"meeting_minutes_{handling}")
    context.after_commit(lambda: query.answer(text, show_alert=True))


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CommandHandler("meetings", list_minutes),
    CallbackQueryHandler(minutes_pressed, pattern=MEETING.matches),
]

"""The expert panel's scoring cards: a press scores one criterion and the card asks the next."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from assistant.bot.context import BotContext, current_scope
from assistant.domain import RequestKind
from assistant.services import projects
from assistant.services.approvals import Approvals

_MAX_ID = 2**31 - 1


def _number(text: str) -> int | None:
    # Forged numbers beyond what the columns hold are simply unknown, not a database error.
    return int(text) if text.isdigit() and int(text) <= _MAX_ID else None


def _keyboard(card: projects.ScoreCard) -> InlineKeyboardMarkup | None:
    if not card.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in card.buttons]]
    )


async def score_pressed(update: Update, context: BotContext) -> None:
    """A score button of a scoring card; the service checks who pressed it."""
    query, chat = update.callback_query, update.effective_chat
    if query is None or chat is None or context.actor is None:
        return
    fields = projects.SCORE.unpack(query.data)
    assert fields is not None, "routed here by the codec's pattern"
    request_id, criterion, value = (_number(fields[k]) for k in projects.SCORE.fields)
    if request_id is None or criterion is None or value is None:
        toast = context.text("project_score_stale")
        context.after_commit(lambda: query.answer(toast, show_alert=True))
        return
    approvals: Approvals = context.application.bot_data["approvals"]
    review = approvals.workflows[RequestKind.PROJECT]
    assert isinstance(review, projects.Review)
    result = await review.score(
        context.session,
        context.actor,
        request_id,
        criterion,
        value,
        language=context.language,
        now=context.now(),
    )
    if result.card is not None and query.message is not None:
        current_scope.get().edit(
            chat.id,
            query.message.message_id,
            result.card.text,
            now=context.now(),
            keyboard=_keyboard(result.card),
        )
    done = result.handling is projects.Scoring.DONE
    news = None if done else context.text(f"project_score_{result.handling}")
    context.after_commit(lambda: query.answer(news, show_alert=not done))


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CallbackQueryHandler(score_pressed, pattern=projects.SCORE.matches),
]

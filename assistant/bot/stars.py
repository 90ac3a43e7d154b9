"""The Star of the Month selector: /stars lists this month's nominations, a Pick button chooses."""

from __future__ import annotations

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from assistant.bot.context import BotContext
from assistant.callbacks import CallbackCodec
from assistant.services import stars
from assistant.services.stars import Board, Picking

# A Pick button carries only the nomination; who may pick is decided on the server.
STAR_PICK = CallbackCodec("st", ("nomination",))
_MAX_ID = 2**31 - 1


def picked_nomination(data: object) -> int:
    """The nomination a Pick button names; 0, which no nomination has, for anything forged."""
    fields = STAR_PICK.unpack(data)
    text = fields["nomination"] if fields else ""
    # Forged ids beyond what the column holds are simply unknown, not a database error.
    if text.isascii() and text.isdigit() and int(text) <= _MAX_ID:
        return int(text)
    return 0


def _selector(context: BotContext) -> stars.Selector:
    settings = context.deps.settings
    return stars.Selector(
        context.application.bot_data["rules"], context.deps.texts, settings.language, settings.tz
    )


def _keyboard(context: BotContext, board: Board) -> InlineKeyboardMarkup | None:
    if board.star is not None:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    context.text("star_button_pick", entry=entry),
                    callback_data=STAR_PICK.pack(nomination=entry.nomination_id),
                )
            ]
            for entry in board.entries
        ]
    )


async def list_nominations(update: Update, context: BotContext) -> None:
    """/stars: each community's nominations this month, with a Pick button per nominee."""
    chat = update.effective_chat
    if context.actor is None or chat is None:
        return
    if chat.type != Chat.PRIVATE:
        # The reasons people gave are for the selector, not for a group.
        context.reply(update, "flow_private_only")
        return
    found = await _selector(context).boards(
        context.session, context.actor, now=context.now(), language=context.language
    )
    if not found.allowed:
        context.reply(update, "star_not_allowed", reason=found.reason)
        return
    if not found.boards:
        context.reply(update, "star_board_empty", month=found.month)
        return
    for board in found.boards:
        context.reply(update, "star_board", keyboard=_keyboard(context, board), board=board)


async def pick_pressed(update: Update, context: BotContext) -> None:
    """A Pick button: make that nominee the Star, if the presser may."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    picked = await _selector(context).pick(
        context.session,
        context.actor,
        picked_nomination(query.data),
        now=context.now(),
        language=context.language,
    )
    if picked.handling is Picking.DONE:
        toast = None
    elif picked.handling is Picking.GONE:
        toast = context.text("button_expired")
    else:
        toast = context.text(f"star_{picked.handling}", reason=picked.reason, board=picked.board)
    alert = picked.handling is not Picking.DONE
    context.after_commit(lambda: query.answer(toast, show_alert=alert))
    if picked.board is not None:
        context.edit(query.message, "star_board", board=picked.board)


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CommandHandler("stars", list_nominations),
    CallbackQueryHandler(pick_pressed, pattern=STAR_PICK.matches),
]

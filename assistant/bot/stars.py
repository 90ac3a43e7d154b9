"""The Star of the Month selector: /stars lists this month's nominations; a Pick button asks
"make X the Star?" in the board's own message, and its "yes" chooses."""

from __future__ import annotations

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from assistant.bot.context import BotContext
from assistant.callbacks import CallbackCodec
from assistant.services import stars
from assistant.services.stars import Board, Picked, Picking

# A Pick button carries only the nomination; who may pick is decided on the server. It only
# asks: the question's buttons pick for good (checked again in full) or go back to the board.
STAR_PICK = CallbackCodec("st", ("nomination",))
STAR_SURE = CallbackCodec("sty", ("nomination",))
STAR_BACK = CallbackCodec("stb", ("nomination",))
_MAX_ID = 2**31 - 1


def nomination_of(codec: CallbackCodec, data: object) -> int:
    """The nomination a button of ``codec`` names; 0, which no nomination has, for anything
    forged."""
    fields = codec.unpack(data)
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
    """A Pick button only asks: the board's message becomes "make X the Star?" if the presser
    may pick; nothing is chosen yet."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    considered = await _selector(context).considered(
        context.session,
        context.actor,
        nomination_of(STAR_PICK, query.data),
        now=context.now(),
        language=context.language,
    )
    if considered.handling is Picking.DONE:
        assert considered.board is not None and considered.entry is not None
        nomination = considered.entry.nomination_id
        keyboard = InlineKeyboardMarkup.from_row(
            [
                InlineKeyboardButton(
                    context.text("star_button_sure"),
                    callback_data=STAR_SURE.pack(nomination=nomination),
                ),
                InlineKeyboardButton(
                    context.text("confirm_back"),
                    callback_data=STAR_BACK.pack(nomination=nomination),
                ),
            ]
        )
        context.edit(
            query.message,
            "star_pick_confirm",
            keyboard=keyboard,
            board=considered.board,
            entry=considered.entry,
        )
    _answer(update, context, considered)


async def sure_pressed(update: Update, context: BotContext) -> None:
    """The question's "yes": make that nominee the Star, checked again in full."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    picked = await _selector(context).pick(
        context.session,
        context.actor,
        nomination_of(STAR_SURE, query.data),
        now=context.now(),
        language=context.language,
    )
    _answer(update, context, picked)


async def back_pressed(update: Update, context: BotContext) -> None:
    """The question's "back": the board again, as it now stands."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    considered = await _selector(context).considered(
        context.session,
        context.actor,
        nomination_of(STAR_BACK, query.data),
        now=context.now(),
        language=context.language,
    )
    if considered.handling is Picking.DONE:
        assert considered.board is not None
        board = considered.board
        context.edit(query.message, "star_board", keyboard=_keyboard(context, board), board=board)
    _answer(update, context, considered)


def _answer(update: Update, context: BotContext, outcome: Picked) -> None:
    """Answer the press; a board that changed (its Star chosen) is shown as it now is."""
    query = update.callback_query
    assert query is not None
    if outcome.handling is Picking.DONE:
        toast = None
    elif outcome.handling is Picking.GONE:
        toast = context.text("button_expired")
    else:
        toast = context.text(f"star_{outcome.handling}", reason=outcome.reason, board=outcome.board)
    alert = outcome.handling is not Picking.DONE
    context.after_commit(lambda: query.answer(toast, show_alert=alert))
    if outcome.board is not None and outcome.entry is None:
        context.edit(query.message, "star_board", board=outcome.board)


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CommandHandler("stars", list_nominations),
    CallbackQueryHandler(pick_pressed, pattern=STAR_PICK.matches),
    CallbackQueryHandler(sure_pressed, pattern=STAR_SURE.matches),
    CallbackQueryHandler(back_pressed, pattern=STAR_BACK.matches),
]

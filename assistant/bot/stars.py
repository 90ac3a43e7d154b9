"""The Star of the Month selector: /stars lists this month's nominations and the Stars so far; a
Pick button asks "make X the Star?" in the board's own message, and its "yes" chooses, then asks
for the award given with the Star (conversations/star_award.yaml)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from assistant.bot import conversations
from assistant.bot.context import BotContext
from assistant.callbacks import CallbackCodec
from assistant.domain import Actor, Language
from assistant.services import stars
from assistant.services.stars import Board, History, Picked, Picking

# A Pick button carries only the nomination; who may pick is decided on the server. It only
# asks: the question's buttons pick for good (checked again in full) or go back to the board.
STAR_PICK = CallbackCodec("st", ("nomination",))
STAR_SURE = CallbackCodec("sty", ("nomination",))
STAR_BACK = CallbackCodec("stb", ("nomination",))
# The award's button starts its questions; the history's buttons turn its pages.
STAR_AWARD = CallbackCodec("sta", ("award",))
STAR_PAGE = CallbackCodec("sth", ("page",))
_MAX_ID = 2**31 - 1
AWARD_CONVERSATION = "star_award"


def number_of(codec: CallbackCodec, data: object, field: str) -> int:
    """The number a button of ``codec`` carries in ``field``; 0, which no nomination or award
    has, for anything forged."""
    fields = codec.unpack(data)
    text = fields[field] if fields else ""
    # Forged ids beyond what the column holds are simply unknown, not a database error.
    if text.isascii() and text.isdigit() and int(text) <= _MAX_ID:
        return int(text)
    return 0


def _selector(context: BotContext) -> stars.Selector:
    settings = context.deps.settings
    return stars.Selector(
        context.application.bot_data["rules"], context.deps.texts, settings.language, settings.tz
    )


def _award_button(context: BotContext, star: stars.Star, *, named: bool) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        context.text("star_button_award", star=star, named=named),
        callback_data=STAR_AWARD.pack(award=star.award_id),
    )


def _keyboard(context: BotContext, board: Board) -> InlineKeyboardMarkup | None:
    """A Pick per nominee while the Star is not chosen; then, on the Star's own board, the
    button that records (or corrects) their award."""
    star = board.star
    if star is None:
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
    if star.community.id != board.community.id:
        return None
    return InlineKeyboardMarkup.from_button(_award_button(context, star, named=False))


def _history_keyboard(context: BotContext, history: History) -> InlineKeyboardMarkup | None:
    """A button for each Star of the page whose award is not recorded yet, then the pages."""
    rows = [
        [_award_button(context, star, named=True)] for star in history.stars if star.prize is None
    ]
    pages = []
    if history.page > 0:
        pages.append(
            InlineKeyboardButton(
                context.text("star_button_newer"),
                callback_data=STAR_PAGE.pack(page=history.page - 1),
            )
        )
    if history.more:
        pages.append(
            InlineKeyboardButton(
                context.text("star_button_older"),
                callback_data=STAR_PAGE.pack(page=history.page + 1),
            )
        )
    if pages:
        rows.append(pages)
    return InlineKeyboardMarkup(rows) if rows else None


async def list_nominations(update: Update, context: BotContext) -> None:
    """/stars: this month's nominations by community, with a Pick button per nominee, then the
    Stars so far."""
    # The reasons people gave are for the selector, not for a group.
    if context.actor is None or not context.private_only(update):
        return
    selector = _selector(context)
    now = context.now()
    found = await selector.boards(
        context.session, context.actor, now=now, language=context.language
    )
    if not found.allowed:
        context.reply(update, "star_not_allowed", reason=found.reason)
        return
    if not found.boards:
        context.reply(update, "star_board_empty", month=found.month)
    else:
        context.reply(update, "star_boards_intro", found=found)
    for board in found.boards:
        context.reply(update, "star_board", keyboard=_keyboard(context, board), board=board)
    history = await selector.history(
        context.session, context.actor, 0, now=now, language=context.language
    )
    assert isinstance(history, History), "who may see the boards may see the Stars"
    context.reply(
        update, "star_history", keyboard=_history_keyboard(context, history), history=history
    )


async def pick_pressed(update: Update, context: BotContext) -> None:
    """A Pick button only asks: the board's message becomes "make X the Star?" if the presser
    may pick; nothing is chosen yet."""
    asked = await _ask(update, context, stars.Selector.considered, STAR_PICK, "nomination")
    if asked is None:
        return
    query, considered = asked
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
    """The question's "yes": make that nominee the Star, checked again in full; then the award
    given with the Star is asked for."""
    asked = await _ask(update, context, stars.Selector.pick, STAR_SURE, "nomination")
    if asked is None:
        return
    query, picked = asked
    assert picked.board is not None and picked.star is not None
    board = picked.board
    context.edit(query.message, "star_board", keyboard=_keyboard(context, board), board=board)
    # Its first question answers the press.
    await conversations.begin(
        update, context, AWARD_CONVERSATION, preset=stars.award_preset(picked.star)
    )


async def back_pressed(update: Update, context: BotContext) -> None:
    """The question's "back": the board again, as it now stands."""
    asked = await _ask(update, context, stars.Selector.considered, STAR_BACK, "nomination")
    if asked is None:
        return
    query, considered = asked
    assert considered.board is not None
    board = considered.board
    context.edit(query.message, "star_board", keyboard=_keyboard(context, board), board=board)
    _answer(update, context, considered)


async def award_pressed(update: Update, context: BotContext) -> None:
    """A Star's award button: the award's questions, for someone who may pick."""
    asked = await _ask(update, context, stars.Selector.awarding, STAR_AWARD, "award")
    if asked is None:
        return
    _, awarding = asked
    assert awarding.star is not None
    await conversations.begin(
        update, context, AWARD_CONVERSATION, preset=stars.award_preset(awarding.star)
    )


async def page_pressed(update: Update, context: BotContext) -> None:
    """A page of the Stars so far, in the history's own message."""
    asked = await _ask(update, context, stars.Selector.history, STAR_PAGE, "page")
    if asked is None:
        return
    query, found = asked
    assert isinstance(found, History), "the history refuses or shows a page"
    context.edit(
        query.message, "star_history", keyboard=_history_keyboard(context, found), history=found
    )
    context.after_commit(lambda: query.answer())


_Outcome = TypeVar("_Outcome", bound=Picked | History)
_Told = TypeVar("_Told", bound=Picked | History, covariant=True)


class _Question(Protocol[_Told]):
    """What a press asks the selector about the number its button carries."""

    def __call__(
        self,
        selector: stars.Selector,
        session: AsyncSession,
        actor: Actor,
        number: int,
        /,
        *,
        now: datetime,
        language: Language,
    ) -> Awaitable[_Told]: ...


async def _ask(
    update: Update,
    context: BotContext,
    question: _Question[_Outcome],
    codec: CallbackCodec,
    field: str,
) -> tuple[CallbackQuery, _Outcome] | None:
    """Ask ``question`` about the number the pressed button of ``codec`` carries in ``field``,
    for the presser now. A press that was not done (refused, or about something gone) is
    answered here and gives None; otherwise the press and what it did, for the handler to show
    and answer."""
    query = update.callback_query
    if query is None or context.actor is None:
        return None
    outcome = await question(
        _selector(context),
        context.session,
        context.actor,
        number_of(codec, query.data, field),
        now=context.now(),
        language=context.language,
    )
    if isinstance(outcome, Picked) and outcome.handling is not Picking.DONE:
        _answer(update, context, outcome)
        return None
    return query, outcome


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
    board = outcome.board
    if board is not None and outcome.entry is None:
        context.edit(query.message, "star_board", keyboard=_keyboard(context, board), board=board)


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CommandHandler("stars", list_nominations),
    CallbackQueryHandler(pick_pressed, pattern=STAR_PICK.matches),
    CallbackQueryHandler(sure_pressed, pattern=STAR_SURE.matches),
    CallbackQueryHandler(back_pressed, pattern=STAR_BACK.matches),
    CallbackQueryHandler(award_pressed, pattern=STAR_AWARD.matches),
    CallbackQueryHandler(page_pressed, pattern=STAR_PAGE.matches),
]

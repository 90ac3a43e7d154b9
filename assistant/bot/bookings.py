""" "My bookings" (/bookings) with a Cancel button each, and the check-in button "I'm here".

Cancel only asks: the list's message becomes the question "cancel this booking?", whose buttons
cancel it for good or go back to the list. Every button carries only the booking and the action;
whether the presser may cancel or check in is decided by :mod:`assistant.services.booking` on
the server, again at the second press.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from assistant.bot.context import BotContext
from assistant.services.approvals import Approvals
from assistant.services.booking import (
    BACK,
    BOOKING,
    CANCEL,
    CANCEL_SURE,
    CHECK_IN,
    Bookings,
    Handling,
    Listed,
)
from assistant.services.kit import Kit

_MAX_ID = 2**31 - 1
_ACTIONS = (CANCEL, CANCEL_SURE, BACK, CHECK_IN)


def _bookings(context: BotContext) -> Bookings:
    approvals: Approvals = context.application.bot_data["approvals"]
    kit = Kit(
        approvals.rules,
        approvals.texts,
        approvals.default,
        context.deps.settings.tz,
        approvals,
    )
    return Bookings(kit)


def _keyboard(context: BotContext, items: list[Listed]) -> InlineKeyboardMarkup | None:
    rows = [
        [
            InlineKeyboardButton(
                context.text("booking_button_cancel", booking=item.booking),
                callback_data=BOOKING.pack(booking=item.booking.id, action=CANCEL),
            )
        ]
        for item in items
        if item.cancellable
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def _question(context: BotContext, booking_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup.from_row(
        [
            InlineKeyboardButton(
                context.text("booking_button_cancel_sure"),
                callback_data=BOOKING.pack(booking=booking_id, action=CANCEL_SURE),
            ),
            InlineKeyboardButton(
                context.text("confirm_back"),
                callback_data=BOOKING.pack(booking=booking_id, action=BACK),
            ),
        ]
    )


async def my_bookings(update: Update, context: BotContext) -> None:
    """/bookings: my upcoming bookings, each with Cancel while it can be withdrawn."""
    if context.actor is None or not context.private_only(update):
        return
    items = await _bookings(context).upcoming(context.session, context.actor, context.now())
    context.reply(update, "booking_list", keyboard=_keyboard(context, items), items=items)


async def pressed(update: Update, context: BotContext) -> None:
    """Cancel and its question's buttons (in "my bookings"), or "I'm here" (the check-in)."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    fields = BOOKING.unpack(query.data)
    assert fields is not None, "routed here by the codec's pattern"
    number, action = fields["booking"], fields["action"]
    booking_id = int(number) if number.isdigit() and int(number) <= _MAX_ID else None
    bookings, session, now = _bookings(context), context.session, context.now()
    toast: str | None = None
    listing = False
    if booking_id is None or action not in _ACTIONS:
        handling = Handling.ALREADY
    elif action == CANCEL:
        handling, asked = await bookings.cancellable(session, context.actor, booking_id, now=now)
        if asked is not None:
            context.edit(
                query.message,
                "booking_cancel_confirm",
                keyboard=_question(context, booking_id),
                item=asked,
            )
    elif action == CANCEL_SURE:
        handling = await bookings.cancel(session, context.actor, booking_id, now=now)
        if handling is Handling.DONE:
            toast = context.text("booking_cancelled", booking_id=booking_id)
        # Done here or elsewhere meanwhile, the question gives way to the list as it now is.
        listing = handling is not Handling.NOT_ALLOWED
    elif action == BACK:
        handling, listing = Handling.DONE, True
    else:
        handling, listed = await bookings.check_in(session, context.actor, booking_id, now=now)
        if handling is Handling.DONE and listed is not None:
            context.edit(
                query.message,
                "booking_checked_in",
                room=listed.room,
                starts=listed.starts,
                ends=listed.ends,
            )
    if listing:
        items = await bookings.upcoming(session, context.actor, now)
        context.edit(query.message, "booking_list", keyboard=_keyboard(context, items), items=items)
    alert = handling is not Handling.DONE
    if alert:
        toast = context.text(f"booking_{handling}")
    context.after_commit(lambda: query.answer(toast, show_alert=alert))


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CallbackQueryHandler(pressed, pattern=BOOKING.matches),
    CommandHandler("bookings", my_bookings),
]

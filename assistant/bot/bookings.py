""" "My bookings" (/bookings) with a Cancel button each, and the check-in button "I'm here".

Both buttons carry only the booking and the action; whether the presser may cancel or check in
is decided by :mod:`assistant.services.booking` on the server.
"""

from __future__ import annotations

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from assistant.bot.context import BotContext
from assistant.services.approvals import Approvals
from assistant.services.booking import BOOKING, CANCEL, CHECK_IN, Bookings, Handling, Listed
from assistant.services.kit import Kit

_MAX_ID = 2**31 - 1


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


async def my_bookings(update: Update, context: BotContext) -> None:
    """/bookings: my upcoming bookings, each with Cancel while it can be withdrawn."""
    chat = update.effective_chat
    if chat is None or context.actor is None:
        return
    if chat.type != Chat.PRIVATE:
        context.reply(update, "flow_private_only")
        return
    items = await _bookings(context).upcoming(context.session, context.actor, context.now())
    context.reply(update, "booking_list", keyboard=_keyboard(context, items), items=items)


async def pressed(update: Update, context: BotContext) -> None:
    """Cancel (in "my bookings") or "I'm here" (the check-in message)."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    fields = BOOKING.unpack(query.data)
    assert fields is not None, "routed here by the codec's pattern"
    number = fields["booking"]
    booking_id = int(number) if number.isdigit() and int(number) <= _MAX_ID else None
    bookings, session, now = _bookings(context), context.session, context.now()
    toast: str | None = None
    if booking_id is None or fields["action"] not in (CANCEL, CHECK_IN):
        handling = Handling.ALREADY
    elif fields["action"] == CANCEL:
        handling = await bookings.cancel(session, context.actor, booking_id, now=now)
        if handling is Handling.DONE:
            toast = context.text("booking_cancelled", booking_id=booking_id)
            items = await bookings.upcoming(session, context.actor, now)
            context.edit(
                query.message, "booking_list", keyboard=_keyboard(context, items), items=items
            )
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
    alert = handling is not Handling.DONE
    if alert:
        toast = context.text(f"booking_{handling}")
    context.after_commit(lambda: query.answer(toast, show_alert=alert))


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CallbackQueryHandler(pressed, pattern=BOOKING.matches),
    CommandHandler("bookings", my_bookings),
]

"""/talks and the buttons of a talk's card: view, cancel (with a reason), write the note,
record whether it was held, and withdraw the slots nobody booked.

Each button carries only the talk and what was pressed (``tk:<talk>:<op>``); whether the
presser may see or do it is decided by :mod:`assistant.services.talks` on the server. A press
by anyone but the talk's people (and the counsellors the rules let see it) is answered as an
expired button, the same as for a talk that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from assistant.bot import conversations
from assistant.bot.context import BotContext
from assistant.callbacks import number
from assistant.services.approvals import Approvals
from assistant.services.kit import Kit
from assistant.services.talks import (
    ABSENT,
    CANCEL,
    HELD,
    LIST,
    NOTE,
    OPS,
    TALK,
    VIEW,
    WITHDRAW,
    WITHDRAW_SURE,
    Handling,
    Listing,
    Talks,
)


def _talks(context: BotContext) -> Talks:
    approvals: Approvals = context.application.bot_data["approvals"]
    kit = Kit(
        approvals.rules, approvals.texts, approvals.default, context.deps.settings.tz, approvals
    )
    return Talks(kit)


def _buttons(context: BotContext, talk_id: int, ops: Sequence[str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    context.text(f"talk_button_{op}"), callback_data=TALK.pack(talk=talk_id, op=op)
                )
            ]
            for op in ops
        ]
    )


def _list_keyboard(context: BotContext, listing: Listing) -> InlineKeyboardMarkup | None:
    rows = [
        [
            InlineKeyboardButton(
                context.text("talk_item_button", talk=view),
                callback_data=TALK.pack(talk=view.id, op=VIEW),
            )
        ]
        for view in (*listing.booked, *listing.given, *listing.counselled)
    ]
    if listing.open_slots:
        rows.append(
            [
                InlineKeyboardButton(
                    context.text(f"talk_button_{WITHDRAW}"),
                    callback_data=TALK.pack(talk=0, op=WITHDRAW),
                )
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None


async def _listing(context: BotContext) -> tuple[Listing, InlineKeyboardMarkup | None, bool]:
    assert context.actor is not None
    talks = _talks(context)
    listing = await talks.listing(context.session, context.actor, context.now())
    return listing, _list_keyboard(context, listing), talks.may("talk.book", context.actor)


async def my_talks(update: Update, context: BotContext) -> None:
    """/talks: the talks I booked or give, my students' (a counsellor), and the counts."""
    # A talk is private: never listed where others read.
    if context.actor is None or not context.private_only(update):
        return
    listing, keyboard, may_book = await _listing(context)
    context.reply(
        update,
        "talk_list",
        keyboard=keyboard,
        listing=listing,
        buttons=keyboard is not None,
        may_book=may_book,
    )


async def pressed(update: Update, context: BotContext) -> None:
    """A button of a talk's card, of /talks or of a message about a talk."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    fields = TALK.unpack(query.data)
    assert fields is not None, "routed here by the codec's pattern"
    talk_id, op = number(fields["talk"]), fields["op"]
    talks, session, actor, now = _talks(context), context.session, context.actor, context.now()
    toast: str | None = None
    handling = Handling.DONE
    if talk_id is None or op not in OPS:
        handling = Handling.NOT_ALLOWED
    elif op in (VIEW, HELD, ABSENT):
        if op != VIEW:
            handling = await talks.record(session, actor, talk_id, op == HELD, now)
            toast = context.text("talk_recorded")
        if handling is Handling.DONE:
            handling, view, ops = await talks.card(session, actor, talk_id, now)
            if view is not None:
                card = _buttons(context, talk_id, [*ops, LIST])
                context.edit(query.message, "talk_card", keyboard=card, talk=view)
    elif op in (CANCEL, NOTE):
        preset_of = talks.cancel_preset if op == CANCEL else talks.note_preset
        handling, preset = await preset_of(session, actor, talk_id, now)
        if handling is Handling.DONE:
            # The conversation's first question answers the press.
            name = "talk_cancel" if op == CANCEL else "talk_note"
            await conversations.begin(update, context, name, preset=preset)
            return
    elif op == WITHDRAW:
        listing, _, _ = await _listing(context)
        context.edit(
            query.message,
            "talk_withdraw_confirm",
            keyboard=_buttons(context, 0, [WITHDRAW_SURE, LIST]),
            count=listing.open_slots,
        )
    else:
        if op == WITHDRAW_SURE:
            count = await talks.withdraw(session, actor, now)
            toast = context.text("talk_withdrawn", count=count)
        listing, listed, may_book = await _listing(context)
        context.edit(
            query.message,
            "talk_list",
            keyboard=listed,
            listing=listing,
            buttons=listed is not None,
            may_book=may_book,
        )
    alert = handling is not Handling.DONE
    if alert:
        # Someone else's talk reads as no talk at all.
        toast = context.text(
            "button_expired" if handling is Handling.NOT_ALLOWED else f"talk_{handling}"
        )
    context.after_commit(lambda: query.answer(toast, show_alert=alert))


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CallbackQueryHandler(pressed, pattern=TALK.matches),
    CommandHandler("talks", my_talks),
]

"""/myactivities, /activities plan (the year's fixed activities per community, page by page),
and every button of an activity: Sign up, Cancel (which only asks), the
calendar file, confirming an offered place, checking in, opening check-in, rating, summarising;
and the check-in deep link a room's QR code holds.

Every button carries only the activity and the action; whether the presser may is decided by
:mod:`assistant.services.activities` on the server, again at a question's "yes".
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from assistant import callbacks
from assistant.bot import conversations
from assistant.bot.context import BotContext, current_scope
from assistant.callbacks import CallbackCodec
from assistant.domain import Attendance, SignupStatus
from assistant.services.activities import (
    ACTIONS,
    ACTIVITY,
    BACK,
    CALENDAR,
    CANCEL,
    CANCEL_SURE,
    CHECK_IN,
    CONFIRM,
    DECLINE,
    DEEP_LINK,
    OPEN_CHECK_IN,
    RATE,
    SIGN_UP,
    SUMMARISE,
    Activities,
    Answer,
    Mine,
    qr_png,
)
from assistant.services.activity_plan import OVERVIEW, SHOWN, ActivityPlan, Plan, UnitPlan
from assistant.services.approvals import Approvals
from assistant.services.kit import Kit
from assistant.storage import outbox
from assistant.storage.models import Activity, Priority

# A page of the plan: the overview or one community's; whether the presser may see it is decided
# again on the server, among the pages of their own plan.
PLAN_PAGE = CallbackCodec("apl", ("page",))
PLAN_WORD = "plan"
_PAGE_ROW = 2

_FINE = (Answer.DONE, Answer.SIGNED_UP, Answer.WAITING)
_ASKING = {RATE: "activity_feedback", SUMMARISE: "activity_summary"}


def _activities(context: BotContext) -> Activities:
    approvals: Approvals = context.application.bot_data["approvals"]
    kit = Kit(
        approvals.rules, approvals.texts, approvals.default, context.deps.settings.tz, approvals
    )
    return Activities(kit)


def _button(context: BotContext, item: Mine, label: str, action: str) -> InlineKeyboardButton:
    activity = item.seen.activity
    return InlineKeyboardButton(
        f"{activity.reference} · {context.text(label)}",
        callback_data=ACTIVITY.pack(activity=activity.id, action=action),
    )


def _keyboard(context: BotContext, items: list[Mine]) -> InlineKeyboardMarkup | None:
    rows = []
    for item in items:
        activity, signup = item.seen.activity, item.signup
        if signup is None:
            if activity.attendance is not Attendance.NONE and activity.checkin_opened_at is None:
                rows.append(
                    [_button(context, item, "activity/button_open_check_in", OPEN_CHECK_IN)]
                )
            continue
        if signup.status is SignupStatus.OFFERED:
            rows.append(
                [
                    _button(context, item, "activity/button_confirm", CONFIRM),
                    _button(context, item, "activity/button_decline", DECLINE),
                ]
            )
        elif signup.status is SignupStatus.SIGNED_UP:
            rows.append(
                [
                    _button(context, item, "activity/button_cancel", CANCEL),
                    _button(context, item, "activity/button_calendar", CALENDAR),
                ]
            )
        elif signup.status is SignupStatus.WAITING:
            rows.append([_button(context, item, "activity/button_cancel", CANCEL)])
    return InlineKeyboardMarkup(rows) if rows else None


async def my_activities(update: Update, context: BotContext) -> None:
    """/myactivities: what I signed up for and what I organise, with their buttons."""
    if context.actor is None or not context.private_only(update):
        return
    items = await _activities(context).mine(context.session, context.actor, context.now())
    context.reply(update, "activity/list", keyboard=_keyboard(context, items), items=items)


def _plan(context: BotContext) -> ActivityPlan:
    return ActivityPlan(context.application.bot_data["rules"], context.deps.settings.tz)


def _plan_keyboard(context: BotContext, plan: Plan, shown: UnitPlan | None) -> InlineKeyboardMarkup:
    """On the overview a button per community; on a community's page the ones before and after
    it, and the way back to the overview."""
    units = plan.units
    if shown is None:
        buttons = [
            InlineKeyboardButton(
                context.text("activity/plan_button_unit", unit=unit),
                callback_data=PLAN_PAGE.pack(page=unit.key),
            )
            for unit in units
        ]
        return InlineKeyboardMarkup(
            [buttons[i : i + _PAGE_ROW] for i in range(0, len(buttons), _PAGE_ROW)]
        )
    at = units.index(shown)
    row = []
    if at > 0:
        row.append(
            InlineKeyboardButton(
                context.text("activity/plan_button_previous", unit=units[at - 1]),
                callback_data=PLAN_PAGE.pack(page=units[at - 1].key),
            )
        )
    if at + 1 < len(units):
        row.append(
            InlineKeyboardButton(
                context.text("activity/plan_button_next", unit=units[at + 1]),
                callback_data=PLAN_PAGE.pack(page=units[at + 1].key),
            )
        )
    back = InlineKeyboardButton(
        context.text("activity/plan_button_overview"), callback_data=PLAN_PAGE.pack(page=OVERVIEW)
    )
    return InlineKeyboardMarkup([row, [back]] if row else [[back]])


async def activities_command(update: Update, context: BotContext) -> None:
    """/activities [plan]: the year's plan of fixed activities, first its overview (what a
    first-time reader expects of the bare command too); anything else says how to ask."""
    if context.actor is None or not context.private_only(update):
        return
    if context.args and context.args[0].lower() != PLAN_WORD:
        context.reply(update, "activity/plan_usage")
        return
    plan = await _plan(context).plan(
        context.session, context.actor, now=context.now(), language=context.language
    )
    if not plan.allowed:
        context.reply(update, "activity/plan_not_allowed", reason=plan.reason)
        return
    context.reply(
        update,
        "activity/plan_overview",
        keyboard=_plan_keyboard(context, plan, None),
        plan=plan,
    )


async def plan_pressed(update: Update, context: BotContext) -> None:
    """A page of the plan, in the plan's own message: the reader's right to it checked again."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    fields = PLAN_PAGE.unpack(query.data)
    assert fields is not None, "routed here by the codec's pattern"
    plan = await _plan(context).plan(
        context.session, context.actor, now=context.now(), language=context.language
    )
    if not plan.allowed:
        refused = context.text("activity/plan_not_allowed", reason=plan.reason)
        context.after_commit(lambda: query.answer(refused, show_alert=True))
        return
    page = fields["page"]
    shown = plan.unit(page)
    if shown is None and page != OVERVIEW:
        expired = context.text("button_expired")
        context.after_commit(lambda: query.answer(expired, show_alert=True))
        return
    if shown is None:
        context.edit(
            query.message,
            "activity/plan_overview",
            keyboard=_plan_keyboard(context, plan, None),
            plan=plan,
        )
    else:
        context.edit(
            query.message,
            "activity/plan_unit",
            keyboard=_plan_keyboard(context, plan, shown),
            plan=plan,
            unit=shown,
            shown=SHOWN,
        )
    context.after_commit(lambda: query.answer())


def _question(context: BotContext, activity_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup.from_row(
        [
            InlineKeyboardButton(
                context.text("activity/button_cancel_sure"),
                callback_data=ACTIVITY.pack(activity=activity_id, action=CANCEL_SURE),
            ),
            InlineKeyboardButton(
                context.text("confirm_back"),
                callback_data=ACTIVITY.pack(activity=activity_id, action=BACK),
            ),
        ]
    )


async def pressed(update: Update, context: BotContext) -> None:
    """A button of an activity (an announcement, a confirmation, /myactivities, an offer, the
    check-in, the end)."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    fields = ACTIVITY.unpack(query.data)
    assert fields is not None, "routed here by the codec's pattern"
    number, action = callbacks.number(fields["activity"]), fields["action"]
    if number is None or action not in ACTIONS:
        expired = context.text("button_expired")
        context.after_commit(lambda: query.answer(expired, show_alert=True))
        return
    if action in _ASKING:
        await conversations.begin(update, context, _ASKING[action], preset={"activity": number})
        return
    activities, session, actor, now = (
        _activities(context),
        context.session,
        context.actor,
        context.now(),
    )
    if action == SIGN_UP:
        press = await activities.sign_up(session, actor, number, now=now)

        async def answer_press() -> None:
            # Its place was taken as the unit of work settled, before the commit.
            answer = press.answer
            assert answer is not None
            toast = context.text(f"activity/toast_{answer}", number=press.number)
            await query.answer(toast, show_alert=answer not in _FINE)

        context.after_commit(answer_press)
        return
    answer, listing = Answer.DONE, False
    toast: str | None = None
    if action == CANCEL:
        answer, asked = await activities.cancellable(session, actor, number, now=now)
        if asked is not None:
            context.edit(
                query.message,
                "activity/cancel_confirm",
                keyboard=_question(context, number),
                signup=asked.signup,
                **asked.seen.variables(),
            )
    elif action == CANCEL_SURE:
        answer = await activities.cancel(session, actor, number, now=now)
        toast = context.text("activity/toast_cancelled") if answer is Answer.DONE else None
        listing = answer is not Answer.NOT_ALLOWED
    elif action == BACK:
        listing = True
    elif action in (CONFIRM, DECLINE):
        answer = await activities.answer_offer(session, actor, number, action == CONFIRM, now=now)
        if answer in _FINE:
            toast = context.text(
                "activity/toast_confirmed" if action == CONFIRM else "activity/toast_declined"
            )
            _strip(context, query.message)
    elif action == CALENDAR:
        answer = await _send_calendar(context, activities, number)
    elif action == CHECK_IN:
        answer = await activities.check_in(session, actor, number, now=now)
        if answer is Answer.DONE:
            toast = context.text("activity/toast_checked_in")
            _strip(context, query.message)
    else:
        answer, opened = await activities.open_check_in(session, actor, number, now=now)
        if opened is not None and answer in (Answer.DONE, Answer.ALREADY):
            toast = context.text("activity/toast_check_in_open")
            if opened.attendance is Attendance.CODE:
                _send_code(context, activities, opened)
            answer = Answer.DONE
    if listing:
        items = await activities.mine(session, actor, now)
        context.edit(
            query.message, "activity/list", keyboard=_keyboard(context, items), items=items
        )
    alert = answer not in _FINE
    if toast is None and alert:
        toast = context.text(f"activity/toast_{answer}")
    context.after_commit(lambda: query.answer(toast, show_alert=alert))


def _strip(context: BotContext, message: object) -> None:
    """The pressed message loses its buttons: what they offered is done."""
    chat = getattr(message, "chat", None)
    if chat is not None and getattr(message, "message_id", None) is not None:
        current_scope.get().strip_keyboard(chat.id, message.message_id, now=context.now())  # type: ignore[attr-defined]


async def _send_calendar(context: BotContext, activities: Activities, number: int) -> Answer:
    """The .ics of the activity, sent as a document to the person's own chat."""
    assert context.actor is not None
    answer, seen, data = await activities.calendar(
        context.session, context.actor, number, context.language
    )
    user = context._user_id
    if answer is not Answer.DONE or seen is None or user is None:
        return answer
    outbox.enqueue(
        context.session,
        user,
        "sendDocument",
        {
            "document": outbox.upload(f"activity-{number}.ics", data, "text/calendar"),
            "caption": context.text("activity/calendar_caption", **seen.variables()),
            "parse_mode": "HTML",
        },
        priority=Priority.INTERACTIVE,
        now=context.now(),
    )
    return Answer.DONE


def _send_code(context: BotContext, activities: Activities, activity: Activity) -> None:
    """The organiser gets the code to show in the room, as a QR code of the check-in link."""
    user = context._user_id
    if user is None:
        return
    link = activities.check_in_link(context.bot.username, activity)
    outbox.enqueue(
        context.session,
        user,
        "sendPhoto",
        {
            "photo": outbox.upload(f"check-in-{activity.id}.png", qr_png(link), "image/png"),
            "caption": context.text("activity/check_in_code", activity=activity),
            "parse_mode": "HTML",
        },
        priority=Priority.INTERACTIVE,
        now=context.now(),
    )


async def check_in_link(update: Update, context: BotContext, payload: str) -> None:
    """``/start ci-<activity>-<code>``: the QR code shown in the room was scanned."""
    if context.actor is None:
        return
    _, _, rest = payload.partition("-")
    number_text, _, code = rest.partition("-")
    number = callbacks.number(number_text)
    activities = _activities(context)
    answer = Answer.NOT_ALLOWED
    if number is not None:
        answer = await activities.check_in(
            context.session, context.actor, number, now=context.now(), code=code
        )
    activity = await context.session.get(Activity, number) if number is not None else None
    if answer is Answer.DONE and activity is not None:
        context.reply(update, "activity/checked_in", activity=activity)
    else:
        context.reply(update, "activity/check_in_refused", answer=str(answer))


def lane(update: dict[str, Any]) -> Hashable | None:
    """The dispatcher's queue for a raw update: presses of one activity's Sign up share one,
    so that they are taken in the order they were made, whatever chats they come from."""
    query = update.get("callback_query")
    fields = ACTIVITY.unpack(query.get("data")) if isinstance(query, dict) else None
    if fields is None or fields["action"] != SIGN_UP:
        return None
    return ("activity", fields["activity"])


def is_check_in_link(payload: str) -> bool:
    """Whether a /start payload is a check-in deep link rather than an invite."""
    return payload.startswith(f"{DEEP_LINK}-")


HANDLERS: list[BaseHandler[Update, BotContext, None]] = [
    CallbackQueryHandler(pressed, pattern=ACTIVITY.matches),
    CommandHandler("myactivities", my_activities),
    CommandHandler("activities", activities_command),
    CallbackQueryHandler(plan_pressed, pattern=PLAN_PAGE.matches),
]

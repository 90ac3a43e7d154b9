"""The Telegram side of guided conversations: commands, typed answers, photos, documents and
buttons.

Handlers only translate: an update becomes an engine call, the engine's screens become outbox
messages. Conversations run in private chats, where answers may be personal. A question's message
carries the engine's ``ref`` in the outbox, so that when the conversation moves on it is found
again and rewritten without its buttons (still waiting: before it leaves; sent: by an edit).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from assistant.bot.context import BotContext, current_scope
from assistant.flows.engine import PREFIX, Engine, Outcome, Screen
from assistant.rules import Rules
from assistant.services import people
from assistant.storage import outbox
from assistant.storage.models import Priority


def _keyboard(screen: Screen) -> InlineKeyboardMarkup | None:
    if not screen.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
            for row in screen.buttons
        ]
    )


def _engine(context: BotContext) -> Engine:
    engine: Engine = context.application.bot_data["engine"]
    return engine


def _payload(text: str) -> dict[str, Any]:
    return {"text": text, "parse_mode": "HTML", "link_preview_options": {"is_disabled": True}}


async def show(update: Update, context: BotContext, outcome: Outcome) -> None:
    """Queue the outcome's messages, the edit of the pressed message, the settling of earlier
    questions, and the toast for after the update commits."""
    chat = update.effective_chat
    assert chat is not None
    scope, now = current_scope.get(), context.now()
    # The new question goes first: a chat's messages leave in the order queued, and the person
    # is waiting for it, not for the old message's buttons to go.
    for screen in outcome.send:
        payload = _payload(screen.text)
        keyboard = _keyboard(screen)
        if keyboard is not None:
            payload["reply_markup"] = keyboard.to_dict()
        outbox.enqueue(
            scope.session,
            chat.id,
            "sendMessage",
            payload,
            priority=Priority.INTERACTIVE,
            now=now,
            ref=screen.ref,
        )
    query = update.callback_query
    if query is not None and query.message is not None and outcome.edit is not None:
        scope.edit(
            chat.id,
            query.message.message_id,
            outcome.edit.text,
            now=now,
            keyboard=_keyboard(outcome.edit),
        )
    for settled in outcome.settle:
        # Its step is over: the buttons go, so nobody presses them again, and the answer stays.
        for row in await outbox.by_ref(scope.session, settled.ref):
            if row.ref == settled.ref and row.method == "sendMessage":
                outbox.rewrite(scope.session, row, _payload(settled.text), now=now)
    if query is not None:
        toast, alert = outcome.toast or None, outcome.alert
        context.after_commit(lambda: query.answer(toast, show_alert=alert))


async def start(update: Update, context: BotContext) -> None:
    """A conversation's command, e.g. /report."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or context.actor is None or not message.text:
        return
    if not context.private_only(update):
        return
    command = message.text.split()[0][1:].split("@")[0].lower()
    engine = _engine(context)
    conversation = engine.for_command(command)
    assert conversation is not None, "registered only for conversation commands"
    if conversation.access:
        rules: Rules = context.application.bot_data["rules"]
        subject = people.rule_subject(context.actor)
        # Windows (a call for projects, the nomination days) are judged on today's date.
        today = context.now().astimezone(context.deps.settings.tz).date()
        subject |= people.day_facts(today, rules.calendar)
        decision = rules.allowed(conversation.access, subject)
        if not decision.outcome.allowed:
            reason = decision.outcome.reason
            context.reply(
                update, "flow_denied", reason=reason.text(context.language) if reason else ""
            )
            return
    outcome = await engine.start(
        context.session,
        context.actor,
        chat.id,
        conversation,
        now=context.now(),
        language=context.language,
    )
    await show(update, context, outcome)


async def begin(
    update: Update, context: BotContext, conversation_id: str, *, preset: dict[str, Any]
) -> None:
    """Start a conversation a service asks for (a rejection's reason), with what it knows."""
    chat = update.effective_chat
    if chat is None or context.actor is None or not context.private_only(update):
        return
    outcome = await _engine(context).start(
        context.session,
        context.actor,
        chat.id,
        _engine(context).conversations[conversation_id],
        now=context.now(),
        language=context.language,
        preset=preset,
    )
    # The pressed card is left as it is (only the conversation's own messages are settled): it
    # belongs to its report or request, which rewrites it when it is decided.
    await show(update, context, outcome)


async def cancel(update: Update, context: BotContext) -> None:
    """/cancel: end the conversation running in this chat."""
    await _control(update, context, _engine(context).cancel)


async def back(update: Update, context: BotContext) -> None:
    """/back: the previous question again."""
    await _control(update, context, _engine(context).back)


async def _control(
    update: Update, context: BotContext, step: Callable[..., Awaitable[Outcome | None]]
) -> None:
    chat = update.effective_chat
    if chat is None or context.actor is None:
        return
    outcome = await step(
        context.session, context.actor, chat.id, now=context.now(), language=context.language
    )
    if outcome is None:
        context.reply(update, "flow_nothing_to_cancel")
    else:
        await show(update, context, outcome)


async def pressed(update: Update, context: BotContext) -> None:
    """A button of a conversation."""
    query, chat = update.callback_query, update.effective_chat
    if query is None or chat is None or context.actor is None or not isinstance(query.data, str):
        return
    outcome = await _engine(context).press(
        context.session,
        context.actor,
        chat.id,
        query.data,
        now=context.now(),
        language=context.language,
    )
    await show(update, context, outcome)


async def answered(update: Update, context: BotContext) -> bool:
    """A typed message, a photo or a document as an answer; False when no conversation is
    running."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or context.actor is None:
        return False
    engine = _engine(context)
    if message.photo:
        outcome = await engine.photo(
            context.session,
            context.actor,
            chat.id,
            message.photo[-1].file_id,
            now=context.now(),
            language=context.language,
        )
    elif message.document:
        outcome = await engine.document(
            context.session,
            context.actor,
            chat.id,
            message.document.file_id,
            message.document.file_name,
            now=context.now(),
            language=context.language,
        )
    else:
        outcome = await engine.text(
            context.session,
            context.actor,
            chat.id,
            message.text or message.caption or "",
            now=context.now(),
            language=context.language,
        )
    if outcome is None:
        return False
    await show(update, context, outcome)
    return True


def is_conversation_button(data: object) -> bool:
    """Whether callback data belongs to a conversation."""
    return isinstance(data, str) and data.startswith(f"{PREFIX}:")

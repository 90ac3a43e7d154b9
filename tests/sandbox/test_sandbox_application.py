"""A real PTB Application polling the sandbox: messages in, replies, button presses, edits."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from assistant.sandbox import FakeTelegram

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
Polling = Callable[[AnyApplication], AbstractAsyncContextManager[None]]

DONE = InlineKeyboardMarkup([[InlineKeyboardButton("Done", callback_data="done")]])


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text, reply_markup=DONE)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Noted")
    await query.edit_message_text(f"Pressed {query.data}")


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, f"Welcome {context.args}")


async def test_echo_then_button_press_edits_the_message(
    tg: FakeTelegram, app: AnyApplication, polling: Polling
) -> None:
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    alice = tg.add_user("Alice", username="alice")
    async with polling(app):
        await tg.user_send(alice, "hello there")
        reply = await tg.wait_for_bot_message(alice.id)
        assert reply.text == "hello there"
        assert reply.button_data("Done") == "done"

        query_id = await tg.user_press(alice, reply, "done")
        answer = await tg.wait_for_callback_answer(query_id)
        edit = await tg.wait_for_bot_message(alice.id)

    assert answer.text == "Noted"
    assert edit.message_id == reply.message_id
    assert edit.edit_date is not None
    assert edit.text == "Pressed done"
    assert edit.reply_markup is None
    current = tg.message(alice.id, reply.message_id)
    assert (current.text, current.buttons) == ("Pressed done", [])


async def test_commands_reach_command_handlers(
    tg: FakeTelegram, app: AnyApplication, polling: Polling
) -> None:
    app.add_handler(CommandHandler("start", start))
    bob = tg.add_user("Bob")
    async with polling(app):
        await tg.user_send(bob, "/start room42")
        first = await tg.wait_for_bot_message(bob.id)
        await tg.user_send(bob, f"/start@{tg.bot.username} x")
        second = await tg.wait_for_bot_message(bob.id)
    assert first.text == "Welcome ['room42']"
    assert second.text == "Welcome ['x']"


async def test_bot_added_to_group_gets_my_chat_member(
    tg: FakeTelegram, app: AnyApplication, polling: Polling
) -> None:
    seen: list[tuple[str, str]] = []

    async def member_changed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        assert change is not None
        seen.append((change.old_chat_member.status, change.new_chat_member.status))
        await context.bot.send_message(change.chat.id, "Hello, group")

    app.add_handler(ChatMemberHandler(member_changed, ChatMemberHandler.MY_CHAT_MEMBER))
    carol = tg.add_user("Carol")
    async with polling(app):
        group = await tg.add_group("Block A", [carol])
        greeting = await tg.wait_for_bot_message(group.id)
    assert seen == [("left", "member")]
    assert greeting.text == "Hello, group"
    assert greeting.chat.type == "group"

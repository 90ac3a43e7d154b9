"""getUpdates semantics, update JSON as PTB parses it, webhooks settings, privacy mode."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from telegram import (
    Bot,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import BadRequest, Conflict

from assistant.sandbox import FakeTelegram


async def three_updates(tg: FakeTelegram) -> list[int]:
    alice = tg.add_user("Alice")
    for text in ("one", "two", "three"):
        await tg.user_send(alice, text)
    return [update["update_id"] for update in tg.pending_updates()]


async def test_offset_confirms_and_negative_offset_keeps_the_last(
    tg: FakeTelegram, bot: Bot
) -> None:
    ids = await three_updates(tg)
    assert ids == [1, 2, 3]
    assert [u.update_id for u in await bot.get_updates()] == ids
    assert [u.update_id for u in await bot.get_updates(limit=1)] == [1]
    assert [u.update_id for u in await bot.get_updates(offset=2)] == [2, 3]
    assert [u.update_id for u in await bot.get_updates()] == [2, 3]
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == [3]
    assert [u.update_id for u in await bot.get_updates()] == [3]
    assert await bot.get_updates(offset=4) == ()
    assert tg.pending_updates() == []


async def test_every_update_kind_parses_with_ptb(
    tg: FakeTelegram, bot: Bot, png: Callable[[int, int], bytes]
) -> None:
    alice, bob = tg.add_user("Alice", "Li", "alice", "en"), tg.add_user("Bob")
    await tg.user_send(alice, "/start welcome")
    await tg.user_send_photo(alice, png(1, 1), caption="#repair needed")
    sent = await bot.send_message(alice.id, "Pick", reply_markup=_one_button())
    await tg.user_press(alice, tg.message(alice.id, sent.message_id), "pick")
    group = await tg.add_group("Hall", [alice, bob])
    await tg.block_bot(bob)

    updates = [Update.de_json(data, bot) for data in tg.pending_updates()]
    command, photo, press, joined, blocked = updates
    assert isinstance(command.message, Message)
    assert command.message.entities[0].type == "bot_command"
    assert command.message.from_user is not None
    assert command.message.from_user.language_code == "en"
    assert isinstance(photo.message, Message) and photo.message.photo[0].width == 1
    assert photo.message.caption_entities[0].type == "hashtag"
    assert isinstance(press.callback_query, CallbackQuery)
    assert press.callback_query.data == "pick"
    assert press.callback_query.message is not None
    assert press.callback_query.message.message_id == sent.message_id
    assert isinstance(joined.my_chat_member, ChatMemberUpdated)
    assert joined.my_chat_member.chat.id == group.id
    assert joined.my_chat_member.new_chat_member.status == "member"
    assert blocked.my_chat_member is not None
    assert blocked.my_chat_member.new_chat_member.status == "kicked"


def _one_button() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Pick", callback_data="pick")]])


async def test_long_poll_returns_as_soon_as_an_update_arrives(tg: FakeTelegram, bot: Bot) -> None:
    alice = tg.add_user("Alice")
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await tg.wait_until(lambda: len(tg.calls_to("getUpdates")) == 1)
    await tg.user_send(alice, "ping")
    async with asyncio.timeout(2):
        updates = await poll
    assert [u.message.text for u in updates if u.message] == ["ping"]


async def test_long_poll_without_updates_answers_empty_after_timeout(tg: FakeTelegram) -> None:
    status, envelope = await tg.call(tg.token, "getUpdates", {"timeout": "0.05"})
    assert (status, envelope) == (200, {"ok": True, "result": []})


async def test_a_newer_long_poll_ends_the_older_with_conflict(tg: FakeTelegram, bot: Bot) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=30))
    await tg.wait_until(lambda: len(tg.calls_to("getUpdates")) == 1)
    newer = asyncio.create_task(bot.get_updates(timeout=30))
    with pytest.raises(Conflict) as caught:
        await older
    assert caught.value.message == (
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running"
    )
    await tg.user_send(tg.add_user("Alice"), "hi")
    assert len(await newer) == 1


async def test_webhook_settings_and_conflict_with_polling(tg: FakeTelegram, bot: Bot) -> None:
    await three_updates(tg)
    url = "http://127.0.0.1:9/hook"
    status, envelope = await tg.call(tg.token, "setWebhook", {"url": url, "secret_token": "s3"})
    assert (status, envelope["description"]) == (200, "Webhook was set")
    assert (await tg.call(tg.token, "setWebhook", {"url": url, "secret_token": "s3"}))[1][
        "description"
    ] == "Webhook is already set"
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count, info.max_connections) == (url, 3, 40)

    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()

    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).pending_update_count == 0
    status, envelope = await tg.call(tg.token, "deleteWebhook", {})
    assert envelope["description"] == "Webhook is already deleted"
    assert await bot.get_updates() == ()


@pytest.mark.parametrize(
    ("secret", "message"),
    [("x" * 257, "Secret token is too long"), ("bad token!", "Secret token contains unallowed")],
)
async def test_webhook_secret_is_validated(bot: Bot, secret: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        await bot.set_webhook("https://example.org/hook", secret_token=secret)


async def test_a_long_poll_ends_when_a_webhook_is_set(tg: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await tg.wait_until(lambda: len(tg.calls_to("getUpdates")) == 1)
    await bot.set_webhook("https://example.org/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await poll


async def test_allowed_updates_filters_new_updates(tg: FakeTelegram, bot: Bot) -> None:
    alice = tg.add_user("Alice")
    await bot.get_updates(allowed_updates=["callback_query"])
    await tg.user_send(alice, "not delivered")
    assert tg.pending_updates() == []
    await bot.get_updates(allowed_updates=[])
    await tg.user_send(alice, "delivered")
    assert len(tg.pending_updates()) == 1


async def test_privacy_mode_in_groups(tg: FakeTelegram, bot: Bot) -> None:
    alice = tg.add_user("Alice")
    group = await tg.add_group("Hall", [alice])
    name = tg.bot.username
    said = [
        "just chatting",
        "/help",
        f"/help@{name}",
        "/help@some_other_bot",
        f"hey @{name}",
    ]
    for text in said:
        await tg.user_send(alice, text, group)
    bot_message = await bot.send_message(group.id, "I am here")
    await tg.user_send(
        alice, "thanks", group, reply_to=tg.message(group.id, bot_message.message_id)
    )
    seen = [u["message"]["text"] for u in tg.pending_updates() if "message" in u]
    assert seen == ["/help", f"/help@{name}", "thanks"]
    assert [m.text for m in tg.messages(group.id)][:5] == said

    tg.privacy_mode = False
    await tg.user_send(alice, "now visible", group)
    assert tg.pending_updates()[-1]["message"]["text"] == "now visible"

    tg.privacy_mode = True
    admin_group = await tg.add_group("Admins", [alice], bot_is_admin=True)
    await tg.user_send(alice, "admins see all", admin_group)
    assert tg.pending_updates()[-1]["message"]["text"] == "admins see all"

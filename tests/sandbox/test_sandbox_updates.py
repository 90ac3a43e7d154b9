"""getUpdates semantics, update JSON as PTB parses it, webhooks settings, privacy mode, a group's
upgrade to a supergroup, a revoked token."""

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
from telegram.error import BadRequest, ChatMigrated, Conflict, InvalidToken

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


async def test_a_group_upgraded_to_a_supergroup_moves_to_a_new_id(
    tg: FakeTelegram, bot: Bot
) -> None:
    owner, member = tg.add_user("Owner"), tg.add_user("Member")
    group = await tg.add_group("Floor 3", [owner, member])
    await bot.send_message(group.id, "before")
    supergroup = tg.migrate_to_supergroup(group)
    assert (supergroup.type, supergroup.title) == ("supergroup", "Floor 3")
    assert supergroup.id < -1_000_000_000_000 and supergroup.members == group.members

    # Service messages reach the bot even with privacy mode on, one in each chat.
    updates = await bot.get_updates()
    service = [u.message for u in updates if u.message]
    assert [(m.chat.id, m.migrate_to_chat_id, m.migrate_from_chat_id) for m in service] == [
        (group.id, supergroup.id, None),
        (supergroup.id, None, group.id),
    ]
    assert all(m.from_user is not None and m.from_user.id == owner.id for m in service)

    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(group.id, "after")
    assert caught.value.new_chat_id == supergroup.id
    assert tg.calls[-1].status == 400
    status, envelope = await tg.call(tg.token, "sendMessage", {"chat_id": group.id, "text": "x"})
    assert (status, envelope) == (
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": {"migrate_to_chat_id": supergroup.id},
        },
    )
    assert (await bot.send_message(supergroup.id, "after")).chat.id == supergroup.id
    with pytest.raises(ValueError, match="now the supergroup"):
        await tg.user_send(member, "/help", group)
    with pytest.raises(ValueError, match="not a basic group"):
        tg.migrate_to_supergroup(supergroup)


async def test_something_can_happen_the_moment_a_call_arrives(tg: FakeTelegram, bot: Bot) -> None:
    owner = tg.add_user("Owner")
    group = await tg.add_group("Floor 3", [owner])
    upgraded: list[int] = []
    tg.on_call(
        "sendMessage",
        lambda: upgraded.append(tg.migrate_to_supergroup(group).id),
        chat_id=group.id,
    )
    await bot.get_chat(group.id)
    assert upgraded == []
    with pytest.raises(ChatMigrated):
        await bot.send_message(group.id, "just too late")
    assert len(upgraded) == 1
    # Once only.
    assert (await bot.send_message(upgraded[0], "there")).text == "there"
    assert len(upgraded) == 1


async def test_a_revoked_token_is_refused_even_in_an_open_long_poll(
    tg: FakeTelegram, bot: Bot
) -> None:
    old = tg.token
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await tg.wait_until(lambda: len(tg.calls_to("getUpdates")) == 1)
    new = tg.revoke_token()
    assert new != old and new.split(":")[0] == old.split(":")[0]
    with pytest.raises(InvalidToken):
        await poll
    with pytest.raises(InvalidToken):
        await bot.get_me()
    assert await tg.call(old, "getMe", {}) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    status, envelope = await tg.call(new, "getMe", {})
    assert status == 200 and envelope["result"]["id"] == tg.bot.id


async def test_a_token_revoked_as_a_call_arrives_refuses_that_call(
    tg: FakeTelegram, bot: Bot
) -> None:
    alice = tg.add_user("Alice")
    await tg.user_send(alice, "hi")
    tg.on_call("sendMessage", tg.revoke_token)
    with pytest.raises(InvalidToken):
        await bot.send_message(alice.id, "never sent")
    assert tg.calls[-1].status == 401
    assert [m.text for m in tg.messages(alice.id)] == ["hi"]

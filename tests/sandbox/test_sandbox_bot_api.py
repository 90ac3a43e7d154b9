"""Bot API methods called through a real PTB Bot, with PTB's own error mapping."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    ChatFullInfo,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    MenuButtonWebApp,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    WebAppInfo,
)
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, NetworkError

from assistant.sandbox import FakeRequest, FakeTelegram
from assistant.sandbox.flood import ManualClock


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d[:10], callback_data=d)] for d in data])


async def started_user(tg: FakeTelegram, name: str = "Alice") -> int:
    """A person who has written to the bot, so the bot may write to them."""
    user = tg.add_user(name, language_code="en")
    await tg.user_send(user, "hi")
    return user.id


async def test_get_me_describes_the_bot(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "community_assistant_bot")
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False


async def test_send_message_returns_a_full_message(tg: FakeTelegram, bot: Bot) -> None:
    chat_id = await started_user(tg)
    sent = await bot.send_message(chat_id, "  See https://example.org and /help  ")
    assert sent.text == "See https://example.org and /help"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("url", 4, 19),
        ("bot_command", 28, 5),
    ]
    assert sent.from_user is not None and sent.from_user.id == tg.bot.id
    assert sent.chat.id == chat_id and sent.chat.type == "private"
    assert sent.message_id == 2
    assert tg.messages(chat_id)[-1].text == sent.text


async def test_html_is_parsed_into_entities(tg: FakeTelegram, bot: Bot) -> None:
    chat_id = await started_user(tg)
    sent = await bot.send_message(chat_id, "<b>Room</b> 🏠 <i>B&amp;B</i>", parse_mode="HTML")
    assert sent.text == "Room 🏠 B&B"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 4),
        ("italic", 8, 3),
    ]


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        ("<br>", 'Can\'t parse entities: unsupported start tag "br" at byte offset 0'),
        ("a <b>b", "Can't parse entities: can't find end tag corresponding to start tag \"b\""),
        ("x</b>", "Can't parse entities: unexpected end tag at byte offset 1"),
        (
            "<b>x</i>",
            "Can't parse entities: unmatched end tag at byte offset 4, "
            'expected "</b>", found "</i>"',
        ),
    ],
)
async def test_bad_html_is_rejected_as_telegram_does(
    tg: FakeTelegram, bot: Bot, markup: str, message: str
) -> None:
    chat_id = await started_user(tg)
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(chat_id, markup, parse_mode="HTML")
    assert caught.value.message == message


async def test_text_length_limits(tg: FakeTelegram, bot: Bot) -> None:
    chat_id = await started_user(tg)
    await bot.send_message(chat_id, "я" * 4096)
    await bot.send_message(chat_id, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(chat_id, "a" * 4097)
    with pytest.raises(BadRequest, match=r"^Message text is empty$"):
        await bot.send_message(chat_id, " \n ")


async def test_callback_data_is_limited_to_64_bytes(tg: FakeTelegram, bot: Bot) -> None:
    chat_id = await started_user(tg)
    await bot.send_message(chat_id, "ok", reply_markup=keyboard("é" * 32))
    with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
        await bot.send_message(chat_id, "too long", reply_markup=keyboard("é" * 33))
    with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
        await bot.send_message(chat_id, "too long", reply_markup=keyboard("x" * 65))


async def test_unknown_chat_and_unreachable_people(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(987654321, "hello")
    stranger = tg.add_user("Stranger")
    with pytest.raises(Forbidden) as never_started:
        await bot.send_message(stranger.id, "hello")
    assert never_started.value.message == "Forbidden: bot can't initiate conversation with a user"

    chat_id = await started_user(tg)
    await tg.block_bot(tg.user(chat_id))
    with pytest.raises(Forbidden) as blocked:
        await bot.send_message(chat_id, "hello")
    assert blocked.value.message == "Forbidden: bot was blocked by the user"
    await tg.unblock_bot(tg.user(chat_id))
    await bot.send_message(chat_id, "welcome back")


async def test_wrong_token_unknown_and_unsupported_methods(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot("999:WRONG", request=FakeRequest(tg), get_updates_request=FakeRequest(tg)):
            pass
    unauthorized = {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert await tg.call("999:WRONG", "getMe", {}) == (401, unauthorized)
    assert (await tg.call("malformed", "getMe", {}))[0] == 404
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    with pytest.raises(NetworkError, match="does not support pinChatMessage"):
        await bot.pin_chat_message(await started_user(tg), 1)
    status, envelope = await tg.call(tg.token, "GETME", {})
    assert status == 200 and envelope["result"]["username"] == tg.bot.username


async def test_edits_follow_telegram_rules(tg: FakeTelegram, bot: Bot) -> None:
    chat_id = await started_user(tg)
    sent = await bot.send_message(chat_id, "Choose", reply_markup=keyboard("a", "b"))

    with pytest.raises(BadRequest, match=r"^Message is not modified: specified new message"):
        await bot.edit_message_text(
            "Choose", chat_id, sent.message_id, reply_markup=keyboard("a", "b")
        )
    edited = await bot.edit_message_reply_markup(
        chat_id, sent.message_id, reply_markup=keyboard("c")
    )
    assert not isinstance(edited, bool) and edited.edit_date is not None
    assert tg.message(chat_id, sent.message_id).buttons[0][0]["callback_data"] == "c"

    await bot.edit_message_text("<b>Chosen</b>", chat_id, sent.message_id, parse_mode="HTML")
    current = tg.message(chat_id, sent.message_id)
    assert (current.text, current.reply_markup) == ("Chosen", None)

    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("x", chat_id, 999)
    with pytest.raises(BadRequest, match=r"^Message can't be edited$"):
        await bot.edit_message_text("x", chat_id, 1)


async def test_delete_message(tg: FakeTelegram, bot: Bot) -> None:
    chat_id = await started_user(tg)
    sent = await bot.send_message(chat_id, "temporary")
    assert await bot.delete_message(chat_id, sent.message_id) is True
    assert [m.message_id for m in tg.messages(chat_id)] == [1]
    with pytest.raises(BadRequest, match=r"^Message to delete not found$"):
        await bot.delete_message(chat_id, sent.message_id)
    assert await bot.delete_message(chat_id, 1) is True

    dan = tg.add_user("Dan")
    group = await tg.add_group("Floor 3", [dan])
    said = await tg.user_send(dan, "hello all", group)
    with pytest.raises(BadRequest, match=r"^Message can't be deleted$"):
        await bot.delete_message(group.id, said.message_id)


async def test_callback_query_answers(tg: FakeTelegram, bot: Bot, clock: ManualClock) -> None:
    chat_id = await started_user(tg)
    alice = tg.user(chat_id)
    sent = await bot.send_message(chat_id, "Vote", reply_markup=keyboard("yes"))
    message = tg.message(chat_id, sent.message_id)

    first = await tg.user_press(alice, message, "yes")
    with pytest.raises(BadRequest, match=r"^Message_too_long$"):
        await bot.answer_callback_query(first, text="x" * 201)
    assert await bot.answer_callback_query(first, text="Counted", show_alert=True)
    answer = tg.callback_answer(first)
    assert answer is not None and (answer.text, answer.show_alert) == ("Counted", True)
    too_old = "^Query is too old and response timeout expired or query id is invalid$"
    with pytest.raises(BadRequest, match=too_old):
        await bot.answer_callback_query(first)
    with pytest.raises(BadRequest, match=too_old):
        await bot.answer_callback_query("12345")

    late = await tg.user_press(alice, message, "yes")
    clock.advance(16)
    with pytest.raises(BadRequest, match=too_old):
        await bot.answer_callback_query(late)
    with pytest.raises(ValueError, match="no button"):
        await tg.user_press(alice, message, "no")


async def test_photos_and_documents_upload_and_download(
    tg: FakeTelegram, bot: Bot, png: Callable[[int, int], bytes]
) -> None:
    chat_id = await started_user(tg)
    image = png(3, 2)
    sent = await bot.send_photo(chat_id, image, caption="<i>Laundry</i>", parse_mode="HTML")
    assert (sent.photo[-1].width, sent.photo[-1].height) == (3, 2)
    assert sent.caption == "Laundry" and sent.caption_entities[0].type == "italic"
    file = await bot.get_file(sent.photo[-1].file_id)
    assert file.file_path is not None and file.file_path.endswith(".jpg")
    assert bytes(await file.download_as_bytearray()) == image

    again = await bot.send_photo(chat_id, sent.photo[-1].file_id)
    assert again.photo[-1].file_id == sent.photo[-1].file_id
    with pytest.raises(BadRequest, match=r"^Image_process_failed$"):
        await bot.send_photo(chat_id, b"not an image")

    doc = await bot.send_document(chat_id, InputFile(b"rules v2", filename="rules.txt"))
    assert doc.document is not None and doc.document.file_name == "rules.txt"
    doc_file = await bot.get_file(doc.document.file_id)
    assert bytes(await doc_file.download_as_bytearray()) == b"rules v2"
    with pytest.raises(BadRequest, match=r"^Can't use file of type document as photo$"):
        await bot.send_photo(chat_id, doc.document.file_id)
    with pytest.raises(BadRequest, match=r"^Invalid file_id$"):
        await bot.get_file("nope")


async def test_a_persons_photo_can_be_fetched(
    tg: FakeTelegram, bot: Bot, png: Callable[[int, int], bytes]
) -> None:
    alice = tg.add_user("Alice")
    image = png(5, 4)
    message = await tg.user_send_photo(alice, image, caption="broken window")
    assert message.photo is not None
    file = await bot.get_file(message.photo[-1]["file_id"])
    assert bytes(await file.download_as_bytearray()) == image
    with pytest.raises(ValueError, match="not an image"):
        await tg.user_send_photo(alice, b"text")


async def test_commands_per_scope_and_language(tg: FakeTelegram, bot: Bot) -> None:
    chat_id = await started_user(tg)
    alice = tg.user(chat_id)
    general = [BotCommand("help", "Get help")]
    private_ru = [BotCommand("start", "Начать")]
    assert await bot.set_my_commands(general)
    assert await bot.set_my_commands(
        private_ru, scope=BotCommandScopeAllPrivateChats(), language_code="ru"
    )
    assert await bot.get_my_commands() == tuple(general)
    assert await bot.get_my_commands(BotCommandScopeAllPrivateChats(), "ru") == tuple(private_ru)
    assert await bot.get_my_commands(BotCommandScopeAllPrivateChats()) == ()
    assert tg.visible_commands(alice) == [{"command": "help", "description": "Get help"}]
    alice.language_code = "ru"
    assert tg.visible_commands(alice) == [{"command": "start", "description": "Начать"}]

    with pytest.raises(BadRequest, match=r"^Bot_command_invalid$"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])
    with pytest.raises(BadRequest, match=r"^Bot_command_description_invalid$"):
        await bot.set_my_commands([BotCommand("ok", "")])
    with pytest.raises(BadRequest, match=r"^Bot_commands_too_much$"):
        await bot.set_my_commands([BotCommand(f"c{i}", "d") for i in range(101)])
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.set_my_commands(general, scope=BotCommandScopeChat(-42))
    with pytest.raises(BadRequest, match=r"^Invalid language code specified$"):
        await bot.set_my_commands(general, language_code="russian")

    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_chat_info_and_members(tg: FakeTelegram, bot: Bot) -> None:
    chat_id = await started_user(tg)
    private = await bot.get_chat(chat_id)
    assert isinstance(private, ChatFullInfo)
    assert (private.type, private.first_name) == ("private", "Alice")
    assert private.max_reaction_count == 11

    owner, admin, member, outsider = (tg.add_user(n) for n in ("Owner", "Admin", "Member", "Out"))
    group = await tg.add_group("Dorm 7", [owner, admin, member], supergroup=True, admins=[admin])
    info = await bot.get_chat(group.id)
    assert (info.type, info.title) == ("supergroup", "Dorm 7")
    statuses = [
        (await bot.get_chat_member(group.id, user.id)).status
        for user in (owner, admin, member, outsider, tg.bot)
    ]
    assert statuses == ["creator", "administrator", "member", "left", "member"]


async def test_menu_button_action_and_custom_keyboards(tg: FakeTelegram, bot: Bot) -> None:
    chat_id = await started_user(tg)
    button = MenuButtonWebApp("Open", WebAppInfo("https://example.org/app"))
    assert await bot.set_chat_menu_button(chat_id, button)
    assert await bot.get_chat_menu_button(chat_id) == button
    assert (await bot.get_chat_menu_button()).type == "commands"

    events = tg.subscribe()
    assert await bot.send_chat_action(chat_id, "typing")
    assert events.get_nowait() == {"type": "chat_action", "chat_id": chat_id, "action": "typing"}
    with pytest.raises(BadRequest, match=r"^Wrong parameter action in request$"):
        await bot.send_chat_action(chat_id, "dancing")

    await bot.send_message(chat_id, "Pick", reply_markup=ReplyKeyboardMarkup([["Laundry"]]))
    assert tg.chat(chat_id).reply_keyboard == {"keyboard": [[{"text": "Laundry"}]]}
    await bot.send_message(chat_id, "Done", reply_markup=ReplyKeyboardRemove())
    assert tg.chat(chat_id).reply_keyboard is None
    assert await bot.close() and await bot.log_out()


async def test_replies_in_groups_carry_the_original(tg: FakeTelegram, bot: Bot) -> None:
    erin = tg.add_user("Erin")
    group = await tg.add_group("Kitchen", [erin])
    asked = await tg.user_send(erin, f"/when@{tg.bot.username}", group)
    reply = await bot.send_message(group.id, "Tomorrow", reply_to_message_id=asked.message_id)
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == asked.text
    with pytest.raises(BadRequest, match=r"^Message to be replied not found$"):
        await bot.send_message(group.id, "?", reply_to_message_id=999)

"""Inline buttons: a press is answered and the message edited; stale or forged data is refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from hypothesis import given
from hypothesis import strategies as st
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from assistant.app import AssistantApp
from assistant.callbacks import LANGUAGE, MAX_BYTES, CallbackCodec, CallbackDataError
from assistant.sandbox import FakeTelegram
from tests.bot.conftest import Chat
from tests.bot.test_identity import STUDENT, linked

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]


async def test_language_buttons_edit_the_question_into_the_answer(
    bot: AssistantApp, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT)
    await tg.user_send(student.user, "/lang")
    question = await tg.wait_for_bot_message(student.user.id)
    assert question.text == "您希望我用哪种语言？"
    assert [b["text"] for b in question.buttons[0]] == ["中文", "English"]

    query = await tg.user_press(student.user, question, question.button_data("English"))
    answer = await tg.wait_for_callback_answer(query)
    assert answer.text is None
    edited = await tg.wait_for_bot_message(student.user.id)
    assert edited.message_id == question.message_id
    assert edited.text == "Language set to English."
    assert tg.message(student.user.id, question.message_id).reply_markup is None
    assert "Your roles" not in await student.say("/help")  # now in English, no roles


async def test_a_stale_or_forged_button_is_refused_kindly(
    bot: AssistantApp, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    # A message whose button no handler knows any more, as one sent before an upgrade.
    old = await bot.bot.send_message(
        student.user.id,
        "old card",
        reply_markup=InlineKeyboardMarkup.from_button(
            InlineKeyboardButton("Approve", callback_data="apv:1:ok")
        ),
    )
    stale = tg.message(student.user.id, old.message_id)
    query = await tg.user_press(student.user, stale, "apv:1:ok")
    answer = await tg.wait_for_callback_answer(query)
    assert answer.text == "This button has expired; please send the command again."
    assert answer.show_alert


async def test_a_strangers_press_is_refused(
    bot: AssistantApp, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT)
    stranger = tg.add_user("Mallory", language_code="en")
    group = await tg.add_group("1号楼1层", [student.user, stranger])
    await tg.wait_for_bot_message(group.id)
    await tg.user_send(student.user, "/lang", group)
    question = await tg.wait_for_bot_message(group.id)
    query = await tg.user_press(stranger, question, question.button_data("English"))
    answer = await tg.wait_for_callback_answer(query)
    assert answer.text == "Please link your account with your invite link first."
    assert tg.message(group.id, question.message_id).text == "您希望我用哪种语言？"
    assert "用法" in await student.say("/lang xx")  # the student's language is unchanged


def test_codec_round_trip_and_limit() -> None:
    codec = CallbackCodec("apv", ("request", "action"))
    data = codec.pack(request=42, action="approve")
    assert data == "apv:42:approve"
    assert codec.unpack(data) == {"request": "42", "action": "approve"}
    assert codec.unpack("apv:42") is None
    assert codec.unpack("lang:en") is None
    for bad in ({"request": "x" * 64, "action": "a"}, {"request": "1:2", "action": "a"}):
        try:
            codec.pack(**bad)
        except CallbackDataError:
            continue
        raise AssertionError(f"{bad} should not pack")


@given(st.text(max_size=200))
def test_any_text_unpacks_or_is_none(data: str) -> None:
    fields = LANGUAGE.unpack(data)
    assert fields is None or LANGUAGE.pack(**fields) == data
    assert len(LANGUAGE.pack(code="en").encode()) <= MAX_BYTES

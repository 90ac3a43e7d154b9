"""The web chat's HTTP API: people, chats, sending, pressing, photos, documents, the event stream,
errors."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from assistant.sandbox import FakeChat, FakeTelegram, FakeUser
from assistant.sandbox.entities import JSONDict
from assistant.sandbox.webchat import SandboxPerson, Suggestion, WebChat, Words

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
Polling = Callable[[AnyApplication], AbstractAsyncContextManager[None]]

STUDENT = SandboxPerson(
    "2023010001",
    "郑博嘉",
    group=Words("学生", "Students"),
    label=Words("学生", "Student"),
    home=Words("1号楼301室", "Building 1 room 301"),
    terms="B1-3 | 1号楼3层 | Building 1 floor 3",
)
LEADER = SandboxPerson(
    "2022010007",
    "林晓",
    group=Words("层长", "Floor leaders"),
    label=Words("1号楼3层 层长", "Floor leader, Building 1 floor 3"),
    home=Words("1号楼302室", "Building 1 room 302"),
)


class FloorPeople:
    """Two residents of one floor, who share the floor's group chat with the bot."""

    def __init__(self, tg: FakeTelegram) -> None:
        self.tg = tg
        self.users: dict[str, FakeUser] = {}
        self.group: FakeChat | None = None

    async def list_people(self) -> list[SandboxPerson]:
        return [LEADER, STUDENT]

    async def suggestions(self) -> list[Suggestion]:
        return [Suggestion("report", STUDENT.key, "/report")]

    async def become(self, key: str) -> FakeUser:
        if not self.users:
            for person in (LEADER, STUDENT):
                self.users[person.key] = self.tg.add_user(person.name, language_code="zh-hans")
            self.group = await self.tg.add_group("1号楼 3层 B1-3", list(self.users.values()))
        return self.users[key]


class EventStream:
    """Reads the Server-Sent Events of one open response."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self, kind: str | None = None) -> JSONDict:
        """The next event (of ``kind``, skipping others); fails after 5 s."""
        async with asyncio.timeout(5):
            while True:
                line = await self.response.content.readline()
                if not line:
                    raise EOFError("the stream ended")
                if line.startswith(b"data: "):
                    event: JSONDict = json.loads(line[len(b"data: ") :])
                    if kind is None or event["type"] == kind:
                        return event


@pytest.fixture
def people(tg: FakeTelegram) -> FloorPeople:
    return FloorPeople(tg)


@pytest.fixture
async def http(tg: FakeTelegram, people: FloorPeople) -> AsyncIterator[aiohttp.ClientSession]:
    """A client of a running web chat (paths relative to it)."""
    webchat = WebChat(tg, people)
    url = await webchat.start(port=0)
    try:
        async with aiohttp.ClientSession(base_url=url) as session:
            yield session
    finally:
        await webchat.stop()


async def become(http: aiohttp.ClientSession, person: SandboxPerson) -> JSONDict:
    async with http.post(f"/api/people/{person.key}/become") as response:
        assert response.status == 200
        body: JSONDict = await response.json()
        return body


async def post(http: aiohttp.ClientSession, path: str, body: Any) -> tuple[int, JSONDict]:
    async with http.post(path, json=body) as response:
        return response.status, await response.json()


async def echo_bot(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.text is not None
    await update.message.reply_html(f"<b>echo</b> {update.message.text}")


async def choose_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    keyboard = InlineKeyboardMarkup.from_row(
        [
            InlineKeyboardButton("中文", callback_data="lang:zh"),
            InlineKeyboardButton("English", callback_data="lang:en"),
        ]
    )
    await update.message.reply_text("选择语言 / Choose a language", reply_markup=keyboard)


async def language_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("好的 / OK")
    await query.edit_message_text("Language set to English.")


@pytest.fixture
async def running_bot(app: AnyApplication, polling: Polling) -> AsyncIterator[None]:
    """A small bot: /lang shows two buttons, a press edits that message, other text is echoed."""
    app.add_handler(CommandHandler("lang", choose_language))
    app.add_handler(CallbackQueryHandler(language_chosen))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo_bot))
    async with polling(app):
        yield


async def test_the_page_and_its_files_are_served(http: aiohttp.ClientSession) -> None:
    async with http.get("/") as response:
        assert response.status == 200
        assert '<html lang="zh-CN">' in await response.text()
    for name in ("app.js", "style.css"):
        async with http.get(f"/static/{name}") as response:
            assert response.status == 200


async def test_people_are_listed_in_both_languages_with_what_to_try(
    http: aiohttp.ClientSession,
) -> None:
    async with http.get("/api/people") as response:
        assert response.status == 200
        body = await response.json()
    assert body["people"][1] == {
        "key": "2023010001",
        "name": "郑博嘉",
        "group": {"zh": "学生", "en": "Students"},
        "label": {"zh": "学生", "en": "Student"},
        "home": {"zh": "1号楼301室", "en": "Building 1 room 301"},
        "terms": "B1-3 | 1号楼3层 | Building 1 floor 3",
    }
    assert [p["key"] for p in body["people"]] == [LEADER.key, STUDENT.key]
    assert body["suggestions"] == [{"kind": "report", "key": STUDENT.key, "command": "/report"}]


async def test_becoming_a_person_gives_the_same_user_and_their_chats(
    tg: FakeTelegram, http: aiohttp.ClientSession, people: FloorPeople
) -> None:
    first = await become(http, STUDENT)
    again = await become(http, STUDENT)
    user = first["user"]
    assert again["user"] == user == {**people.users[STUDENT.key].to_json()}
    assert people.group is not None
    assert first["chats"] == [
        {"id": user["id"], "type": "private", "title": tg.bot.first_name},
        {"id": people.group.id, "type": "group", "title": "1号楼 3层 B1-3", "members": 3},
    ]
    async with http.get(f"/api/users/{user['id']}/chats") as response:
        assert (await response.json())["chats"] == first["chats"]


async def test_text_sent_on_the_page_reaches_the_bot(
    tg: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    user_id = (await become(http, STUDENT))["user"]["id"]
    status, body = await post(
        http, f"/api/users/{user_id}/chats/{user_id}/messages", {"text": "你好"}
    )
    assert status == 200 and body["message"]["text"] == "你好"
    [update] = [u for u in tg.pending_updates() if "message" in u]
    assert update["message"]["from"]["id"] == user_id
    assert update["message"]["text"] == "你好"
    async with http.get(f"/api/users/{user_id}/chats/{user_id}/messages") as response:
        assert [m["text"] for m in (await response.json())["messages"]] == ["你好"]


async def test_the_stream_shows_replies_presses_and_edits_in_place(
    tg: FakeTelegram, http: aiohttp.ClientSession, running_bot: None
) -> None:
    user_id = (await become(http, STUDENT))["user"]["id"]
    chat = f"/api/users/{user_id}/chats/{user_id}"
    async with http.get(f"/api/users/{user_id}/events") as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        events = EventStream(response)
        assert await events.next() == {"type": "ready"}

        await post(http, f"{chat}/messages", {"text": "早上好"})
        mine = await events.next("message")
        assert mine["message"]["from"]["id"] == user_id
        echo = await events.next("message")
        assert echo["chat_id"] == user_id
        assert echo["message"]["text"] == "echo 早上好"
        assert echo["message"]["entities"] == [{"type": "bold", "offset": 0, "length": 4}]

        await post(http, f"{chat}/messages", {"text": "/lang"})
        assert (await events.next("message"))["message"]["text"] == "/lang"
        offer = (await events.next("message"))["message"]
        assert [b["text"] for b in offer["reply_markup"]["inline_keyboard"][0]] == [
            "中文",
            "English",
        ]

        status, body = await post(
            http, f"{chat}/presses", {"message_id": offer["message_id"], "callback_data": "lang:en"}
        )
        assert status == 200 and body["callback_query_id"]
        answer = await events.next("callback_answer")
        assert answer["text"] == "好的 / OK"
        edit = await events.next("edit")
        assert edit["message"]["message_id"] == offer["message_id"]
        assert edit["message"]["text"] == "Language set to English."

    async with http.get(f"{chat}/messages") as response:
        messages = (await response.json())["messages"]
    assert [m["message_id"] for m in messages] == [1, 2, 3, 4]
    assert messages[3]["text"] == "Language set to English." and "edit_date" in messages[3]


async def test_the_stream_carries_only_the_persons_own_chats(
    tg: FakeTelegram, http: aiohttp.ClientSession, people: FloorPeople
) -> None:
    student_id = (await become(http, STUDENT))["user"]["id"]
    leader_id = (await become(http, LEADER))["user"]["id"]
    assert people.group is not None
    group_id = people.group.id
    async with http.get(f"/api/users/{student_id}/events") as response:
        events = EventStream(response)
        await events.next("ready")
        # The leader's private chat first: were it let through, it would come before the rest.
        await post(http, f"/api/users/{leader_id}/chats/{leader_id}/messages", {"text": "私聊"})
        await post(http, f"/api/users/{leader_id}/chats/{group_id}/messages", {"text": "大家好"})
        event = await events.next()
        assert event["type"] == "message" and event["chat_id"] == group_id
        assert event["message"]["text"] == "大家好"


async def test_photos_go_both_ways_and_files_download(
    tg: FakeTelegram,
    http: aiohttp.ClientSession,
    bot: Bot,
    png: Callable[[int, int], bytes],
) -> None:
    user_id = (await become(http, STUDENT))["user"]["id"]
    chat = f"/api/users/{user_id}/chats/{user_id}"
    image = png(8, 6)
    form = aiohttp.FormData()
    form.add_field("photo", image, filename="room.png", content_type="image/png")
    form.add_field("caption", "宿舍 *301*")
    async with http.post(f"{chat}/photos", data=form) as response:
        assert response.status == 200
        message = (await response.json())["message"]
    assert message["caption"] == "宿舍 *301*"
    assert (message["photo"][-1]["width"], message["photo"][-1]["height"]) == (8, 6)
    [update] = [u for u in tg.pending_updates() if "message" in u]
    assert update["message"]["photo"] == message["photo"]

    sent = await bot.send_photo(user_id, png(3, 3), caption="回复")
    async with http.get(f"/api/files/{sent.photo[-1].file_id}") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/png"
        assert await response.read() == png(3, 3)

    not_an_image = aiohttp.FormData()
    not_an_image.add_field("photo", b"hello", filename="a.txt", content_type="text/plain")
    async with http.post(f"{chat}/photos", data=not_an_image) as response:
        assert response.status == 400
        assert "not an image" in (await response.json())["error"]
    async with http.post(f"{chat}/photos", data={"caption": "no photo"}) as response:
        assert response.status == 400
    too_big = aiohttp.FormData()
    too_big.add_field("photo", io.BytesIO(image + bytes(10 * 1024 * 1024)), filename="big.png")
    async with http.post(f"{chat}/photos", data=too_big) as response:
        assert response.status == 413
        assert "error" in await response.json()


async def test_documents_show_their_name_and_size_and_download_as_sent(
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    user_id = (await become(http, STUDENT))["user"]["id"]
    chat = f"/api/users/{user_id}/chats/{user_id}"
    await post(http, f"{chat}/messages", {"text": "/start"})
    calendar = "BEGIN:VCALENDAR\r\nSUMMARY:党史知识竞赛\r\nEND:VCALENDAR\r\n".encode()
    sent = await bot.send_document(
        user_id, calendar, filename="活动日历 E-1.ics", caption="加入日历 / Add to calendar"
    )
    assert sent.document is not None
    assert (sent.document.file_name, sent.document.file_size) == ("活动日历 E-1.ics", len(calendar))
    assert sent.document.mime_type == "text/calendar"
    # Sent again by its file_id: the same file, name and all.
    again = await bot.send_document(user_id, sent.document.file_id)
    assert again.document == sent.document

    async with http.get(f"{chat}/messages") as response:
        shown = [m for m in (await response.json())["messages"] if "document" in m]
    assert [m["document"] for m in shown] == [sent.document.to_dict()] * 2
    assert shown[0]["caption"] == "加入日历 / Add to calendar" and "caption" not in shown[1]

    async with http.get(f"/api/files/{sent.document.file_id}") as response:
        assert response.status == 200
        assert await response.read() == calendar
        assert response.headers["Content-Type"] == "text/calendar"
        assert response.headers["Content-Disposition"] == (
            'attachment; filename="____ E-1.ics"; '
            "filename*=UTF-8''%E6%B4%BB%E5%8A%A8%E6%97%A5%E5%8E%86%20E-1.ics"
        )
        assert response.content_disposition is not None
        assert response.content_disposition.filename == "活动日历 E-1.ics"
    # Bytes that are no text at all come back unchanged too, under a name with a quote in it.
    table = bytes(range(256)) * 5
    sheet = await bot.send_document(user_id, table, filename='值班表 "B1".xlsx')
    assert sheet.document is not None
    async with http.get(f"/api/files/{sheet.document.file_id}") as response:
        assert await response.read() == table
        assert response.headers["Content-Type"] == (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        assert response.headers["Content-Disposition"].startswith(
            'attachment; filename="___ _B1_.xlsx"; '
        )
        assert response.content_disposition is not None
        assert response.content_disposition.filename == '值班表 "B1".xlsx'
    async with http.get("/api/files/BQACAgIAAxkBAAI999999") as response:
        assert response.status == 404
        assert await response.json() == {"error": "unknown file"}


async def test_mistakes_get_clear_json_errors(
    tg: FakeTelegram, http: aiohttp.ClientSession, people: FloorPeople
) -> None:
    async with http.post("/api/people/1999999999/become") as response:
        assert response.status == 404
        assert await response.json() == {"error": "unknown person 1999999999"}
    student_id = (await become(http, STUDENT))["user"]["id"]
    leader_id = people.users[LEADER.key].id
    own = f"/api/users/{student_id}/chats/{student_id}"
    expectations: list[tuple[str, str, object, int, str]] = [
        ("GET", "/api/users/42/chats", None, 404, "unknown user 42"),
        ("GET", "/api/users/abc/events", None, 404, "unknown user abc"),
        ("GET", f"/api/users/{student_id}/chats/{leader_id}/messages", None, 404, "is not one of"),
        ("POST", f"/api/users/{student_id}/chats/-5/messages", {"text": "x"}, 404, "is not one of"),
        ("POST", f"{own}/messages", {"text": "  "}, 400, "text must be a non-empty string"),
        ("POST", f"{own}/messages", [1], 400, "the body must be a JSON object"),
        ("POST", f"{own}/presses", {"message_id": "1"}, 400, "message_id"),
        ("POST", f"{own}/presses", {"message_id": 99, "callback_data": "x"}, 404, "message 99"),
        ("GET", "/api/files/nothing", None, 404, "unknown file"),
    ]
    for method, path, payload, status, error in expectations:
        async with http.request(method, path, json=payload) as response:
            assert response.status == status, path
            assert error in (await response.json())["error"], path

    await post(http, f"{own}/messages", {"text": "plain"})
    status, body = await post(http, f"{own}/presses", {"message_id": 1, "callback_data": "x"})
    assert status == 400 and "no button" in body["error"]


async def test_the_command_menu_is_the_one_the_person_sees(
    tg: FakeTelegram, http: aiohttp.ClientSession, bot: Bot
) -> None:
    user_id = (await become(http, STUDENT))["user"]["id"]
    await bot.set_my_commands([("help", "帮助 / help")])
    async with http.get(f"/api/users/{user_id}/chats/{user_id}/commands") as response:
        assert (await response.json())["commands"] == [
            {"command": "help", "description": "帮助 / help"}
        ]


async def test_stop_ends_open_streams(tg: FakeTelegram, people: FloorPeople) -> None:
    webchat = WebChat(tg, people)
    url = await webchat.start(port=0)
    user = await people.become(STUDENT.key)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{url}/api/users/{user.id}/events") as response,
    ):
        events = EventStream(response)
        await events.next("ready")
        await webchat.stop()
        with pytest.raises((EOFError, aiohttp.ClientPayloadError)):
            await events.next()


async def test_the_page_listens_on_loopback_only(tg: FakeTelegram, people: FloorPeople) -> None:
    with pytest.raises(ValueError, match="loopback"):
        await WebChat(tg, people).start("0.0.0.0", 0)

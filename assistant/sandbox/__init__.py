"""A faithful fake of Telegram's Bot API for tests, the web-chat sandbox and benchmarks.

One model, :class:`FakeTelegram`, with two faces: :class:`FakeRequest` plugs it into
python-telegram-bot in-process, :class:`FakeTelegramServer` serves it over HTTP (and delivers
webhooks). A test drives the real PTB Application and plays the residents::

    tg = FakeTelegram()
    app = (
        ApplicationBuilder()
        .token(tg.token)
        .request(FakeRequest(tg))
        .get_updates_request(FakeRequest(tg))
        .build()
    )
    ...  # add handlers, start the app and app.updater.start_polling()
    alice = tg.add_user("Alice", language_code="en")
    await tg.user_send(alice, "/start")
    reply = await tg.wait_for_bot_message(alice.id, timeout=5.0)
    query_id = await tg.user_press(alice, reply, reply.button_data("Laundry"))
    answer = await tg.wait_for_callback_answer(query_id)
"""

from assistant.sandbox.flood import FloodPolicy, ManualClock
from assistant.sandbox.model import FakeTelegram
from assistant.sandbox.request import FakeRequest
from assistant.sandbox.server import FakeTelegramServer
from assistant.sandbox.state import CallbackAnswer, FakeChat, FakeMessage, FakeUser, Upload

__all__ = [
    "CallbackAnswer",
    "FakeChat",
    "FakeMessage",
    "FakeRequest",
    "FakeTelegram",
    "FakeTelegramServer",
    "FakeUser",
    "FloodPolicy",
    "ManualClock",
    "Upload",
]

"""Flood limits on an injected clock, injected faults, and the call record."""

from __future__ import annotations

import asyncio
import datetime as dtm

import pytest
from telegram import Bot
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut

from assistant.sandbox import FakeTelegram
from assistant.sandbox.flood import ManualClock


async def started_users(tg: FakeTelegram, count: int) -> list[int]:
    ids = []
    for number in range(count):
        user = tg.add_user(f"Resident {number}")
        await tg.user_send(user, "hi")
        ids.append(user.id)
    return ids


@pytest.mark.usefixtures("timedelta_durations")
async def test_flood_limits_are_off_by_default(tg: FakeTelegram, bot: Bot) -> None:
    (chat_id,) = await started_users(tg, 1)
    for number in range(40):
        await bot.send_message(chat_id, f"message {number}")
    assert tg.rate_limited_count == 0


@pytest.mark.usefixtures("timedelta_durations")
async def test_private_chat_allows_a_burst_then_one_per_second(
    tg: FakeTelegram, bot: Bot, clock: ManualClock
) -> None:
    (chat_id,) = await started_users(tg, 1)
    tg.flood_limits = True
    for number in range(3):
        await bot.send_message(chat_id, f"burst {number}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(chat_id, "one too many")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    assert tg.rate_limited_count == 1
    assert tg.calls[-1].status == 429

    clock.advance(1)
    await bot.send_message(chat_id, "after waiting")
    with pytest.raises(RetryAfter):
        await bot.send_message(chat_id, "again too soon")
    status, envelope = await tg.call(tg.token, "sendMessage", {"chat_id": chat_id, "text": "x"})
    assert (status, envelope) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    )


@pytest.mark.usefixtures("timedelta_durations")
async def test_group_allows_twenty_messages_a_minute(
    tg: FakeTelegram, bot: Bot, clock: ManualClock
) -> None:
    tg.flood_limits = True
    group = await tg.add_group("Hall", [tg.add_user("Alice")])
    for number in range(20):
        await bot.send_message(group.id, f"notice {number}")
        clock.advance(1)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(group.id, "one too many")
    assert caught.value.retry_after == dtm.timedelta(seconds=40)
    clock.advance(40)
    await bot.send_message(group.id, "fits again")


@pytest.mark.usefixtures("timedelta_durations")
async def test_thirty_messages_a_second_overall(
    tg: FakeTelegram, bot: Bot, clock: ManualClock
) -> None:
    chat_ids = await started_users(tg, 31)
    tg.flood_limits = True
    for chat_id in chat_ids[:30]:
        await bot.send_message(chat_id, "broadcast")
    with pytest.raises(RetryAfter):
        await bot.send_message(chat_ids[30], "broadcast")
    clock.advance(1)
    await bot.send_message(chat_ids[30], "broadcast")


@pytest.mark.usefixtures("timedelta_durations")
async def test_injected_faults(tg: FakeTelegram, bot: Bot) -> None:
    alice, bob = await started_users(tg, 2)
    tg.inject_fault("sendMessage", "5xx")
    tg.inject_fault("SENDMESSAGE", "429", retry_after=7)
    tg.inject_fault("sendMessage", "403_blocked", count=2, chat_id=bob)

    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(alice, "1")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(alice, "2")
    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    await bot.send_message(alice, "3")
    for _ in range(2):
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(bob, "4")
    await bot.send_message(bob, "5")

    assert tg.rate_limited_count == 1
    sends = tg.calls_to("sendMessage")
    assert [call.status for call in sends] == [500, 429, 200, 403, 403, 200]
    assert [call.params["text"] for call in sends] == ["1", "2", "3", "4", "4", "5"]
    assert [m.text for m in tg.messages(alice)] == ["hi", "3"]


async def test_timeout_fault_never_answers(tg: FakeTelegram, bot: Bot) -> None:
    (alice,) = await started_users(tg, 1)
    tg.inject_fault("sendMessage", "timeout")
    with pytest.raises(TimedOut):
        await bot.send_message(alice, "lost", read_timeout=0.05)
    assert tg.calls[-1].status is None
    assert (await bot.send_message(alice, "delivered")).text == "delivered"


async def test_a_held_answer_reaches_the_bot_after_people_see_the_message(
    tg: FakeTelegram, bot: Bot
) -> None:
    alice, bob = await started_users(tg, 2)
    held = tg.hold("sendMessage", chat_id=alice)
    call = asyncio.create_task(bot.send_message(alice, "slow answer"))
    async with asyncio.timeout(5):
        await held.reached.wait()
    assert (await tg.wait_for_bot_message(alice)).text == "slow answer"
    # Other chats and other methods are not held.
    assert (await bot.send_message(bob, "quick")).text == "quick"
    assert not call.done()
    held.release()
    async with asyncio.timeout(5):
        assert (await call).text == "slow answer"
    assert (await bot.send_message(alice, "after")).text == "after"


async def test_waiting_for_the_bot_times_out_without_output(tg: FakeTelegram, bot: Bot) -> None:
    (alice,) = await started_users(tg, 1)
    with pytest.raises(TimeoutError, match="sent nothing"):
        await tg.wait_for_bot_message(alice, timeout=0.05)
    await bot.send_message(alice, "first")
    await bot.send_message(alice, "second")
    second = await tg.wait_for_bot_message(alice, predicate=lambda m: m.text == "second")
    assert second.text == "second"
    assert [m.text for m in tg.pending_bot_messages(alice)] == ["first"]
    assert (await tg.wait_for_bot_message(alice)).text == "first"


async def test_events_stream_to_subscribers(tg: FakeTelegram, bot: Bot) -> None:
    events = tg.subscribe()
    alice = tg.add_user("Alice")
    said = await tg.user_send(alice, "hello")
    sent = await bot.send_message(alice.id, "hi")
    await bot.edit_message_text("hi!", alice.id, sent.message_id)
    await bot.delete_message(alice.id, said.message_id)
    tg.unsubscribe(events)
    await tg.user_send(alice, "unseen")

    kinds = []
    while not events.empty():
        kinds.append(events.get_nowait()["type"])
    assert kinds == ["message", "update", "message", "edit", "delete"]

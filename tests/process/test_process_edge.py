"""The bot as a real process: kill -9 under load, repeated deliveries, and Telegram's refusals.

Effects are counted in the store: every handled update leaves exactly one reply row in the
outbox, committed with the update's "done" mark, so a lost update shows as a missing row and a
doubly handled one as an extra row.
"""

from __future__ import annotations

import asyncio
import random
import sys

import pytest
from sqlalchemy import func, select

from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeUser
from assistant.storage.db import Database
from assistant.storage.models import InboxStatus, InboxUpdate, OutboxMessage, OutboxStatus
from tests.process.conftest import BotProcess, Residents, free_port

USERS = 50
PER_USER = 10
IN_FLIGHT = 100
KILLS = 3
IN_FLIGHT_SLACK = 0.1  # seconds a call may have been travelling when the 429 was answered
CLAIM_BATCH = 64  # rows one sender holds at most: the most a kill can leave unrecorded


def replies(tg: FakeTelegram, users: list[FakeUser]) -> dict[int, int]:
    """How many bot messages each user has received."""
    return {u.id: sum(1 for m in tg.messages(u.id) if m.sender.is_bot) for u in users}


def answered(tg: FakeTelegram, users: list[FakeUser]) -> int:
    """Users' updates answered so far, counting each user's replies at most once per update."""
    return sum(replies(tg, users).values())


async def until_answered(tg: FakeTelegram, users: list[FakeUser], count: int) -> None:
    """Wait until the users' updates have ``count`` answers in all."""
    await tg.wait_until(lambda: answered(tg, users) >= count, timeout=120)


async def feed(tg: FakeTelegram, users: list[FakeUser], rounds: int) -> None:
    """Every user sends /me ``rounds`` times, keeping at most IN_FLIGHT unanswered."""
    sent = 0
    for _ in range(rounds):
        for user in users:
            await tg.user_send(user, "/me")
            sent += 1
            if sent % 10 == 0:
                await until_answered(tg, users, sent - IN_FLIGHT)


async def store_counts(
    db: Database,
) -> tuple[dict[InboxStatus, int], dict[int, int], dict[OutboxStatus, int]]:
    """(inbox rows by state, outbox rows per chat, outbox rows by state)."""
    async with db.unit_of_work() as session:
        by_state = await session.execute(
            select(InboxUpdate.status, func.count()).group_by(InboxUpdate.status)
        )
        inbox = {state: count for state, count in by_state.all()}
        by_chat = await session.execute(
            select(OutboxMessage.chat_id, func.count()).group_by(OutboxMessage.chat_id)
        )
        per_chat = {chat: count for chat, count in by_chat.all()}
        by_outcome = await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        states = {state: count for state, count in by_outcome.all()}
    return inbox, per_chat, states


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_kill_9_under_load_loses_and_doubles_nothing(
    mode: str, bot_process: BotProcess, residents: Residents, db: Database
) -> None:
    tg = bot_process.tg
    users = await residents(USERS)
    if mode == "webhook":
        port = free_port()
        bot_process.env.update(
            ASSISTANT_WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram",
            ASSISTANT_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
        )
    total = USERS * PER_USER
    rng = random.Random(f"kill-9-{mode}")
    await bot_process.start()
    feeder = asyncio.create_task(feed(tg, users, PER_USER))
    for mark in sorted(rng.sample(range(20, total - 20), KILLS)):
        await until_answered(tg, users, mark)
        await bot_process.kill()
        await bot_process.start()
    await feeder
    await tg.wait_until(
        lambda: all(n >= PER_USER for n in replies(tg, users).values()), timeout=180
    )
    assert await bot_process.terminate() == 0, bot_process.stderr()

    inbox, per_chat, states = await store_counts(db)
    assert inbox == {InboxStatus.DONE: total}
    assert per_chat == {u.id: PER_USER for u in users}
    # Rows a killed sender had sent but not yet recorded stay claimed until their lease ends and
    # are then sent again: replies are delivered at least once, and each kill can repeat a few.
    assert set(states) <= {OutboxStatus.SENT, OutboxStatus.SENDING}
    assert states[OutboxStatus.SENT] + states.get(OutboxStatus.SENDING, 0) == total
    assert answered(tg, users) - total <= CLAIM_BATCH * KILLS


async def test_every_update_delivered_twice_has_one_effect(
    bot_process: BotProcess, residents: Residents, db: Database
) -> None:
    tg = bot_process.tg
    tg.duplicate_deliveries = True
    users = await residents(10)
    await bot_process.start()
    for _ in range(10):
        for user in users:
            await tg.user_send(user, "/me")
    await tg.wait_until(lambda: all(n >= 10 for n in replies(tg, users).values()), timeout=60)
    await tg.wait_until(lambda: not tg.state.updates and not tg.state.redeliveries, timeout=30)
    assert await bot_process.terminate() == 0, bot_process.stderr()

    inbox, per_chat, states = await store_counts(db)
    assert inbox == {InboxStatus.DONE: 100}
    assert per_chat == {u.id: 10 for u in users}
    assert states == {OutboxStatus.SENT: 100}
    assert replies(tg, users) == {u.id: 10 for u in users}


async def test_429_403_and_5xx_lose_nothing_and_report_the_blocked(
    bot_process: BotProcess, residents: Residents, db: Database
) -> None:
    tg = bot_process.tg
    users = await residents(10)
    blocked, others = users[-1], users[:-1]
    tg.inject_fault("sendMessage", "403_blocked", chat_id=blocked.id, count=100)
    tg.inject_fault("sendMessage", "429", retry_after=2)
    tg.inject_fault("sendMessage", "5xx", count=3)
    await bot_process.start()
    for _ in range(3):
        for user in users:
            await tg.user_send(user, "/me")
    await tg.wait_until(lambda: all(n >= 3 for n in replies(tg, others).values()), timeout=60)
    await tg.wait_until(
        lambda: sum(c.status == 403 for c in tg.calls_to("sendMessage")) == 3, timeout=30
    )
    assert await bot_process.terminate() == 0, bot_process.stderr()

    assert replies(tg, others) == {u.id: 3 for u in others}
    sends = tg.calls_to("sendMessage")
    halt = next(c.time for c in sends if c.status == 429)
    # A call already on its way when the 429 was answered is not one sent during the halt.
    during = [c for c in sends if halt + IN_FLIGHT_SLACK < c.time < halt + 2]
    assert during == [], [(round(c.time - halt, 3), c.status) for c in sends]
    inbox, per_chat, _ = await store_counts(db)
    assert inbox == {InboxStatus.DONE: 30}
    assert per_chat == {u.id: 3 for u in users}
    async with db.unit_of_work() as session:
        states = (
            await session.scalars(
                select(OutboxMessage.status).where(OutboxMessage.chat_id == blocked.id)
            )
        ).all()
    assert states == [OutboxStatus.UNREACHABLE] * 3

    report = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "assistant",
        "outbox",
        env=bot_process.env,
        cwd=bot_process.cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    said, _ = await report.communicate()
    assert report.returncode == 0
    assert f"unreachable {blocked.id} {blocked.first_name}" in said.decode()


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_revoked_token_ends_the_run_with_one_line_and_loses_nothing(
    mode: str, bot_process: BotProcess, residents: Residents
) -> None:
    tg = bot_process.tg
    [user] = await residents(1)
    if mode == "webhook":
        port = free_port()
        bot_process.env.update(
            ASSISTANT_WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram",
            ASSISTANT_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
        )
    await bot_process.start()
    revoked = tg.token
    tg.on_call("sendMessage", tg.revoke_token, chat_id=user.id)
    await tg.user_send(user, "/me")
    assert await bot_process.exited() == 1
    said = bot_process.stderr()
    lines = said.strip().splitlines()
    assert lines[-1].startswith("assistant: Telegram refused the bot token (401 Unauthorized)")
    # That one line says it all: no other complaint, no traceback.
    assert said.count("refused the bot token") == 1
    # (The start-up warnings about the rule files, such as a year without holidays, are not
    # about the token.)
    complaints = [line for line in lines if " WARNING " in line or " ERROR " in line]
    assert [line for line in complaints if "rules/" not in line] == [], said
    assert "Traceback" not in said
    # The token is a secret: neither the old one nor the new one is printed.
    assert revoked.split(":")[1] not in said and tg.token.split(":")[1] not in said
    assert tg.messages(user.id)[-1].sender.is_bot is False

    # Started again with the revoked token, it is refused at once, the same way.
    again = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "assistant",
        "run",
        env=bot_process.env,
        cwd=bot_process.cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, refused = await again.communicate()
    assert again.returncode == 1
    assert refused.decode().strip().splitlines()[-1] == lines[-1]
    assert revoked.split(":")[1] not in refused.decode()

    bot_process.env["TELEGRAM_BOT_TOKEN"] = tg.token
    await bot_process.start()
    answer = await tg.wait_for_bot_message(user.id, timeout=30)
    assert answer.text is not None and user.first_name in answer.text
    assert await bot_process.terminate() == 0, bot_process.stderr()

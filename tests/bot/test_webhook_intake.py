"""The webhook endpoint stores an update before it answers 200, and only Telegram's."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from assistant.bot.intake import WebhookIntake
from assistant.storage.db import Database
from assistant.storage.models import InboxUpdate
from tests.bot.conftest import Clock

SECRET = "s3cret_token-for-tests"
UPDATE = {
    "update_id": 77,
    "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}},
}


async def stored(db: Database) -> list[int]:
    async with db.unit_of_work() as session:
        return list((await session.scalars(select(InboxUpdate.update_id))).all())


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, UPDATE, 403),
        ({"X-Telegram-Bot-Api-Secret-Token": "wrong"}, UPDATE, 403),
        ({"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1]}, UPDATE, 403),
        ({"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "text/plain"}, UPDATE, 403),
        ({"X-Telegram-Bot-Api-Secret-Token": SECRET}, "not json", 400),
        ({"X-Telegram-Bot-Api-Secret-Token": SECRET}, {"no": "update_id"}, 400),
    ],
)
async def test_refused_deliveries_store_nothing(
    db: Database, clock: Clock, headers: dict[str, str], body: object, status: int
) -> None:
    kicks: list[None] = []
    intake = WebhookIntake(db, clock, lambda: kicks.append(None), secret=SECRET, path="/tg")
    url = await intake.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as client:
            if isinstance(body, str):
                sent = client.post(
                    url, data=body, headers={"Content-Type": "application/json", **headers}
                )
            elif "Content-Type" in headers:
                sent = client.post(url, data=str(body), headers=headers)
            else:
                sent = client.post(url, json=body, headers=headers)
            async with sent as answer:
                assert answer.status == status
    finally:
        await intake.stop()
    assert await stored(db) == []
    assert kicks == []


async def test_a_delivery_is_stored_once_then_acknowledged(db: Database, clock: Clock) -> None:
    kicks: list[None] = []
    intake = WebhookIntake(db, clock, lambda: kicks.append(None), secret=SECRET, path="/tg")
    url = await intake.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as client:
            for _ in range(2):
                async with client.post(
                    url, json=UPDATE, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                ) as answer:
                    assert answer.status == 200
    finally:
        await intake.stop()
    assert await stored(db) == [77]
    assert len(kicks) == 2

"""Outbox statements that touch many rows never wait on each other in a cycle."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from assistant.storage import outbox
from assistant.storage.db import Database
from assistant.storage.models import OutboxMessage, Priority

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=15)


async def claimed_rows(db: Database, count: int) -> list[int]:
    """``count`` outbox rows claimed by a sender, as they are while it sends them."""
    async with db.unit_of_work() as session:
        rows = [
            outbox.enqueue(
                session, 100 + n, "sendMessage", {"text": "hi"}, priority=Priority.BULK, now=NOW
            )
            for n in range(count)
        ]
        outbox.claim(rows, now=NOW, lease=LEASE)
        await session.flush()
        return [row.id for row in rows]


async def leases(db: Database, ids: list[int]) -> dict[int, datetime | None]:
    async with db.unit_of_work() as session:
        result = await session.execute(
            select(OutboxMessage.id, OutboxMessage.claimed_until).where(OutboxMessage.id.in_(ids))
        )
        return {row_id: until for row_id, until in result.all()}


async def test_renewing_extends_every_held_row(db: Database) -> None:
    ids = await claimed_rows(db, 3)
    later = NOW + 2 * LEASE
    async with db.unit_of_work() as session:
        await outbox.renew(session, ids[:2], until=later)
    assert await leases(db, ids) == {ids[0]: later, ids[1]: later, ids[2]: NOW + LEASE}


async def test_renewing_skips_a_row_being_recorded_instead_of_waiting(db: Database) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer and no row locks")
    recorded, other = await claimed_rows(db, 2)
    later = NOW + 2 * LEASE
    async with db.unit_of_work() as recording:
        # The sender's record holds this row until it commits.
        await recording.execute(
            select(OutboxMessage.id).where(OutboxMessage.id == recorded).with_for_update()
        )
        async with asyncio.timeout(10), db.unit_of_work() as session:
            await outbox.renew(session, [recorded, other], until=later)
    assert await leases(db, [recorded, other]) == {recorded: NOW + LEASE, other: later}


async def test_a_sender_does_not_claim_again_the_rows_it_still_holds(db: Database) -> None:
    ids = await claimed_rows(db, 3)
    # Past the lease: rows whose sender died are due again, but not to the sender holding them.
    later = NOW + 2 * LEASE
    async with db.unit_of_work() as session:
        again = await outbox.claim_due(session, limit=10, now=later, lease=LEASE, held={ids[0]})
    assert sorted(row.id for row in again) == ids[1:]

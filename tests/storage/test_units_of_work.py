"""Units of work on either store: statements, errors, rollbacks, and the busy ones' turns."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from assistant.storage import inbox
from assistant.storage.db import Database, defer
from assistant.storage.models import InboxStatus, InboxUpdate

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def update_payload(update_id: int) -> dict[str, object]:
    return {"update_id": update_id, "message": {"chat": {"id": 7}, "text": f"hi {update_id}"}}


async def stored(db: Database) -> int:
    async with db.unit_of_work() as session:
        return await session.scalar(select(func.count()).select_from(InboxUpdate)) or 0


async def test_rows_written_and_read_back_in_one_unit(db: Database) -> None:
    async with db.unit_of_work() as session:
        new = await inbox.store(session, [update_payload(n) for n in range(1, 6)], NOW)
        # RETURNING: the inserted ids come back with the insert.
        assert [s.update_id for s in new] == [1, 2, 3, 4, 5]
        again = await inbox.store(session, [update_payload(5), update_payload(6)], NOW)
        assert [s.update_id for s in again] == [6]
        # One statement for many rows, each with its own parameters.
        await session.execute(
            update(InboxUpdate), [{"update_id": n, "attempts": n} for n in (2, 4)]
        )
    async with db.unit_of_work() as session:
        rows = await session.execute(select(InboxUpdate.update_id, InboxUpdate.attempts))
        assert dict(rows.all()) == {1: 0, 2: 2, 3: 0, 4: 4, 5: 0, 6: 0}


async def test_deferred_work_is_done_together_before_the_commit(db: Database) -> None:
    """Items deferred under one key are settled in one call, in order, keys in the order
    first deferred; what settling writes commits with the rest, and a failing settle rolls
    the whole unit back."""
    calls: list[list[int]] = []

    async def store_all(items: list[int]) -> None:
        calls.append(items)
        await inbox.store(session, [update_payload(n) for n in items], NOW)

    async with db.unit_of_work() as session:
        for n, key in ((3, "b"), (1, "a"), (4, "b"), (2, "a")):
            defer(session, key, store_all, n)
        assert calls == []
    assert calls == [[3, 4], [1, 2]]
    assert await stored(db) == 4

    async def fail(items: list[int]) -> None:
        await inbox.store(session, [update_payload(9)], NOW)
        raise RuntimeError("settling failed")

    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as session:
            defer(session, "c", fail, 0)
    assert await stored(db) == 4


async def test_a_failed_unit_leaves_nothing_and_the_store_goes_on(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            await inbox.store(session, [update_payload(1)], NOW)
            session.add(
                InboxUpdate(
                    update_id=1,
                    payload={},
                    status=InboxStatus.PENDING,
                    attempts=0,
                    received_at=NOW,
                )
            )
            await session.flush()
    assert await stored(db) == 0
    async with db.unit_of_work() as session:
        await inbox.store(session, [update_payload(2)], NOW)
    assert await stored(db) == 1


async def test_busy_units_take_turns_on_sqlite_only(db: Database) -> None:
    first_open = asyncio.Event()
    release_first = asyncio.Event()
    second_in = asyncio.Event()

    async def first() -> None:
        async with db.unit_of_work(busy=True) as session:
            await inbox.store(session, [update_payload(1)], NOW)
            first_open.set()
            await release_first.wait()

    async def second() -> None:
        async with db.unit_of_work(busy=True) as session:
            second_in.set()
            await inbox.store(session, [update_payload(2)], NOW)

    async with asyncio.timeout(10), asyncio.TaskGroup() as tasks:
        tasks.create_task(first())
        await first_open.wait()
        tasks.create_task(second())
        if db.engine.dialect.name == "sqlite":
            # A round trip to the store gives the second every chance to start; it waits
            # for its turn instead of for SQLite's write lock.
            async with db.unit_of_work() as session:
                await session.scalar(select(func.count()).select_from(InboxUpdate))
            assert not second_in.is_set()
        else:
            await second_in.wait()
        release_first.set()
    assert await stored(db) == 2


async def test_a_writer_finding_the_lock_taken_waits_without_holding_up_the_loop(
    db: Database,
) -> None:
    first_open = asyncio.Event()
    release_first = asyncio.Event()
    second_done = asyncio.Event()

    async def first() -> None:
        async with db.unit_of_work() as session:
            await inbox.store(session, [update_payload(1)], NOW)
            first_open.set()
            await release_first.wait()

    async def second() -> None:
        async with db.unit_of_work() as session:
            await inbox.store(session, [update_payload(2)], NOW)
        second_done.set()

    async with asyncio.timeout(10), asyncio.TaskGroup() as tasks:
        tasks.create_task(first())
        await first_open.wait()
        tasks.create_task(second())
        # The loop goes on while the second writes: this read gets its answer, without the
        # first's row (not committed). On PostgreSQL the second's may be committed already.
        async with db.unit_of_work() as session:
            first_row = (
                select(func.count()).select_from(InboxUpdate).where(InboxUpdate.update_id == 1)
            )
            assert await session.scalar(first_row) == 0
        if db.engine.dialect.name == "sqlite":
            # SQLite has one writer: the second waits for the first's lock, and does not fail.
            assert not second_done.is_set()
        release_first.set()
    assert second_done.is_set()
    assert await stored(db) == 2

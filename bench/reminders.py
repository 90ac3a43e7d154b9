"""Benchmark the durable scheduler: 1,000 reminders due in the same second, and re-arming
100,000 future firings at start.

    python bench/reminders.py [--reminders 1000] [--future 100000] [--database-url URL]

On a fresh database with the demo campus (SQLite by default; a PostgreSQL URL names a server,
where a database of our own is created and dropped), 150 residents are linked to Telegram and
1,000 ``message`` firings (the reminder template, one resident each) are planned due at the same
instant, 2 s ahead. The real ``Scheduler`` with the shipped handlers runs on the wall clock; each
firing's lateness runs from its ``due_at`` to the commit of the transaction that fired it (and
queued its outbox message). As a baseline measured in the same run, 1,000 bare ``loop.call_at``
callbacks due at one instant give the event loop's own lateness on this machine.

Then 100,000 firings due over the next 60 days are planned (timed: the bulk insert), and a new
scheduler starts as after a restart: re-arming is its first pass plus reading when the next
firing is due, timed from its creation until it is waiting for that firing.

Exits with status 1 unless every reminder fired, the p99 lateness is under 1 s and re-arming
takes under 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from broadcast import demo_store, link_residents, percentile, quiet_logging, shown
from sqlalchemy import func, select

from assistant.config import load_settings
from assistant.rules import load_rules
from assistant.sandbox import FakeTelegram
from assistant.schedule import Scheduler, firings
from assistant.services import admins, catalog
from assistant.storage import repo
from assistant.storage.db import Database
from assistant.storage.models import Firing, FiringStatus, TelegramAccount
from assistant.texts import Texts

MAX_P99_SECONDS = 1.0
MAX_REARM_SECONDS = 5.0
RESIDENTS = 150
LEAD = timedelta(seconds=2)


def now() -> datetime:
    return datetime.now(UTC)


def scheduler(db: Database, on_committed: Callable[[], None]) -> Scheduler:
    """The real scheduler with the shipped handlers, on the wall clock."""
    settings = load_settings()
    texts = Texts(settings.conversations_dir)
    rules = load_rules(settings.rules_dir, timezone=settings.tz)
    handlers = catalog.services(rules, texts, settings.language, settings.tz).firings
    report = admins.firings_failed(texts, settings.language)
    return Scheduler(db, now, handlers, on_committed, report=report)


async def baseline_lateness(count: int) -> list[float]:
    """Lateness of ``count`` bare event-loop timers due at the same instant."""
    loop = asyncio.get_running_loop()
    due = loop.time() + LEAD.total_seconds()
    late: list[float] = []
    done = asyncio.Event()

    def fire() -> None:
        late.append(loop.time() - due)
        if len(late) == count:
            done.set()

    for _ in range(count):
        loop.call_at(due, fire)
    await done.wait()
    return late


async def reminders_lateness(db: Database, count: int) -> tuple[int, list[float]]:
    """Plan ``count`` reminders due at one instant, run the scheduler; (fired, lateness)."""
    async with db.unit_of_work() as session:
        people = list(await session.scalars(select(TelegramAccount.person_id)))
        due = now() + LEAD
        await firings.plan(
            session,
            [
                {
                    "key": f"bench:{i}",
                    "kind": "message",
                    "due_at": due,
                    "payload": {
                        "template": "reminder_note",
                        "variables": {"note": f"bench reminder {i}"},
                        "person_ids": [people[i % len(people)]],
                    },
                }
                for i in range(count)
            ],
            now=now(),
        )
    # When each batch's transaction committed: its reminders are queued from then on.
    commits: list[datetime] = []
    running = scheduler(db, lambda: commits.append(now()))
    running.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            async with db.unit_of_work() as session:
                fired = await session.scalar(
                    select(func.count())
                    .select_from(Firing)
                    .where(Firing.status == FiringStatus.FIRED, Firing.key.like("bench:%"))
                )
            if fired == count:
                break
            await asyncio.sleep(0.2)
    finally:
        await running.stop()
    async with db.unit_of_work() as session:
        rows = (
            await session.execute(
                select(Firing.due_at, Firing.fired_at).where(
                    Firing.status == FiringStatus.FIRED, Firing.key.like("bench:%")
                )
            )
        ).all()
    # A batch's firings share the time its pass began; the n-th batch committed n-th.
    committed = dict(zip(sorted({fired for _, fired in rows}), commits, strict=True))
    return len(rows), [(committed[fired] - due).total_seconds() for due, fired in rows]


async def rearm(db: Database, count: int) -> tuple[float, float]:
    """Plan ``count`` future firings; (seconds to plan, seconds for a new scheduler to arm)."""
    async with db.unit_of_work() as session:
        student = await session.scalar(select(TelegramAccount.person_id))
    start = now()
    rows = [
        {
            "key": f"future:{i}",
            "kind": "message",
            "due_at": start + timedelta(days=1) + timedelta(seconds=i * 50),
            "payload": {
                "template": "reminder_note",
                "variables": {"note": "later"},
                "person_ids": [student],
            },
        }
        for i in range(count)
    ]
    began = time.perf_counter()
    async with db.unit_of_work() as session:
        await firings.plan(session, rows, now=start)
    planned = time.perf_counter() - began
    began = time.perf_counter()
    fresh = scheduler(db, lambda: None)
    done = await fresh.run_due()
    assert done.fired == 0, "nothing is due yet"
    pause = await fresh._pause()
    armed = time.perf_counter() - began
    assert pause > 0
    return planned, armed


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reminders", type=int, default=1000)
    parser.add_argument("--future", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    quiet_logging()
    with tempfile.TemporaryDirectory() as folder:
        async with demo_store(args.database_url, Path(folder)) as db:
            await link_residents(db, FakeTelegram(), RESIDENTS)
            async with db.unit_of_work() as session:
                assert await repo.listings(session)
            base = await baseline_lateness(args.reminders)
            fired, late = await reminders_lateness(db, args.reminders)
            planned, armed = await rearm(db, args.future)
            print(f"database: {shown(db.url)}")
    p99 = percentile(late, 0.99) if late else float("inf")
    print(f"reminders due in the same second: {args.reminders}, fired: {fired}")
    print(
        f"lateness: p50 {percentile(late, 0.5):.3f} s, p99 {p99:.3f} s, max {max(late):.3f} s"
        if late
        else "lateness: none fired"
    )
    print(
        f"baseline (bare loop.call_at x{args.reminders}): p99 {percentile(base, 0.99):.4f} s, "
        f"max {max(base):.4f} s"
    )
    print(f"planning {args.future} future firings: {planned:.2f} s")
    print(f"re-arming {args.future} future firings at start: {armed:.3f} s")
    ok = fired == args.reminders and p99 < MAX_P99_SECONDS and armed < MAX_REARM_SECONDS
    print("ok" if ok else "FAILED: a figure is over its limit")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))

"""Benchmark intake: updates handled per second, end to end, beside a bare python-telegram-bot.

    python bench/intake.py [--updates 2000] [--users 50] [--database-url URL ...]

Both bots long-poll the sandbox's fake Telegram over HTTP (flood limits off). Each time, the fake
gets all the updates at once ("bench N" texts from ``--users`` people in turn), and the clock runs
from then until the last one is handled:

* ours: ``build_application`` + ``running`` on a fresh database with the demo campus and the
  people linked to residents; one extra handler, first in group 0 (after the access gate), writes
  one audit row per update in the update's unit of work and answers nothing. Handled means
  committed; a COUNT of the rows confirms it.
* echo: ``ApplicationBuilder`` with a MessageHandler that answers every text with reply_text and
  ``updater.start_polling``; handled means the fake has the echo.

The echo bot runs right after ours against a fresh fake, once per database, so each ratio
compares two measurements taken on an equally busy machine. Databases: a new SQLite file, plus
each ``--database-url`` (for PostgreSQL a database of the benchmark's own is created on that server
and dropped at the end). Only prints figures; exits non-zero only if something breaks.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The store, the fake Telegram and the residents are set up as for the broadcast benchmark.
from broadcast import (
    Deliveries,
    bot_deps,
    demo_store,
    fake_telegram,
    link_residents,
    quiet_logging,
    shown,
)
from sqlalchemy import func, select
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from assistant.app import build_application, running
from assistant.bot.context import BotContext
from assistant.sandbox import FakeTelegram, FakeUser
from assistant.storage.db import Database
from assistant.storage.models import AuditEntry

ACTION = "bench_intake"
# Far beyond any plausible run; reaching it means the bot stopped handling updates.
HANDLED_TIMEOUT = 300.0
POLL_TIMEOUT = 10.0


@dataclass
class Measurement:
    """How many updates a bot handled and how long it took."""

    updates: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Updates handled per second."""
        return self.updates / self.seconds


class Committed:
    """The extra handler of our bot: one audit row per update, counted once it is committed."""

    def __init__(self, tg: FakeTelegram, target: int) -> None:
        self._clock = tg.state.clock
        self._target = target
        self.count = 0
        self.finished_at = 0.0
        self.done = asyncio.Event()

    async def record(self, update: Update, context: BotContext) -> None:
        """Add the row to the update's unit of work; count it after the commit."""
        actor = context.actor
        context.session.add(
            AuditEntry(
                at=context.now(),
                actor_person_id=actor.person_id if actor else None,
                action=ACTION,
                detail={"update_id": update.update_id},
            )
        )
        context.after_commit(self._committed)

    async def _committed(self) -> None:
        self.count += 1
        if self.count == self._target:
            self.finished_at = self._clock()
            self.done.set()


async def send_all(tg: FakeTelegram, people: list[FakeUser], updates: int) -> float:
    """Queue ``updates`` texts in the fake, the people taking turns; the fake's time after."""
    for n in range(updates):
        await tg.user_send(people[n % len(people)], f"bench {n}")
    return tg.state.clock()


async def polling(tg: FakeTelegram) -> None:
    """Wait until the bot's first getUpdates has reached the fake."""
    await tg.wait_until(lambda: bool(tg.calls_to("getUpdates")), timeout=POLL_TIMEOUT)


async def audit_rows(db: Database) -> int:
    """How many rows the extra handler has committed."""
    async with db.unit_of_work() as session:
        rows = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == ACTION)
        )
    return rows or 0


async def measure_ours(
    database_url: str | None, folder: Path, updates: int, users: int
) -> Measurement:
    """Our bot on a fresh database: updates handled (committed) per second."""
    async with demo_store(database_url, folder) as db, fake_telegram(flood_limits=False) as server:
        tg = server.tg
        residents = await link_residents(db, tg, users)
        application = build_application(bot_deps(db, server), token=tg.token)
        committed = Committed(tg, updates)
        # First in group 0: the access gate (group -1) still runs; no other handler answers.
        handler = MessageHandler(filters.Regex("^bench "), committed.record)
        application.handlers[0].insert(0, handler)
        async with running(application):
            await polling(tg)
            started = await send_all(tg, residents, updates)
            try:
                await asyncio.wait_for(committed.done.wait(), HANDLED_TIMEOUT)
            except TimeoutError:
                raise RuntimeError(
                    f"our bot handled {committed.count} of {updates} in {HANDLED_TIMEOUT:.0f} s"
                ) from None
        rows = await audit_rows(db)
        answered = len(tg.calls_to("sendMessage"))
    if rows != updates or answered:
        raise RuntimeError(f"expected {updates} rows and no answer: {rows} rows, {answered} sent")
    return Measurement(updates, committed.finished_at - started)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a text with the same text."""
    message = update.effective_message
    if message is not None and message.text is not None:
        await message.reply_text(message.text)


async def echoed_all(tg: FakeTelegram, echoed: Deliveries, updates: int) -> None:
    """Wait until the fake has accepted an echo of every update."""
    try:
        await tg.wait_until(lambda: echoed.count() >= updates, timeout=HANDLED_TIMEOUT)
    except TimeoutError:
        raise RuntimeError(
            f"the echo bot handled {echoed.count()} of {updates} in {HANDLED_TIMEOUT:.0f} s"
        ) from None


async def measure_echo(updates: int, users: int) -> Measurement:
    """A bare python-telegram-bot echo bot: updates handled (echoed) per second."""
    async with fake_telegram(flood_limits=False) as server:
        tg = server.tg
        people = [tg.add_user(f"Resident {n}") for n in range(users)]
        application = (
            ApplicationBuilder()
            .token(tg.token)
            .base_url(server.api_url)
            .base_file_url(server.file_url)
            .build()
        )
        application.add_handler(MessageHandler(filters.TEXT, echo))
        echoed = Deliveries(tg)
        async with application:
            await application.start()
            assert application.updater is not None, "ApplicationBuilder makes one"
            await application.updater.start_polling()
            try:
                await polling(tg)
                started = await send_all(tg, people, updates)
                await echoed_all(tg, echoed, updates)
            finally:
                await application.updater.stop()
                await application.stop()
    return Measurement(updates, echoed.times[-1] - started)


def show(label: str, measured: Measurement) -> None:
    """Print one bot's figure."""
    print(
        f"{label:<44} {measured.updates} updates in {measured.seconds:6.2f} s  "
        f"{measured.per_second:8.1f} updates/s"
    )


async def run(updates: int, users: int, database_urls: list[str]) -> None:
    """Measure both bots once per database and print the figures."""
    print(f"updates: {updates} from {users} people, all queued at once")
    with tempfile.TemporaryDirectory(prefix="intake-") as tmp:
        for url in [None, *database_urls]:
            print(f"database: {shown(url) if url else 'a new SQLite file'}")
            ours = await measure_ours(url, Path(tmp), updates, users)
            show("  ours (inbox, access gate, one row each)", ours)
            baseline = await measure_echo(updates, users)
            show("  echo bot (python-telegram-bot alone)", baseline)
            print(f"  ours / echo: {ours.per_second / baseline.per_second:.2f}")


def main() -> None:
    """Parse the command line and run the benchmark."""
    # PTB 22 deprecates integer durations; the bot opts into timedelta ones (assistant.cli).
    os.environ["PTB_TIMEDELTA"] = "1"
    quiet_logging()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--updates", type=int, default=2000, help="updates (default 2000)")
    parser.add_argument(
        "--users", type=int, default=50, help="people sending them, in turn (default 50)"
    )
    parser.add_argument(
        "--database-url",
        action="append",
        default=[],
        help=(
            "also measure on this database, besides a new SQLite file; may be given more than "
            "once; a postgresql+asyncpg:// URL names a server, where a database of the "
            "benchmark's own is created and dropped"
        ),
    )
    args = parser.parse_args()
    if args.updates < 1 or args.users < 1:
        parser.error("--updates and --users must be at least 1")
    asyncio.run(run(args.updates, args.users, args.database_url))


if __name__ == "__main__":
    main()

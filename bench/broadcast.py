"""Benchmark a broadcast under Telegram's flood limits while residents keep using the bot.

    python bench/broadcast.py [--messages 1000] [--users 20] [--database-url URL]

The real bot (``build_application`` + ``running``, long polling) talks over HTTP to the sandbox's
fake Telegram with its flood limits on. One transaction queues a bulk message to each of
``--messages`` people who have started the bot; meanwhile ``--users`` linked residents of the
demo campus each send /me about every two seconds and wait for the answer. Every figure comes
from the fake's clock: the time each Bot API call reached it.

Exits with status 1 unless every broadcast message arrived, broadcast and replies together
reached 90 % of Telegram's 30 messages per second, no sliding second held more than 30 messages,
the fake answered no 429, and 95 % of the residents' answers came within 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import statistics
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import make_url, text

from assistant.app import build_application, running
from assistant.bot.context import Deps, utc_now
from assistant.config import load_settings
from assistant.runner import load_demo_campus
from assistant.sandbox import FakeTelegram, FakeTelegramServer, FakeUser
from assistant.storage import outbox, repo
from assistant.storage.db import Database
from assistant.storage.models import Priority, TelegramAccount
from assistant.texts import Texts

TELEGRAM_PER_SECOND = 30
MIN_OVERALL_SHARE = 0.9
MAX_P95_SECONDS = 1.0
ASK_EVERY = 2.0
JITTER = 0.4
REPLY_TIMEOUT = 10.0
SEED = 2026
NOTICE = "Water supply notice: the water is off in your building tomorrow from 9:00 to 12:00."


def quiet_logging() -> None:
    """Warnings and errors only, so the figures stand out."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def shown(url: str) -> str:
    """A database URL fit to print: without its password."""
    return make_url(url).render_as_string(hide_password=True)


async def _pg_admin(server_url: str, statement: str) -> None:
    # CREATE and DROP DATABASE cannot run inside a transaction.
    admin = Database(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await admin.dispose()


@asynccontextmanager
async def demo_store(database_url: str | None, folder: Path) -> AsyncIterator[Database]:
    """A fresh, migrated database holding the demo campus, for the block.

    Without ``database_url``, a new SQLite file in ``folder``. A PostgreSQL URL names a server
    (and a database to connect through): a database of our own is created there and dropped
    afterwards. Any other URL must name an empty database.
    """
    server = url = database_url or f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"
    created = ""
    if server.startswith("postgresql"):
        created = f"assistant_bench_{uuid.uuid4().hex[:12]}"
        await _pg_admin(server, f'CREATE DATABASE "{created}"')
        url = make_url(server).set(database=created).render_as_string(hide_password=False)
    db = Database(url)
    try:
        await load_demo_campus(db)
        yield db
    finally:
        await db.dispose()
        if created:
            await _pg_admin(server, f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')


@asynccontextmanager
async def fake_telegram(*, flood_limits: bool) -> AsyncIterator[FakeTelegramServer]:
    """The sandbox's fake Telegram, served over HTTP on 127.0.0.1 for the block."""
    server = FakeTelegramServer(FakeTelegram(flood_limits=flood_limits))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def bot_deps(db: Database, server: FakeTelegramServer) -> Deps:
    """The bot's dependencies: the store, and the fake as its Bot API server."""
    settings = load_settings(
        database_url=db.url,
        telegram_api_base_url=server.api_url,
        telegram_api_file_url=server.file_url,
    )
    return Deps(settings=settings, db=db, texts=Texts(settings.conversations_dir))


async def link_residents(db: Database, tg: FakeTelegram, count: int) -> list[FakeUser]:
    """``count`` demo residents (people with a dorm room), each linked to a new Telegram user."""
    async with db.unit_of_work() as session:
        people = [p for p in await repo.listings(session) if p.room][:count]
        if len(people) < count:
            raise ValueError(f"the demo campus has only {len(people)} residents")
        users = []
        for listing in people:
            user = tg.add_user(listing.name, language_code="en")
            person = await repo.person_by_number(session, listing.number)
            assert person is not None, "listed just now"
            session.add(
                TelegramAccount(
                    person_id=person.id, telegram_user_id=user.id, linked_at=datetime.now(UTC)
                )
            )
            users.append(user)
    return users


class Deliveries:
    """Messages the fake accepted (sendMessage answered 200), counted as calls come in.

    Each look reads only the calls that arrived since the last one, so it can be the condition
    of ``FakeTelegram.wait_until``, which is checked after every change in the fake.
    """

    def __init__(self, tg: FakeTelegram, chats: set[int] | None = None) -> None:
        self._tg = tg
        self._chats = chats
        self._read = 0
        self.times: list[float] = []

    def count(self) -> int:
        """How many messages to the chats (all chats without ``chats``) the fake accepted."""
        calls = self._tg.calls
        while self._read < len(calls):
            call = calls[self._read]
            if call.method != "sendMessage":
                self._read += 1
                continue
            if call.status is None:
                # Still being answered: look at it again next time.
                break
            self._read += 1
            if call.status == 200:
                chat = int(call.params["chat_id"])
                if self._chats is None or chat in self._chats:
                    self.times.append(call.time)
        return len(self.times)


@dataclass
class Conversations:
    """What the residents saw: seconds from each /me to its answer, and asks left unanswered."""

    latencies: list[float] = field(default_factory=list)
    unanswered: int = 0


def answer_arrival(tg: FakeTelegram, chat_id: int) -> float:
    """When the bot's latest message to ``chat_id`` reached the fake, on the fake's clock."""
    wanted = str(chat_id)
    for call in reversed(tg.calls):
        if call.method == "sendMessage" and call.status == 200 and call.params["chat_id"] == wanted:
            return call.time
    raise LookupError(f"the fake holds no message to chat {chat_id}")


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``stop``; whether it is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max(seconds, 0.0))
    return stop.is_set()


async def converse(
    tg: FakeTelegram,
    user: FakeUser,
    rng: random.Random,
    stop: asyncio.Event,
    seen: Conversations,
) -> None:
    """Ask /me about every ASK_EVERY seconds until ``stop``, noting how long each answer took."""
    clock = tg.state.clock
    # Residents start at random moments, so their questions do not arrive in lockstep.
    next_ask = clock() + rng.uniform(0.0, ASK_EVERY)
    while not await stopped_within(stop, next_ask - clock()):
        asked = clock()
        await tg.user_send(user, "/me")
        try:
            await tg.wait_for_bot_message(user.id, timeout=REPLY_TIMEOUT)
        except TimeoutError:
            # A late answer would be taken for the answer to the next question: stop asking.
            seen.unanswered += 1
            return
        seen.latencies.append(answer_arrival(tg, user.id) - asked)
        next_ask = asked + rng.uniform(ASK_EVERY - JITTER, ASK_EVERY + JITTER)


def busiest_second(times: list[float]) -> int:
    """The most messages in any sliding second, counted as the fake does: those in (t - 1, t]."""
    most = first = 0
    for last, at in enumerate(times):
        while times[first] <= at - 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (linear interpolation)."""
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(share * 100) - 1]


async def enqueue_broadcast(db: Database, recipients: list[FakeUser]) -> None:
    """One bulk message to each recipient, all in one transaction, as a broadcast is queued."""
    now = utc_now()
    async with db.unit_of_work() as session:
        for user in recipients:
            outbox.enqueue(
                session, user.id, "sendMessage", {"text": NOTICE}, priority=Priority.BULK, now=now
            )


@dataclass
class Run:
    """What one broadcast run left behind in the fake."""

    messages: int
    broadcast: list[float]
    all_sends: list[float]
    conversations: Conversations
    rate_limited: int


async def broadcast(messages: int, users: int, database_url: str | None, folder: Path) -> Run:
    """Run the bot, broadcast while the residents talk to it, and collect the fake's record."""
    async with (
        demo_store(database_url, folder) as db,
        fake_telegram(flood_limits=True) as server,
    ):
        tg = server.tg
        residents = await link_residents(db, tg, users)
        recipients = [tg.add_user(f"Recipient {n}") for n in range(messages)]
        for user in recipients:
            # People who wrote to the bot once, so it may write to them.
            user.started_bot = True
        delivered = Deliveries(tg, {user.id for user in recipients})
        seen = Conversations()
        rng = random.Random(SEED)
        stop = asyncio.Event()
        async with running(build_application(bot_deps(db, server), token=tg.token)) as edge:
            await enqueue_broadcast(db, recipients)
            edge.sender.kick()
            talks = [asyncio.create_task(converse(tg, r, rng, stop, seen)) for r in residents]
            # Three times as long as at the full 30/s: time enough unless something is wrong.
            deadline = 30.0 + 3 * messages / TELEGRAM_PER_SECOND
            try:
                await tg.wait_until(lambda: delivered.count() >= messages, timeout=deadline)
            except TimeoutError:
                print(f"the broadcast did not finish within {deadline:.0f} s")
            stop.set()
            await asyncio.gather(*talks)
        sends = [call.time for call in tg.calls_to("sendMessage") if call.status == 200]
        return Run(messages, delivered.times, sends, seen, tg.rate_limited_count)


def report(run: Run) -> int:
    """Print the figures one per line and return the exit status: 1 if a bound was missed."""
    failures = []
    count = len(run.broadcast)
    print(f"broadcast messages delivered: {count} of {run.messages}")
    if count < run.messages:
        failures.append(f"only {count} of {run.messages} broadcast messages arrived")
    if count >= 2:
        first, last = run.broadcast[0], run.broadcast[-1]
        elapsed = last - first
        # Rates count the gaps between deliveries: n messages span n - 1 of them.
        broadcast_rate = (count - 1) / elapsed
        during = sum(1 for at in run.all_sends if first <= at <= last)
        overall_rate = (during - 1) / elapsed
        print(f"broadcast elapsed, first to last delivery: {elapsed:.2f} s")
        print(f"replies sent meanwhile: {during - count}")
        print(
            f"broadcast rate: {broadcast_rate:.2f}/s = "
            f"{broadcast_rate / TELEGRAM_PER_SECOND:.3f} of {TELEGRAM_PER_SECOND}/s"
        )
        share = overall_rate / TELEGRAM_PER_SECOND
        print(
            f"overall send rate (broadcast + replies): {overall_rate:.2f}/s = "
            f"{share:.3f} of {TELEGRAM_PER_SECOND}/s (must be >= {MIN_OVERALL_SHARE})"
        )
        if share < MIN_OVERALL_SHARE:
            failures.append(f"the overall send rate was {share:.3f} of 30/s")
    busiest = busiest_second(run.all_sends)
    print(f"busiest sliding second: {busiest} messages (must be <= {TELEGRAM_PER_SECOND})")
    if busiest > TELEGRAM_PER_SECOND:
        failures.append(f"{busiest} messages in one second")
    print(f"429 answers from the fake: {run.rate_limited} (must be 0)")
    if run.rate_limited:
        failures.append(f"the fake answered 429 {run.rate_limited} times")
    latencies = run.conversations.latencies
    print(f"answers to residents: {len(latencies)}, unanswered: {run.conversations.unanswered}")
    if run.conversations.unanswered:
        failures.append(f"{run.conversations.unanswered} /me got no answer in {REPLY_TIMEOUT} s")
    if latencies:
        p95 = percentile(latencies, 0.95)
        print(f"answer latency p50: {statistics.median(latencies):.3f} s")
        print(f"answer latency p95: {p95:.3f} s (must be <= {MAX_P95_SECONDS})")
        print(f"answer latency max: {max(latencies):.3f} s")
        if p95 > MAX_P95_SECONDS:
            failures.append(f"the p95 answer latency was {p95:.3f} s")
    else:
        failures.append("no resident got an answer")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


async def run(messages: int, users: int, database_url: str | None) -> int:
    """Run the benchmark and print its figures; returns the exit status."""
    with tempfile.TemporaryDirectory(prefix="broadcast-") as tmp:
        print(f"database: {shown(database_url) if database_url else 'a new SQLite file'}")
        print(f"broadcast: {messages} messages; residents asking /me: {users}")
        return report(await broadcast(messages, users, database_url, Path(tmp)))


def main() -> None:
    """Parse the command line and run the benchmark."""
    # PTB 22 deprecates integer durations; the bot opts into timedelta ones (assistant.cli).
    os.environ["PTB_TIMEDELTA"] = "1"
    quiet_logging()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--messages", type=int, default=1000, help="broadcast recipients (default 1000)"
    )
    parser.add_argument(
        "--users", type=int, default=20, help="residents asking /me meanwhile (default 20)"
    )
    parser.add_argument(
        "--database-url",
        help=(
            "the store (default: a new SQLite file in a temporary directory); a "
            "postgresql+asyncpg:// URL names a server, where a database of the benchmark's own "
            "is created and dropped; any other URL must name an empty database"
        ),
    )
    args = parser.parse_args()
    if args.messages < 2 or args.users < 1:
        parser.error("--messages must be at least 2 and --users at least 1")
    sys.exit(asyncio.run(run(args.messages, args.users, args.database_url)))


if __name__ == "__main__":
    main()

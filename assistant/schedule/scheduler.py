"""One durable scheduler: every future firing is a row of ``firings``; this loop fires them.

At start it simply reads the table, so a restart re-arms every firing. A firing that comes due
while the bot is down is handled by its declared policy once the bot is back: fired late once,
or skipped. Each firing is claimed by a conditional update in the transaction that runs its
handler, so it happens at most once even with two instances; on PostgreSQL an advisory lock
further lets only one running instance fire at a time.

A firing whose handler fails is tried again after a growing delay, and after ``max_attempts``
tries is failed for good, as is at once a firing of a kind no handler knows; the
:data:`Report` the scheduler is given tells people about those in the same transaction. So a
failing firing never holds up the others, however many of them there are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import MissedPolicy
from assistant.schedule import firings
from assistant.schedule.loop import Loop
from assistant.storage.db import Database
from assistant.storage.models import Firing, FiringStatus

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Sequence[Firing], datetime], Awaitable[None]]
"""Does what firings of one kind are for (queues their messages) in their transaction; given
every due firing of its kind at once, so that it reads what it needs in one query."""


@dataclass(frozen=True)
class Failure:
    """A firing that failed for good: what it was, how often it was tried, why it failed."""

    key: str
    kind: str
    due_at: datetime
    attempts: int
    error: str


Report = Callable[[AsyncSession, Sequence[Failure], datetime], Awaitable[None]]
"""Tells people (queues their messages) about firings that failed for good, in the
transaction that marks them failed."""

# Any 64-bit number that is ours alone: the advisory lock of the instance that fires.
_LOCK = 0x5A5353_43484544

GRACE = timedelta(minutes=5)
"""How late a firing may be and still count as on time rather than missed."""

BACKOFF = timedelta(minutes=1)
"""How long a firing waits after its first failed try; each further one waits twice as long."""


def _failure(firing: Firing, error: str) -> Failure:
    return Failure(firing.key, firing.kind, firing.due_at, firing.attempts + 1, error)


class _HandlerFailed(Exception):
    """A handler raised in a batch run without savepoints."""


@dataclass
class Pass:
    """What one pass over the due firings did."""

    fired: int = 0
    skipped: int = 0
    failed: int = 0
    # Another instance holds the lock: this one fired nothing.
    standby: bool = False


class Scheduler(Loop):
    """Fires due rows of ``firings`` through the handler of their kind; ``report`` tells people
    about those that failed for good."""

    name = "scheduler"

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        handlers: Mapping[str, Handler],
        on_committed: Callable[[], None],
        *,
        report: Report,
        grace: timedelta = GRACE,
        batch: int = 500,
        max_attempts: int = 5,
        backoff: timedelta = BACKOFF,
        idle: float = 1.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._handlers = dict(handlers)
        self._on_committed = on_committed
        self._report = report
        self._grace = grace
        self._batch = batch
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._idle = idle
        self._wake = asyncio.Event()

    def kick(self) -> None:
        """Firings were planned: look again now."""
        self._wake.set()

    async def run_due(self) -> Pass:
        """Fire (or skip) every firing due by now, in batches; one transaction per batch."""
        total = Pass()
        while True:
            done = await self._batch_once()
            total.fired += done.fired
            total.skipped += done.skipped
            total.failed += done.failed
            total.standby = done.standby
            if done.standby or done.fired + done.skipped + done.failed < self._batch:
                return total

    async def _batch_once(self) -> Pass:
        try:
            return await self._fire_batch(isolated=False)
        except _HandlerFailed:
            # Rolled back whole; again one firing at a time, so only the failing ones wait.
            return await self._fire_batch(isolated=True)

    async def _fire_batch(self, *, isolated: bool) -> Pass:
        result = Pass()
        gave_up: list[Failure] = []
        async with self._db.unit_of_work() as session:
            if not await self._leading(session):
                return Pass(standby=True)
            now = self._clock()
            due = await firings.due(session, now, limit=self._batch)
            skip = [
                f
                for f in due
                if f.missed is MissedPolicy.SKIP and now - f.next_attempt_at > self._grace
            ]
            result.skipped = len(await firings.claim(session, skip, FiringStatus.SKIPPED, now))
            by_kind: dict[str, list[Firing]] = {}
            for firing in due:
                if firing not in skip:
                    by_kind.setdefault(firing.kind, []).append(firing)
            for kind, found in by_kind.items():
                handler = self._handlers.get(kind)
                if handler is None:
                    # No try would ever succeed: failed at once, not tried again and again.
                    error = f"no handler for firings of kind {kind!r}"
                    failed = set(
                        await firings.claim(session, found, FiringStatus.FAILED, now, error=error)
                    )
                    log.error("%s: %d firing(s) failed", error, len(failed))
                    gave_up += [_failure(f, error) for f in found if f.id in failed]
                    result.failed += len(failed)
                    continue
                claimed = set(await firings.claim(session, found, FiringStatus.FIRED, now))
                batch = [f for f in found if f.id in claimed]
                if not batch:
                    continue
                if not isolated:
                    try:
                        await handler(session, batch, now)
                    except Exception as exc:
                        raise _HandlerFailed from exc
                    result.fired += len(batch)
                    continue
                for firing in batch:
                    try:
                        async with session.begin_nested():
                            await handler(session, [firing], now)
                        result.fired += 1
                    except Exception as exc:
                        log.exception("firing %s failed", firing.key)
                        error = "".join(traceback.format_exception(exc)).strip()
                        retry_at = self._retry_at(firing, now)
                        await firings.record_failure(
                            session, [firing], error, now, retry_at=retry_at
                        )
                        if retry_at is None:
                            gave_up.append(_failure(firing, error))
                        result.failed += 1
            if gave_up:
                await self._tell(session, gave_up, now)
        if result.fired or gave_up:
            self._on_committed()
        return result

    def _retry_at(self, firing: Firing, now: datetime) -> datetime | None:
        """When to try a firing whose try just failed again; None once it has had its tries."""
        tries = firing.attempts + 1
        if tries >= self._max_attempts:
            return None
        doubled: int = 2 ** (tries - 1)
        return now + self._backoff * doubled

    async def _tell(
        self, session: AsyncSession, failures: Sequence[Failure], now: datetime
    ) -> None:
        try:
            async with session.begin_nested():
                await self._report(session, failures, now)
        except Exception:
            # Left to roll back the batch, a broken report would stop every firing after it;
            # the failed ones stay listed by `assistant firings`.
            log.exception("could not report %d failed firing(s)", len(failures))

    async def _leading(self, session: AsyncSession) -> bool:
        if session.bind is None or session.bind.dialect.name != "postgresql":
            return True
        return bool(
            await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _LOCK})
        )

    async def _pause(self) -> float:
        """Seconds until the next firing is due, at most ``idle``."""
        async with self._db.unit_of_work() as session:
            upcoming = await firings.next_due(session)
        if upcoming is None:
            return self._idle
        return min(self._idle, max(0.0, (upcoming - self._clock()).total_seconds()))

    async def forever(self) -> None:
        """Fire what is due, then wait for the next firing (or a kick), again and again."""
        while True:
            try:
                await self.run_due()
                pause = await self._pause()
            except Exception:
                log.exception("scheduler pass failed")
                pause = self._idle
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

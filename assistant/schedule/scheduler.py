"""One durable scheduler: every future firing is a row of ``firings``; this loop fires them.

At start it simply reads the table, so a restart re-arms every firing. A firing that comes due
while the bot is down is handled by its declared policy once the bot is back: fired late once,
or skipped. Each firing is claimed by a conditional update in the transaction that runs its
handler, so it happens at most once even with two instances; on PostgreSQL an advisory lock
further lets only one running instance fire at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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

# Any 64-bit number that is ours alone: the advisory lock of the instance that fires.
_LOCK = 0x5A5353_43484544

GRACE = timedelta(minutes=5)
"""How late a firing may be and still count as on time rather than missed."""


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
    """Fires due rows of ``firings`` through the handler of their kind."""

    name = "scheduler"

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        handlers: Mapping[str, Handler],
        on_committed: Callable[[], None],
        *,
        grace: timedelta = GRACE,
        batch: int = 500,
        idle: float = 1.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._handlers = dict(handlers)
        self._on_committed = on_committed
        self._grace = grace
        self._batch = batch
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
            # Rolled back whole; again one firing at a time, so only the failing one waits.
            return await self._fire_batch(isolated=True)

    async def _fire_batch(self, *, isolated: bool) -> Pass:
        result = Pass()
        async with self._db.unit_of_work() as session:
            if not await self._leading(session):
                return Pass(standby=True)
            now = self._clock()
            due = await firings.due(session, now, limit=self._batch)
            skip = [
                f for f in due if f.missed is MissedPolicy.SKIP and now - f.due_at > self._grace
            ]
            result.skipped = len(await firings.claim(session, skip, FiringStatus.SKIPPED, now))
            fire = [f for f in due if f not in skip]
            for firing in fire:
                if firing.kind not in self._handlers:
                    log.error("no handler for firing %s of kind %r", firing.key, firing.kind)
                    result.failed += 1
            known = [f for f in fire if f.kind in self._handlers]
            claimed = set(await firings.claim(session, known, FiringStatus.FIRED, now))
            by_kind: dict[str, list[Firing]] = {}
            for firing in known:
                if firing.id in claimed:
                    by_kind.setdefault(firing.kind, []).append(firing)
            for kind, batch in by_kind.items():
                handler = self._handlers[kind]
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
                    except Exception:
                        log.exception("firing %s failed", firing.key)
                        await firings.release(session, firing)
                        result.failed += 1
        if result.fired:
            self._on_committed()
        return result

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
                done = await self.run_due()
                # A failing firing stays due: wait before trying it again rather than spin.
                pause = self._idle if done.failed else await self._pause()
            except Exception:
                log.exception("scheduler pass failed")
                pause = self._idle
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

"""Periodic sweeps over stored rows: bookings nobody checked in to, and the like.

Every sweep reads and changes rows in its own unit of work, so nothing it acts on lives in
memory: a sweep missed while the bot was down simply finds more rows the next time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from assistant.schedule.loop import Loop
from assistant.storage.db import Database

log = logging.getLogger(__name__)

Job = Callable[[AsyncSession, datetime], Awaitable[int]]
"""A sweep: changes what is due at the given time and returns how many things it changed."""


class Ticker(Loop):
    """Runs each job every ``interval`` seconds, and once on demand (tests, benchmarks)."""

    name = "ticker"

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        jobs: Mapping[str, Job],
        on_committed: Callable[[], None],
        *,
        interval: float = 30.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._jobs = dict(jobs)
        self._on_committed = on_committed
        self._interval = interval

    async def run_once(self) -> dict[str, int]:
        """Run every job now; returns how many things each changed."""
        done: dict[str, int] = {}
        for name, job in self._jobs.items():
            try:
                async with self._db.unit_of_work() as session:
                    done[name] = await job(session, self._clock())
            except Exception:
                # One failing sweep must not stop the others; it runs again next time.
                log.exception("periodic job %s failed", name)
                continue
            if done[name]:
                self._on_committed()
        return done

    async def forever(self) -> None:
        """Run every job, every ``interval`` seconds."""
        while True:
            await asyncio.sleep(self._interval)
            await self.run_once()

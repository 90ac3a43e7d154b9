"""Delivers the outbox under Telegram's limits; after a restart it continues where it stopped.

Rows are claimed in small batches (replies first), sent in order per chat and concurrently across
chats through the bot's :class:`~assistant.bot.ratelimit.FloodLimiter`. A recipient who blocked
the bot is marked unreachable and reported, never retried forever; network trouble is retried
with backoff; a call Telegram refuses as malformed fails at once with its error kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, TelegramError

from assistant.bot.telegram import AssistantBot
from assistant.storage import outbox
from assistant.storage.db import Database
from assistant.storage.models import OutboxMessage, OutboxStatus, Priority

log = logging.getLogger(__name__)

_NOT_MODIFIED = "message is not modified"


class OutboxSender:
    """The one task that turns outbox rows into Bot API calls."""

    def __init__(
        self,
        db: Database,
        bot: AssistantBot,
        clock: Callable[[], datetime],
        *,
        batch: int = 64,
        lease: timedelta = timedelta(seconds=30),
        max_attempts: int = 8,
        idle_poll: float = 1.0,
    ) -> None:
        self._db = db
        self._bot = bot
        self._clock = clock
        self._batch = batch
        self._lease = lease
        self._max_attempts = max_attempts
        self._idle_poll = idle_poll
        self._wake = asyncio.Event()
        self._chats: dict[int, deque[OutboxMessage]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._held = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def kick(self) -> None:
        """New rows were committed: look now rather than at the next idle poll."""
        self._wake.set()

    def start(self) -> None:
        """Start delivering."""
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self, grace: float = 5.0) -> None:
        """Claim nothing more, let calls in flight finish, hand queued rows back to the outbox."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        queued = [row.id for rows in self._chats.values() for row in rows]
        for rows in self._chats.values():
            rows.clear()
        workers = list(self._workers.values())
        if workers:
            _, late = await asyncio.wait(workers, timeout=grace)
            for task in late:
                task.cancel()
        if queued:
            async with self._db.unit_of_work() as session:
                await outbox.release(session, queued)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            claimed = 0
            room = self._batch - self._held
            if room > 0:
                try:
                    claimed = await self._claim(room)
                except Exception:
                    log.exception("could not read the outbox; trying again")
            if claimed == 0 or room <= claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_poll)

    async def _claim(self, room: int) -> int:
        async with self._db.unit_of_work() as session:
            rows = await outbox.claim_due(session, limit=room, now=self._clock(), lease=self._lease)
        for row in rows:
            self._held += 1
            self._chats.setdefault(row.chat_id, deque()).append(row)
            if row.chat_id not in self._workers:
                self._workers[row.chat_id] = asyncio.create_task(self._drain(row.chat_id))
        return len(rows)

    async def _drain(self, chat_id: int) -> None:
        rows = self._chats[chat_id]
        try:
            while rows:
                row = rows.popleft()
                try:
                    await self._deliver(row)
                except Exception:
                    log.exception("outbox row %s could not be recorded", row.id)
                finally:
                    self._held -= 1
                    self._wake.set()
        finally:
            del self._workers[chat_id]
            if not rows:
                self._chats.pop(chat_id, None)

    async def _deliver(self, row: OutboxMessage) -> None:
        try:
            result = await self._bot.call_raw(
                row.method, row.payload, priority=Priority(row.priority)
            )
        except Forbidden as exc:
            await self._finish(row, OutboxStatus.UNREACHABLE, str(exc))
        except BadRequest as exc:
            if _NOT_MODIFIED in str(exc).lower():
                await self._sent(row, None)
            else:
                await self._finish(row, OutboxStatus.FAILED, str(exc))
        except (ChatMigrated, InvalidToken) as exc:
            await self._finish(row, OutboxStatus.FAILED, str(exc))
        except TelegramError as exc:
            await self._retry(row, str(exc) or type(exc).__name__)
        except Exception as exc:
            # Whatever went wrong here, the row must not stay claimed until its lease runs out.
            log.exception("sending outbox row %s failed unexpectedly", row.id)
            await self._retry(row, repr(exc))
        else:
            await self._sent(row, _message_id(result))

    async def _sent(self, row: OutboxMessage, telegram_message_id: int | None) -> None:
        async with self._db.unit_of_work() as session:
            await outbox.mark_sent(
                session, row.id, telegram_message_id=telegram_message_id, now=self._clock()
            )

    async def _finish(self, row: OutboxMessage, status: OutboxStatus, error: str) -> None:
        log.warning("outbox row %s to chat %s: %s (%s)", row.id, row.chat_id, status, error)
        async with self._db.unit_of_work() as session:
            await outbox.mark_failed(session, row.id, error, status=status, now=self._clock())

    async def _retry(self, row: OutboxMessage, error: str) -> None:
        attempts = row.attempts + 1
        if attempts >= self._max_attempts:
            await self._finish(row, OutboxStatus.FAILED, f"gave up after {attempts}: {error}")
            return
        delay = timedelta(seconds=min(2**attempts, 300))
        async with self._db.unit_of_work() as session:
            await outbox.mark_retry(
                session, row.id, error, at=self._clock() + delay, attempts=attempts
            )


def _message_id(result: Any) -> int | None:
    if isinstance(result, dict) and isinstance(result.get("message_id"), int):
        return int(result["message_id"])
    return None

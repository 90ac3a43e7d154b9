"""Delivers the outbox under Telegram's limits; after a restart it continues where it stopped.

Rows are claimed in small batches (replies first) under a lease that the sender renews while it
holds them; the rows an update queues are claimed in that update's own transaction when the
sender is keeping up (:meth:`OutboxSender.claim_queued`), so that its answer leaves at the
commit instead of after a claiming transaction of the sender's. They are sent in order per chat
and concurrently across chats through the bot's
:class:`~assistant.bot.ratelimit.FloodLimiter`, and their outcomes recorded in batches: one
transaction for everything that finished meanwhile, at most five a second, so that marking rows
sent never queues behind the database and under load costs one transaction for many messages; a
crash leaves at most that interval's rows sent but unrecorded. A recipient who
blocked the bot is marked unreachable and reported, never retried forever; network trouble is
retried with backoff; a call Telegram refuses as malformed fails at once with its error kept.
A group that became a supergroup gets the row in its new chat, and keeps its binding there.
A refused token (revoked) is no fault of the row's: it goes back to the outbox as it was, and
nothing more is tried until the bot runs with a token that works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, TelegramError

from assistant.bot.telegram import AssistantBot
from assistant.services import groups
from assistant.storage import outbox
from assistant.storage.db import Database
from assistant.storage.models import OutboxMessage, OutboxStatus, Priority

log = logging.getLogger(__name__)

_NOT_MODIFIED = "message is not modified"


@dataclass(frozen=True)
class _Outcome:
    row: OutboxMessage
    status: OutboxStatus
    at: datetime
    telegram_message_id: int | None = None
    error: str | None = None
    # False when the call was never answered on its merits (the token was refused): the row
    # goes back to the outbox as it was, with no attempt counted.
    attempted: bool = True
    # The supergroup the row's group became: the row, no attempt counted, goes there instead.
    migrated_to: int | None = None


@dataclass(frozen=True)
class Handover:
    """The rows an update's transaction claimed for the sender, and whether it queued others."""

    rows: list[OutboxMessage]
    left: bool


class OutboxSender:
    """The one task that turns outbox rows into Bot API calls."""

    def __init__(
        self,
        db: Database,
        bot: AssistantBot,
        clock: Callable[[], datetime],
        *,
        batch: int = 64,
        lease: timedelta = timedelta(seconds=15),
        max_attempts: int = 8,
        idle_poll: float = 1.0,
        record_every: float = 0.2,
    ) -> None:
        self._db = db
        self._bot = bot
        self._clock = clock
        self._batch = batch
        self._lease = lease
        self._max_attempts = max_attempts
        self._idle_poll = idle_poll
        self._record_every = record_every
        self._wake = asyncio.Event()
        self._chats: dict[int, deque[OutboxMessage]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._held: set[int] = set()
        # Rows claimed in an update's transaction that is still committing.
        self._reserved = 0
        # Whether the last claim took every due row and no kick has come since (rows committed
        # elsewhere, unknown to this process, are found by the idle poll): only then may an
        # update's rows skip the outbox without overtaking older ones of their chat.
        self._caught_up = False
        self._kicks = 0
        self._outcomes: list[_Outcome] = []
        self._have_outcomes = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def kick(self) -> None:
        """New rows were committed: look now rather than at the next idle poll."""
        self._kicks += 1
        self._caught_up = False
        self._wake.set()

    def claim_queued(self, session: AsyncSession) -> Handover:
        """Claim for this sender, in the caller's transaction, the due rows it queued.

        Called just before an update commits. When the sender is caught up and has room for all
        of them, they commit already claimed, and :meth:`hand_over` passes them to the workers
        at once; otherwise they are left to the claim loop, which takes the outbox oldest first,
        so that a chat's messages keep their order either way. After the transaction, call
        :meth:`hand_over` if it committed and :meth:`withdraw` if not.
        """
        now = self._clock()
        rows = outbox.queued(session, now=now)
        room = self._batch - len(self._held) - self._reserved
        waiting = self._stopping or self._bot.token_refused.is_set()
        if not rows or not self._caught_up or waiting or len(rows) > room:
            return Handover([], left=bool(rows))
        outbox.claim(rows, now=now, lease=self._lease)
        self._reserved += len(rows)
        # Replies first, as the claim loop takes them: their workers start before the cards'.
        return Handover(sorted(rows, key=lambda row: row.priority), left=False)

    def hand_over(self, handover: Handover) -> None:
        """The transaction of :meth:`claim_queued` committed: send its rows, or claim the rest."""
        self._reserved -= len(handover.rows)
        # A stopped sender leaves them claimed; the next sender has them when the lease ends.
        if handover.rows and not self._stopping:
            self._queue(handover.rows)
        if handover.left:
            self.kick()

    def withdraw(self, handover: Handover) -> None:
        """The transaction of :meth:`claim_queued` was rolled back: its rows never existed."""
        self._reserved -= len(handover.rows)

    def start(self) -> None:
        """Start delivering."""
        self._stopping = False
        self._caught_up = False
        self._tasks = [
            asyncio.create_task(self._claim_forever(), name="outbox-claim"),
            asyncio.create_task(self._record_forever(), name="outbox-record"),
            asyncio.create_task(self._renew_forever(), name="outbox-lease"),
        ]

    async def stop(self, grace: float = 5.0) -> None:
        """Claim nothing more, let calls in flight finish, hand queued rows back to the outbox."""
        if not self._tasks:
            return
        self._stopping = True
        self._wake.set()
        claim, record, renew = self._tasks
        renew.cancel()
        await claim
        queued = [row.id for rows in self._chats.values() for row in rows]
        for rows in self._chats.values():
            rows.clear()
        workers = list(self._workers.values())
        if workers:
            _, late = await asyncio.wait(workers, timeout=grace)
            for task in late:
                task.cancel()
            # Their rows stay claimed until the lease ends; wait for them to be gone.
            await asyncio.gather(*late, return_exceptions=True)
        self._have_outcomes.set()
        await record
        with contextlib.suppress(asyncio.CancelledError):
            await renew
        if queued:
            async with self._db.unit_of_work() as session:
                await outbox.release(session, queued)
        self._tasks = []

    async def _claim_forever(self) -> None:
        while not self._stopping:
            self._wake.clear()
            room = self._batch - len(self._held) - self._reserved
            if self._bot.token_refused.is_set():
                # Every call would be refused: leave the rows in the outbox for the next run.
                room = 0
            claimed = 0
            if room > 0:
                kicks = self._kicks
                try:
                    claimed = await self._claim(room)
                except Exception:
                    log.exception("could not read the outbox; trying again")
                else:
                    self._caught_up = claimed < room and kicks == self._kicks
            if claimed < room or room <= 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_poll)

    async def _claim(self, room: int) -> int:
        async with self._db.unit_of_work(busy=True) as session:
            rows = await outbox.claim_due(
                session, limit=room, now=self._clock(), lease=self._lease, held=self._held
            )
        self._queue(rows)
        return len(rows)

    def _queue(self, rows: Sequence[OutboxMessage]) -> None:
        for row in rows:
            self._held.add(row.id)
            self._chats.setdefault(row.chat_id, deque()).append(row)
            if row.chat_id not in self._workers:
                self._workers[row.chat_id] = asyncio.create_task(self._drain(row.chat_id))

    async def _drain(self, chat_id: int) -> None:
        rows = self._chats[chat_id]
        try:
            while rows:
                self._finished(await self._deliver(rows.popleft()))
        finally:
            del self._workers[chat_id]
            if not rows:
                self._chats.pop(chat_id, None)

    def _finished(self, outcome: _Outcome) -> None:
        self._outcomes.append(outcome)
        self._have_outcomes.set()

    async def _deliver(self, row: OutboxMessage) -> _Outcome:
        if self._bot.token_refused.is_set():
            return self._outcome(row, OutboxStatus.PENDING, attempted=False)
        try:
            result = await self._bot.call_raw(
                row.method, row.payload, priority=Priority(row.priority)
            )
        except Forbidden as exc:
            return self._outcome(row, OutboxStatus.UNREACHABLE, error=str(exc))
        except BadRequest as exc:
            if _NOT_MODIFIED in str(exc).lower():
                return self._outcome(row, OutboxStatus.SENT)
            return self._outcome(row, OutboxStatus.FAILED, error=str(exc))
        except InvalidToken:
            return self._outcome(row, OutboxStatus.PENDING, attempted=False)
        except ChatMigrated as exc:
            return _Outcome(row, OutboxStatus.PENDING, self._clock(), migrated_to=exc.new_chat_id)
        except TelegramError as exc:
            return self._outcome(row, OutboxStatus.PENDING, error=str(exc) or type(exc).__name__)
        except Exception as exc:
            # Whatever went wrong here, the row must not stay claimed until its lease runs out.
            log.exception("sending outbox row %s failed unexpectedly", row.id)
            return self._outcome(row, OutboxStatus.PENDING, error=repr(exc))
        return self._outcome(row, OutboxStatus.SENT, message_id=_message_id(result))

    def _outcome(
        self,
        row: OutboxMessage,
        status: OutboxStatus,
        *,
        error: str | None = None,
        message_id: int | None = None,
        attempted: bool = True,
    ) -> _Outcome:
        # Stamped now, not when recorded: a retry's delay counts from the failure.
        return _Outcome(row, status, self._clock(), message_id, error, attempted)

    async def _record_forever(self) -> None:
        loop = asyncio.get_running_loop()
        recorded_at = -self._record_every
        while True:
            await self._have_outcomes.wait()
            # Outcomes that come close together are recorded together: under load that is one
            # transaction for many messages instead of one each. A crash forgets at most this
            # interval's outcomes; those rows are sent again when their lease ends.
            wait = recorded_at + self._record_every - loop.time()
            if wait > 0 and not self._stopping:
                await asyncio.sleep(wait)
            self._have_outcomes.clear()
            done, self._outcomes = self._outcomes, []
            if done:
                await self._record(done)
                recorded_at = loop.time()
            if self._stopping and not self._workers and not self._outcomes:
                return

    async def _record(self, done: list[_Outcome]) -> None:
        backoff = 0.1
        while True:
            try:
                async with self._db.unit_of_work(busy=True) as session:
                    queued = await self._write(session, done)
                break
            except Exception:
                log.exception("could not record %d outbox outcome(s); again soon", len(done))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        for outcome in done:
            self._held.discard(outcome.row.id)
            if outcome.migrated_to is not None:
                log.info(
                    "chat %s became the supergroup %s; outbox row %s goes there",
                    outcome.row.chat_id,
                    outcome.migrated_to,
                    outcome.row.id,
                )
            elif outcome.status is not OutboxStatus.SENT and outcome.attempted:
                log.warning(
                    "outbox row %s to chat %s: %s (%s)",
                    outcome.row.id,
                    outcome.row.chat_id,
                    outcome.status,
                    outcome.error,
                )
        if queued:
            self.kick()
        # There is room again: claim what did not fit before (caught up, nothing is waiting).
        elif not self._caught_up:
            self._wake.set()

    async def _write(self, session: Any, done: list[_Outcome]) -> bool:
        """Record ``done``; whether that queued messages (edits of cards decided meanwhile)."""
        now = self._clock()
        sent = [o for o in done if o.status is OutboxStatus.SENT]
        await outbox.mark_sent_many(
            session, [(o.row.id, o.telegram_message_id) for o in sent], now=now
        )
        # Only cards (rows with a ref) are rewritten.
        cards = [
            (o.row, o.telegram_message_id) for o in sent if o.row.ref and o.telegram_message_id
        ]
        queued = await outbox.bring_up_to_date(session, cards, now=now)
        released = [o.row.id for o in done if not o.attempted]
        if released:
            await outbox.release(session, released)
        for outcome in done:
            error = outcome.error or ""
            if outcome.migrated_to is not None:
                await groups.migrate(
                    session,
                    outcome.row.chat_id,
                    outcome.migrated_to,
                    now=now,
                    claimed=[outcome.row.id],
                )
                queued = True
                continue
            if not outcome.attempted:
                continue
            if outcome.status is OutboxStatus.PENDING:
                attempts = outcome.row.attempts + 1
                if attempts >= self._max_attempts:
                    await outbox.mark_failed(
                        session,
                        outcome.row.id,
                        f"gave up after {attempts}: {error}",
                        status=OutboxStatus.FAILED,
                        now=now,
                    )
                else:
                    delay = timedelta(seconds=min(2**attempts, 300))
                    await outbox.mark_retry(
                        session, outcome.row.id, error, at=outcome.at + delay, attempts=attempts
                    )
            elif outcome.status is not OutboxStatus.SENT:
                await outbox.mark_failed(
                    session, outcome.row.id, error, status=outcome.status, now=now
                )
        return queued

    async def _renew_forever(self) -> None:
        # Rows wait in the flood limiter for a while under load; keep other senders off them.
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            if not self._held:
                continue
            try:
                async with self._db.unit_of_work() as session:
                    await outbox.renew(session, list(self._held), until=self._clock() + self._lease)
            except Exception:
                log.exception("could not renew the outbox lease")


def _message_id(result: Any) -> int | None:
    if isinstance(result, dict) and isinstance(result.get("message_id"), int):
        return int(result["message_id"])
    return None

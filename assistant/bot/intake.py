"""Intake that loses nothing: updates are committed to the inbox before they are acknowledged.

PTB's own polling loop and webhook server acknowledge an update before any handler has run, so
a crash loses it. Here the :class:`Poller` (getUpdates) or the :class:`WebhookIntake` (HTTP)
only writes updates to the inbox table; the offset moves past an update, or Telegram gets its
HTTP 200, after that commit. The :class:`Dispatcher` then handles each stored update in one
transaction that also marks it done, so its effects happen exactly once: a repeat delivery is
dropped by the inbox's primary key, and a crash mid-update rolls the whole update back.

The intake hands the updates it stored straight to the dispatcher, and the dispatcher hands the
messages an update queued straight to the sender (claimed in the update's transaction), so that
on the way from an update to its answer the only transaction is the update's own; the inbox and
the outbox are read back only for what those hand-overs miss (a restart, another process).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken, RetryAfter, TelegramError

from assistant.bot.context import Deps, UpdateScope, current_scope
from assistant.bot.sender import Handover, OutboxSender
from assistant.bot.telegram import AssistantBot
from assistant.storage import inbox
from assistant.storage.db import Database, settle
from assistant.storage.models import InboxStatus

log = logging.getLogger(__name__)

ALL_UPDATE_TYPES = Update.ALL_TYPES


class _HandlerFailed(Exception):
    """A handler raised; PTB reported it to the error handler instead of to us."""


class _Unreadable(Exception):
    """PTB cannot read the stored update: no second try can change that."""


@dataclass(frozen=True)
class _Failure:
    error: str
    lasting: bool


@dataclass(frozen=True)
class Parked:
    """An update given up on: its chat and sender (for the apology), its attempts, its error."""

    update_id: int
    chat_id: int | None
    user_id: int | None
    attempts: int
    error: str


@dataclass(frozen=True)
class _Lane:
    """The queue of the updates a lane names, apart from every chat's."""

    name: Hashable


class Dispatcher:
    """Handles stored updates: in order within a chat, chats concurrently, each in one transaction.

    An update whose handling fails (most often a lock that was not freed in time, or a lost
    connection: gone a little later) is tried again after ``first_retry``, then after twice
    that, and so on; meanwhile the chat's later updates wait behind it, in order, while other
    chats go on (the wait holds no handling slot). The time of the next try is kept with the
    update, so that a restart keeps to it. ``lane`` may name, from a just-stored update, a queue
    other than its chat's: updates of one lane are handled in the order they came, whatever
    their chats, up to ``lane_batch`` of them in one transaction (those read back from the
    inbox too). After
    ``max_attempts`` it is parked with its error, and ``on_parked`` tells the chat and the
    admins; an update PTB cannot read is parked at once, as waiting cannot mend it.
    """

    def __init__(
        self,
        application: Any,
        deps: Deps,
        sender: OutboxSender,
        on_parked: Callable[[UpdateScope, Parked], Awaitable[None]],
        *,
        concurrency: int = 8,
        max_attempts: int = 6,
        first_retry: timedelta = timedelta(seconds=1),
        batch: int = 200,
        idle_poll: float = 1.0,
        lane: Callable[[dict[str, Any]], Hashable | None] | None = None,
        lane_batch: int = 50,
    ) -> None:
        self._application = application
        self._lane = lane
        self._lane_batch = lane_batch
        self._db: Database = deps.db
        self._clock: Callable[[], datetime] = deps.clock
        self._sender = sender
        self._on_parked = on_parked
        self._slots = asyncio.Semaphore(concurrency)
        self._max_attempts = max_attempts
        self._first_retry = first_retry
        self._batch = batch
        self._idle_poll = idle_poll
        self._wake = asyncio.Event()
        # Set (and replaced) by kick(): updates waiting for their next try look at the clock.
        self._tick = asyncio.Event()
        self._queues: dict[Hashable, deque[inbox.Stored]] = {}
        self._workers: dict[Hashable, asyncio.Task[None]] = {}
        self._known: set[int] = set()
        # Calls made after an update committed (answering a press, menus), still under way.
        self._after: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def take(self, stored: Sequence[inbox.Stored]) -> None:
        """Handle these just-committed updates, without reading them back from the inbox."""
        for update in stored:
            self._add(update)

    def kick(self) -> None:
        """Look at the inbox now, and at the clock for updates waiting for their next try."""
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()
        self._wake.set()

    async def start(self) -> None:
        """Queue the updates already waiting in the inbox, oldest first, then keep looking.

        Awaited before the intake starts, so that updates it hands over queue behind older ones
        of their chat.
        """
        self._stopping = False
        try:
            await self._fetch()
        except Exception:
            log.exception("could not read the inbox; trying again")
            self._wake.set()
        self._task = asyncio.create_task(self._run(), name="dispatcher")

    async def stop(self, grace: float = 5.0) -> None:
        """Start nothing new; let updates in hand finish (their rows stay pending otherwise)."""
        self._stopping = True
        self.kick()
        if self._task is not None:
            await self._task
            self._task = None
        for queue in self._queues.values():
            queue.clear()
        workers = [*self._workers.values(), *self._after]
        if workers:
            _, late = await asyncio.wait(workers, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def idle(self) -> bool:
        """Whether nothing is pending in the inbox and nothing is in hand."""
        if self._known or self._after:
            return False
        async with self._db.unit_of_work() as session:
            return not await inbox.pending(session, limit=1)

    async def _run(self) -> None:
        # start() has just read the inbox.
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._idle_poll)
            if self._stopping:
                return
            self._wake.clear()
            try:
                await self._fetch()
            except Exception:
                log.exception("could not read the inbox; trying again")

    async def _fetch(self) -> None:
        async with self._db.unit_of_work() as session:
            rows = await inbox.pending(session, limit=self._batch + len(self._known))
            new = [row for row in rows if row.update_id not in self._known]
            if self._lane is not None:
                # Read back with what they are about, so that those a lane names keep to it:
                # stored before a restart, or by an intake that has not handed them over yet.
                new = await inbox.with_payloads(session, new)
        for row in new:
            self._add(row)

    def _add(self, update: inbox.Stored) -> None:
        if update.update_id in self._known or self._stopping:
            return
        self._known.add(update.update_id)
        # Updates without a chat have no order to keep; those a lane names keep theirs across
        # chats (presses of one activity's Sign up, taken in the order they were made).
        lane = self._lane(update.payload) if self._lane and update.payload else None
        key: Hashable = (
            _Lane(lane)
            if lane is not None
            else update.chat_id
            if update.chat_id is not None
            else ("update", update.update_id)
        )
        self._queues.setdefault(key, deque()).append(update)
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._drain(key))

    async def _drain(self, key: Hashable) -> None:
        queue = self._queues[key]
        try:
            while queue and not self._stopping:
                if isinstance(key, _Lane) and len(queue) > 1:
                    await self._drain_lane(queue)
                    continue
                update = queue.popleft()
                try:
                    await self._handle(update.update_id, update.retry_at)
                finally:
                    self._known.discard(update.update_id)
        finally:
            del self._workers[key]
            if not queue:
                self._queues.pop(key, None)

    async def _drain_lane(self, queue: deque[inbox.Stored]) -> None:
        """The next updates of a lane that wait for no retry, in one transaction: a lane's
        updates are handled one after another anyway, and one commit for many is what lets
        hundreds of presses a second through. If any fails, the batch is rolled back and
        handled again one update at a time, so only the failing one waits and counts a try."""
        batch: list[int] = []
        while queue and queue[0].retry_at is None and len(batch) < self._lane_batch:
            batch.append(queue.popleft().update_id)
        if not batch:
            update = queue.popleft()
            batch, due = [update.update_id], update.retry_at
        else:
            due = None
        try:
            if len(batch) > 1:
                async with self._slots:
                    failure = await self._attempt(batch)
                if failure is None:
                    return
            for update_id in batch:
                await self._handle(update_id, due)
        finally:
            self._known.difference_update(batch)

    async def _handle(self, update_id: int, due: datetime | None) -> None:
        """Handle the update, trying again when it is due after each failure, until it is
        handled or parked (or the dispatcher stops: it stays pending, due when it was)."""
        while due is None or await self._until(due):
            started = self._clock()
            async with self._slots:
                failure = await self._attempt([update_id])
                if failure is None:
                    return
                due = await self._failed(update_id, failure, started)
            if due is None:
                return

    async def _until(self, due: datetime) -> bool:
        """Wait, holding no slot, until ``due`` on the bot's clock; False if stopping first."""
        while not self._stopping:
            left = (due - self._clock()).total_seconds()
            if left <= 0:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._tick.wait(), min(left, self._idle_poll))
        return False

    async def _failed(
        self, update_id: int, failure: _Failure, started: datetime
    ) -> datetime | None:
        """Record a failed attempt; when to try again, or None (parked, or handled elsewhere)."""
        log.warning("update %s failed: %s", update_id, failure.error.splitlines()[-1])

        def next_try(attempts: int) -> datetime | None:
            if failure.lasting or attempts >= self._max_attempts:
                return None
            # Counted from the failed attempt's start, not from when it is recorded.
            return started + self._first_retry * int(2 ** (attempts - 1))

        async with self._db.unit_of_work() as session:
            row = await inbox.record_failure(
                session, update_id, failure.error, now=self._clock(), next_try=next_try
            )
            if row is not None and row.status is InboxStatus.PARKED:
                sender = inbox.sender_of(row.payload)
                parked = Parked(update_id, row.chat_id, sender, row.attempts, failure.error)
                await self._on_parked(UpdateScope(session), parked)
        if row is None or row.status is InboxStatus.PARKED:
            self._sender.kick()
            return None
        return row.retry_at

    async def _attempt(self, update_ids: Sequence[int]) -> _Failure | None:
        """Handle the updates once, in one transaction; None on success (an update someone
        else has is left to them), else why not."""
        handover = Handover([], left=False)
        handled: list[tuple[int, UpdateScope]] = []
        try:
            async with self._db.unit_of_work(busy=True) as session:
                payloads = await inbox.take(session, update_ids, now=self._clock())
                for update_id in update_ids:
                    payload = payloads.get(update_id)
                    if payload is None:
                        continue
                    try:
                        update = Update.de_json(payload, self._application.bot)
                    except Exception as exc:
                        raise _Unreadable from exc
                    scope = UpdateScope(session)
                    token = current_scope.set(scope)
                    try:
                        await self._application.process_update(update)
                    finally:
                        current_scope.reset(token)
                    if scope.error is not None:
                        raise _HandlerFailed from scope.error
                    handled.append((update_id, scope))
                # Work the handlers deferred (the places of every Sign up press taken here) is
                # done now, so that the messages it queues are handed over too.
                await settle(session)
                # Claimed before anything is flushed, the update's messages are inserted
                # already claimed: one statement each instead of an insert and an update.
                handover = self._sender.claim_queued(session)
        except Exception as exc:
            self._sender.withdraw(handover)
            wrapped = isinstance(exc, _HandlerFailed | _Unreadable)
            cause = exc.__cause__ if wrapped else None
            return _Failure(_describe(cause or exc), lasting=isinstance(exc, _Unreadable))
        self._sender.hand_over(handover)
        for update_id, scope in handled:
            if scope.after_commit:
                # Telegram's round trip must not hold a handling slot or the chat's next update.
                task = asyncio.create_task(self._after_commit(update_id, scope.after_commit))
                self._after.add(task)
                task.add_done_callback(self._after.discard)
        return None

    async def _after_commit(
        self, update_id: int, actions: Sequence[Callable[[], Awaitable[object]]]
    ) -> None:
        for action in actions:
            try:
                await action()
            except InvalidToken:
                # The token was revoked: the bot stops, and its runner says why.
                return
            except Exception:
                log.exception("a call after update %s committed failed", update_id)


def _describe(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)).strip()


OnStored = Callable[[Sequence[inbox.Stored]], None]


class Poller:
    """getUpdates into the inbox; the offset moves past a batch only after it is committed.

    ``hand_over`` (the dispatcher's :meth:`Dispatcher.take`) gets the updates each commit
    stored for the first time; ``on_stored`` is told after every commit.
    """

    def __init__(
        self,
        bot: AssistantBot,
        db: Database,
        clock: Callable[[], datetime],
        on_stored: Callable[[], None] | None = None,
        *,
        hand_over: OnStored | None = None,
        timeout: int = 10,
        limit: int = 100,
    ) -> None:
        self._bot = bot
        self._db = db
        self._clock = clock
        self._on_stored = on_stored
        self._hand_over = hand_over
        self._timeout = timeout
        self._limit = limit
        self._offset: int | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start polling."""
        self._task = asyncio.create_task(self._run(), name="poller")

    async def stop(self) -> None:
        """Stop polling and confirm what was stored, so Telegram need not send it again."""
        if self._task is None:
            return
        self._task.cancel()
        # A long poll that does not end on cancel must not hold up the stop: nothing it could
        # still return is lost, as the offset has not moved past it.
        await asyncio.wait({self._task}, timeout=2.0)
        self._task = None
        if self._offset is not None:
            # Bounded: a 429 halt must not hold up the stop (the updates come again, and are
            # dropped as repeats).
            with contextlib.suppress(TelegramError, TimeoutError):
                await asyncio.wait_for(
                    self._bot.call_raw(
                        "getUpdates", {"offset": self._offset, "timeout": 0, "limit": 1}
                    ),
                    2.0,
                )

    async def _run(self) -> None:
        backoff = 1.0
        while True:
            try:
                batch = await self._bot.call_raw(
                    "getUpdates",
                    {
                        "offset": self._offset,
                        "timeout": self._timeout,
                        "limit": self._limit,
                        "allowed_updates": ALL_UPDATE_TYPES,
                    },
                    read_timeout=self._timeout + 10,
                )
            except InvalidToken:
                # The bot's token_refused is set: whoever runs the bot stops it.
                log.info("getUpdates answered 401 Unauthorized; polling stops")
                return
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc.retry_after) + 0.5)
                continue
            except TelegramError as exc:
                log.warning("getUpdates failed (%s); again in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 1.5, 30.0)
                continue
            backoff = 1.0
            if not batch:
                continue
            stored = await self._store(batch)
            self._offset = max(int(u["update_id"]) for u in batch) + 1
            _stored(stored, self._hand_over, self._on_stored)

    async def _store(self, batch: list[dict[str, Any]]) -> list[inbox.Stored]:
        # Until the batch is committed the offset must not move: keep trying.
        backoff = 1.0
        while True:
            try:
                async with self._db.unit_of_work(busy=True) as session:
                    return await inbox.store(session, batch, self._clock())
            except Exception:
                log.exception("could not store %d update(s); again in %.1f s", len(batch), backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)


class WebhookIntake:
    """An HTTP endpoint for Telegram's webhook that answers 200 only after the update is stored.

    ``hand_over`` and ``on_stored`` are called as the :class:`Poller`'s are.
    """

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        on_stored: Callable[[], None] | None = None,
        *,
        secret: str,
        path: str,
        hand_over: OnStored | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._on_stored = on_stored
        self._hand_over = hand_over
        self._secret = secret.encode()
        self._path = path
        self._runner: web.AppRunner | None = None
        self._accepting = False

    async def start(self, host: str, port: int) -> str:
        """Listen on ``host:port``; returns the local URL of the endpoint."""
        app = web.Application()
        app.router.add_post(self._path, self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._accepting = True
        bound = self._runner.addresses[0][1]
        return f"http://{host}:{bound}{self._path}"

    async def stop(self) -> None:
        """Refuse new deliveries (Telegram keeps them), then close."""
        self._accepting = False
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
        # Constant-time comparison: the secret is the only proof the request is Telegram's.
        if not hmac.compare_digest(given, self._secret):
            return web.Response(status=403)
        if request.content_type != "application/json":
            return web.Response(status=403)
        if not self._accepting:
            return web.Response(status=503)
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400)
        if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
            return web.Response(status=400)
        try:
            async with self._db.unit_of_work(busy=True) as session:
                stored = await inbox.store(session, [payload], self._clock())
        except Exception:
            log.exception("could not store update %s", payload["update_id"])
            # Not 200: Telegram will deliver it again.
            return web.Response(status=500)
        _stored(stored, self._hand_over, self._on_stored)
        return web.Response(status=200)


def _stored(
    stored: list[inbox.Stored], hand_over: OnStored | None, on_stored: Callable[[], None] | None
) -> None:
    if hand_over is not None and stored:
        hand_over(stored)
    if on_stored is not None:
        on_stored()


def _seconds(value: Any) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)

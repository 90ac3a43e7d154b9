"""Telegram's flood limits, kept on our side so that the bot never earns a 429.

Every Bot API call of the bot passes through :class:`FloodLimiter` (PTB's rate limiter hook).
Calls that put a message into a chat take a slot of the overall window (30 per second) and of
their chat (about 1 per second in a private chat with a small burst, 20 per minute in a group).
A call finding a slot free takes it at once; the others are granted by one gatekeeper task,
evenly spaced, replies to the person in front of the bot before notifications and broadcasts,
so a running broadcast never makes the bot feel frozen: bulk messages also leave a reserved
share of every window to replies. A 429 that gets through anyway, to whatever call, halts every
call for the time Telegram asks (answers to button presses, edits, menus and getUpdates too,
which :class:`~assistant.bot.telegram.AssistantBot` sends past PTB's limiter hook), then the
call is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from assistant.storage.models import Priority

log = logging.getLogger(__name__)

# Methods that add a message to a chat and so count toward the chat's limit.
_SENDS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "sendLocation",
        "sendPoll",
        "sendSticker",
        "copyMessage",
        "forwardMessage",
    }
)
# Edits change no chat's message count but do count toward the overall rate.
_EDITS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})


@dataclass(frozen=True)
class FloodPolicy:
    """The limits, from Telegram's Bots FAQ."""

    per_second: int = 30
    # Measured windows run a little long so that network jitter cannot squeeze 31 into a second.
    window: float = 1.05
    # Bulk may use all but this many places of a window; replies may use every place.
    bulk_reserve: int = 1
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20
    max_retries: int = 5


@dataclass
class _Waiter:
    chat_id: int | None
    counts_in_chat: bool
    priority: Priority
    future: asyncio.Future[None]


@dataclass
class _PrivateBucket:
    tokens: float
    updated: float


@dataclass
class _State:
    sent: deque[float] = field(default_factory=deque)
    bulk_sent: deque[float] = field(default_factory=deque)
    buckets: dict[int, _PrivateBucket] = field(default_factory=dict)
    groups: dict[int, deque[float]] = field(default_factory=dict)
    halted_until: float = 0.0
    # When the next evenly spaced call may leave.
    next_at: float = 0.0


class FloodLimiter(BaseRateLimiter[dict[str, Any]]):
    """PTB rate limiter with Telegram's overall, per-chat and per-group limits and priorities."""

    def __init__(
        self, policy: FloodPolicy | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or FloodPolicy()
        self._clock = clock
        self._state = _State()
        self._queues: dict[Priority, deque[_Waiter]] = {p: deque() for p in Priority}
        self._wake = asyncio.Event()
        # Set while no halt is on; calls that take no slot wait on it.
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._gatekeeper: asyncio.Task[None] | None = None
        self.retries_after_429 = 0

    async def initialize(self) -> None:
        """Start the gatekeeper."""
        if self._gatekeeper is None:
            self._gatekeeper = asyncio.create_task(self._grant_forever(), name="flood-limiter")

    async def shutdown(self) -> None:
        """Stop the gatekeeper; calls still waiting are cancelled."""
        task, self._gatekeeper = self._gatekeeper, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for queue in self._queues.values():
            while queue:
                queue.popleft().future.cancel()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Wait for a slot, make the call, and ride out a 429 if one still comes.

        Calls that put nothing in a chat's or the bot's message count (answers to presses,
        menus, chat information) take no slot, but wait out a halt all the same.
        """
        counted = endpoint in _SENDS or endpoint in _EDITS
        priority = Priority((rate_limit_args or {}).get("priority", Priority.INTERACTIVE))
        chat_id = data.get("chat_id")
        chat = chat_id if isinstance(chat_id, int) else None
        for attempt in range(self.policy.max_retries + 1):
            if counted:
                await self._acquire(chat, endpoint in _SENDS, priority, first=attempt == 0)
            else:
                await self.resumed()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.refused(endpoint, exc)
                if attempt == self.policy.max_retries:
                    raise
                self.retries_after_429 += 1
        raise AssertionError("unreachable")

    def refused(self, endpoint: str, error: RetryAfter) -> None:
        """Telegram answered ``endpoint`` with a 429: halt every call for the time it asks."""
        self.halt(_seconds(error.retry_after))
        log.warning(
            "Telegram asked to wait %s s after %s; every call halted", error.retry_after, endpoint
        )

    def halt(self, seconds: float) -> None:
        """Make no call for ``seconds``."""
        self._state.halted_until = max(self._state.halted_until, self._clock() + seconds)
        self._flowing.clear()
        self._wake.set()

    async def resumed(self) -> None:
        """Return once no halt is on: at once, or when the gatekeeper sees the last one end."""
        await self._flowing.wait()

    async def _acquire(
        self, chat_id: int | None, counts_in_chat: bool, priority: Priority, *, first: bool
    ) -> None:
        future = asyncio.get_running_loop().create_future()
        waiter = _Waiter(chat_id, counts_in_chat, priority, future)
        queue = self._queues[priority]
        # A retried call keeps its place at the front.
        (queue.append if first else queue.appendleft)(waiter)
        # A slot free now is granted here, sparing the call two turns of a busy loop (the
        # gatekeeper's and its own); otherwise the gatekeeper grants it when one is.
        self._grant_ready()
        if not future.done():
            self._wake.set()
        await future

    async def _grant_forever(self) -> None:
        while True:
            delay = self._grant_ready()
            self._wake.clear()
            if delay is None:
                await self._wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)

    def _grant_ready(self) -> float | None:
        """Grant every slot available now; return how long until the next may be, or None."""
        state = self._state
        while True:
            now = self._clock()
            if now < state.halted_until:
                return state.halted_until - now
            self._flowing.set()
            for window in (state.sent, state.bulk_sent):
                while window and window[0] <= now - self.policy.window:
                    window.popleft()
            # Even spacing instead of bursts: few calls are ever in flight together, so a 429
            # reaches us before the next call leaves, and the halt holds back everything after.
            if now < state.next_at and any(self._queues.values()):
                return state.next_at - now
            waiter, wait = self._pick(now)
            if waiter is None:
                return wait
            self._take(waiter, now)
            # The next slot is one spacing after this one was due, not after it was granted: a
            # grant always comes a little late (the loop's other work, a busy second core), and
            # counting from the grant would add that to every gap and lose pace for good. Half a
            # spacing stays the least gap, and after a pause the spacing counts from now.
            spacing = self.policy.window / self.policy.per_second
            state.next_at = max(state.next_at + spacing, now + spacing / 2)

    def _pick(self, now: float) -> tuple[_Waiter | None, float | None]:
        """The first waiter, replies before bulk, whose chat and window allow a send now."""
        state, policy, soonest = self._state, self.policy, None
        windows = {
            Priority.INTERACTIVE: [(state.sent, policy.per_second)],
            Priority.BULK: [
                (state.sent, policy.per_second),
                (state.bulk_sent, policy.per_second - policy.bulk_reserve),
            ],
        }
        for priority in Priority:
            queue = self._queues[priority]
            _drop_abandoned(queue)
            if not queue:
                continue
            full = [
                w[-limit] + policy.window - now for w, limit in windows[priority] if len(w) >= limit
            ]
            if full:
                soonest = _min(soonest, max(full))
                continue
            for index, waiter in enumerate(queue):
                wait = self._chat_wait(waiter, now)
                if wait <= 0:
                    del queue[index]
                    return waiter, None
                soonest = _min(soonest, wait)
        return None, soonest

    def _chat_wait(self, waiter: _Waiter, now: float) -> float:
        if waiter.chat_id is None or not waiter.counts_in_chat:
            return 0.0
        policy = self.policy
        if waiter.chat_id < 0:
            sent = self._state.groups.setdefault(waiter.chat_id, deque())
            while sent and sent[0] <= now - 60.0:
                sent.popleft()
            return 0.0 if len(sent) < policy.group_per_minute else sent[0] + 60.0 - now
        bucket = self._state.buckets.setdefault(
            waiter.chat_id, _PrivateBucket(float(policy.private_burst), now)
        )
        bucket.tokens = min(
            float(policy.private_burst),
            bucket.tokens + (now - bucket.updated) * policy.private_per_second,
        )
        bucket.updated = now
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / policy.private_per_second

    def _take(self, waiter: _Waiter, now: float) -> None:
        self._state.sent.append(now)
        if waiter.priority is Priority.BULK:
            self._state.bulk_sent.append(now)
        if waiter.chat_id is not None and waiter.counts_in_chat:
            if waiter.chat_id < 0:
                self._state.groups[waiter.chat_id].append(now)
            else:
                self._state.buckets[waiter.chat_id].tokens -= 1
        waiter.future.set_result(None)


def _drop_abandoned(queue: deque[_Waiter]) -> None:
    # Callers cancelled while waiting (a stopping bot) must not hold a place.
    for waiter in [w for w in queue if w.future.done()]:
        queue.remove(waiter)


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)

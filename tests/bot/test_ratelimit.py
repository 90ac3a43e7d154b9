"""The flood limiter's pace: evenly spaced calls at Telegram's rate, even when every grant comes a
little late, and never more than the window allows."""

from __future__ import annotations

import asyncio

import pytest

from assistant.bot.ratelimit import FloodLimiter, FloodPolicy, _Waiter
from assistant.storage.models import Priority


def queued(limiter: FloodLimiter, count: int, priority: Priority) -> list[asyncio.Future[None]]:
    """``count`` sends waiting, each to a chat of its own (no chat's limit holds them back)."""
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[None]] = []
    for chat in range(count):
        future: asyncio.Future[None] = loop.create_future()
        limiter._queues[priority].append(_Waiter(1000 + chat, True, priority, future))
        futures.append(future)
    return futures


@pytest.mark.parametrize("late", [0.0, 0.002, 0.010])
@pytest.mark.parametrize("priority", [Priority.INTERACTIVE, Priority.BULK])
async def test_late_grants_keep_the_pace_and_the_window(late: float, priority: Priority) -> None:
    now = [0.0]
    policy = FloodPolicy()
    limiter = FloodLimiter(policy, clock=lambda: now[0])
    futures = queued(limiter, 1000, priority)
    granted: list[float] = []
    # The gatekeeper's loop, on a clock it cannot keep exactly: it wakes ``late`` after the
    # moment it asked for, as a loop busy with other work (or a busy second core) does.
    while now[0] < 20.0:
        before = sum(f.done() for f in futures)
        wait = limiter._grant_ready()
        granted += [now[0]] * (sum(f.done() for f in futures) - before)
        assert wait is not None
        # (A real wait always lets some time pass, however little it asked for.)
        now[0] += max(wait, 1e-6) + late
    # The most the window lets through: every place of it for replies, all but the reserve for
    # bulk; evenly spaced, so that is the pace every second, not a burst and a pause.
    per_window = policy.per_second - (policy.bulk_reserve if priority is Priority.BULK else 0)
    ceiling = per_window / policy.window
    steady = [t for t in granted if 2.0 <= t < 20.0]
    assert len(steady) / 18.0 >= 0.99 * ceiling, (len(steady) / 18.0, ceiling)
    # And never more: no window of 1.05 s (nor any second) holds more than 30 calls.
    for index, start in enumerate(granted):
        in_window = [t for t in granted[index : index + 40] if t < start + policy.window]
        assert len(in_window) <= policy.per_second

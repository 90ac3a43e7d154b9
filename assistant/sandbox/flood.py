"""Telegram's flood control for messages a bot sends, on an injectable clock.

Telegram publishes its limits only roughly (Bots FAQ): about one message per second in one chat
with short bursts tolerated, about 30 messages per second overall, and at most 20 messages per
minute in one group. The sandbox turns that into three rules, all of which must allow a message:

* a private chat is a token bucket: ``private_burst`` messages at once, refilled at
  ``private_per_second`` (defaults 3 and 1/s);
* a group or supergroup allows ``group_per_minute`` messages in any sliding 60 s (default 20);
* the bot as a whole allows ``global_per_second`` messages in any sliding second (default 30).

Only sendMessage, sendPhoto and sendDocument count; edits and other calls are never refused.
A refused message consumes nothing. The refusal carries ``retry_after``: whole seconds, at
least 1, until the strictest rule would allow the message.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FloodPolicy:
    """The numbers behind the sandbox's flood control."""

    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20
    global_per_second: int = 30


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class FloodControl:
    """Decides whether the bot may send one more message now."""

    clock: Callable[[], float]
    policy: FloodPolicy = field(default_factory=FloodPolicy)
    _buckets: dict[int, _Bucket] = field(default_factory=dict)
    _group_sent: dict[int, deque[float]] = field(default_factory=dict)
    _global_sent: deque[float] = field(default_factory=deque)

    def acquire(self, chat_id: int, *, is_group: bool) -> int | None:
        """Counts a message to ``chat_id`` and returns None, or returns retry_after if refused."""
        now = self.clock()
        waits = [self._global_wait(now)]
        if is_group:
            waits.append(self._group_wait(chat_id, now))
        else:
            waits.append(self._private_wait(chat_id, now))
        wait = max(waits)
        if wait > 0:
            return max(1, math.ceil(wait))
        self._global_sent.append(now)
        if is_group:
            self._group_sent.setdefault(chat_id, deque()).append(now)
        else:
            self._buckets[chat_id].tokens -= 1
        return None

    def _global_wait(self, now: float) -> float:
        return _window_wait(self._global_sent, now, 1.0, self.policy.global_per_second)

    def _group_wait(self, chat_id: int, now: float) -> float:
        sent = self._group_sent.setdefault(chat_id, deque())
        return _window_wait(sent, now, 60.0, self.policy.group_per_minute)

    def _private_wait(self, chat_id: int, now: float) -> float:
        rate = self.policy.private_per_second
        capacity = float(self.policy.private_burst)
        bucket = self._buckets.setdefault(chat_id, _Bucket(capacity, now))
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / rate


def _window_wait(sent: deque[float], now: float, window: float, limit: int) -> float:
    """Seconds until a sliding window holding ``sent`` has room for one more."""
    while sent and sent[0] <= now - window:
        sent.popleft()
    if len(sent) < limit:
        return 0.0
    return sent[0] + window - now


class ManualClock:
    """A clock for the sandbox that moves only when told to, for tests of time limits."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Moves the clock forward."""
        self.now += seconds

"""Jittered exponential backoff that forgets past failures only after a healthy period.

A feed that reconnects and drops again a second later must keep backing off
(otherwise a flapping venue gets hammered at the base delay), so a single
success does not reset the attempt count: the feed has to stay healthy for
``reset_after`` seconds first.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable


class Backoff:
    def __init__(
        self,
        base: float = 0.5,
        cap: float = 30.0,
        factor: float = 2.0,
        jitter: float = 0.5,
        reset_after: float = 30.0,
        *,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if base <= 0 or cap < base or factor < 1 or not 0 <= jitter <= 1:
            raise ValueError("backoff needs 0 < base <= cap, factor >= 1, 0 <= jitter <= 1")
        self.base = base
        self.cap = cap
        self.factor = factor
        self.jitter = jitter
        self.reset_after = reset_after
        self.attempt = 0  # consecutive failures not yet forgiven
        self._rng = random.Random(seed)
        self._clock = clock
        self._healthy_since: float | None = None

    def failure(self, min_delay: float = 0.0) -> float:
        """Record a failure and return how long to wait before retrying (seconds).

        ``min_delay`` honours a venue's Retry-After (never waits less than asked).
        """
        now = self._clock()
        if self._healthy_since is not None and now - self._healthy_since >= self.reset_after:
            self.attempt = 0
        self._healthy_since = None
        raw = min(self.cap, self.base * self.factor**self.attempt)
        self.attempt += 1
        # "Equal-ish" jitter: somewhere in [raw * (1 - jitter), raw], so retries of many
        # feeds spread out but the delay still grows.
        delay = raw * (1.0 - self.jitter * self._rng.random())
        return max(delay, min_delay)

    def success(self) -> None:
        """Record a healthy moment; after ``reset_after`` s of health the count resets."""
        now = self._clock()
        if self._healthy_since is None:
            self._healthy_since = now
        elif now - self._healthy_since >= self.reset_after:
            self.attempt = 0

    def reset(self) -> None:
        self.attempt = 0
        self._healthy_since = None

    async def sleep(self, min_delay: float = 0.0) -> float:
        """Record a failure and sleep for the returned delay (cancellable)."""
        delay = self.failure(min_delay)
        await asyncio.sleep(delay)
        return delay

"""Request pacing for bulk jobs: spacing between one venue's requests, adapted to 429s.

A `Pacer` is handed to `Venue.paced()` for the length of a job (backfill, collect's
catch-ups): requests made inside that block wait for it and report back whether the
venue throttled them.  Requests made elsewhere on the same venue (the engine's book and
funding loops in ``collect``) are not slowed.  ccxt's own throttle still keeps every
client at the venue's documented ``rateLimit``; the pacer adds the reaction to the venue
saying "too many".
"""

from __future__ import annotations

import asyncio


class Pacer:
    """Spacing between one venue's requests, widened by 429s and relaxed by successes.

    Each 429 widens the spacing by ``grow`` (at least ``floor_s``, at most ``max_s``),
    each success shrinks it by ``relax``, so sporadic 429s settle near the floor and a
    sustained run of them backs off fast.
    """

    def __init__(
        self, *, floor_s: float = 0.25, max_s: float = 10.0, grow: float = 1.6, relax: float = 0.8
    ) -> None:
        self.grow = grow
        self.interval_s = 0.0
        self.floor_s = floor_s
        self.max_s = max_s
        self.relax = relax
        self.requests = 0  # HTTP attempts, retries included
        self.throttled = 0  # 429 / DDoS answers seen
        self._next_at = 0.0

    async def wait(self) -> None:
        """Before a request: sleep until the spacing since the previous one has passed."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._next_at > now:
            await asyncio.sleep(self._next_at - now)
        self._next_at = max(now, self._next_at) + self.interval_s
        self.requests += 1

    def on_throttled(self) -> None:
        self.throttled += 1
        self.slow_down()

    def slow_down(self) -> None:
        self.interval_s = min(self.max_s, max(self.floor_s, self.interval_s * self.grow))

    def on_success(self) -> None:
        self.interval_s *= self.relax
        if self.interval_s < 0.01:
            self.interval_s = 0.0

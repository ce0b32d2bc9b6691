"""One feed's failure handling: what kind of error it was, and what the health bar says.

`classify` decides the reaction to an error (only perptui's error kinds - the venue
layer translates the library's); `Feed` keeps one loop's state transitions, consecutive
failures and backoff and reports them in the hub's feed health.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import TYPE_CHECKING, Any

from perptui.core.numbers import finite_float
from perptui.core.text import one_line
from perptui.engine.backoff import Backoff
from perptui.engine.hub import Hub
from perptui.errors import (
    BookOutOfSync,
    CapabilityMissing,
    RateLimited,
    UnknownSymbol,
    VenueUnreachable,
)

if TYPE_CHECKING:
    from perptui.engine.workers import WorkerSettings


def classify(exc: BaseException) -> str:
    """What kind of failure this is, which decides the reaction.

    resync    the local book lost sync (gap, checksum): count a resync, re-watch now
    rate      throttled or banned: back off, honouring Retry-After when known
    network   timeouts, disconnects, 5xx: reconnect with backoff
    symbol    the venue does not list the symbol: stop that symbol, say so
    capability the venue cannot do this at all: stop this loop, say so
    other     anything else (bad payload, exchange error): back off and retry
    """
    if isinstance(exc, BookOutOfSync):
        return "resync"
    if isinstance(exc, RateLimited):
        return "rate"
    if isinstance(exc, UnknownSymbol):
        return "symbol"
    if isinstance(exc, CapabilityMissing):
        return "capability"
    if isinstance(exc, VenueUnreachable | OSError | TimeoutError):
        return "network"
    return "other"


def describe(exc: BaseException) -> str:
    """A short one-line error for the health bar (venue messages can be long JSON)."""
    text = one_line(exc, 160)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def retry_after_s(exc: BaseException) -> float:
    """Best-effort Retry-After hint from the error, 0 when it carries none."""
    seconds = finite_float(getattr(exc, "retry_after", None))
    return seconds if seconds is not None else 0.0


def cancelled_by_peer(exc: BaseException) -> bool:
    """A CancelledError that does not mean *this* task is being cancelled.

    A venue may cancel the pending watches of a stream connection when it is closed
    (e.g. our watchdog drops a stalled connection shared by several symbols); the
    other symbols' loops must treat that as a disconnect.
    """
    if not isinstance(exc, asyncio.CancelledError):
        return False
    task = asyncio.current_task()
    return task is not None and task.cancelling() == 0


class Feed:
    """Health bookkeeping for one loop: state transitions + consecutive failures."""

    def __init__(self, hub: Hub, venue_id: str, name: str, settings: WorkerSettings) -> None:
        self.hub = hub
        self.venue = venue_id
        self.name = name
        self.settings = settings
        self.failures = 0
        self.state: str | None = None
        # A book loop's watchdog: forced drops of its connection in a row that brought
        # no book back, and when the last was (monotonic s); see VenueWorker._stalled.
        self.forced_drops = 0
        self.forced_at = -1e9
        self.backoff = Backoff(
            base=settings.backoff_base,
            cap=settings.backoff_cap,
            reset_after=settings.backoff_reset_after,
            # crc32, not hash(): str hashes change per process and the seed must not.
            seed=None
            if settings.seed is None
            else zlib.crc32(f"{settings.seed}:{venue_id}:{name}".encode()),
        )

    def set(self, state: str | None, error: str | None = None) -> None:
        if state != self.state or error:
            changes: dict[str, Any] = {"state": state}
            if error:
                changes["last_error"] = error
            self.hub.set_health(self.venue, feed=self.name, **changes)
            self.state = state

    def ok(self) -> None:
        self.failures = 0
        self.backoff.success()
        if self.state != "connected":
            self.set("connected")

    def failed(self, exc: BaseException) -> float:
        """Record a failure; returns how long to wait before the next attempt."""
        self.failures += 1
        kind = classify(exc)
        state = "down" if self.failures >= self.settings.down_after_failures else "reconnecting"
        self.set(state, describe(exc))
        if kind == "resync":
            self.hub.count_resync(self.venue)
            # The venue already dropped the local book and refetches the snapshot on
            # the next watch; retry promptly unless resyncs keep failing.
            return min(self.backoff.failure(), 0.2 * self.failures)
        if kind == "network":
            self.hub.count_reconnect(self.venue)
        return self.backoff.failure(retry_after_s(exc))

    def forget(self) -> None:
        """Drop this feed from the venue's health (it ended, or never was a live feed)."""
        self.hub.set_health(self.venue, feed=self.name, state=None)
        self.state = None

"""Replay: the monitor fed from what was logged, on a recording clock.

``ReplaySource`` is a monitor backend (the same contract as the live engine's):
it owns a :class:`Hub` and fills it from the database instead of from venues, so
every panel, signal list and health line works unchanged.  Its clock is the
recording's: the app samples the hub at "recording time", which makes ages,
countdowns and staleness read as they did when the data was logged (a hole in
the recording shows as STALE, as the collector's outage did).

Moving forward by a little (playback) feeds the newest rows since the last
position; any other move (seek, step back, a jump of minutes) rebuilds a fresh
hub warmed with the few minutes before the target, so sparklines and charts show
the right past at once.  All reads are index seeks (store.replay_read) done in
one worker thread; the loop only swaps finished results in.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from perptui.core.model import BookSnapshot, Candle, FundingInfo, Signal
from perptui.core.timespec import MomentError, parse_moment
from perptui.core.units import utc_text
from perptui.engine.hub import Hub
from perptui.engine.views import HubView
from perptui.errors import ConfigError, StoreError
from perptui.store.backend import redact
from perptui.store.replay_read import Market, ReplayReader, SnapshotRow

log = logging.getLogger(__name__)

WARM_MS = 10 * 60_000  # history rebuilt behind the position after a seek
WARM_POINTS = 150  # snapshots per market read for that history (evenly the newest)
FORWARD_MAX_MS = 120_000  # a forward move larger than this is treated as a seek
FEED_HZ = 10.0
SPEEDS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
CANDLES = 200


@dataclass(frozen=True, slots=True)
class ReplayState:
    position_ms: int
    first_ms: int
    last_ms: int
    speed: float
    playing: bool
    ended: bool

    @property
    def fraction(self) -> float:
        span = self.last_ms - self.first_ms
        return 1.0 if span <= 0 else (self.position_ms - self.first_ms) / span

    def status(self) -> str:
        """'replay 2026-11-30 14:02:11, 3.4x' plus play state and position."""
        state = "end of recording" if self.ended else ("playing" if self.playing else "paused")
        return (
            f"replay {utc_text(self.position_ms, seconds=True)}, {self.speed:g}x, {state}, "
            f"{self.fraction * 100:.0f}% of {utc_text(self.first_ms, seconds=True)} → "
            f"{utc_text(self.last_ms, seconds=True)[11:]}"
        )


class ReplaySource:
    """A monitor backend that plays a perptui database back (mode "replay")."""

    mode = "replay"
    history_version = 0  # a recording does not change under the app

    def __init__(
        self,
        db_path: str,
        *,
        start: str | int | None = None,
        end: str | int | None = None,
        speed: float = 1.0,
        play: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = ReplayReader(db_path)
        self.db_path: str | None = db_path  # the funding-history panel reads it too
        self.markets: list[Market] = self.reader.markets()
        bounds = self.reader.bounds(self.markets)
        if bounds is None:
            self.reader.close()
            raise StoreError(f"{redact(db_path)} has no order-book snapshots to replay")
        first, last = bounds
        try:
            # Relative forms (-15m) count back from the end of the recording.
            start_ms = None if start is None else parse_moment(str(start), last)
            end_ms = None if end is None else parse_moment(str(end), last)
        except MomentError as exc:
            self.reader.close()
            raise ConfigError(f"--from/--to: {exc}") from None
        self.first_ms = max(first, start_ms) if start_ms is not None else first
        self.last_ms = min(last, end_ms) if end_ms is not None else last
        if self.first_ms > self.last_ms:
            self.reader.close()
            raise ConfigError(
                f"--from/--to select nothing: the recording spans {utc_text(first, seconds=True)} "
                f"to {utc_text(last, seconds=True)} UTC"
            )
        self.speed = float(speed)
        self._mono = monotonic
        self._anchor_pos = self.first_ms
        self._anchor_mono = monotonic()
        self.playing = play
        self.ended = False
        self.symbols = list(dict.fromkeys(s for _, s in self.markets))
        self.venues = list(dict.fromkeys(e for e, _ in self.markets))
        self.hub, self._hub_clock = self._new_hub()
        self._fed_to: int | None = None  # position the hub reflects
        self._pending: asyncio.Future | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="replay")
        self._task: asyncio.Task | None = None
        self.error = ""
        self.loads = 0  # rebuilds + forward feeds applied (tests wait on it)

    # ----------------------------------------------------------------- clock
    def clock(self) -> int:
        """Recording time now (ms); stops at the end of the selection."""
        if not self.playing:
            return self._anchor_pos
        pos = self._anchor_pos + int((self._mono() - self._anchor_mono) * 1000 * self.speed)
        if pos >= self.last_ms:
            self._set_anchor(self.last_ms)
            self.playing = False
            self.ended = True
            return self.last_ms
        return pos

    def _set_anchor(self, pos: int) -> None:
        self._anchor_pos = max(self.first_ms, min(self.last_ms, pos))
        self._anchor_mono = self._mono()

    def state(self) -> ReplayState:
        pos = self.clock()
        return ReplayState(pos, self.first_ms, self.last_ms, self.speed, self.playing, self.ended)

    # -------------------------------------------------------------- controls
    def toggle_play(self) -> bool:
        pos = self.clock()
        if self.playing:
            self.playing = False
        else:
            if self.ended:
                pos, self.ended = self.first_ms, False  # play again from the start
            self.playing = True
        self._set_anchor(pos)
        return self.playing

    def seek(self, position_ms: int) -> int:
        """Move to a moment (clamped into the selection); playback state is kept."""
        self._set_anchor(position_ms)
        self.ended = False
        return self._anchor_pos

    def seek_by(self, delta_ms: int) -> int:
        return self.seek(self.clock() + delta_ms)

    def step(self, forward: bool) -> int:
        """Pause and move to the next (previous) logged snapshot of any market."""
        pos = self.clock()
        self.playing = False
        t = self.reader.neighbour_time(self.markets, pos, forward)
        return self.seek(t if t is not None else pos)

    def change_speed(self, direction: int) -> float:
        pos = self.clock()
        faster = [s for s in SPEEDS if s > self.speed]
        slower = [s for s in SPEEDS if s < self.speed]
        if direction > 0 and faster:
            self.speed = faster[0]
        elif direction < 0 and slower:
            self.speed = slower[-1]
        self._set_anchor(pos)
        return self.speed

    # ------------------------------------------------------ backend contract
    async def start(self) -> None:
        self._task = asyncio.create_task(self._feed_loop(), name="replay-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.reader.close()

    async def add_symbol(self, symbol: str) -> None:
        return None  # a recording has the markets it has

    async def remove_symbol(self, symbol: str) -> None:
        return None

    def available_symbols(self) -> Sequence[str]:
        return list(self.symbols)

    def db_stats(self) -> tuple[int, int] | None:
        return None  # nothing is written

    def hint(self, view: HubView) -> str:
        status = self.state().status()
        return f"{status} · {self.error}" if self.error else status

    # ---------------------------------------------------------------- feeding
    async def _feed_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            target = self.clock()
            if target != self._fed_to:
                try:
                    await self._feed(loop, target)
                    self.error = ""
                except (sqlite3.Error, ValueError, OSError) as exc:
                    # e.g. the file was locked or damaged under us: say so, keep trying.
                    self.error = f"replay read failed: {type(exc).__name__}: {exc}"
                    log.warning("%s", self.error)
                    await asyncio.sleep(1.0)
            await asyncio.sleep(1.0 / FEED_HZ)

    async def _feed(self, loop: asyncio.AbstractEventLoop, target: int) -> None:
        fed = self._fed_to
        if fed is not None and 0 < target - fed <= FORWARD_MAX_MS:
            rows = await loop.run_in_executor(self._executor, self._read_forward, fed, target)
            self._apply_forward(rows)
        else:
            self.hub, self._hub_clock = await loop.run_in_executor(
                self._executor, self._rebuild, target
            )
        self._fed_to = target
        self.loads += 1

    def _new_hub(self) -> tuple[Hub, _FeedClock]:
        # Each hub has its own clock (the time of the row being applied), so a hub
        # rebuilt in the worker thread never moves the clock of the one on screen.
        clock = _FeedClock(self.first_ms)
        hub = Hub(self.symbols, self.venues, clock=clock)
        for v in self.venues:
            hub.set_health(v, state="connected")
        return hub, clock

    def _read_forward(self, t0: int, t1: int) -> tuple[list[SnapshotRow], list, list]:
        books = []
        for m in self.markets:
            rows = self.reader.snapshots_between(m, t0, t1, limit=1)
            books.extend(rows)
        funding = [f for m in self.markets if (f := self.reader.funding_at(m, t1)) is not None]
        signals = self.reader.signals_between(t0, t1)
        return books, funding, signals

    def _apply_forward(self, rows: tuple[list[SnapshotRow], list, list]) -> None:
        books, funding, signals = rows
        hub, clock = self.hub, self._hub_clock
        for b in sorted(books, key=lambda r: r.timestamp):
            clock.t = b.timestamp
            hub.set_book(_book(b))
        for f in funding:
            shown = hub.latest_funding(f.exchange, f.symbol)
            if shown is None or shown.timestamp != f.timestamp:
                hub.set_funding(_funding(f))
        for s in signals:
            hub.add_signal(_signal(s))

    def _rebuild(self, target: int) -> tuple[Hub, _FeedClock]:
        """A fresh hub as of `target`, with WARM_MS of history behind it (worker thread)."""
        hub, clock = self._new_hub()
        start = target - WARM_MS
        for m in self.markets:
            rows = self.reader.snapshots_between(m, start, target, limit=WARM_POINTS)
            for b in rows:
                clock.t = b.timestamp
                hub.set_book(_book(b))
                hub.sample(b.timestamp)  # one history point per logged snapshot
            f = self.reader.funding_at(m, target)
            if f is not None:
                hub.set_funding(_funding(f))
            candles = self.reader.candles_before(m, target, CANDLES)
            if candles:
                hub.add_candles(
                    Candle(
                        c.exchange,
                        c.symbol,
                        c.timeframe,
                        c.timestamp,
                        c.open,
                        c.high,
                        c.low,
                        c.close,
                        c.volume,
                    )
                    for c in candles
                )
        for s in self.reader.signals_between(start, target):
            hub.add_signal(_signal(s))
        clock.t = target
        return hub, clock


class _FeedClock:
    """A hub clock the feeder sets to the time of the row it applies."""

    __slots__ = ("t",)

    def __init__(self, t: int) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def _book(r: SnapshotRow) -> BookSnapshot:
    return BookSnapshot(r.exchange, r.symbol, r.timestamp, r.bids, r.asks)


def _funding(f) -> FundingInfo:
    return FundingInfo(
        f.exchange,
        f.symbol,
        f.timestamp,
        f.funding_rate,
        next_funding_time=f.next_funding_time,
        interval_hours=f.interval_hours,
        mark_price=f.mark_price,
        index_price=f.index_price,
        predicted_rate=f.predicted_rate,
    )


def _signal(s) -> Signal:
    return Signal(
        s.kind,
        s.exchange,
        s.symbol,
        s.timestamp,
        s.direction or "",
        float(s.value or 0.0),
        float(s.threshold or 0.0),
        s.inputs,
    )

"""The headless collector: the monitor's engine without a UI, plus schedules.

What runs:

- the Engine (``perptui.engine``): book feeds for the watched symbols, a book snapshot
  to the store every ``snapshot_every_s``, the signal rules on its clock;
- per venue, a funding schedule: the live funding of every collected perpetual is
  fetched every ``funding_every_s`` *and* just after each settlement the venue
  announces (``next_funding_time`` + a grace period), then the settled rates are
  caught up from the venue's history (the backfill logic over a recent window);
- an OHLCV catch-up every ``ohlcv_every_s``: the backfill logic over the last
  ``catchup_hours``, which, resuming from the database, fetches only new candles.

Everything is bounded over weeks of running: the hub's histories are fixed-size, the
schedules keep one small record per venue, catch-up reports are dropped after logging.
Stopping (SIGINT/SIGTERM, or ``duration_s``) cancels the schedules, stops the engine
(which logs a last snapshot round) and leaves the writer to the caller to close, which
commits everything accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from perptui.config import Config
from perptui.core.model import (
    BookRecord,
    BookSnapshot,
    Candle,
    FundingInfo,
    FundingRecord,
    Signal,
)
from perptui.core.shard import Shard, owned
from perptui.core.units import HOUR_MS
from perptui.engine.hub import Hub
from perptui.engine.shutdown import cancel_and_wait
from perptui.engine.workers import WorkerSettings
from perptui.errors import PerptuiError, UnknownSymbol
from perptui.jobs.backfill import FUNDING, OHLCV, Backfill, BackfillSettings
from perptui.stack import build_engine

log = logging.getLogger(__name__)

# The engine's own funding poll would duplicate the schedule below; it polls once at
# start-up (feeding the hub at once), then the schedule keeps the hub current.
ENGINE_FUNDING_POLL_S: float | None = None


@dataclass(frozen=True, slots=True)
class CollectSettings:
    symbols: tuple[str, ...]  # watched: books, funding, candles
    all_symbols: bool = False  # funding + candles for every perpetual of each venue
    funding_every_s: float = 3600.0
    settle_grace_s: float = 15.0  # after next_funding_time, before asking
    snapshot_every_s: float = 1.0
    ohlcv_every_s: float = 3600.0
    timeframe: str = "1h"
    catchup_hours: float = 48.0
    book_depth: int = 25
    signals: bool = True
    status_every_s: float = 60.0
    shard: Shard | None = None  # K/N: this collector's part of the (venue, symbol) universe


def record_key(record: Any) -> dict[str, Any]:
    """The store's unique key of a record, as JSON-friendly fields."""
    # Each kind names its table (and series column); the (x, s, ts) tail is common.
    head: dict[str, Any]
    if isinstance(record, FundingInfo):
        head = {"t": "funding", "kind": "live"}
    elif isinstance(record, FundingRecord):
        head = {"t": "funding", "kind": "settled"}
    elif isinstance(record, BookSnapshot | BookRecord):
        head = {"t": "snapshots"}
    elif isinstance(record, Candle):
        head = {"t": "ohlcv", "tf": record.timeframe}
    elif isinstance(record, Signal):
        head = {"t": "signals", "kind": record.kind}
    else:
        return {"t": type(record).__name__}
    return {**head, "x": record.exchange, "s": record.symbol, "ts": record.timestamp}


class ObservedWriter:
    """A Writer front that counts every record handed to it (the "observed" figure of
    collect's status line), before the writer sees it.

    Everything goes through :meth:`_note` first, so a test can subclass this to journal
    each record (tests/journalled_collect.py) and check the database against it.
    """

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.observed = 0

    @property
    def path(self) -> str:
        return str(self.writer.path)

    def _note(self, record: Any) -> None:
        self.observed += 1

    def submit(self, record: Any) -> bool:
        self._note(record)
        return bool(self.writer.submit(record))

    async def put(self, record: Any) -> None:
        self._note(record)
        await self.writer.put(record)

    async def flush(self) -> None:
        await self.writer.flush()

    def __getattr__(self, name: str) -> Any:  # counters: rows_written, queue_depth, ...
        return getattr(self.writer, name)


@dataclass
class VenueSchedule:
    """One venue's funding timetable (a few numbers: bounded by construction)."""

    next_settlement_ms: int | None = None
    last_funding_s: float = 0.0
    funding_rounds: int = 0
    settlement_rounds: int = 0
    last_error: str | None = None


@dataclass
class CollectStats:
    funding_rounds: int = 0
    settlement_rounds: int = 0
    catchups: int = 0
    catchup_rows: int = 0
    catchup_requests: int = 0
    errors: int = 0
    schedules: dict[str, VenueSchedule] = field(default_factory=dict)


class Collector:
    def __init__(
        self,
        venues: Sequence[Any],
        writer: Any,
        settings: CollectSettings,
        *,
        config: Config | None = None,  # signal thresholds; None: the defaults
        worker_settings: WorkerSettings | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.venues = list(venues)
        # epoch ms "now" for the schedules (tests drive it with the emulator's clock)
        self.now_ms: Callable[[], int] = clock or (lambda: int(time.time() * 1000))
        self.writer = writer
        self.settings = settings
        self.hub = Hub(settings.symbols, [v.id for v in self.venues])
        ws = worker_settings or WorkerSettings(
            funding_poll_s=ENGINE_FUNDING_POLL_S,
            ohlcv_poll_s=max(300.0, settings.ohlcv_every_s),
            oi_poll_s=300.0,
            ticker_poll_s=300.0,
        )
        self.engine = build_engine(
            config or Config(),
            self.venues,
            self.hub,
            writer,
            settings=ws,
            symbols=settings.symbols,
            snapshot_every_s=settings.snapshot_every_s,
            book_depth=settings.book_depth,
            signals=settings.signals,
            shard=settings.shard,
        )
        self.stats = CollectStats(schedules={v.id: VenueSchedule() for v in self.venues})
        self._tasks: list[asyncio.Task[None]] = []
        self._catchup_lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.engine.start()
        for v in self.venues:
            self._spawn(self._funding_schedule(v), f"funding:{v.id}")
        self._spawn(self._ohlcv_schedule(), "ohlcv")
        self._spawn(self._status(), "status")

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro, name=f"collect:{name}"))

    async def stop(self) -> None:
        """Cancel the schedules and stop the engine, in bounded time (engine/shutdown.py)."""
        await cancel_and_wait(self._tasks, 5.0, "collect schedules")
        self._tasks.clear()
        await self.engine.stop()

    async def run(self, stop: asyncio.Event, duration_s: float | None = None) -> None:
        """Start, wait for `stop` (or `duration_s`), stop. The caller closes the writer."""
        await self.start()
        try:
            if duration_s is None:
                await stop.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), duration_s)
        finally:
            await self.stop()

    # ------------------------------------------------------------------ funding
    async def _symbols_of(self, venue: Any) -> list[str]:
        markets = await venue.load_markets()
        if self.settings.all_symbols:
            return owned(self.settings.shard, venue.id, sorted(markets))
        mine = owned(self.settings.shard, venue.id, list(self.settings.symbols))
        out: list[str] = []
        for requested in mine:
            try:  # the venue's own market for the request (BTC/USDC:USDC on a DEX)
                symbol = venue.market(requested).symbol
            except UnknownSymbol:
                continue
            if symbol in markets and symbol not in out:
                out.append(symbol)
        return out

    async def _funding_schedule(self, venue: Any) -> None:
        sched = self.stats.schedules[venue.id]
        backoff = 5.0
        while True:
            settled = False
            try:
                symbols = await self._symbols_of(venue)
                fundings = await venue.fetch_fundings(symbols) if symbols else {}
                now_ms = self.now_ms()
                for f in fundings.values():
                    self._observe_funding(f)
                upcoming = [
                    f.next_funding_time
                    for f in fundings.values()
                    if f.next_funding_time is not None and f.next_funding_time > now_ms
                ]
                settled = (
                    sched.next_settlement_ms is not None and now_ms >= sched.next_settlement_ms
                )
                sched.next_settlement_ms = min(upcoming) if upcoming else None
                sched.last_funding_s = time.monotonic()
                sched.funding_rounds += 1
                self.stats.funding_rounds += 1
                sched.last_error = None
                backoff = 5.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # network faults are normal; try again soon
                sched.last_error = f"{type(exc).__name__}: {exc}"
                self.stats.errors += 1
                log.warning("collect: %s funding: %s; retry in %.0fs", venue.id, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(300.0, backoff * 2)
                continue
            if settled:  # the rate just paid is in the venue's history now
                await self._catch_up([venue], (FUNDING,))
                sched.settlement_rounds += 1
                self.stats.settlement_rounds += 1
            await asyncio.sleep(self._next_funding_delay(sched))

    def _next_funding_delay(self, sched: VenueSchedule) -> float:
        s = self.settings
        delay = s.funding_every_s
        if sched.next_settlement_ms is not None:
            until_settle = (sched.next_settlement_ms - self.now_ms()) / 1000 + s.settle_grace_s
            delay = min(delay, max(1.0, until_settle))
        return delay

    def _observe_funding(self, f: FundingInfo) -> None:
        if (f.exchange, f.symbol) in self.hub.keys():
            self.hub.set_funding(f)
        self.writer.submit(f)

    # ------------------------------------------------------------------ catch-up
    async def _ohlcv_schedule(self) -> None:
        while True:
            await self._catch_up(self.venues, (OHLCV, FUNDING))
            await asyncio.sleep(self.settings.ohlcv_every_s)

    async def _catch_up(self, venues: Sequence[Any], whats: tuple[str, ...]) -> None:
        """The backfill logic over the recent window; resumes, so only new rows are fetched."""
        s = self.settings
        async with self._catchup_lock:  # one catch-up at a time: polite to each venue
            now = self.now_ms()
            job = Backfill(
                venues,
                self.writer,
                BackfillSettings(
                    since=now - int(s.catchup_hours * HOUR_MS),
                    until=now,
                    whats=whats,
                    timeframe=s.timeframe,
                    symbols=s.symbols,
                    all_symbols=s.all_symbols,
                    shard=s.shard,
                    max_failures=3,
                ),
            )
            try:
                reports = await job.run()
            except asyncio.CancelledError:
                raise
            except (PerptuiError, Exception) as exc:
                self.stats.errors += 1
                log.warning("collect: catch-up of %s failed: %s", ",".join(whats), exc)
                return
        self.stats.catchups += 1
        self.stats.catchup_rows += sum(r.rows_fetched for r in reports)
        self.stats.catchup_requests += sum(r.requests for r in reports)
        for r in reports:
            if r.error:
                log.warning("collect: catch-up %s: %s", r.key.label, r.error)
        log.info(
            "collect: catch-up %s: %d series, %d rows, %d requests",
            ",".join(whats),
            len(reports),
            sum(r.rows_fetched for r in reports),
            sum(r.requests for r in reports),
        )

    # ------------------------------------------------------------------ status
    def status_line(self) -> str:
        w = self.writer
        view = self.hub.sample()
        states = ", ".join(f"{v}:{h.state}" for v, h in sorted(view.health.items()))
        # A message lost on the wire breaks a venue's sequence chain: counted as a resync.
        resyncs = sum(h.resyncs for h in view.health.values())
        reconnects = sum(h.reconnects for h in view.health.values())
        shard = f"shard {self.settings.shard} " if self.settings.shard is not None else ""
        return (
            f"{shard}rows {getattr(w, 'rows_written', 0):,} queue {getattr(w, 'queue_depth', 0):,} "
            f"dropped {getattr(w, 'dropped', 0):,} snapshots {self.engine.snapshots_submitted:,} "
            f"funding rounds {self.stats.funding_rounds} settlements {self.stats.settlement_rounds} "
            f"catch-ups {self.stats.catchups} signals {self.engine.signals_emitted} "
            f"resyncs {resyncs} reconnects {reconnects} [{states}]"
        )

    async def _status(self) -> None:
        while True:
            await asyncio.sleep(self.settings.status_every_s)
            log.info("collect: %s", self.status_line())


__all__ = ["CollectSettings", "Collector", "ObservedWriter", "record_key"]

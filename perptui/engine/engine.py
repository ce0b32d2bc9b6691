"""The engine: venue workers feeding one hub, plus a clock that logs and signals.

``Engine.start()`` spawns a :class:`~perptui.engine.workers.VenueWorker` per venue
and returns at once; venues that are unreachable keep retrying in the background
while the hub shows them "connecting" / "reconnecting" / "down".  A clock task,
every ``snapshot_every_s``, samples the hub, hands a snapshot of every watched
book that changed to the writer, and evaluates the signal rules, pushing new
signals to the hub and the writer.  Funding observations go to the writer as
they arrive (deduplicated: a poll that returns the same observation twice is
one row).

The engine does not own the writer: whoever created it closes it (after
``Engine.stop()``), so "quit flushes everything" stays one ``await writer.close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from perptui.core import signals as sigrules
from perptui.core.cadence import after_beat
from perptui.core.model import BookRecord, BookSnapshot, FundingInfo, Signal
from perptui.core.peers import peer_groups
from perptui.core.shard import Shard, owned
from perptui.engine import gc_tuning
from perptui.engine.hub import Hub
from perptui.engine.views import HubView, Key
from perptui.engine.workers import VenueWorker, WorkerSettings

log = logging.getLogger(__name__)


class Engine:
    def __init__(
        self,
        venues: Sequence[Any],  # perptui.venues.base.Venue
        symbols: Iterable[str],
        hub: Hub,
        writer: Any = None,  # perptui.store.writer.Writer (anything with submit(record))
        snapshot_every_s: float = 1.0,
        thresholds: sigrules.SignalThresholds | None = None,  # None: the defaults
        *,
        settings: WorkerSettings | None = None,
        book_depth: int = 25,  # levels per side kept in a snapshot's raw_data
        signals: bool = True,
        rearm_s: float = 60.0,
        freeze_gc: bool = True,
        freeze_gc_after_s: float = 60.0,
        shard: Shard | None = None,
        max_late_s: float | None = None,  # None: 10 periods, at least 10 s
    ) -> None:
        self.venues = list(venues)
        self.symbols: list[str] = list(dict.fromkeys(symbols))
        # One collector of a fleet streams only the books its shard owns.
        self.shard = shard
        self.hub = hub
        self.writer = writer
        self.snapshot_every_s = snapshot_every_s
        # How far behind the clock may fall and still run every tick it owes.
        self.max_late_s = max(10.0, 10 * snapshot_every_s) if max_late_s is None else max_late_s
        self._thresholds = thresholds or sigrules.DEFAULT_THRESHOLDS
        self.rearm_s = rearm_s
        # A stalled feed must not look like a sustained imbalance.
        self._imbalance = sigrules.SustainedImbalance.from_thresholds(
            self._thresholds, max_gap_s=max(5.0, 3 * snapshot_every_s)
        )
        self.settings = settings or WorkerSettings()
        self.book_depth = book_depth
        self.signals_enabled = signals
        # Freeze long-lived objects out of the GC once every venue's markets are in
        # (or after freeze_gc_after_s regardless): see engine/gc_tuning.py.
        self.freeze_gc = freeze_gc
        self.freeze_gc_after_s = freeze_gc_after_s
        self._froze_gc = False  # this engine froze the GC, so its stop() thaws it
        self.workers: dict[str, VenueWorker] = {}
        self.started_at: float | None = None
        # counters, for the health bar and tests
        self.snapshots_submitted = 0
        self.funding_submitted = 0
        self.signals_emitted = 0
        self.ticks = 0  # clock steps taken: lets a caller wait for the clock to move on
        self.ticks_late = 0  # ticks that ran a period or more after they were due
        self.ticks_given_up = 0  # ticks never run (the clock was > max_late_s behind)
        self.submit_errors = 0
        self._clock_task: asyncio.Task[None] | None = None
        self._last_book: dict[Key, BookSnapshot] = {}
        self._last_funding: dict[Key, FundingInfo] = {}
        self._active_signals: set[tuple[str, str, str, str]] = set()
        self._lapsed_signals: dict[tuple[str, str, str, str], int] = {}
        for s in self.symbols:
            hub.add_symbol(s)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Spawn workers and the clock; never waits for a venue to answer."""
        if self._clock_task is not None:
            return
        self.started_at = time.monotonic()
        for venue in self.venues:
            w = VenueWorker(
                venue,
                self.hub,
                owned(self.shard, venue.id, self.symbols),
                self.settings,
                on_funding=self._on_funding,
            )
            self.workers[venue.id] = w
            w.start()
        self._clock_task = asyncio.get_running_loop().create_task(
            self._clock(), name="perptui:engine-clock"
        )

    async def stop(self) -> None:
        """Cancel every loop and close every client; submits a last snapshot round."""
        if self._clock_task is not None:
            self._clock_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock_task
            self._clock_task = None
            # What was observed since the last tick is logged too.
            with contextlib.suppress(Exception):
                self.tick()
        await asyncio.gather(*(w.stop() for w in self.workers.values()), return_exceptions=True)
        if self._froze_gc:
            self._froze_gc = False
            gc_tuning.thaw()

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ symbols
    def add_symbol(self, symbol: str) -> None:
        if symbol not in self.symbols:
            self.symbols.append(symbol)
        self.hub.add_symbol(symbol)
        for w in self.workers.values():
            w.add_symbol(symbol)

    def remove_symbol(self, symbol: str) -> None:
        if symbol in self.symbols:
            self.symbols.remove(symbol)
        for w in self.workers.values():
            w.remove_symbol(symbol)
        self.hub.remove_symbol(symbol)
        for key in [k for k in self._last_book if k[1] == symbol]:
            del self._last_book[key]
            self._imbalance.forget(*key)

    def available_symbols(self) -> list[str]:
        """Perpetuals listed by any venue whose markets have loaded (for search)."""
        out: dict[str, None] = {}
        for w in self.workers.values():
            out.update(dict.fromkeys(w.markets))
        return sorted(out)

    def any_venue_up(self) -> bool:
        view = self.hub.sample()
        return any(h.last_msg_ms is not None for h in view.health.values())

    def hint(self, grace_s: float = 10.0) -> str:
        """One line for the user when nothing is reachable after a grace period."""
        if self.started_at is None or time.monotonic() - self.started_at < grace_s:
            return ""
        if self.any_venue_up():
            return ""
        return "no venue reachable; check the network, or try `perptui --demo` (built-in emulator)"

    # ------------------------------------------------------------------ the clock
    async def _clock(self) -> None:
        """One tick per period, on a fixed grid: a late tick still runs, and so do the
        ticks owed after it (back to back, yielding to the feeds in between, so each
        logs what arrived meanwhile), unless the clock is more than ``max_late_s``
        behind (see core/cadence.py)."""
        period = self.snapshot_every_s
        due = time.monotonic() + period
        while True:
            # sleep(0) when late: the feeds run between catch-up ticks
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            beat = after_beat(due, time.monotonic(), period, self.max_late_s)
            due = beat.next_at
            self.ticks_late += beat.late
            self.ticks_given_up += beat.given_up
            if beat.given_up:
                log.warning(
                    "engine clock %.1f s behind: gave up %d snapshot rounds",
                    beat.given_up * period,
                    beat.given_up,
                )
            try:
                self.tick()
            except Exception:  # the clock must survive a bad record or rule
                log.exception("engine clock tick failed")
            if self.freeze_gc and self._warmed_up():
                self.freeze_gc = False
                self._froze_gc = gc_tuning.freeze_long_lived()

    def _warmed_up(self) -> bool:
        """Every venue has its markets (the bulk of long-lived objects), or it is late."""
        if self.started_at is not None and (
            time.monotonic() - self.started_at >= self.freeze_gc_after_s
        ):
            return True
        return bool(self.workers) and all(w.markets_loaded.is_set() for w in self.workers.values())

    def tick(self, now_ms: int | None = None) -> HubView:
        """One clock step: sample, log changed books, evaluate signals."""
        view = self.hub.sample(now_ms)
        now = view.now_ms
        self.ticks += 1
        if self.writer is not None:
            for key in self.hub.keys():
                sampled = self.hub.sampled_book(*key)
                last = self._last_book.get(key)
                if sampled is None or last is sampled[0]:
                    continue
                book, metrics = sampled
                self._last_book[key] = book
                if last is not None and last.timestamp == book.timestamp:
                    # A fresh copy of a book with the venue time already logged (the
                    # row's key): the store keeps the first, so it is not handed over.
                    continue
                # The row's figures are the hub's metrics of the whole book (what the
                # UI shows); only raw_data is trimmed to the top book_depth levels.
                self._submit(BookRecord(self._trim(book), metrics))
                self.snapshots_submitted += 1
        if self.signals_enabled:
            for sig in self._evaluate_signals(view, now):
                self.hub.add_signal(sig)
                self._submit(sig)
                self.signals_emitted += 1
        return view

    def _trim(self, book: BookSnapshot) -> BookSnapshot:
        d = self.book_depth
        if len(book.bids) <= d and len(book.asks) <= d:
            return book
        return replace(book, bids=book.bids[:d], asks=book.asks[:d])

    def _on_funding(self, f: FundingInfo) -> None:
        key = (f.exchange, f.symbol)
        if self._last_funding.get(key) == f:
            return
        self._last_funding[key] = f
        if self.writer is not None:
            self._submit(f)
            self.funding_submitted += 1

    def _submit(self, record: Any) -> None:
        if self.writer is None:
            return
        try:
            self.writer.submit(record)
        except Exception as exc:  # a full queue or closed writer must not stop the feeds
            self.submit_errors += 1
            if self.submit_errors in (1, 10, 100) or self.submit_errors % 1000 == 0:
                log.warning("writer rejected a record (%d so far): %s", self.submit_errors, exc)

    # ------------------------------------------------------------------ signals
    def _evaluate_signals(self, view: HubView, now_ms: int) -> list[Signal]:
        """New signals this tick.

        Level rules (funding arb, divergences) hold for as long as their condition
        does; a signal is news when its condition becomes true, and it may fire
        again only after the condition has been absent for ``rearm_s`` (so a rate
        hovering at the threshold does not flood the log).  The imbalance tracker
        fires once per sustained run by itself.
        """
        thr = self._thresholds
        level: list[Signal] = []
        fired: list[Signal] = []
        for (venue, symbol), m in view.markets.items():
            if m.funding is not None:
                sig = sigrules.funding_arb(m.funding, thr, now_ms=now_ms)
                if sig is not None:
                    level.append(sig)
            imb = None if m.stale or m.metrics is None else m.metrics.imbalance
            sig = self._imbalance.update(venue, symbol, imb, now_ms)
            if sig is not None:
                fired.append(sig)
        # cross-venue rules compare peer groups: one base, USDT = USDC = USD (core.peers),
        # so binance's BTC/USDT:USDT meets Hyperliquid's and dYdX's BTC/USDC:USDC
        groups = peer_groups((v, s, m) for (v, s), m in view.markets.items())
        for per_venue in groups.values():
            if len(per_venue) < 2:
                continue
            symbols = {v: m.symbol for v, m in per_venue.items()}
            fundings = {v: m.funding for v, m in per_venue.items() if m.funding is not None}
            for sig in sigrules.funding_divergence(fundings, thr, now_ms=now_ms):
                level.append(sigrules.with_legs(sig, symbols))
            # executable prices only: one venue's bid above another's ask, net of fees
            tops = {
                v: (None, None)
                if m.stale or m.metrics is None
                else (m.metrics.best_bid, m.metrics.best_ask)
                for v, m in per_venue.items()
            }
            fees = dict.fromkeys(per_venue, thr.fee_bps * 1e-4)
            symbol = min(symbols.values())
            for sig in sigrules.executable_divergence(tops, fees, symbol=symbol, now_ms=now_ms):
                level.append(sigrules.with_legs(sig, symbols))

        rearm_ms = self.rearm_s * 1000
        current: set[tuple[str, str, str, str]] = set()
        for sig in level:
            key = (sig.kind, sig.exchange, sig.symbol, sig.direction)
            current.add(key)
            if key in self._active_signals:
                continue
            lapsed_at = self._lapsed_signals.get(key)
            if lapsed_at is not None and now_ms - lapsed_at < rearm_ms:
                self._active_signals.add(key)  # back within the cool-down: same episode
                continue
            self._active_signals.add(key)
            fired.append(sig)
        for key in self._active_signals - current:
            self._active_signals.discard(key)
            self._lapsed_signals[key] = now_ms
        if len(self._lapsed_signals) > 10_000:  # bounded over days of running
            cutoff = now_ms - rearm_ms
            self._lapsed_signals = {k: t for k, t in self._lapsed_signals.items() if t >= cutoff}
        return fired

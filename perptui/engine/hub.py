"""The hub: latest market state per (venue, symbol), short histories and feed health.

Workers write into the hub on every message; those mutators only store references
and mark keys dirty (O(1), no maths), because a busy venue sends hundreds of book
updates a second.  The UI (and the engine's clock) call :meth:`Hub.sample` a few
times a second instead: only then are depth metrics computed, and only for books
that changed since the previous sample.  ``sample`` returns a frozen
:class:`~perptui.engine.views.HubView`; views of keys that did not change are reused object-for-object,
so a reader can compare by identity to skip repainting.

No Textual and no I/O here: the hub is plain state, testable without a loop.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from perptui.core import funding as fmath
from perptui.core.metrics import DEPTH_BANDS, DepthMetrics, depth_metrics
from perptui.core.model import (
    BookSnapshot,
    Candle,
    FundingInfo,
    LiveBook,
    MarketInfo,
    OpenInterest,
    Signal,
    Ticker,
)
from perptui.core.pool import PoolState
from perptui.core.units import timeframe_ms
from perptui.engine.hub_state import HealthState, KeyState
from perptui.engine.views import FeedHealth, HistoryPoint, HubView, Key, MarketView

# Worst first wins when several feeds of one venue disagree.
_SEVERITY = {"connected": 0, "connecting": 1, "stale": 2, "reconnecting": 3, "down": 4}


def wall_ms() -> int:
    return int(time.time() * 1000)


def _depth_metrics(book: BookSnapshot, bands: tuple[float, ...]) -> DepthMetrics:
    return depth_metrics(book.bids, book.asks, bands)


class Hub:
    """Latest state per (venue, symbol) + bounded histories + health + recent signals.

    Single-threaded: call everything from the event loop that runs the workers.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        venues: Iterable[str],
        *,
        history_seconds: float = 600.0,
        history_points: int = 600,
        top_levels: int = 100,  # enough for a ladder grouped by several ticks
        max_candles: int = 500,
        max_signals: int = 200,
        stale_after_s: float = 10.0,
        bands: tuple[float, ...] | None = None,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self.symbols: list[str] = list(dict.fromkeys(symbols))
        self.venues: list[str] = list(dict.fromkeys(venues))
        self.history_seconds = history_seconds
        self.history_points = max(1, history_points)
        # One history point per step: ~history_points points across history_seconds,
        # so converting a history to a tuple stays cheap however fast books arrive.
        self.history_step_ms = int(history_seconds * 1000 / self.history_points)
        self.top_levels = top_levels
        self.max_candles = max_candles
        self.stale_after_s = stale_after_s
        self.bands = tuple(bands) if bands is not None else tuple(DEPTH_BANDS)
        self.clock = clock
        # How long a non-focus key's metrics may stand while the UI samples: see sample().
        self.cool_ms = 1000
        self.version = 0
        self._keys: dict[Key, KeyState] = {}
        self._dirty: set[Key] = set()
        self._health: dict[str, HealthState] = {v: HealthState() for v in self.venues}
        self._signals: deque[Signal] = deque(maxlen=max_signals)
        self._signals_total = 0
        self._last_view: HubView | None = None
        self._last_view_version = -1
        self._last_health: dict[str, FeedHealth] = {}

    # ------------------------------------------------------------------ mutators
    def _slot(self, venue: str, symbol: str) -> KeyState:
        key = (venue, symbol)
        slot = self._keys.get(key)
        if slot is None:
            slot = self._keys[key] = KeyState(self.history_points)
        self._dirty.add(key)
        self.version += 1
        return slot

    def _health_of(self, venue: str) -> HealthState:
        """The venue's health slot; a venue first heard of here joins ``venues``."""
        h = self._health.get(venue)
        if h is None:
            h = self._health[venue] = HealthState()
            if venue not in self.venues:
                self.venues.append(venue)
        return h

    def _touch(self, venue: str, n: int = 1) -> None:
        h = self._health_of(venue)
        h.msg_total += n
        h.last_msg_ms = self.clock()

    def set_book(self, book: BookSnapshot) -> None:
        slot = self._slot(book.exchange, book.symbol)
        self.published(book)
        slot.book = book
        slot.live = None
        slot.book_received_ms = slot.book_copied_ms = self.clock()
        self._touch(book.exchange)

    def published(self, book: BookSnapshot) -> None:
        """Called with every book the hub takes as the one it shows and stores.

        A set book, or a live book when it is copied.  Nothing here; a checking
        subclass (the fault campaign's) compares each with the venue's truth.
        """

    def set_live_book(self, live: LiveBook) -> None:
        """A newer book is ready at the venue; it is copied when it is next read.

        The copy happens in :meth:`sample` (and :meth:`latest_book`), so a book
        updated ten times between two samples costs one copy, not ten.  If the
        venue no longer vouches for it by then, the last good copy stays, with its
        own receive time (it turns stale on time instead of looking fresh).
        """
        slot = self._slot(live.exchange, live.symbol)
        slot.live = live
        slot.book_received_ms = self.clock()
        self._touch(live.exchange)

    def _copy_live(self, slot: KeyState) -> None:
        book = slot.take_live()
        if book is not None:
            self.published(book)

    def set_market_info(self, info: MarketInfo) -> None:
        """Static market definition (tick, lot, funding interval when funding lacks it)."""
        self._slot(info.exchange, info.symbol).market = info

    def set_funding(self, f: FundingInfo) -> None:
        self._slot(f.exchange, f.symbol).funding = f
        self._touch(f.exchange)

    def set_ticker(self, t: Ticker) -> None:
        self._slot(t.exchange, t.symbol).ticker = t
        self._touch(t.exchange)

    def set_pool(self, pool: PoolState) -> None:
        """A pool venue's live state (what it has instead of an order book)."""
        self._slot(pool.exchange, pool.symbol).pool = pool
        self._touch(pool.exchange)

    def set_open_interest(self, oi: OpenInterest) -> None:
        self._slot(oi.exchange, oi.symbol).oi = oi
        self._touch(oi.exchange)

    def add_candles(self, candles: Iterable[Candle]) -> None:
        """Merge venue candles (by open time; a newer copy of a candle replaces the old)."""
        touched: set[int] = set()
        for c in candles:
            slot = self._slot(c.exchange, c.symbol)
            touched.add(id(slot))
            if slot.timeframe != c.timeframe:
                # The chart shows one timeframe; a new one replaces the old series.
                slot.candles = {}
                slot.timeframe = c.timeframe
            slot.candles[c.timestamp] = c
        for slot in self._keys.values():
            if id(slot) in touched:
                # Sorted once here (rare: a poll a minute), not at every sample.
                ordered = sorted(slot.candles)[-self.max_candles :]
                slot.candles = {t: slot.candles[t] for t in ordered}
                slot.candle_series = tuple(slot.candles.values())

    def set_health(self, exchange: str, *, feed: str = "", **changes: Any) -> None:
        """Update health fields of a venue.

        ``state`` is kept per feed (e.g. ``feed="book:BTC/USDT:USDT"``; ``""`` is
        the venue as a whole) and the venue shows its worst feed, so one symbol
        reconnecting is visible even while the others stream.  ``state=None``
        forgets a feed.  Other keys: last_error, resyncs, reconnects, malformed
        (absolute), notes (iterable, replaces).
        """
        h = self._health_of(exchange)
        for name, value in changes.items():
            if name == "state":
                if value is None:
                    h.feeds.pop(feed, None)
                elif value not in _SEVERITY:
                    raise ValueError(f"unknown feed state {value!r}")
                else:
                    h.feeds[feed] = value
            elif name == "last_error":
                h.last_error = str(value)[:200]
            elif name in ("resyncs", "reconnects", "malformed"):
                setattr(h, name, int(value))
            elif name == "notes":
                h.notes = list(value)
            else:
                raise TypeError(f"set_health() got an unknown field {name!r}")
        self.version += 1

    def count_resync(self, exchange: str, error: str = "") -> None:
        self._count(exchange, "resyncs", error)

    def count_reconnect(self, exchange: str, error: str = "") -> None:
        self._count(exchange, "reconnects", error)

    def _count(self, exchange: str, counter: str, error: str) -> None:
        h = self._health_of(exchange)
        setattr(h, counter, getattr(h, counter) + 1)
        if error:
            h.last_error = error[:200]
        self.version += 1

    def add_note(self, exchange: str, note: str) -> None:
        h = self._health_of(exchange)
        if note not in h.notes:
            h.notes.append(note)
            self.version += 1

    def note_message(self, exchange: str, n: int = 1) -> None:
        self._touch(exchange, n)
        self.version += 1

    def add_signal(self, sig: Signal) -> None:
        self._signals.append(sig)
        self._signals_total += 1
        self.version += 1

    def add_symbol(self, symbol: str) -> None:
        if symbol not in self.symbols:
            self.symbols.append(symbol)
            self.version += 1

    def remove_symbol(self, symbol: str) -> None:
        if symbol in self.symbols:
            self.symbols.remove(symbol)
        for key in [k for k in self._keys if k[1] == symbol]:
            del self._keys[key]
            self._dirty.discard(key)
        self.version += 1

    # ------------------------------------------------------------------ readers
    def latest_book(self, venue: str, symbol: str) -> BookSnapshot | None:
        slot = self._keys.get((venue, symbol))
        if slot is None:
            return None
        self._copy_live(slot)
        return slot.book

    def sampled_book(self, venue: str, symbol: str) -> tuple[BookSnapshot, DepthMetrics] | None:
        """The book the last :meth:`sample` measured and its metrics (of the whole book).

        What the store logs: the numbers the UI was shown, computed once, never again
        from a trimmed copy.
        """
        slot = self._keys.get((venue, symbol))
        if slot is None or slot.metrics_for is None or slot.metrics is None:
            return None
        return slot.metrics_for, slot.metrics

    def latest_funding(self, venue: str, symbol: str) -> FundingInfo | None:
        slot = self._keys.get((venue, symbol))
        return slot.funding if slot else None

    def keys(self) -> list[Key]:
        return list(self._keys)

    def sample(self, now_ms: int | None = None, *, hot: Collection[Key] | None = None) -> HubView:
        """Compute what changed since the last sample and return a frozen view.

        Without ``hot`` every new book is measured (the engine's clock: what it
        logs is the latest book).  With ``hot`` (the UI's clock, several times a
        second) only those keys are measured at every sample; another key's new
        book waits until its metrics are :attr:`cool_ms` old, so a watchlist row
        moves about once a second while the focus market moves with every sample.
        A waiting key keeps its previous view whole (book and metrics together),
        never a new book beside old metrics.  Measuring all 30 books five times a
        second was most of the UI clock's cost in the UI bench.
        """
        now = self.clock() if now_ms is None else now_ms
        prev = self._last_view
        stale_ms = self.stale_after_s * 1000
        changed: set[Key] = set()
        waiting: list[Key] = []
        cool = self.cool_ms

        markets: dict[Key, MarketView] = {}
        for key, slot in self._keys.items():
            stale = slot.book_received_ms is not None and now - slot.book_received_ms > stale_ms
            dirty = key in self._dirty
            if dirty or stale != slot.stale or slot.view is None:
                if (
                    hot is not None
                    and slot.view is not None
                    and stale == slot.stale
                    and key not in hot
                    and (slot.live is not None or slot.book is not slot.metrics_for)
                    and now - slot.metrics_at < cool
                ):
                    waiting.append(key)
                else:
                    if slot.live is not None:
                        self._copy_live(slot)  # may fall back to the last good copy's time
                        stale = slot.book_received_ms is not None and (
                            now - slot.book_received_ms > stale_ms
                        )
                    slot.stale = stale
                    slot.view = self._build_view(key, slot, now)
                    changed.add(key)
            markets[key] = slot.view
        self._dirty.clear()
        self._dirty.update(waiting)

        health = {v: self._health_view(v, h, now) for v, h in self._health.items()}
        if (
            prev is not None
            and not changed
            and self._last_view_version == self.version
            and health == self._last_health
        ):
            return prev
        self._last_health = health
        view = HubView(
            version=self.version,
            now_ms=now,
            venues=tuple(self.venues),
            symbols=tuple(self.symbols),
            markets=MappingProxyType(markets),
            health=MappingProxyType(health),
            signals=tuple(self._signals),
            signals_total=self._signals_total,
            changed=frozenset(changed),
        )
        self._last_view = view
        self._last_view_version = self.version
        return view

    # ------------------------------------------------------------------ internals
    def _build_view(self, key: Key, slot: KeyState, now: int) -> MarketView:
        self._copy_live(slot)
        book = slot.book
        if book is not None and book is not slot.metrics_for:
            # Only a new book costs maths; funding/ticker updates reuse the metrics.
            slot.metrics = _depth_metrics(book, self.bands)
            slot.metrics_for = book
            slot.metrics_at = now
            self._extend_history(slot, now)
        slot.version += 1
        f = slot.funding
        interval = f.interval_hours if f is not None else None
        if interval is None and slot.market is not None:
            interval = slot.market.funding_interval_hours
        interval_h, assumed = fmath.interval_or_default(interval)
        rate = f.funding_rate if f is not None else None
        ann = fmath.annualized(rate, interval_h) if rate is not None else None
        bas = fmath.basis(f.mark_price, f.index_price, f.basis) if f is not None else None
        top = self.top_levels
        return MarketView(
            exchange=key[0],
            symbol=key[1],
            version=slot.version,
            bids=book.bids[:top] if book else (),
            asks=book.asks[:top] if book else (),
            book_ts=book.timestamp if book else None,
            book_received_ms=slot.book_received_ms,
            stale=slot.stale,
            metrics=slot.metrics,
            funding=f,
            funding_rate=rate,
            interval_hours=interval_h,
            interval_assumed=assumed,
            annualized=ann,
            basis=bas,
            next_funding_time=f.next_funding_time if f else None,
            ticker=slot.ticker,
            open_interest=slot.oi,
            candles=self._candles_with_live(slot),
            history=tuple(slot.history),
            bands=self.bands,
            market=slot.market,
            pool=slot.pool,
        )

    def _extend_history(self, slot: KeyState, now: int) -> None:
        m = slot.metrics
        if m is None:
            return
        point = HistoryPoint(
            t=now,
            mid=m.mid,
            spread_bps=m.spread_bps,
            imbalance=tuple(float(m.imbalance_by_band.get(b, 0.0) or 0.0) for b in self.bands),
        )
        h = slot.history
        if h and now - slot.last_hist_t < self.history_step_ms:
            h[-1] = point  # within the current step: keep the latest value of the step
        else:
            h.append(point)
            slot.last_hist_t = now
        horizon = now - self.history_seconds * 1000
        while h and h[0].t < horizon:
            h.popleft()

    def _candles_with_live(self, slot: KeyState) -> tuple[Candle, ...]:
        """Venue candles, the newest one extended (or opened) from the live mid.

        The live candle is kept between samples so its high/low remember every
        sampled mid of the period, and it is merged with the venue's own copy of
        that candle whenever a poll brings one.
        """
        series = slot.candle_series
        if not series or slot.timeframe is None:
            return ()
        mid = slot.metrics.mid if slot.metrics is not None else None
        book = slot.book
        if not mid or book is None:
            return series
        last = series[-1]
        t = slot.book_received_ms or book.timestamp
        if t < last.timestamp:
            return series
        tf = timeframe_ms(slot.timeframe)
        open_t = t - (t - last.timestamp) % tf
        live = slot.live_candle
        if live is None or live.timestamp != open_t:
            if open_t == last.timestamp:
                live = last
            else:
                # The venue has not published this candle yet: open it at the last close.
                live = replace(
                    last,
                    timestamp=open_t,
                    open=last.close,
                    high=last.close,
                    low=last.close,
                    volume=0.0,
                )
        elif open_t == last.timestamp:
            live = replace(
                live,
                high=max(live.high, last.high),
                low=min(live.low, last.low),
                volume=last.volume,
            )
        live = replace(live, high=max(live.high, mid), low=min(live.low, mid), close=mid)
        slot.live_candle = live
        if open_t == last.timestamp:
            return (*series[:-1], live)
        return (*series, live)[-self.max_candles :]

    def _health_view(self, venue: str, h: HealthState, now: int) -> FeedHealth:
        if h.feeds:
            state = max(h.feeds.values(), key=_SEVERITY.__getitem__)
        else:
            state = "connected" if h.last_msg_ms is not None else "connecting"
        age = (now - h.last_msg_ms) / 1000 if h.last_msg_ms is not None else None
        if state == "connected" and age is not None and age > self.stale_after_s:
            state = "stale"
        # Message rate over a ~5 s window of samples (smooth enough to read at 4-10 Hz).
        w = h.rate_window
        w.append((now, h.msg_total))
        while len(w) > 2 and now - w[1][0] >= 5000:
            w.popleft()
        t0, c0 = w[0]
        rate = (h.msg_total - c0) * 1000 / (now - t0) if now > t0 else 0.0
        return FeedHealth(
            exchange=venue,
            state=state,
            last_msg_ms=h.last_msg_ms,
            age_s=round(age, 1) if age is not None else None,
            resyncs=h.resyncs,
            reconnects=h.reconnects,
            malformed=h.malformed,
            msgs_per_s=round(rate, 1),
            last_error=h.last_error,
            notes=tuple(h.notes),
        )

"""Deterministic market simulator behind the emulator's wire formats.

Everything except the live order books is a pure function of (seed, time), so history
(candles, funding) can be served for any past window without storing it, and two runs with
the same seed agree wherever they overlap:

* fair price per asset: a slowly mean-reverting log random walk with vol clustering, drawn
  per UTC day (one normal per day) and filled in minute by minute with a Brownian bridge;
* per venue a premium (mark vs index) made of slow waves shared by all venues, faster
  venue-specific waves and rare episodes (shared funding spikes, venue divergences), which
  drives both the venue's price and its funding rate;
* candles, funding history, open interest and 24 h stats derived from those paths.

Live books are stateful: one per (venue, symbol), created lazily, stepped only while
someone is subscribed (the server's ticker), each step emitting one :class:`BookDiff` with
monotonically increasing update ids. Prices and sizes are integers (ticks, lots) so the wire
strings are exact and a client's parsed book can be compared level for level.

The parts live beside this module: the price and premium paths in ``emulator.paths``,
the live books in ``emulator.sim_book``; ``MarketSim`` here ties them to venues and time.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS
from perptui.emulator.catalog import (
    DEFAULT_SYMBOLS,
    LISTING_MS,
    VENUES,
    VenueMarket,
    venue_markets,
)
from perptui.emulator.paths import MINUTES_PER_DAY, FairPath, Premium, stable_hash
from perptui.emulator.sim_book import SimBook


class Clock:
    """Epoch-ms clock: real time by default; tests freeze and advance it."""

    def __init__(self, frozen_ms: int | None = None) -> None:
        self._frozen: int | None = frozen_ms

    def now_ms(self) -> int:
        if self._frozen is not None:
            return self._frozen
        return int(time.time() * 1000)

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def freeze(self, at_ms: int | None = None) -> None:
        self._frozen = self.now_ms() if at_ms is None else int(at_ms)

    def advance(self, ms: int) -> None:
        if self._frozen is None:
            raise RuntimeError("advance() needs a frozen clock; call freeze() first")
        self._frozen += int(ms)

    def unfreeze(self) -> None:
        self._frozen = None


# --------------------------------------------------------------------------- the simulator


@dataclass(frozen=True)
class FundingNow:
    rate: float  # predicted rate for the running interval
    next_time: int  # ms of the next settlement
    interval_h: int
    mark: float
    index: float
    interest: float


@dataclass(frozen=True)
class Ticker24h:
    open: float
    high: float
    low: float
    last: float
    volume: float  # base units
    quote_volume: float
    open_time: int
    close_time: int
    trades: int


_VENUE_VOLUME_SHARE = {"binance": 1.0, "bybit": 0.55, "okx": 0.45}


class MarketSim:
    """The whole emulated market: fair paths, venue premia, funding, candles, live books."""

    def __init__(
        self,
        seed: int = 0,
        venues: Iterable[str] = VENUES,
        symbols: Iterable[str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.seed = int(seed)
        self.venues = tuple(venues)
        self.clock = clock or Clock()
        wanted = set(symbols) if symbols is not None else set(DEFAULT_SYMBOLS)
        self._markets: dict[str, dict[str, VenueMarket]] = {}
        self._by_id: dict[str, dict[str, VenueMarket]] = {}
        for v in self.venues:
            ms = [m for m in venue_markets(v) if m.symbol in wanted]
            self._markets[v] = {m.symbol: m for m in ms}
            self._by_id[v] = {m.venue_id: m for m in ms}
        unknown = wanted - {s for v in self.venues for s in self._markets[v]}
        if unknown:
            raise KeyError(f"emulator has no market for {sorted(unknown)}")
        self._fair: dict[str, FairPath] = {}
        self._prem: dict[tuple[str, str], Premium] = {}
        self._books: dict[tuple[str, str], SimBook] = {}

    # --- catalog
    def markets(self, venue: str) -> list[VenueMarket]:
        return list(self._markets[venue].values())

    def market(self, venue: str, symbol: str) -> VenueMarket:
        return self._markets[venue][symbol]

    def market_by_id(self, venue: str, venue_id: str) -> VenueMarket | None:
        return self._by_id[venue].get(venue_id)

    # --- paths
    def fair(self, base: str) -> FairPath:
        fp = self._fair.get(base)
        if fp is None:
            any_market = next(
                m for v in self.venues for m in self._markets[v].values() if m.base == base
            )
            fp = self._fair[base] = FairPath(self.seed, any_market.asset)
        return fp

    def premium_model(self, venue: str, base: str) -> Premium:
        key = (venue, base)
        p = self._prem.get(key)
        if p is None:
            p = self._prem[key] = Premium(self.seed, venue, base)
        return p

    def _now(self, t_ms: int | None) -> int:
        return self.clock.now_ms() if t_ms is None else int(t_ms)

    def index_price(self, venue: str, symbol: str, t_ms: int | None = None) -> float:
        t = self._now(t_ms)
        m = self.market(venue, symbol)
        off = self.premium_model(venue, m.base).index_offset(np.array([float(t)]))[0]
        return math.exp(self.fair(m.base).log_at(t)) * (1 + off)

    def premium(self, venue: str, symbol: str, t_ms: int | None = None) -> float:
        t = self._now(t_ms)
        m = self.market(venue, symbol)
        return float(self.premium_model(venue, m.base).at(np.array([float(t)]))[0])

    def mark_price(self, venue: str, symbol: str, t_ms: int | None = None) -> float:
        t = self._now(t_ms)
        return self.index_price(venue, symbol, t) * (1 + self.premium(venue, symbol, t))

    # --- funding
    @staticmethod
    def _interest(interval_h: int) -> float:
        return 0.0001 * interval_h / 8

    def _funding_for_windows(self, venue: str, m: VenueMarket, ends: np.ndarray) -> np.ndarray:
        """Binance-style rate for intervals ending at ``ends``: mean premium + clamp(I - P)."""
        h = m.funding_interval_h * HOUR_MS
        samples = 16
        offs = (np.arange(samples) + 0.5) / samples * h
        t = (ends[:, None] - h + offs[None, :]).ravel()
        p = self.premium_model(venue, m.base).at(t).reshape(len(ends), samples).mean(axis=1)
        interest = self._interest(m.funding_interval_h)
        rate = p + np.clip(interest - p, -0.0005, 0.0005)
        cap = 0.0075 if m.funding_interval_h >= 8 else 0.02 * m.funding_interval_h / 8 + 0.002
        return np.round(np.clip(rate, -cap, cap), 8)

    def funding_times(self, venue: str, symbol: str, start_ms: int, end_ms: int) -> np.ndarray:
        """Settlement times in [start_ms, end_ms], never before listing."""
        m = self.market(venue, symbol)
        h = m.funding_interval_h * HOUR_MS
        first = max(start_ms, LISTING_MS + h)
        k0 = -(-first // h)
        k1 = end_ms // h
        if k1 < k0:
            return np.empty(0, dtype=np.int64)
        return np.arange(k0, k1 + 1, dtype=np.int64) * h

    def funding_history(
        self, venue: str, symbol: str, start_ms: int, end_ms: int
    ) -> list[tuple[int, float]]:
        """Settled (time, rate) pairs in [start_ms, end_ms], capped at the clock's now."""
        end = min(end_ms, self.clock.now_ms())
        times = self.funding_times(venue, symbol, start_ms, end)
        if times.size == 0:
            return []
        rates = self._funding_for_windows(venue, self.market(venue, symbol), times.astype(float))
        return [(int(t), float(r)) for t, r in zip(times, rates, strict=True)]

    def funding_now(self, venue: str, symbol: str, t_ms: int | None = None) -> FundingNow:
        t = self._now(t_ms)
        m = self.market(venue, symbol)
        h = m.funding_interval_h * HOUR_MS
        nxt = (t // h + 1) * h
        # predicted rate: the premium averaged over the part of the interval already run
        elapsed = max(t - (nxt - h), 1)
        samples = np.linspace(nxt - h, nxt - h + elapsed, 8)
        p = float(self.premium_model(venue, m.base).at(samples).mean())
        interest = self._interest(m.funding_interval_h)
        rate = round(p + min(max(interest - p, -0.0005), 0.0005), 8)
        return FundingNow(
            rate=rate,
            next_time=int(nxt),
            interval_h=m.funding_interval_h,
            mark=self.mark_price(venue, symbol, t),
            index=self.index_price(venue, symbol, t),
            interest=interest,
        )

    # --- candles
    def candles(
        self,
        venue: str,
        symbol: str,
        timeframe_ms: int,
        start_ms: int,
        end_ms: int,
        price: str = "last",
    ) -> np.ndarray:
        """Rows (open_time, open, high, low, close, base_volume, quote_volume, trades) of the
        candles whose open time lies in [start_ms, end_ms], up to the clock's now (the last
        one still forming). ``price``: "last" / "mark" (same path here) or "index"."""
        now = self.clock.now_ms()
        m = self.market(venue, symbol)
        tf = int(timeframe_ms)
        start = max(start_ms, LISTING_MS)
        first = -(-start // tf) * tf
        last = min(end_ms, now) // tf * tf
        if last < first:
            return np.empty((0, 8))
        if tf % MINUTE_MS:
            raise ValueError("timeframes are whole minutes")
        m0 = first // MINUTE_MS
        m1 = min((last + tf) // MINUTE_MS, now // MINUTE_MS + 1)
        fair = self.fair(m.base)
        x = fair.log_minutes(m0, m1)
        noise = fair.noise_minutes(m0, m1)
        t = (np.arange(m0, m1 + 1, dtype=np.int64) * MINUTE_MS).astype(float)
        model = self.premium_model(venue, m.base)
        mult = 1 + model.index_offset(t)
        if price != "index":
            mult = mult * (1 + model.at(t))
        p = np.exp(x) * mult
        if now < (m1 * MINUTE_MS):  # the forming minute ends at "now"
            p[-1] = (
                self.mark_price(venue, symbol, now)
                if price != "index"
                else self.index_price(venue, symbol, now)
            )
        o, c = p[:-1], p[1:]
        hi = np.maximum(o, c) * np.exp(noise[0])
        lo = np.minimum(o, c) / np.exp(noise[1])
        share = _VENUE_VOLUME_SHARE.get(venue, 0.5)
        vol_base = m.asset.volume_usd * share / MINUTES_PER_DAY / m.asset.price
        vol = noise[2] * vol_base
        n = o.size
        per = tf // MINUTE_MS
        groups = (n + per - 1) // per
        pad = groups * per - n
        if pad:
            o = np.concatenate((o, np.full(pad, np.nan)))
            c = np.concatenate((c, np.full(pad, np.nan)))
            hi = np.concatenate((hi, np.full(pad, np.nan)))
            lo = np.concatenate((lo, np.full(pad, np.nan)))
            vol = np.concatenate((vol, np.zeros(pad)))
        o, c, hi, lo, vol = (a.reshape(groups, per) for a in (o, c, hi, lo, vol))
        out = np.empty((groups, 8))
        out[:, 0] = first + np.arange(groups) * tf
        out[:, 1] = o[:, 0]
        last_idx = np.sum(~np.isnan(c), axis=1) - 1
        out[:, 4] = c[np.arange(groups), last_idx]
        out[:, 2] = np.nanmax(hi, axis=1)
        out[:, 3] = np.nanmin(lo, axis=1)
        out[:, 5] = vol.sum(axis=1)
        out[:, 6] = out[:, 5] * (out[:, 1] + out[:, 4]) / 2
        out[:, 7] = np.maximum(1, np.round(out[:, 5] * m.asset.price / 2500))
        return out[out[:, 0] <= last]

    # --- open interest / 24h stats
    def open_interest(self, venue: str, symbol: str, t_ms: int | None = None) -> float:
        """Open interest in base units."""
        t = float(self._now(t_ms))
        m = self.market(venue, symbol)
        rng = np.random.default_rng([self.seed, stable_hash(venue, m.base), 12])
        ph = rng.uniform(0, 2 * np.pi, 3)
        share = _VENUE_VOLUME_SHARE.get(venue, 0.5)
        wave = (
            1
            + 0.15 * math.sin(2 * math.pi * t / (9 * DAY_MS) + ph[0])
            + 0.05 * math.sin(2 * math.pi * t / (13 * HOUR_MS) + ph[1])
            + 0.01 * math.sin(2 * math.pi * t / (7 * MINUTE_MS) + ph[2])
        )
        return m.asset.oi_usd * share / m.asset.price * wave

    def ticker_24h(self, venue: str, symbol: str, t_ms: int | None = None) -> Ticker24h:
        now = self._now(t_ms)
        rows = self.candles(venue, symbol, 5 * MINUTE_MS, now - DAY_MS, now)
        last = self.mark_price(venue, symbol, now)
        if rows.size == 0:
            return Ticker24h(last, last, last, last, 0.0, 0.0, now - DAY_MS, now, 0)
        return Ticker24h(
            open=float(rows[0, 1]),
            high=float(max(rows[:, 2].max(), last)),
            low=float(min(rows[:, 3].min(), last)),
            last=last,
            volume=float(rows[:, 5].sum()),
            quote_volume=float(rows[:, 6].sum()),
            open_time=now - DAY_MS,
            close_time=now,
            trades=int(rows[:, 7].sum()),
        )

    # --- books
    def book(self, venue: str, symbol: str) -> SimBook:
        key = (venue, symbol)
        b = self._books.get(key)
        if b is None:
            m = self.market(venue, symbol)
            b = SimBook(
                m,
                self.seed,
                functools.partial(self.mark_price, venue, symbol),
                self.clock.now_ms(),
            )
            self._books[key] = b
        return b

    def active_books(self, venue: str) -> list[SimBook]:
        """Books with at least one stream listening (the only ones the ticker steps)."""
        return [b for (v, _), b in self._books.items() if v == venue and b.listeners]

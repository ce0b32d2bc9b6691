"""Deterministic market simulator behind the emulator's wire formats.

Everything except the live order books is a pure function of (seed, time), so history
(candles, funding) can be served for any past window without storing it, and two runs with
the same seed agree wherever they overlap.  `MarketSim` assembles the parts, each in its
own module:

* `fair_price`: the fair price per asset (log random walk, drawn per UTC day, bridged
  minute by minute);
* `premium`: per venue the premium (mark vs index) that drives price and funding rate;
* `sim_book`: the live, stateful order books (one per (venue, symbol), stepped while
  someone is subscribed);

and derives candles, funding history, open interest and 24 h stats from those paths here.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS
from perptui.emulator import universe
from perptui.emulator.catalog import (
    DEFAULT_SYMBOLS,
    LISTING_MS,
    MAJORS,
    VENUES,
    VenueMarket,
    venue_markets,
)
from perptui.emulator.clock import Clock, stable_hash
from perptui.emulator.fair_price import BPS, MINUTES_PER_DAY, FairPath
from perptui.emulator.premium import Premium
from perptui.emulator.sim_book import SimBook


@dataclass(frozen=True)
class FundingNow:
    rate: float  # predicted rate for the running interval
    next_time: int  # ms of the next settlement
    interval_h: int
    mark: float
    index: float
    interest: float


@dataclass(frozen=True)
class TopOfBook:
    """Best bid and ask as integer ticks and lots (the venue's native amount unit)."""

    bid: int
    bid_lots: int
    ask: int
    ask_lots: int


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


_VENUE_VOLUME_SHARE = {
    "binance": 1.0,
    "bybit": 0.55,
    "okx": 0.45,
    "hyperliquid": 0.35,
    "dydx": 0.08,
    "gmx": 0.05,
}


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
        # a USDT symbol asks for the base on venues that quote it in USDC / USD (the DEXs)
        wanted_bases = {s.split("/", 1)[0] for s in wanted if "/" in s}
        for v in self.venues:
            ms = [
                m
                for m in venue_markets(v)
                if m.symbol in wanted or (m.quote != "USDT" and m.base in wanted_bases)
            ]
            self._markets[v] = {m.symbol: m for m in ms}
            self._by_id[v] = {m.venue_id: m for m in ms}
        served = {s for v in self.venues for s in self._markets[v]}
        served |= {f"{m.base}/USDT:USDT" for v in self.venues for m in self._markets[v].values()}
        unknown = wanted - served
        if unknown and symbols is not None:  # the default universe spans venues unevenly
            raise KeyError(f"emulator has no market for {sorted(unknown)}")
        self._fair: dict[str, FairPath] = {}
        self._prem: dict[tuple[str, str], Premium] = {}
        self._books: dict[tuple[str, str], SimBook] = {}
        self._t24: dict[tuple[str, str], tuple[tuple[str, str, int], Ticker24h]] = {}
        self._truth_ring: tuple[int, int] | None = None  # (depth, steps) for every book

    def keep_truth(self, depth: int, steps: int) -> None:
        """Every book (present and future) remembers its last ``steps`` states."""
        self._truth_ring = (depth, steps)
        for b in self._books.values():
            b.keep_truth(depth, steps)

    # --- catalog
    def markets(self, venue: str) -> list[VenueMarket]:
        return list(self._markets[venue].values())

    def market(self, venue: str, symbol: str) -> VenueMarket:
        found = self._markets[venue].get(symbol)
        if found is None:  # BTC/USDT:USDT names the base on a USDC / USD venue
            base = symbol.split("/", 1)[0]
            found = next((m for m in self._markets[venue].values() if m.base == base), None)
            if found is None or found.quote == "USDT":
                raise KeyError(symbol)
        return found

    def market_by_id(self, venue: str, venue_id: str) -> VenueMarket | None:
        return self._by_id[venue].get(venue_id)

    # --- paths
    def fair(self, base: str) -> FairPath:
        fp = self._fair.get(base)
        if fp is None:
            any_market = next(
                m for v in self.venues for m in self._markets[v].values() if m.base == base
            )
            fast = base not in MAJORS
            fp = self._fair[base] = FairPath(self.seed, any_market.asset, fast=fast)
        return fp

    def premium_model(self, venue: str, base: str) -> Premium:
        key = (venue, base)
        p = self._prem.get(key)
        if p is None:
            if base in MAJORS:
                p = Premium(self.seed, venue, base)
            else:
                interval = next(
                    (m.funding_interval_h for m in self._markets[venue].values() if m.base == base),
                    8,
                )
                p = Premium(
                    self.seed,
                    venue,
                    base,
                    regime_bps=universe.regime_bps(base),
                    disagree_bps=universe.disagreement_bps(venue, base),
                    interval_h=interval,
                )
            self._prem[key] = p
        return p

    def set_interval(self, venue: str, symbol: str, hours: int) -> None:
        """Move a market to another funding interval, as venues do (tests, demos).

        History is then served on the new schedule too: the emulator keeps one
        interval per market, which is all a client can observe at a time."""
        m = self._markets[venue][symbol]
        moved = dataclasses.replace(m, funding_interval_h=int(hours))
        self._markets[venue][symbol] = moved
        self._by_id[venue][m.venue_id] = moved
        self._prem.pop((venue, m.base), None)

    def top_of_book(self, venue: str, symbol: str, t_ms: int | None = None) -> TopOfBook:
        """Best bid/ask (ticks, lots) for bulk ticker endpoints.

        A market with a live book answers from it (so a watched market's ticker agrees
        with its stream); every other market gets a synthetic top around its mark, with a
        spread that widens as volume falls, without building a book: bulk endpoints list
        hundreds of markets and only watched ones may cost per-tick work."""
        t = self._now(t_ms)
        book = self._books.get((venue, symbol))
        if book is not None:
            book.refresh(t)
            best_bid, best_ask = book.levels("bids", 1), book.levels("asks", 1)
            if best_bid and best_ask:
                return TopOfBook(best_bid[0][0], best_bid[0][1], best_ask[0][0], best_ask[0][1])
        m = self.market(venue, symbol)
        tick = float(m.tick)
        mid = self.mark_price(venue, symbol, t) / tick
        spread_bps = 0.5 + 10.0 / max(1.0, math.log10(max(m.asset.volume_usd, 10.0)) - 4.0) ** 2
        half = max(0.5, mid * spread_bps * BPS / 2)
        bid = max(1, math.floor(mid - half))
        ask = max(bid + 1, math.ceil(mid + half))
        unit = float(m.lot * m.contract_size)
        second = t // 1000
        sizes = []
        for side in ("bid", "ask"):
            noise = 0.3 + 1.7 * universe.unit(venue, symbol, side, second)
            notional = m.asset.volume_usd * 2e-5 * noise
            sizes.append(max(1, round(notional / (bid * tick) / unit)))
        return TopOfBook(bid, sizes[0], ask, sizes[1])

    def _now(self, t_ms: int | None) -> int:
        return self.clock.now_ms() if t_ms is None else int(t_ms)

    def index_price(self, venue: str, symbol: str, t_ms: int | None = None) -> float:
        t = self._now(t_ms)
        m = self.market(venue, symbol)
        off = self.premium_model(venue, m.base).index_offset1(float(t))
        return math.exp(self.fair(m.base).log_at(t)) * (1 + off)

    def premium(self, venue: str, symbol: str, t_ms: int | None = None) -> float:
        t = self._now(t_ms)
        m = self.market(venue, symbol)
        return self.premium_model(venue, m.base).at1(float(t))

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
        rate = self._rate(p, interest)
        return FundingNow(
            rate=rate,
            next_time=int(nxt),
            interval_h=m.funding_interval_h,
            mark=self.mark_price(venue, symbol, t),
            index=self.index_price(venue, symbol, t),
            interest=interest,
        )

    @staticmethod
    def _rate(premium: float, interest: float) -> float:
        return round(premium + min(max(interest - premium, -0.0005), 0.0005), 8)

    def projected_rate(self, venue: str, symbol: str, t_ms: int | None = None) -> float:
        """The running interval's rate if the premium now held until the settlement: the
        average so far (as `funding_now`) weighted by the part run, the rest at today's."""
        t = self._now(t_ms)
        m = self.market(venue, symbol)
        h = m.funding_interval_h * HOUR_MS
        start = (t // h) * h
        elapsed = max(t - start, 1)
        model = self.premium_model(venue, m.base)
        so_far = float(model.at(np.linspace(start, start + elapsed, 8)).mean())
        now = float(model.at(np.array([float(t)]))[0])
        done = elapsed / h
        return self._rate(done * so_far + (1 - done) * now, self._interest(m.funding_interval_h))

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
        """24 h stats; the candle aggregate is cached per market for a minute (bulk
        endpoints ask for every market at once), the last price is always current."""
        now = self._now(t_ms)
        key = (venue, symbol, now // MINUTE_MS)
        hit = self._t24.get((venue, symbol))
        if hit is not None and hit[0] == key:
            base = hit[1]
            last = self.mark_price(venue, symbol, now)
            return dataclasses.replace(
                base,
                last=last,
                high=max(base.high, last),
                low=min(base.low, last),
                open_time=now - DAY_MS,
                close_time=now,
            )
        out = self._ticker_24h(venue, symbol, now)
        self._t24[(venue, symbol)] = (key, out)
        return out

    def _ticker_24h(self, venue: str, symbol: str, now: int) -> Ticker24h:
        m = self.market(venue, symbol)
        if m.base not in MAJORS:
            return self._tail_ticker_24h(venue, m, now)
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

    def _tail_ticker_24h(self, venue: str, m: VenueMarket, now: int) -> Ticker24h:
        """24 h stats of a long-tail market straight from the minute path, with the
        premium taken at the current instant: bulk tickers list hundreds of these and
        nobody compares a tail ticker with its candles to the tick."""
        fair = self.fair(m.base)
        m1 = now // MINUTE_MS
        x = fair.log_minutes(m1 - MINUTES_PER_DAY, m1)
        noise = fair.noise_minutes(m1 - MINUTES_PER_DAY, m1)
        last = self.mark_price(venue, m.symbol, now)
        mult = last / math.exp(fair.log_at(now))
        path = np.exp(x) * mult
        share = _VENUE_VOLUME_SHARE.get(venue, 0.5)
        volume = (
            float(noise[2].sum()) * m.asset.volume_usd * share / MINUTES_PER_DAY / m.asset.price
        )
        vwap = float(path.mean())
        return Ticker24h(
            open=float(path[0]),
            high=float(max(path.max(), last)),
            low=float(min(path.min(), last)),
            last=last,
            volume=volume,
            quote_volume=volume * vwap,
            open_time=now - DAY_MS,
            close_time=now,
            trades=max(1, round(volume * vwap / 2500)),
        )

    # --- books
    def book(self, venue: str, symbol: str) -> SimBook:
        key = (venue, symbol)
        b = self._books.get(key)
        if b is None:
            m = self.market(venue, symbol)
            symbol = m.symbol
            key = (venue, symbol)
            b = self._books.get(key)
        if b is None:
            b = SimBook(
                m, self.seed, functools.partial(self.mark_price, venue, symbol), self.clock.now_ms()
            )
            if self._truth_ring is not None:
                b.keep_truth(*self._truth_ring)
            self._books[key] = b
        return b

    def live_book(self, venue: str, symbol: str) -> SimBook | None:
        """The market's book if one was ever built (streamed or snapshotted), else None."""
        return self._books.get((venue, symbol))

    def active_books(self, venue: str) -> list[SimBook]:
        """Books with at least one stream listening (the only ones the ticker steps)."""
        return [b for (v, _), b in self._books.items() if v == venue and b.listeners]

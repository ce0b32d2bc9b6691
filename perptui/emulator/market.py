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
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import math
import random
import time
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS
from perptui.emulator import universe
from perptui.emulator.catalog import (
    DEFAULT_SYMBOLS,
    LISTING_MS,
    MAJORS,
    VENUES,
    Asset,
    VenueMarket,
    venue_markets,
)

MINUTES_PER_DAY = 1440
_HORIZON_DAYS = 8000  # daily path precomputed from LISTING_MS on (to ~2043)
_TAIL_HORIZON_DAYS = 3300  # the long tail's paths run to ~2031 (then hold their last day)
_BPS = 1e-4


def stable_hash(*parts: object) -> int:
    """Process-independent hash (``hash()`` is salted per process)."""
    return zlib.crc32(":".join(str(p) for p in parts).encode())


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


# --------------------------------------------------------------------------- fair price


@functools.cache
def _ar1_kernel(a: float, block: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(block)
    return np.tril(a ** np.maximum(i[:, None] - i[None, :], 0)), a ** (i + 1)


def _ar1(a: float, u: np.ndarray, x0: float, block: int = 64) -> np.ndarray:
    """x[0] = x0, x[n+1] = a x[n] + u[n], in blocks of matrix products (no per-day loop).

    Within a block x = a^(i+1) x_start + sum_j a^(i-j) u_j, i.e. one lower-triangular
    matrix of powers of ``a`` applied to each block of inputs.
    """
    n = len(u)
    power, lead = _ar1_kernel(a, block)
    x = np.empty(n + 1)
    x[0] = x0
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        k = hi - lo
        x[lo + 1 : hi + 1] = lead[:k] * x[lo] + power[:k, :k] @ u[lo:hi]
    return x


class FairPath:
    """Log fair price of one asset as a deterministic function of time.

    The hand-tuned majors keep the original day-by-day recurrence (their paths are what
    existing recordings and tests saw); the generated long tail uses the same model
    computed blockwise (`_ar1`), fast enough to build a few hundred paths at start-up.
    """

    def __init__(self, seed: int, asset: Asset, fast: bool = False) -> None:
        self.asset = asset
        self._seed = seed
        self._key = stable_hash(asset.base)
        rng = np.random.default_rng([seed, self._key, 1])
        sigma_d = asset.vol / math.sqrt(365.0)
        a = math.exp(-math.log(2) / 150.0)  # ~5 month half-life towards the anchor price
        horizon = _TAIL_HORIZON_DAYS if fast else _HORIZON_DAYS
        self._horizon = horizon
        z = rng.standard_normal(horizon)
        e = rng.standard_normal(horizon)
        phi = 0.92
        y = np.empty(horizon)
        y[0] = e[0]
        x = np.empty(horizon + 1)
        x[0] = rng.normal(0.0, 0.25)
        scale = math.sqrt(1 - phi * phi)
        if fast:
            y = _ar1(phi, scale * e[1:], e[0])
            self.day_sigma = sigma_d * np.exp(0.3 * y - 0.045)
            x = _ar1(a, self.day_sigma * z, x[0])
        else:
            # one iteration per day, in Python floats: the same IEEE operations in the
            # same order as numpy scalars (bit-identical paths), at a tenth of the cost
            ys, es = [float(e[0])], e.tolist()
            for b in range(1, horizon):
                ys.append(phi * ys[-1] + scale * es[b])
            y = np.array(ys)
            self.day_sigma = sigma_d * np.exp(0.3 * y - 0.045)  # vol clustering
            xs, sig, zs = [float(x[0])], self.day_sigma.tolist(), z.tolist()
            for b in range(horizon):
                xs.append(a * xs[-1] + sig[b] * zs[b])
            x = np.array(xs)
        self.day_x = x
        self.log_p0 = math.log(asset.price)
        self._days: OrderedDict[int, np.ndarray] = OrderedDict()
        self._second_cache: tuple[int, np.ndarray] | None = None

    def _day_index(self, day: int) -> int:
        return min(max(day - LISTING_MS // DAY_MS, 0), self._horizon - 1)

    def day_arrays(self, day: int) -> np.ndarray:
        """(4, 1441) array for UTC day ``day``: log price at each minute, then high/low/volume
        noises for each minute candle (last column unused for the noises)."""
        hit = self._days.get(day)
        if hit is not None:
            self._days.move_to_end(day)
            return hit
        b = self._day_index(day)
        rng = np.random.default_rng([self._seed, self._key, 2, day])
        eps = rng.standard_normal((4, MINUTES_PER_DAY))
        sig_m = self.day_sigma[b] / math.sqrt(MINUTES_PER_DAY)
        w = np.concatenate(([0.0], np.cumsum(eps[0]))) * sig_m
        frac = np.arange(MINUTES_PER_DAY + 1) / MINUTES_PER_DAY
        bridge = w - frac * w[-1]
        x0, x1 = self.day_x[b], self.day_x[b + 1]
        out = np.empty((4, MINUTES_PER_DAY + 1))
        out[0] = self.log_p0 + x0 + frac * (x1 - x0) + bridge
        out[1, :-1] = np.abs(eps[1]) * sig_m * 0.6
        out[2, :-1] = np.abs(eps[2]) * sig_m * 0.6
        out[3, :-1] = (0.35 + 0.5 * np.abs(eps[3]) + 0.6 * np.abs(eps[0])) * (
            self.day_sigma[b] / (self.asset.vol / math.sqrt(365.0))
        )
        out[1:, -1] = 0.0
        self._days[day] = out
        if len(self._days) > 48:
            self._days.popitem(last=False)
        return out

    def log_minutes(self, m0: int, m1: int) -> np.ndarray:
        """Log price at minute points m0..m1 inclusive (minute = epoch_ms // 60000)."""
        return self._minute_rows(m0, m1, row=0, inclusive=True)

    def _minute_rows(self, m0: int, m1: int, row: int, inclusive: bool) -> np.ndarray:
        end = m1 + 1 if inclusive else m1
        parts = []
        m = m0
        while m < end:
            day = m // MINUTES_PER_DAY
            start = m - day * MINUTES_PER_DAY
            stop = min(end - day * MINUTES_PER_DAY, MINUTES_PER_DAY)
            arr = self.day_arrays(day)[row]
            parts.append(arr[start:stop])
            m = day * MINUTES_PER_DAY + stop
        return np.concatenate(parts) if parts else np.empty(0)

    def noise_minutes(self, m0: int, m1: int) -> np.ndarray:
        """(3, n) high/low/volume noises of minute candles m0..m1-1."""
        return np.vstack([self._minute_rows(m0, m1, r, inclusive=False) for r in (1, 2, 3)])

    def log_at(self, t_ms: int) -> float:
        """Log fair price at an arbitrary ms: a per-second bridge between minute points."""
        m = t_ms // MINUTE_MS
        x = self.log_minutes(m, m + 1)
        cached = self._second_cache
        if cached is None or cached[0] != m:
            rng = np.random.default_rng([self._seed, self._key, 3, m])
            b = self.day_sigma[self._day_index(m // MINUTES_PER_DAY)]
            w = np.concatenate(([0.0], np.cumsum(rng.standard_normal(60)))) * (
                b / math.sqrt(MINUTES_PER_DAY * 60)
            )
            bridge = w - np.arange(61) / 60 * w[-1]
            cached = (m, bridge)
            self._second_cache = cached
        sec = (t_ms - m * MINUTE_MS) / 1000.0
        i = min(int(sec), 59)
        f = sec - i
        br = cached[1][i] * (1 - f) + cached[1][i + 1] * f
        frac = (t_ms - m * MINUTE_MS) / MINUTE_MS
        return float(x[0] + frac * (x[1] - x[0]) + br)


# --------------------------------------------------------------------------- premium


@dataclass(frozen=True)
class _Waves:
    periods_ms: np.ndarray
    amps: np.ndarray
    phases: np.ndarray

    def at(self, t: np.ndarray) -> np.ndarray:
        ang = 2 * np.pi * t[:, None] / self.periods_ms[None, :] + self.phases[None, :]
        return (np.sin(ang) * self.amps[None, :]).sum(axis=1)


@dataclass(frozen=True)
class _Episodes:
    start: np.ndarray
    dur: np.ndarray
    amp: np.ndarray
    max_dur: float

    def at(self, t: np.ndarray) -> np.ndarray:
        out = np.zeros_like(t, dtype=float)
        if t.size == 0:
            return out
        lo = bisect.bisect_left(self.start, float(t.min()) - self.max_dur)
        hi = bisect.bisect_right(self.start, float(t.max()))
        for k in range(lo, hi):
            s, d, a = self.start[k], self.dur[k], self.amp[k]
            inside = (t >= s) & (t <= s + d)
            if inside.any():
                out[inside] += a * np.sin(np.pi * (t[inside] - s) / d) ** 2
        return out


def _waves(rng: np.random.Generator, periods_ms: Sequence[float], amp: float) -> _Waves:
    p = np.asarray(periods_ms, dtype=float) * rng.uniform(0.8, 1.25, len(periods_ms))
    return _Waves(p, rng.normal(0.0, amp, len(p)), rng.uniform(0, 2 * np.pi, len(p)))


def _episodes(
    rng: np.random.Generator,
    per_day: float,
    dur_ms: tuple[float, float],
    amp_bps: tuple[float, float],
    positive_bias: float,
) -> _Episodes:
    n = rng.poisson(per_day * _HORIZON_DAYS)
    start = np.sort(rng.uniform(LISTING_MS, LISTING_MS + _HORIZON_DAYS * DAY_MS, n))
    dur = rng.uniform(*dur_ms, n)
    sign = np.where(rng.uniform(0, 1, n) < positive_bias, 1.0, -1.0)
    amp = sign * rng.uniform(*amp_bps, n) * _BPS
    return _Episodes(start, dur, amp, float(dur_ms[1]))


class Premium:
    """Premium of a venue's mark over its index, as a fraction (1e-4 = 1 bp).

    ``regime_bps`` (shared by every venue listing the asset) and ``disagree_bps`` (this
    venue only) are sustained offsets of the long tail: the alts that pay +-0.1 % for
    days and the venues that price one asset apart from the others.  ``interval_h``
    scales them so the carry they drive is the same per hour on a 1 h as on an 8 h market.
    """

    def __init__(
        self,
        seed: int,
        venue: str,
        base: str,
        regime_bps: float = 0.0,
        disagree_bps: float = 0.0,
        interval_h: int = 8,
    ) -> None:
        shared = np.random.default_rng([seed, stable_hash(base), 10])
        own = np.random.default_rng([seed, stable_hash(venue, base), 11])
        self.bias = 0.6 * _BPS
        self.slow = _waves(
            shared, [1.7 * DAY_MS, 3.9 * DAY_MS, 8.3 * DAY_MS, 17 * DAY_MS], 1.3 * _BPS
        )
        self.spikes = _episodes(shared, 0.04, (6 * HOUR_MS, 40 * HOUR_MS), (12, 45), 0.65)
        self.venue = _waves(
            own, [17 * MINUTE_MS, 47 * MINUTE_MS, 2.3 * HOUR_MS, 7 * HOUR_MS], 0.9 * _BPS
        )
        self.divergence = _episodes(own, 0.06, (10 * MINUTE_MS, 3 * HOUR_MS), (8, 35), 0.5)
        self.fast = _waves(own, [9_000, 23_000, 61_000], 0.3 * _BPS)
        self.index_noise = _waves(own, [41_000, 13 * MINUTE_MS], 0.25 * _BPS)
        self.sustained = (regime_bps + disagree_bps) * _BPS * interval_h / 8
        # the regime breathes (+-25 % over ~10 days) but never changes sign
        self.sustained_wave = _waves(own, [10 * DAY_MS], 0.25) if self.sustained else None

    def at(self, t: np.ndarray) -> np.ndarray:
        extra = 0.0
        if self.sustained_wave is not None:
            extra = self.sustained * (1 + np.clip(self.sustained_wave.at(t), -0.5, 0.5))
        return (
            extra
            + self.bias
            + self.slow.at(t)
            + self.spikes.at(t)
            + self.venue.at(t)
            + self.divergence.at(t)
            + self.fast.at(t)
        )

    def index_offset(self, t: np.ndarray) -> np.ndarray:
        return self.index_noise.at(t)


# --------------------------------------------------------------------------- books


@dataclass(frozen=True)
class BookDiff:
    """One book event: levels as (price ticks, size lots); lots == 0 deletes the level.

    Update ids follow binance's scheme (``first_id``..``last_id`` cover the event and
    ``prev_id`` is the previous event's ``last_id``); ``seq`` counts events one by one
    (bybit ``u``). Venues map these to their own sequence fields.
    """

    ts: int
    first_id: int
    last_id: int
    prev_id: int
    seq: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


BookListener = Callable[[BookDiff], None]

TARGET_LEVELS = 600
MIN_LEVELS = 520
MAX_LEVELS = 720  # stays below binance's 1000-level snapshot so a snapshot holds the book


@dataclass(frozen=True)
class TruthEntry:
    """A book's best levels right after one step: (price ticks, size lots), best first."""

    ts: int
    last_id: int
    seq: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


class SimBook:
    """One venue's order book for one market; integer ticks and lots, best-first views."""

    def __init__(self, market: VenueMarket, seed: int, mid_fn: Callable[[int], float], now_ms: int):
        self.market = market
        self._mid_fn = mid_fn
        self._rng = random.Random(f"{seed}:{market.venue}:{market.base}:book")
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self._bid_keys: list[int] = []  # ascending; best bid is the last
        self._ask_keys: list[int] = []  # ascending; best ask is the first
        self.last_id = 1_000_000 + self._rng.randrange(1_000_000)
        self.seq = 0
        self.ts = now_ms
        self.last_step_ms = now_ms
        self.listeners: list[BookListener] = []
        # Optional ring of past top-of-book states (see keep_truth); None = not kept.
        self._truth: deque[TruthEntry] | None = None
        self._truth_depth = 0
        tick = float(market.tick)
        unit = float(market.lot * market.contract_size)
        self._tick = tick
        self._unit = unit
        self._top_notional = market.asset.volume_usd * 2e-5
        self._build(now_ms)

    # --- views
    def mid_ticks(self) -> float:
        return self._mid_fn(self.ts) / self._tick

    def best_bid(self) -> int | None:
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask(self) -> int | None:
        return self._ask_keys[0] if self._ask_keys else None

    def levels(self, side: str, limit: int | None = None) -> list[tuple[int, int]]:
        """Best-first (ticks, lots)."""
        if side == "bids":
            keys = self._bid_keys[::-1] if limit is None else self._bid_keys[: -limit - 1 : -1]
            book = self.bids
        else:
            keys = self._ask_keys if limit is None else self._ask_keys[:limit]
            book = self.asks
        return [(k, book[k]) for k in keys]

    def wire_levels(self, side: str, limit: int | None = None) -> list[list[str]]:
        m = self.market
        return [[m.fmt_price(p), m.fmt_qty(q)] for p, q in self.levels(side, limit)]

    def float_levels(self, side: str, limit: int | None = None) -> list[tuple[float, float]]:
        """What a client parses from the wire strings (amounts in native units)."""
        m = self.market
        return [(float(m.fmt_price(p)), float(m.fmt_qty(q))) for p, q in self.levels(side, limit)]

    # --- truth per sequence
    def keep_truth(self, depth: int, length: int) -> None:
        """Remember the best ``depth`` levels per side after each of the last ``length`` steps.

        A checker that receives a client's book some time after it was published asks for
        the state *at that book's sequence* (:meth:`truth_at`), not the current one: the
        book moves on every step.  Opt-in and bounded, so a long soak does not pay for it.
        """
        self._truth = deque(maxlen=max(1, int(length)))
        self._truth_depth = max(1, int(depth))
        self._record_truth()

    def _record_truth(self) -> None:
        if self._truth is None:
            return
        d = self._truth_depth
        self._truth.append(
            TruthEntry(
                self.ts, self.last_id, self.seq, self.levels("bids", d), self.levels("asks", d)
            )
        )

    def truth_at(self, *, last_id: int | None = None, ts: int | None = None) -> list[TruthEntry]:
        """Remembered states whose update id matches, else those with that timestamp.

        Usually one; two steps that fell in the same millisecond (a busy loop) give two,
        and a checker accepts a book equal to either.
        """
        if self._truth is None:
            return []
        if last_id is not None:
            found = [e for e in self._truth if e.last_id == last_id]
            if found:
                return found
        if ts is None:
            return []
        return [e for e in self._truth if e.ts == ts]

    def truth_span(self) -> tuple[int, int] | None:
        """(oldest, newest) timestamps still remembered, or None."""
        if not self._truth:
            return None
        return self._truth[0].ts, self._truth[-1].ts

    # --- construction
    def _size(self, rank: int, price_ticks: int) -> int:
        price = max(price_ticks * self._tick, self._tick)
        notional = self._top_notional * self._rng.lognormvariate(0.0, 1.0) * (1 + rank / 150)
        return max(1, round(notional / price / self._unit))

    def _distances(self, n: int, mid: float) -> list[int]:
        span = max(int(n * 1.6), int(0.03 * mid))  # ~3 % deep where the tick allows
        out: list[int] = []
        prev = -1
        for i in range(n):
            d = int(i + (span - n) * (i / n) ** 2.5) + self._rng.randrange(2)
            d = max(d, prev + 1)
            out.append(d)
            prev = d
        return out

    def _build(self, now_ms: int) -> None:
        mid = self._mid_fn(now_ms) / self._tick
        bb = math.floor(mid)
        if bb == mid:
            bb -= 1
        ba = bb + 1
        self.bids.clear()
        self.asks.clear()
        for rank, d in enumerate(self._distances(TARGET_LEVELS, mid)):
            if bb - d > 0:
                self.bids[bb - d] = self._size(rank, bb - d)
        for rank, d in enumerate(self._distances(TARGET_LEVELS, mid)):
            self.asks[ba + d] = self._size(rank, ba + d)
        self._bid_keys = sorted(self.bids)
        self._ask_keys = sorted(self.asks)
        self.ts = now_ms
        self._mid_at_build = mid

    # --- mutation helpers (record into the pending diff)
    def _set(self, side: str, price: int, lots: int, changes: dict[int, int]) -> None:
        book, keys = (self.bids, self._bid_keys) if side == "bids" else (self.asks, self._ask_keys)
        if lots <= 0:
            if price in book:
                del book[price]
                keys.pop(bisect.bisect_left(keys, price))
                changes[price] = 0
            return
        if price not in book:
            bisect.insort(keys, price)
        book[price] = lots
        changes[price] = lots

    def step(self, now_ms: int) -> BookDiff:
        """Advance the book to ``now_ms``: follow the mid, churn near the top, keep depth."""
        mid = self._mid_fn(now_ms) / self._tick
        if abs(mid - self._mid_at_build) > 0.02 * mid and not self.listeners:
            # long unobserved: rebuild around the current price (ids jump like a venue restart)
            self._build(now_ms)
            self.last_id += 1000
        bch: dict[int, int] = {}
        ach: dict[int, int] = {}
        rng = self._rng
        bid_max = math.floor(mid)
        if bid_max == mid:
            bid_max -= 1
        ask_min = bid_max + 1
        # 1. the mid moved: remove crossing levels, refill the gap at the top
        while self._bid_keys and self._bid_keys[-1] > bid_max:
            self._set("bids", self._bid_keys[-1], 0, bch)
        while self._ask_keys and self._ask_keys[0] < ask_min:
            self._set("asks", self._ask_keys[0], 0, ach)
        best = self.best_bid()
        if best is None or best < bid_max - 1:
            start = bid_max if best is None else best + 1
            for p in range(bid_max, max(start - 1, bid_max - 6), -1):
                if p > 0 and (p == bid_max or rng.random() < 0.6):
                    self._set("bids", p, self._size(0, p), bch)
        best = self.best_ask()
        if best is None or best > ask_min + 1:
            stop = ask_min if best is None else best - 1
            for p in range(ask_min, min(stop + 1, ask_min + 6)):
                if p == ask_min or rng.random() < 0.6:
                    self._set("asks", p, self._size(0, p), ach)
        # 2. churn near the top
        for _ in range(rng.randint(3, 12)):
            side = "bids" if rng.random() < 0.5 else "asks"
            keys = self._bid_keys if side == "bids" else self._ask_keys
            changes = bch if side == "bids" else ach
            if not keys:
                continue
            rank = min(int(rng.expovariate(1 / 15)), len(keys) - 1)
            price = keys[-1 - rank] if side == "bids" else keys[rank]
            op = rng.random()
            if op < 0.55:
                self._set(side, price, self._size(rank, price), changes)
            elif op < 0.8 and len(keys) > MIN_LEVELS:
                self._set(side, price, 0, changes)
            else:
                delta = rng.randint(1, 3)
                new = price - delta if side == "bids" else price + delta
                book = self.bids if side == "bids" else self.asks
                if new > 0 and new not in book:
                    self._set(side, new, self._size(rank, new), changes)
        # 3. keep the depth between MIN_LEVELS and MAX_LEVELS
        for side, changes in (("bids", bch), ("asks", ach)):
            keys = self._bid_keys if side == "bids" else self._ask_keys
            while len(keys) > MAX_LEVELS:
                self._set(side, keys[0] if side == "bids" else keys[-1], 0, changes)
            while len(keys) < MIN_LEVELS and keys:
                far = keys[0] if side == "bids" else keys[-1]
                gap = rng.randint(1, max(1, int(0.03 * mid / TARGET_LEVELS) + 1))
                new = far - gap if side == "bids" else far + gap
                if new <= 0:
                    break
                self._set(side, new, self._size(len(keys), new), changes)
        if not bch and not ach and self._bid_keys:
            # venues never send empty events: at least the best bid's size changes
            top = self._bid_keys[-1]
            self._set("bids", top, self.bids[top] + 1, bch)
        prev = self.last_id
        self.last_id = prev + 1 + rng.randrange(40)
        self.seq += 1
        self.ts = now_ms
        self.last_step_ms = now_ms
        diff = BookDiff(
            ts=now_ms,
            first_id=prev + 1,
            last_id=self.last_id,
            prev_id=prev,
            seq=self.seq,
            bids=tuple(sorted(bch.items(), reverse=True)),
            asks=tuple(sorted(ach.items())),
        )
        self._record_truth()
        for listener in list(self.listeners):
            listener(diff)
        return diff

    def refresh(self, now_ms: int, max_age_ms: int = 1000) -> None:
        """Bring an unobserved book up to date before a REST snapshot is served.

        Subscribed books are stepped by the ticker only, so a snapshot never adds an event
        the streams did not carry."""
        if not self.listeners and now_ms - self.last_step_ms >= max_age_ms:
            self.step(now_ms)


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
        half = max(0.5, mid * spread_bps * _BPS / 2)
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
            b = SimBook(m, self.seed, functools.partial(self.mark_price, venue, symbol), self.clock.now_ms())
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

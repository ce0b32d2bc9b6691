"""The emulator's seeded price paths: per-asset fair price and per-venue premium.

Pure functions of (seed, time) drawn from keyed random streams, so any past window can be
served again without storing it; ``emulator.market.MarketSim`` derives candles, funding,
open interest and the books' mid from them.
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS
from perptui.emulator.catalog import LISTING_MS, Asset

MINUTES_PER_DAY = 1440
_HORIZON_DAYS = 8000  # daily path precomputed from LISTING_MS on (to ~2043)
_BPS = 1e-4


def stable_hash(*parts: object) -> int:
    """Process-independent hash (``hash()`` is salted per process)."""
    return zlib.crc32(":".join(str(p) for p in parts).encode())


# --------------------------------------------------------------------------- fair price


class FairPath:
    """Log fair price of one asset as a deterministic function of time."""

    def __init__(self, seed: int, asset: Asset) -> None:
        self.asset = asset
        self._seed = seed
        self._key = stable_hash(asset.base)
        rng = np.random.default_rng([seed, self._key, 1])
        sigma_d = asset.vol / math.sqrt(365.0)
        a = math.exp(-math.log(2) / 150.0)  # ~5 month half-life towards the anchor price
        z = rng.standard_normal(_HORIZON_DAYS)
        e = rng.standard_normal(_HORIZON_DAYS)
        phi = 0.92
        y = np.empty(_HORIZON_DAYS)
        y[0] = e[0]
        x = np.empty(_HORIZON_DAYS + 1)
        x[0] = rng.normal(0.0, 0.25)
        scale = math.sqrt(1 - phi * phi)
        for b in range(_HORIZON_DAYS):  # cheap: one iteration per day
            if b:
                y[b] = phi * y[b - 1] + scale * e[b]
        self.day_sigma = sigma_d * np.exp(0.3 * y - 0.045)  # vol clustering
        for b in range(_HORIZON_DAYS):
            x[b + 1] = a * x[b] + self.day_sigma[b] * z[b]
        self.day_x = x
        self.log_p0 = math.log(asset.price)
        self._days: OrderedDict[int, np.ndarray] = OrderedDict()
        self._second_cache: tuple[int, np.ndarray] | None = None

    def _day_index(self, day: int) -> int:
        return min(max(day - LISTING_MS // DAY_MS, 0), _HORIZON_DAYS - 1)

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
    """Premium of a venue's mark over its index, as a fraction (1e-4 = 1 bp)."""

    def __init__(self, seed: int, venue: str, base: str) -> None:
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

    def at(self, t: np.ndarray) -> np.ndarray:
        return (
            self.bias
            + self.slow.at(t)
            + self.spikes.at(t)
            + self.venue.at(t)
            + self.divergence.at(t)
            + self.fast.at(t)
        )

    def index_offset(self, t: np.ndarray) -> np.ndarray:
        return self.index_noise.at(t)

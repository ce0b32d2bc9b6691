"""Fair price per asset: a slowly mean-reverting log random walk with vol clustering,
drawn per UTC day (one normal per day) and filled in minute by minute with a Brownian
bridge; a pure function of (seed, time)."""

from __future__ import annotations

import functools
import math
from collections import OrderedDict

import numpy as np

from perptui.core.units import DAY_MS, MINUTE_MS
from perptui.emulator.catalog import (
    LISTING_MS,
    Asset,
)
from perptui.emulator.clock import stable_hash

MINUTES_PER_DAY = 1440
HORIZON_DAYS = 8000  # daily path precomputed from LISTING_MS on (to ~2043)
_TAIL_HORIZON_DAYS = 3300  # the long tail's paths run to ~2031 (then hold their last day)
BPS = 1e-4


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
        horizon = _TAIL_HORIZON_DAYS if fast else HORIZON_DAYS
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

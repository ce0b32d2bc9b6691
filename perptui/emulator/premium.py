"""Per-venue premium (mark vs index): slow waves shared by all venues, faster
venue-specific waves and rare episodes (shared funding spikes, venue divergences); it
drives both the venue's price and its funding rate."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS
from perptui.emulator.catalog import (
    LISTING_MS,
)
from perptui.emulator.clock import stable_hash
from perptui.emulator.fair_price import BPS, HORIZON_DAYS


@dataclass(frozen=True)
class _Waves:
    periods_ms: np.ndarray
    amps: np.ndarray
    phases: np.ndarray

    def at(self, t: np.ndarray) -> np.ndarray:
        ang = 2 * np.pi * t[:, None] / self.periods_ms[None, :] + self.phases[None, :]
        return (np.sin(ang) * self.amps[None, :]).sum(axis=1)

    @cached_property
    def _terms(self) -> tuple[tuple[float, float, float], ...]:
        """(period, phase, amplitude) of each wave as plain floats."""
        return tuple(
            zip(self.periods_ms.tolist(), self.phases.tolist(), self.amps.tolist(), strict=True)
        )

    def at1(self, t: float) -> float:
        """`at` of one time, in plain floats: the live books ask once per book per
        step, where numpy's per-call cost was a third of the emulator's CPU."""
        sin, tau_t = math.sin, 2 * math.pi * t  # the same operations, in order, as `at`
        return sum(sin(tau_t / p + ph) * a for p, ph, a in self._terms)


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

    def at1(self, t: float) -> float:
        """`at` of one time, in plain floats."""
        lo = bisect.bisect_left(self.start, t - self.max_dur)
        hi = bisect.bisect_right(self.start, t)
        out = 0.0
        for k in range(lo, hi):
            s, d = float(self.start[k]), float(self.dur[k])
            if s <= t <= s + d:
                out += float(self.amp[k]) * math.sin(math.pi * (t - s) / d) ** 2
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
    n = rng.poisson(per_day * HORIZON_DAYS)
    start = np.sort(rng.uniform(LISTING_MS, LISTING_MS + HORIZON_DAYS * DAY_MS, n))
    dur = rng.uniform(*dur_ms, n)
    sign = np.where(rng.uniform(0, 1, n) < positive_bias, 1.0, -1.0)
    amp = sign * rng.uniform(*amp_bps, n) * BPS
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
        self.bias = 0.6 * BPS
        self.slow = _waves(
            shared, [1.7 * DAY_MS, 3.9 * DAY_MS, 8.3 * DAY_MS, 17 * DAY_MS], 1.3 * BPS
        )
        self.spikes = _episodes(shared, 0.04, (6 * HOUR_MS, 40 * HOUR_MS), (12, 45), 0.65)
        self.venue = _waves(
            own, [17 * MINUTE_MS, 47 * MINUTE_MS, 2.3 * HOUR_MS, 7 * HOUR_MS], 0.9 * BPS
        )
        self.divergence = _episodes(own, 0.06, (10 * MINUTE_MS, 3 * HOUR_MS), (8, 35), 0.5)
        self.fast = _waves(own, [9_000, 23_000, 61_000], 0.3 * BPS)
        self.index_noise = _waves(own, [41_000, 13 * MINUTE_MS], 0.25 * BPS)
        self.sustained = (regime_bps + disagree_bps) * BPS * interval_h / 8
        # the regime breathes (+-25 % over ~10 days) but never changes sign
        self.sustained_wave = _waves(own, [10 * DAY_MS], 0.25) if self.sustained else None

    def _parts(self) -> tuple[_Waves | _Episodes, ...]:
        """The terms summed after the sustained offset and the bias, in their order."""
        return (self.slow, self.spikes, self.venue, self.divergence, self.fast)

    def at(self, t: np.ndarray) -> np.ndarray:
        extra = 0.0
        if self.sustained_wave is not None:
            extra = self.sustained * (1 + np.clip(self.sustained_wave.at(t), -0.5, 0.5))
        start = np.asarray(extra + self.bias, dtype=float)
        return sum((p.at(t) for p in self._parts()), start)

    def at1(self, t: float) -> float:
        """`at` of one time, in plain floats (the same additions in the same order)."""
        extra = 0.0
        if self.sustained_wave is not None:
            extra = self.sustained * (1 + min(max(self.sustained_wave.at1(t), -0.5), 0.5))
        return sum((p.at1(t) for p in self._parts()), extra + self.bias)

    def index_offset(self, t: np.ndarray) -> np.ndarray:
        return self.index_noise.at(t)

    def index_offset1(self, t: float) -> float:
        return self.index_noise.at1(t)

"""Funding-rate arithmetic: intervals, annualization, basis, countdowns.

Pure functions, no I/O.  Rates are fractions per funding interval (0.0001 is
0.01 % per settlement), times epoch milliseconds, intervals hours.

Venues settle funding every 1, 2, 4 or 8 hours, and the interval can differ
between markets of one venue, so annualizing with the seed's fixed "x 3 per
day" is wrong for anything but 8-hour markets.  Where the interval is unknown
(``None``) we assume ``DEFAULT_INTERVAL_HOURS`` = 8 h, the most common schedule,
and callers that care can tell from ``interval_or_default`` whether they got a
real interval.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable
from itertools import pairwise

from perptui.core.units import HOUR_MS

DEFAULT_INTERVAL_HOURS = 8.0
DAYS_PER_YEAR = 365


def _usable_interval(interval_hours: float | None) -> bool:
    return interval_hours is not None and math.isfinite(interval_hours) and interval_hours > 0


def interval_or_default(interval_hours: float | None) -> tuple[float, bool]:
    """``(hours, assumed)``: the interval, or 8 h with ``assumed=True`` when unknown.

    Zero, negative or NaN intervals are treated as unknown.
    """
    if interval_hours is not None and _usable_interval(interval_hours):
        return float(interval_hours), False
    return DEFAULT_INTERVAL_HOURS, True


def settlements_per_year(interval_hours: float | None) -> float:
    """How many settlements a year the interval implies (8 h -> 1095)."""
    hours, _ = interval_or_default(interval_hours)
    return 24.0 / hours * DAYS_PER_YEAR


def annualized(rate: float | None, interval_hours: float | None = None) -> float | None:
    """rate x (24 / interval) x 365, simple (not compounded).  None if rate is None.

    ``interval_hours=None`` (or unusable) means the 8 h default.
    """
    if rate is None or not math.isfinite(rate):
        return None
    return rate * settlements_per_year(interval_hours)


def rescale(rate: float, interval_hours: float | None, to_hours: float) -> float:
    """The same carry expressed per ``to_hours`` (e.g. a 1 h rate as an 8 h rate)."""
    hours, _ = interval_or_default(interval_hours)
    return rate * to_hours / hours


def basis(mark: float | None, index: float | None, stated: float | None = None) -> float | None:
    """Premium of the perp over the index: (mark - index) / index.

    ``stated``: the basis the venue gives itself (okx's premium), which wins when
    given (None when it is not finite).  None when either price is unknown, or the
    index is zero / not finite.
    """
    if stated is not None:
        return stated if math.isfinite(stated) else None
    if mark is None or index is None:
        return None
    if not (math.isfinite(mark) and math.isfinite(index)) or index == 0:
        return None
    return (mark - index) / index


def countdown_ms(next_funding_time: int | None, now_ms: int) -> int | None:
    """Milliseconds until the next settlement, never negative; None if unknown.

    A settlement time already in the past (the venue has not rolled its
    next-funding field yet) reads as 0, "due now".
    """
    if next_funding_time is None:
        return None
    return max(0, int(next_funding_time) - int(now_ms))


def format_countdown(ms: int | None) -> str:
    """Compact countdown: "1d02h" (>= 1 day), "3h07m" (>= 1 hour), "07:12" (mm:ss).

    Rounds down to the second so the display never runs ahead of the clock;
    None reads as "--:--".
    """
    if ms is None:
        return "--:--"
    total_s = max(0, int(ms)) // 1000
    days, rem = divmod(total_s, 86_400)
    hours, rem = divmod(rem, 3_600)
    minutes, seconds = divmod(rem, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes:02d}:{seconds:02d}"


def _whole_hours(ms: float) -> float | None:
    hours = round(ms / HOUR_MS)
    return float(hours) if hours >= 1 else None


def interval_from_times(funding_time: int | None, next_funding_time: int | None) -> float | None:
    """Interval in whole hours from two consecutive settlement times.

    ccxt's ``fundingTimestamp`` and ``nextFundingTimestamp`` are one interval
    apart on venues that report both.  Venue clocks stamp settlements a few
    milliseconds late, hence the rounding.  None when either time is missing or
    they are less than half an hour apart.
    """
    if funding_time is None or next_funding_time is None:
        return None
    return _whole_hours(next_funding_time - funding_time)


def interval_from_history(timestamps: Iterable[int]) -> float | None:
    """Interval in whole hours from settled funding timestamps: median spacing.

    The median shrugs off gaps in the history and the odd off-schedule
    settlement.  Order does not matter; duplicates are ignored.  None with fewer
    than two distinct timestamps.
    """
    ts = sorted(set(int(t) for t in timestamps))
    if len(ts) < 2:
        return None
    gaps = [b - a for a, b in pairwise(ts)]
    return _whole_hours(statistics.median(gaps))


_INTERVAL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd]?)\s*$", re.IGNORECASE)
_UNIT_HOURS = {"m": 1 / 60, "h": 1.0, "d": 24.0, "": 1.0}


def parse_interval(text: str | float | int | None) -> float | None:
    """Hours from a venue's interval field: "8h" -> 8.0, "60m" -> 1.0, "1d" -> 24.0.

    A bare number is hours.  Returns None for None or anything unparseable or
    non-positive, since this reads venue payloads, where "unknown" is the
    honest answer.
    """
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        hours = float(text)
    else:
        match = _INTERVAL_RE.match(text)
        if not match:
            return None
        hours = float(match.group(1)) * _UNIT_HOURS[match.group(2).lower()]
    return hours if _usable_interval(hours) else None

"""Text formatting for the monitor: short, fixed-width, never raising on None."""

from __future__ import annotations

import math

from perptui.core import funding as fmath

DASH = "—"


def _bad(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x)))


def price(x: float | None) -> str:
    """Price with precision that scales with magnitude (BTC 67,012.3 / PEPE 0.00001234)."""
    if _bad(x):
        return DASH
    assert x is not None
    ax = abs(x)
    if ax >= 10_000:
        return f"{x:,.1f}"
    if ax >= 100:
        return f"{x:,.2f}"
    if ax >= 1:
        return f"{x:.4f}"
    if ax == 0:
        return "0"
    # keep ~4 significant digits for sub-unit prices
    digits = min(10, 3 - math.floor(math.log10(ax)))
    return f"{x:.{digits}f}"


def pct(x: float | None, digits: int = 2, sign: bool = True) -> str:
    """A fraction (0.0123) shown as a percentage (+1.23%)."""
    if _bad(x):
        return DASH
    assert x is not None
    return f"{x * 100:+.{digits}f}%" if sign else f"{x * 100:.{digits}f}%"


def pct_points(x: float | None, digits: int = 2) -> str:
    """A value already in percent (ccxt ticker percentage) shown with a sign."""
    if _bad(x):
        return DASH
    assert x is not None
    return f"{x:+.{digits}f}%"


def bps(x: float | None, digits: int = 2) -> str:
    if _bad(x):
        return DASH
    assert x is not None
    return f"{x:.{digits}f}"


def compact(x: float | None) -> str:
    """Large notionals: 1.23B, 45.6M, 789K."""
    if _bad(x):
        return DASH
    assert x is not None
    ax = abs(x)
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if ax >= div:
            return f"{x / div:.2f}{suffix}"
    if ax >= 10:
        return f"{x:.0f}"
    return f"{x:.2f}"


def size(x: float | None) -> str:
    if _bad(x):
        return DASH
    assert x is not None
    ax = abs(x)
    if ax >= 1e5:
        return compact(x)
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 1:
        return f"{x:.3f}"
    return f"{x:.4f}"


def duration_ms(ms: int | float | None) -> str:
    """Countdown / age: 7h59m, 3m05s, 12.3s, 450ms."""
    if ms is None or _bad(float(ms)):
        return DASH
    ms = max(0, int(ms))
    s = ms / 1000
    if s < 1:
        return f"{ms}ms"
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(s), 60)
    if m < 60:
        return f"{m}m{sec:02d}s"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def countdown(next_time: int | None, now_ms: int) -> str:
    """Time left until ``next_time`` in whole seconds, so it changes at most once a second."""
    left = fmath.countdown_ms(next_time, now_ms)
    return duration_ms(None if left is None else left // 1000 * 1000)


def hours(x: float | None) -> str:
    if _bad(x):
        return DASH
    assert x is not None
    return f"{x:g}h"


def short_symbol(symbol: str) -> str:
    """BTC/USDT:USDT -> BTC/USDT (settle suffix is noise in a narrow column)."""
    return symbol.split(":", 1)[0]

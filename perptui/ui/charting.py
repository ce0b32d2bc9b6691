"""Plain-unicode charts rendered to Rich Text (no plotting dependency).

Pure functions of their inputs so they are cheap to test and to skip when the
inputs did not change.  Charts are drawn one terminal cell per candle/sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text

from perptui.ui import fmt

BLOCKS = " ▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLC bucket (the UI's own, so live mids can extend venue candles)."""

    ts: int
    open: float
    high: float
    low: float
    close: float


def extend_candles(
    candles: Iterable[object],
    mids: Iterable[tuple[int, float]],
    timeframe_ms: int = 60_000,
) -> list[Bar]:
    """Venue OHLCV (objects with timestamp/open/high/low/close) extended by live mids.

    Mids newer than the last venue candle update that bucket or open new ones, so
    the chart moves between the venue's candle closes.
    """
    bars: list[Bar] = [
        # candles are duck-typed (Candle records or DataFrame rows): attributes unknown to mypy
        Bar(int(c.timestamp), float(c.open), float(c.high), float(c.low), float(c.close))  # type: ignore[attr-defined]  # candles are duck-typed (Candle or replay rows), checked by the tests
        for c in candles
    ]
    bars.sort(key=lambda b: b.ts)
    for ts, mid in mids:
        if mid is None or mid <= 0:
            continue
        bucket = int(ts) - int(ts) % timeframe_ms
        if bars and bucket < bars[-1].ts:
            continue  # older than the venue's history: the venue knows better
        if bars and bucket == bars[-1].ts:
            b = bars[-1]
            bars[-1] = Bar(b.ts, b.open, max(b.high, mid), min(b.low, mid), mid)
        else:
            open_ = bars[-1].close if bars else mid
            bars.append(Bar(bucket, open_, max(open_, mid), min(open_, mid), mid))
    return bars


def candle_chart(
    bars: Sequence[Bar],
    width: int,
    height: int,
    up: Style,
    down: Style,
    axis: Style,
) -> Text:
    """A candle chart `width` cells wide (axis labels included) and `height` rows tall."""
    label_w = 11
    plot_w = max(1, width - label_w)
    height = max(2, height)
    shown = list(bars[-plot_w:])
    out = Text(no_wrap=True, overflow="crop")
    if not shown:
        out.append("waiting for prices…", style=axis)
        return out
    lo = min(b.low for b in shown)
    hi = max(b.high for b in shown)
    if hi <= lo:
        hi, lo = hi + abs(hi) * 1e-4 + 1e-12, lo - abs(lo) * 1e-4 - 1e-12
    step = (hi - lo) / height
    pad = plot_w - len(shown)
    for row in range(height):
        top = hi - row * step
        bot = top - step
        out.append(" " * pad)
        for b in shown:
            body_hi, body_lo = max(b.open, b.close), min(b.open, b.close)
            style = up if b.close >= b.open else down
            if body_lo <= top and body_hi >= bot:
                out.append("█", style=style)
            elif b.low <= top and b.high >= bot:
                out.append("│", style=style)
            else:
                out.append(" ")
        if row == 0:
            label = fmt.price(hi)
        elif row == height - 1:
            label = fmt.price(lo)
        elif row == height // 2:
            label = fmt.price((hi + lo) / 2)
        else:
            label = ""
        out.append(" " + label.rjust(label_w - 1)[: label_w - 1], style=axis)
        if row != height - 1:
            out.append("\n")
    return out


def spark(values: Sequence[float], width: int, *, symmetric: bool = False) -> str:
    """One-line block sparkline of the last `width` values.

    `symmetric` scales around zero (funding rates, imbalance) so the sign reads.
    """
    vals = [v for v in values if v is not None][-width:]
    if not vals:
        return ""
    if symmetric:
        m = max(abs(v) for v in vals) or 1.0
        lo, hi = -m, m
    else:
        lo, hi = min(vals), max(vals)
    span = hi - lo
    chars = []
    for v in vals:
        idx = 4 if span <= 0 else round((v - lo) / span * 7) + 1
        chars.append(BLOCKS[max(1, min(8, idx))])
    return "".join(chars)

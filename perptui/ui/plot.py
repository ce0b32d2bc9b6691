"""Braille line plots with axes, for terminals (and SSH) without any plotting library.

A braille cell is 2 dots wide and 4 tall, so a 60x10 panel plots 120x40 points:
enough for a price line that reads, with a price scale on the right and a time
axis under it.  Everything here is a pure function of its inputs returning plain
strings; the widgets add styles.  Why not a plotting widget (textual-plotext):
another dependency and canvas for three small charts, while these functions
cost well under a millisecond per frame and draw the same in any UTF-8 terminal,
which is what matters over SSH.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

# Dot bit for (column 0/1, row 0..3) inside a braille cell (U+2800 + bits).
_DOT = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
BRAILLE_BASE = 0x2800


class Canvas:
    """A width x height cell grid of braille dots; (0, 0) is the top-left dot."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = max(1, width), max(1, height)
        self.dots_w, self.dots_h = self.width * 2, self.height * 4
        self.cells = [[0] * self.width for _ in range(self.height)]

    def set(self, x: int, y: int) -> None:
        if 0 <= x < self.dots_w and 0 <= y < self.dots_h:
            self.cells[y // 4][x // 2] |= _DOT[y % 4][x % 2]

    def vline(self, x: int, y0: int, y1: int) -> None:
        for y in range(min(y0, y1), max(y0, y1) + 1):
            self.set(x, y)

    def rows(self) -> list[str]:
        return ["".join(chr(BRAILLE_BASE + c) if c else " " for c in row) for row in self.cells]

    def column_used(self, cell_x: int) -> bool:
        return any(row[cell_x] for row in self.cells)


def value_range(values: Sequence[float], pad: float = 0.04) -> tuple[float, float]:
    """(lo, hi) around the finite values, padded so the line does not hug the border."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return 0.0, 1.0
    lo, hi = min(vals), max(vals)
    if hi <= lo:
        d = abs(hi) * 1e-4 or 1e-9
        return lo - d, hi + d
    d = (hi - lo) * pad
    return lo - d, hi + d


def line(values: Sequence[float | None], width: int, height: int, lo: float, hi: float) -> Canvas:
    """The last 2*width values as a connected line (None leaves a gap)."""
    c = Canvas(width, height)
    vals = list(values)[-c.dots_w :]
    offset = c.dots_w - len(vals)  # right-align: the newest value at the right edge
    span = hi - lo or 1.0
    prev: int | None = None
    for i, v in enumerate(vals):
        if v is None or not math.isfinite(v):
            prev = None
            continue
        y = round((hi - v) / span * (c.dots_h - 1))
        y = max(0, min(c.dots_h - 1, y))
        x = offset + i
        if prev is None:
            c.set(x, y)
        else:
            c.vline(x, prev, y)  # joins steps so the line stays continuous
        prev = y
    return c


def _nice_step(span_ms: float, slots: int) -> int:
    """A round time step (1 s .. 1 d) giving at most `slots` labels over span_ms."""
    for step in (
        1_000,
        5_000,
        15_000,
        30_000,
        60_000,
        300_000,
        900_000,
        1_800_000,
        3_600_000,
        7_200_000,
        14_400_000,
        21_600_000,
        43_200_000,
        86_400_000,
        604_800_000,
    ):
        if span_ms / step <= slots:
            return step
    return 2_592_000_000


def time_axis(t0: int, t1: int, width: int) -> str:
    """A line of `width` cells with HH:MM (or MM-DD) labels at round times in [t0, t1]."""
    if width <= 0:
        return ""
    span = max(1, t1 - t0)
    label_w = 6
    step = _nice_step(span, max(1, width // (label_w + 3)))
    fmt = "%m-%d" if step >= 86_400_000 else ("%H:%M:%S" if step < 60_000 else "%H:%M")
    out = [" "] * width
    t = (t0 // step + 1) * step
    last_end = -1
    while t <= t1:
        x = round((t - t0) / span * (width - 1))
        text = "┬" + dt.datetime.fromtimestamp(t / 1000, dt.UTC).strftime(fmt)
        if x > last_end and x + len(text) <= width:
            out[x : x + len(text)] = list(text)
            last_end = x + len(text)
        t += step
    return "".join(out)


def resample(points: Sequence[tuple[int, float]], t0: int, t1: int, n: int) -> list[float | None]:
    """`n` evenly spaced samples over [t0, t1] of a step series (last value at or before)."""
    if n <= 0:
        return []
    out: list[float | None] = []
    pts = sorted(points)
    j, cur = 0, None
    span = max(1, t1 - t0)
    for i in range(n):
        t = t0 + span * i / max(1, n - 1)
        while j < len(pts) and pts[j][0] <= t:
            cur = pts[j][1]
            j += 1
        out.append(cur)
    return out


def marks(points: Sequence[tuple[int, float]], t0: int, t1: int, width: int, scale: float) -> str:
    """One cell per column over [t0, t1]: a glyph where a settlement fell, else space.

    The glyph's height shows the size of the rate against `scale` and its shape the
    sign (▁..█ for positive, ▔ ▀ for negative), so an 8 h venue shows three marks a
    day and a 1 h venue a dense row: intervals are visible, not only rates.  Where
    several settlements share a column, the mark is their mean.
    """
    if width <= 0:
        return ""
    span = max(1, t1 - t0)
    sums = [0.0] * width
    counts = [0] * width
    for t, r in points:
        if t < t0 or t > t1 or r is None or not math.isfinite(r):
            continue
        x = round((t - t0) / span * (width - 1))
        sums[x] += r
        counts[x] += 1
    up = "▁▂▃▄▅▆▇█"
    cells = []
    for total, n in zip(sums, counts, strict=True):
        if not n:
            cells.append(" ")
            continue
        r = total / n  # several settlements in one column: their mean
        level = 0 if scale <= 0 else min(7, int(abs(r) / scale * 7.999))
        cells.append(up[level] if r >= 0 else ("▀" if level >= 4 else "▔"))
    return "".join(cells)


def depth_curve(
    bids: Sequence[tuple[float, float]],
    asks: Sequence[tuple[float, float]],
    mid: float,
    width: int,
    height: int,
    max_frac: float,
) -> tuple[Canvas, Canvas, float]:
    """Cumulative quote notional vs distance from mid, bids left of centre, asks right.

    Returns (bid canvas, ask canvas, the notional at the top of the scale): the
    two sides are drawn on separate canvases so the widget can colour them.
    """
    bid_c, ask_c = Canvas(width, height), Canvas(width, height)
    half = bid_c.dots_w // 2
    if not (mid > 0 and half > 0 and max_frac > 0):
        return bid_c, ask_c, 0.0

    def cumulative(side: Sequence[tuple[float, float]], sign: int) -> list[float]:
        cum = [0.0] * half
        total = 0.0
        k = 0
        for price, amount in side:
            dist = sign * (price - mid) / mid
            if dist > max_frac:
                break
            total += price * amount
            col = min(half - 1, int(dist / max_frac * half))
            while k < col:
                cum[k + 1] = cum[k]
                k += 1
            cum[col] = total
        for i in range(k + 1, half):
            cum[i] = total
        return cum

    cb, ca = cumulative(bids, -1), cumulative(asks, 1)
    top = max(max(cb, default=0.0), max(ca, default=0.0)) or 1.0
    h = bid_c.dots_h - 1
    for i in range(half):
        yb = h - round(cb[i] / top * h)
        ya = h - round(ca[i] / top * h)
        bid_c.vline(half - 1 - i, yb, h)  # filled area under the curve
        ask_c.vline(half + i, ya, h)
    return bid_c, ask_c, top

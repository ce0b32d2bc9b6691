"""Order-book ladder for the focus market, with depth bands and imbalance per band.

The ladder shows as many levels a side as the panel's height allows, each with a
size bar and the size accumulated from the best price; `+` / `-` group levels into
buckets of 1, 2, 5, 10, ... ticks (perptui.core.ladder).  The bands table goes
below the ladder when there is room for both, beside it when the panel is wide
but short (80x24), so the ladder never shrinks to a level or two.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text

from perptui.core import ladder
from perptui.core.metrics import DepthMetrics
from perptui.ui import fmt, plot
from perptui.ui.lines import Line, from_text
from perptui.ui.widgets.base import Panel

PRICE_W, SIZE_W, CUM_W = 11, 9, 9
LADDER_MIN_W = PRICE_W + SIZE_W + CUM_W + 6  # columns + a bar of at least a few cells
BANDS_W = 36  # band, bid depth, ask depth, imbalance (+ its bar when wider)
CURVE_MIN_ROWS = 6  # the depth curve goes under the bands when this many rows are free
CURVE_MAX_FRAC = 0.01  # the curve spans at most ±1 % of mid


def _usd(x: float | None) -> str:
    return "-" if x is None else "$" + fmt.compact(x)


def _pct(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x * 100:+.{digits}f}%"


def pool_text(m, st: dict[str, Style]) -> Text:
    """What a pool venue has instead of a book: per side the open interest against its
    cap, the liquidity still available, funding (per hour and a year, GMX's sign:
    + received, - paid) and borrowing; the price impact of a few sizes; depth bands n/a."""
    p = m.pool
    out = Text(no_wrap=True, overflow="crop")
    out.append(f"{fmt.short_symbol(m.symbol)} @ {m.exchange}", style=st["title"])
    out.append("  pool (no order book)\n", style=st["dim"])
    out.append(f"{'':6}{'OI':>9} {'cap':>9} {'avail':>9} {'fund/h':>10} {'fund/yr':>9} "
               f"{'borrow/h':>10}\n", style=st["dim"])  # fmt: skip
    rows = (
        ("long", p.oi_long_usd, p.cap_long_usd, p.available_long_usd, p.funding_long_h,
         p.borrowing_long_h, st["bid"]),
        ("short", p.oi_short_usd, p.cap_short_usd, p.available_short_usd, p.funding_short_h,
         p.borrowing_short_h, st["ask"]),
    )  # fmt: skip
    for side, oi, cap, avail, f_h, b_h, style in rows:
        out.append(f"{side:<6}", style=style)
        year = None if f_h is None else f_h * 8760
        out.append(f"{_usd(oi):>9} {_usd(cap):>9} {_usd(avail):>9} {_pct(f_h):>10} "
                   f"{_pct(year, 2):>9} {_pct(b_h):>10}\n")  # fmt: skip
    payer = p.paying_side
    out.append(f"{payer}s pay funding\n" if payer else "no funding flow\n", style=st["dim"])
    if p.impacts:
        out.append(f"{'impact':<8}{'long':>10} {'short':>10}\n", style=st["dim"])
        for q in p.impacts:
            out.append(f"{_usd(q.size_usd):<8}{q.long_bps:>+9.2f}b {q.short_bps:>+9.2f}b\n")
    else:
        out.append("price impact: n/a\n", style=st["dim"])
    out.append("depth bands: n/a (no order book)", style=st["dim"])
    return out


class BookPanel(Panel):
    TEXT_ROWS = False  # rows built as Lines (repainted with every book of the focus market)
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "book--bid",
        "book--ask",
        "book--bid-bar",
        "book--ask-bar",
        "book--dim",
        "book--title",
        "book--warn",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.step = 1  # bucket width in ticks (ladder.STEPS)

    def inputs(self) -> object:
        # MarketView objects are rebuilt only when their key changed, so identity is
        # the cheapest exact "did the book change" test.
        return (self.focus_symbol, self.focus_venue, id(self.market()), self.step)

    def regroup(self, direction: int) -> int:
        """Coarser (+1) or finer (-1) price buckets; returns the new step in ticks."""
        self.step = ladder.next_step(self.step, direction)
        self._inputs = None
        self.refresh()
        return self.step

    # ------------------------------------------------------------------ layout
    def layout_plan(self, width: int, height: int, n_bands: int) -> tuple[int, bool]:
        """(levels a side, bands beside the ladder?) for a content area of this size."""
        band_rows = n_bands + 1 if n_bands else 0
        below = max(1, (height - 2 - band_rows) // 2)
        beside = max(1, (height - 2) // 2)
        if n_bands and beside > below and width >= LADDER_MIN_W + BANDS_W + 1:
            return beside, True
        return below, False

    def lines(self) -> list[Line]:
        m = self.market()
        st = self._styles()
        if m is None:
            return [Line("no market selected", st["dim"])]
        if m.pool is not None and not m.bids and not m.asks:
            return from_text(pool_text(m, st))
        width, height = max(20, self.size.width), max(4, self.size.height)
        depth = m.metrics
        bands = m.bands if depth is not None else ()
        levels, beside = self.layout_plan(width, height, len(bands))
        tick = m.market.tick_size if m.market is not None else None
        best = m.bids[0][0] if m.bids else (m.asks[0][0] if m.asks else None)
        inc = ladder.increment_for(tick, self.step, best)
        ladder_w = width - BANDS_W - 1 if beside else width
        out = [self._title(m, depth, inc, st)]
        lines = self._ladder_lines(m, depth, inc, levels, ladder_w, st)
        band_lines = self._band_lines(depth, bands, BANDS_W if beside else width, st)
        if beside:
            room = len(lines) - len(band_lines) - 1
            if room >= CURVE_MIN_ROWS and depth is not None and depth.mid:
                band_lines += [Line(), *self._curve_lines(m, depth.mid, BANDS_W, room - 1, st)]
            for i, line in enumerate(lines):
                line.truncate(ladder_w, pad=True)
                if i < len(band_lines):
                    line.append(" ")
                    line.append_line(band_lines[i])
                out.append(line)
        else:
            out.extend(lines)
            out.extend(band_lines)
        while len(out) > 1 and not out[-1].plain.strip():
            out.pop()
        return out

    # ----------------------------------------------------------------- pieces
    def _styles(self) -> dict[str, Style]:
        s = self.component_style
        names = ("bid", "ask", "bid-bar", "ask-bar", "dim", "title", "warn")
        return {n: s(f"book--{n}", partial=True) for n in names}

    def _title(self, m, depth: DepthMetrics | None, inc: float, st: dict[str, Style]) -> Line:
        t = Line()
        t.append(f"{fmt.short_symbol(m.symbol)} @ {m.exchange}", style=st["title"])
        if self.step > 1 and inc > 0:
            t.append(f"  group {fmt.price(inc)}", style=st["dim"])
        if depth is not None and depth.flag != "ok":
            t.append(f"  {depth.flag}", style=st["warn"])
        if m.stale:
            t.append("  STALE", style=st["warn"])
        return t

    def _ladder_lines(
        self, m, depth: DepthMetrics | None, inc: float, levels: int, width: int, st
    ) -> list[Line]:
        asks = ladder.group_side(m.asks, inc, asks=True, rows=levels)
        bids = ladder.group_side(m.bids, inc, asks=False, rows=levels)
        lines: list[Line] = []
        if not asks and not bids:
            lines.append(Line("waiting for the book…", st["dim"]))
        biggest = max((r.size for r in asks + bids), default=0.0) or 1.0
        bar_w = max(1, width - PRICE_W - SIZE_W - CUM_W - 3)
        lines.extend(Line() for _ in range(levels - len(asks)))
        for r in reversed(asks):
            lines.append(self._row(r, biggest, bar_w, st["ask"], st["ask-bar"]))
        if depth is not None:
            mid = f" mid {fmt.price(depth.mid)} · spread {fmt.bps(depth.spread_bps)} bp "
        else:
            mid = " — "
        lines.append(Line(mid.center(width, "─")[:width], st["dim"]))
        for r in bids:
            lines.append(self._row(r, biggest, bar_w, st["bid"], st["bid-bar"]))
        lines.extend(Line() for _ in range(levels - len(bids)))
        return lines

    @staticmethod
    def _row(r: ladder.LadderRow, biggest: float, bar_w: int, style: Style, bar: Style) -> Line:
        n = r.size / biggest * bar_w
        full = int(n)
        cells = "█" * full + ("▌" if n - full >= 0.5 else "")
        size = ("≥" if r.partial else "") + fmt.size(r.size)
        t = Line()
        t.append(fmt.price(r.price).rjust(PRICE_W), style=style)
        t.append(size.rjust(SIZE_W + 1))
        t.append(fmt.size(r.cum_size).rjust(CUM_W + 1), style=style)
        t.append(" ")
        t.append(cells.ljust(bar_w), style=bar)
        return t

    @staticmethod
    def _curve_lines(m, mid: float, width: int, rows: int, st) -> list[Line]:
        """Cumulative bid/ask notional vs distance from mid, over the levels held."""
        reach = 0.0
        if m.bids:
            reach = max(reach, (mid - m.bids[-1][0]) / mid)
        if m.asks:
            reach = max(reach, (m.asks[-1][0] - mid) / mid)
        span = min(CURVE_MAX_FRAC, reach) if reach > 0 else CURVE_MAX_FRAC
        bid_c, ask_c, top = plot.depth_curve(m.bids, m.asks, mid, width, rows, span)
        head = Line()
        head.append(f"depth ±{span * 100:.2g}% of mid, cum. to {fmt.compact(top)}", style=st["dim"])
        out = [head]
        half = width // 2
        for b_row, a_row in zip(bid_c.rows(), ask_c.rows(), strict=True):
            t = Line()
            t.append(b_row[:half], style=st["bid-bar"])
            t.append(a_row[half:], style=st["ask-bar"])
            out.append(t)
        return out

    @staticmethod
    def _band_lines(
        depth: DepthMetrics | None, bands: tuple[float, ...], width: int, st
    ) -> list[Line]:
        if depth is None or not bands:
            return []
        lines = [Line(f"{'band':>5} {'bid depth':>10} {'ask depth':>10} {'imb':>6}", st["dim"])]
        for b in bands:
            bd = depth.bid_depth.get(b, 0.0)
            ad = depth.ask_depth.get(b, 0.0)
            imb = depth.imbalance_by_band.get(b, 0.0) or 0.0
            # "≥": the feed's book stops short of this band's edge, so the figure
            # is a lower bound (e.g. a 50-level stream vs the 5 % band).
            bid_ok, ask_ok = depth.covers(b)
            bd_s = fmt.compact(bd) if bid_ok else "≥" + fmt.compact(bd)
            ad_s = fmt.compact(ad) if ask_ok else "≥" + fmt.compact(ad)
            t = Line()
            t.append(f"{b * 100:>4g}% {bd_s:>10} {ad_s:>10} ")
            t.append(
                f"{imb:+.2f}".rjust(6), style=st["bid"] if imb > 0 else st["ask"] if imb < 0 else ""
            )
            room = width - 36
            if room >= 6:
                half = room // 2
                n = round(abs(imb) * half)
                left = (" " * (half - n) + "█" * n) if imb < 0 else " " * half
                right = ("█" * n).ljust(half) if imb > 0 else " " * half
                t.append(" ")
                t.append(left, style=st["ask-bar"])
                t.append("│", style=st["dim"])
                t.append(right, style=st["bid-bar"])
            lines.append(t)
        return lines

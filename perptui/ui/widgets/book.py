"""Order book ladder for the focus market, with depth bands and imbalance per band."""

from __future__ import annotations

from typing import ClassVar

from rich.console import RenderableType
from rich.style import Style
from rich.text import Text

from perptui.ui import fmt
from perptui.ui.widgets.base import Panel


class BookPanel(Panel):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "book--bid",
        "book--ask",
        "book--bid-bar",
        "book--ask-bar",
        "book--dim",
        "book--title",
        "book--warn",
    }

    def inputs(self) -> object:
        # MarketView objects are rebuilt only when their key changed, so identity is
        # the cheapest exact "did the book change" test.
        return (self.focus_symbol, self.focus_venue, id(self.market()))

    def render(self) -> RenderableType:
        s = self.get_component_rich_style
        bid, ask = s("book--bid", partial=True), s("book--ask", partial=True)
        bid_bar, ask_bar = s("book--bid-bar", partial=True), s("book--ask-bar", partial=True)
        dim, title, warn = (
            s("book--dim", partial=True),
            s("book--title", partial=True),
            s("book--warn", partial=True),
        )
        width = max(20, self.size.width)
        height = max(4, self.size.height)
        m = self.market()
        out = Text(no_wrap=True, overflow="crop")
        if m is None:
            out.append("no market selected", style=dim)
            return out
        depth = m.metrics
        out.append(f"{fmt.short_symbol(m.symbol)} @ {m.exchange}", style=title)
        if depth is not None and depth.flag != "ok":
            out.append(f"  {depth.flag}", style=warn)
        if m.stale:
            out.append("  STALE", style=warn)
        out.append("\n")

        bands = m.bands if depth is not None else ()
        band_rows = len(bands) + 1 if bands else 0
        levels = max(1, (height - 3 - band_rows) // 2)
        asks = list(m.asks[:levels])
        bids = list(m.bids[:levels])
        if not asks and not bids:
            out.append("waiting for the book…\n", style=dim)
        biggest = max((a for _, a in asks + bids), default=0.0) or 1.0
        price_w, size_w = 12, 10
        bar_w = max(1, width - price_w - size_w - 2)

        def line(level: tuple[float, float], style: Style, bar_style: Style) -> None:
            p, a = level
            n = a / biggest * bar_w
            full = int(n)
            bar = "█" * full + ("▌" if n - full >= 0.5 else "")
            out.append(fmt.price(p).rjust(price_w), style=style)
            out.append(fmt.size(a).rjust(size_w + 1))
            out.append(" ")
            out.append(bar.ljust(bar_w), style=bar_style)
            out.append("\n")

        for _ in range(levels - len(asks)):
            out.append("\n")
        for lvl in reversed(asks):
            line(lvl, ask, ask_bar)
        if depth is not None:
            mid_line = f" mid {fmt.price(depth.mid)} · spread {fmt.bps(depth.spread_bps)} bp "
        else:
            mid_line = " — "
        out.append(mid_line.center(width, "─")[:width], style=dim)
        out.append("\n")
        for lvl in bids:
            line(lvl, bid, bid_bar)
        for _ in range(levels - len(bids)):
            out.append("\n")

        if bands:
            out.append(
                f"{'band':>5} {'bid depth':>10} {'ask depth':>10} {'imb':>6}\n",
                style=dim,
            )
            for i, b in enumerate(bands):
                bd = depth.bid_depth.get(b, 0.0)
                ad = depth.ask_depth.get(b, 0.0)
                imb = depth.imbalance_by_band.get(b, 0.0) or 0.0
                # "≥": the feed's book stops short of this band's edge, so the
                # figure is a lower bound (e.g. a 50-level stream vs the 5 % band).
                bid_ok, ask_ok = depth.covers(b)
                bd_s = fmt.compact(bd) if bid_ok else "≥" + fmt.compact(bd)
                ad_s = fmt.compact(ad) if ask_ok else "≥" + fmt.compact(ad)
                out.append(f"{b * 100:>4g}% {bd_s:>10} {ad_s:>10} ")
                out.append(f"{imb:+.2f}".rjust(6), style=bid if imb > 0 else ask if imb < 0 else "")
                room = width - 36
                if room >= 6:
                    half = room // 2
                    n = round(abs(imb) * half)
                    left = (" " * (half - n) + "█" * n) if imb < 0 else " " * half
                    right = ("█" * n).ljust(half) if imb > 0 else " " * half
                    out.append(" ")
                    out.append(left, style=ask_bar)
                    out.append("│", style=dim)
                    out.append(right, style=bid_bar)
                if i != len(bands) - 1:
                    out.append("\n")
        return out

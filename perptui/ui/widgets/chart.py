"""Price chart of the focus market (venue candles extended by live mids) + sparklines."""

from __future__ import annotations

from typing import ClassVar

from rich.console import RenderableType
from rich.text import Text

from perptui.ui import charting, fmt
from perptui.ui.widgets.base import Panel

IMBALANCE_BAND = 0.01


class ChartPanel(Panel):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "chart--up",
        "chart--down",
        "chart--axis",
        "chart--title",
        "chart--spark",
    }

    def inputs(self) -> object:
        # A terminal-cell chart barely moves between seconds: repaint at most at 1 Hz
        # (and at once when the focus changes), not on every book.
        m = self.market()
        return (self.focus_symbol, self.focus_venue, m is None, self.now_ms // 1000)

    def render(self) -> RenderableType:
        s = self.get_component_rich_style
        up, down = s("chart--up", partial=True), s("chart--down", partial=True)
        axis, title = s("chart--axis", partial=True), s("chart--title", partial=True)
        spark_style = s("chart--spark", partial=True)
        width = max(20, self.size.width)
        height = max(5, self.size.height)
        m = self.market()
        out = Text(no_wrap=True, overflow="crop")
        if m is None:
            out.append("no market selected", style=axis)
            return out
        tf = m.candles[0].timeframe if m.candles else "live"
        out.append(f"{fmt.short_symbol(m.symbol)} @ {m.exchange} ", style=title)
        out.append(f"{tf} candles + live mid", style=axis)
        out.append("\n")
        bars = charting.extend_candles(m.candles, ())
        if not bars:
            # No venue OHLCV yet: draw the live mid history as one-sample bars.
            bars = charting.extend_candles((), ((p.t, p.mid) for p in m.history if p.mid), 5_000)
        out.append_text(charting.candle_chart(bars, width, height - 3, up, down, axis))
        out.append("\n")
        label_w = 11
        spark_w = max(1, width - label_w * 2)
        imb = m.imbalance_history(IMBALANCE_BAND)
        spr = m.spread_history()
        out.append(f"imb {IMBALANCE_BAND * 100:g}%".ljust(label_w), style=axis)
        out.append(charting.spark(imb, spark_w, symmetric=True).ljust(spark_w), style=spark_style)
        out.append((f"{imb[-1]:+.2f}" if imb else fmt.DASH).rjust(label_w))
        out.append("\n")
        out.append("spread bp".ljust(label_w), style=axis)
        out.append(charting.spark(spr, spark_w).ljust(spark_w), style=spark_style)
        out.append((fmt.bps(spr[-1]) if spr else fmt.DASH).rjust(label_w))
        return out

"""Price chart of the focus market (venue candles extended by live mids) + sparklines.

The price is a braille line (2x4 dots a cell) with a price scale on the right and
a time axis below, so it reads at a glance and says when; imbalance and spread
follow as one-line sparklines.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text

from perptui.ui import charting, fmt, plot
from perptui.ui.lines import Line, RowText
from perptui.ui.widgets.base import Panel

IMBALANCE_BAND = 0.01
LABEL_W = 11


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

    def lines(self) -> list[Line]:
        return self._rows_text().rows

    def text(self) -> Text:
        """The panel as one Rich ``Text`` (its rows, as ``render()`` gives them)."""
        return self._rows_text().to_text()

    def _rows_text(self) -> RowText:
        s = self.component_style
        up, down = s("chart--up", partial=True), s("chart--down", partial=True)
        axis, title = s("chart--axis", partial=True), s("chart--title", partial=True)
        spark_style = s("chart--spark", partial=True)
        width = max(20, self.size.width)
        height = max(5, self.size.height)
        m = self.market()
        out = RowText()
        if m is None:
            out.append("no market selected", style=axis)
            return out
        tf = m.candles[0].timeframe if m.candles else "live"
        bars = charting.extend_candles(m.candles, ())
        if not bars:
            # No venue OHLCV yet: draw the live mid history.
            bars = charting.extend_candles((), ((p.t, p.mid) for p in m.history if p.mid), 5_000)
        out.append(f"{fmt.short_symbol(m.symbol)} @ {m.exchange} ", style=title)
        out.append(f"{tf} closes + live mid", style=axis)
        if len(bars) >= 2:
            first, last = bars[0].close, bars[-1].close
            change = (last - first) / first if first else None
            out.append(f"  {fmt.price(last)} ", style=title)
            out.append(fmt.pct(change), style=up if (change or 0) >= 0 else down)
        out.append("\n")
        plot_h = max(2, height - 4)
        plot_w = max(4, width - LABEL_W)
        shown = bars[-plot_w * 2 :]
        if not shown:
            out.append("waiting for prices…\n", style=axis)
        else:
            closes = [b.close for b in shown]
            lo, hi = plot.value_range(closes)
            canvas = plot.line(closes, plot_w, plot_h, lo, hi)
            style = up if closes[-1] >= closes[0] else down
            for i, row in enumerate(canvas.rows()):
                out.append(row, style=style)
                out.append(
                    " " + self._price_label(i, plot_h, lo, hi).rjust(LABEL_W - 1), style=axis
                )
                out.append("\n")
            # The time axis spans the columns the samples occupy (right-aligned).
            used = (len(shown) + 1) // 2
            t0, t1 = shown[0].ts, shown[-1].ts
            out.append(" " * (plot_w - used) + plot.time_axis(t0, t1, used), style=axis)
            out.append("\n")
        spark_w = max(1, width - LABEL_W * 2)
        imb = m.imbalance_history(IMBALANCE_BAND)
        spr = m.spread_history()
        out.append(f"imb {IMBALANCE_BAND * 100:g}%".ljust(LABEL_W), style=axis)
        out.append(charting.spark(imb, spark_w, symmetric=True).ljust(spark_w), style=spark_style)
        out.append((f"{imb[-1]:+.2f}" if imb else fmt.DASH).rjust(LABEL_W))
        out.append("\n")
        out.append("spread bp".ljust(LABEL_W), style=axis)
        out.append(charting.spark(spr, spark_w).ljust(spark_w), style=spark_style)
        out.append((fmt.bps(spr[-1]) if spr else fmt.DASH).rjust(LABEL_W))
        return out

    @staticmethod
    def _price_label(row: int, rows: int, lo: float, hi: float) -> str:
        """Labels on the top, middle and bottom rows (and quarters when tall)."""
        marks = {0, rows - 1, (rows - 1) // 2}
        if rows >= 9:
            marks |= {(rows - 1) // 4, 3 * (rows - 1) // 4}
        if row not in marks:
            return ""
        # A row covers a band of prices; label it with the price at its centre.
        frac = (row + 0.5) / rows
        return fmt.price(hi - frac * (hi - lo))

"""Funding across venues for the focus symbol, and its settled history from the DB."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.text import Text

from perptui.core.units import HOUR_MS
from perptui.ui import fmt, plot
from perptui.ui.lines import Line, RowText
from perptui.ui.widgets.base import Panel

History = Mapping[str, Sequence[tuple[int, float]]]  # venue -> [(settle ms, rate)]


class FundingPanel(Panel):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "funding--up",
        "funding--down",
        "funding--dim",
        "funding--title",
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history_symbol: str | None = None
        self.history: History = {}
        self.history_note = "loading funding history…"

    def set_history(self, symbol: str, history: History, note: str = "") -> None:
        """Rows loaded from the DB by a thread worker (never on the event loop)."""
        self.history_symbol = symbol
        self.history = history
        self.history_note = note
        self._inputs = None  # force a repaint on the next clock tick
        self.refresh()

    def inputs(self) -> object:
        if self.view is None:
            return None
        # Funding fields only: a new book (new MarketView) must not repaint this panel.
        ids = tuple(
            (id(m.funding), m.annualized, m.basis) if m is not None else None
            for m in (self.view.peer(v, self.focus_symbol or "") for v in self.view.venues)
        )
        return (self.focus_symbol, self.focus_venue, ids, self.now_ms // 1000, id(self.history))

    def update_chrome(self) -> None:
        if self.view is not None and self.focus_symbol is not None:
            self.set_chrome(title=f"Funding · {fmt.short_symbol(self.focus_symbol)}")

    def lines(self) -> list[Line]:
        return self._rows_text().rows

    def text(self) -> Text:
        """The panel as one Rich ``Text`` (its rows, as ``render()`` gives them)."""
        return self._rows_text().to_text()

    def _rows_text(self) -> RowText:
        s = self.component_style
        up, down = s("funding--up", partial=True), s("funding--down", partial=True)
        dim, title = s("funding--dim", partial=True), s("funding--title", partial=True)
        out = RowText()
        view, symbol = self.view, self.focus_symbol
        if view is None or symbol is None:
            out.append("no market selected", style=dim)
            return out

        def signed(x: float | None, text: str) -> None:
            style = "" if not x else (up if x > 0 else down)
            out.append(text, style=style)

        out.append(
            f"{'venue':<8}{'rate':>10}{'pred':>10}{'next':>8}{'int':>4}{'ann':>9}{'basis':>9}\n",
            style=dim,
        )
        for venue in view.venues:
            m = view.peer(venue, symbol)  # BTC/USDT:USDT shows dYdX's BTC/USDC:USDC too
            if m is None:
                continue
            mark = "▸" if venue == self.focus_venue else " "
            out.append(f"{mark}{venue:<7}"[:8])
            signed(m.funding_rate, fmt.pct(m.funding_rate, 4).rjust(10))
            pred = m.funding.predicted_rate if m.funding is not None else None
            signed(pred, fmt.pct(pred, 4).rjust(10))
            out.append(fmt.countdown(m.next_funding_time, self.now_ms).rjust(8))
            out.append(fmt.hours(m.interval_hours).rjust(4))
            signed(m.annualized, fmt.pct(m.annualized, 1).rjust(9))
            signed(m.basis, fmt.pct(m.basis, 3).rjust(9))
            out.append("\n")

        out.append("history (DB)", style=title)
        if self.history_symbol == symbol and self.history and self.history_note:
            out.append(f" {self.history_note}", style=dim)
        if self.history_symbol != symbol or not self.history:
            note = self.history_note if self.history_symbol == symbol else "loading…"
            out.append(f"  {note or 'no rows stored yet'}", style=dim)
            return out
        out.append_text(self._history_marks(up, down, dim))
        return out

    def _history_marks(self, up, down, dim) -> RowText:
        """Settlements per venue on one shared time axis: a mark where each was paid.

        The window starts where every venue's loaded history has begun, so rows
        compare like for like; an 8 h venue shows sparse marks, a 1 h venue a dense
        row, and each mark's height is the rate's size against the largest shown.
        """
        out = RowText()
        series = {v: [(t, r) for t, r in rows] for v, rows in self.history.items() if rows}
        if not series:
            return out
        t1 = max(max(t for t, _ in rows) for rows in series.values())
        t0 = max(min(t for t, _ in rows) for rows in series.values())
        if t1 <= t0:
            t0 = t1 - HOUR_MS
        width = max(4, self.size.width - 8 - 12)
        inside = [r for rows in series.values() for t, r in rows if t0 <= t <= t1]
        scale = max((abs(r) for r in inside), default=0.0)
        for venue, rows in series.items():
            out.append(f"\n{venue:<8}"[:9])
            out.append(plot.marks(rows, t0, t1, width, scale).ljust(width), style=dim)
            last = rows[-1][1]
            out.append(fmt.pct(last, 4).rjust(11), style=up if last > 0 else down if last else "")
        out.append("\n" + " " * 8)
        out.append(plot.time_axis(t0, t1, width), style=dim)
        return out

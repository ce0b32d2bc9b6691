"""Watchlist: one row per (symbol, venue), cells updated by key, never rebuilt."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import JustifyMethod
from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from perptui.engine.views import HubView, MarketView
from perptui.ui import fmt

RIGHT: JustifyMethod = "right"

COLUMNS: tuple[tuple[str, str, int], ...] = (
    # (key, label, width); cell padding is 0, right-aligned cells give the gaps.
    ("symbol", "Symbol", 10),
    ("venue", "Venue", 8),
    ("mid", "Mid", 10),
    ("chg", "24h", 8),
    ("spread", "Sprd", 7),
    ("funding", "Funding", 9),
    ("ann", "Ann.", 8),
    ("next", "Next", 8),
    ("oi", "OI $", 8),
)

RowKeyT = tuple[str, str]  # (symbol, venue)
MIN_UPDATE_MS = (
    1000  # watchlist values repaint at <= 1 Hz (DataTable repaints whole); cursor: at once
)


def row_key(symbol: str, venue: str) -> str:
    return f"{symbol}|{venue}"


def split_key(key: str) -> RowKeyT:
    symbol, venue = key.rsplit("|", 1)
    return symbol, venue


class Watchlist(DataTable):
    """Symbols x venues; the cursor row is the focus market."""

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        "watchlist--up",
        "watchlist--down",
        "watchlist--stale",
    }

    class FocusChanged(Message):
        """The cursor moved to another (symbol, venue)."""

        def __init__(self, symbol: str, venue: str) -> None:
            self.symbol = symbol
            self.venue = venue
            super().__init__()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=0, **kwargs)
        self._cells: dict[str, dict[str, Text | str]] = {}
        self._order: list[str] = []
        self._last_update_ms = -(10**15)
        self._seen: dict[str, int] = {}  # row key -> MarketView.version last rendered
        self.renders = 0  # cells actually rewritten, for tests and bench

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            right = key not in ("symbol", "venue")
            self.add_column(Text(label, justify=RIGHT if right else "left"), key=key, width=width)

    # ------------------------------------------------------------------ rows
    def sync_rows(self, keys: list[RowKeyT]) -> None:
        """Add rows that appeared and remove rows that left; keep the cursor's market."""
        wanted = [row_key(s, v) for s, v in sorted(keys)]
        if wanted == self._order:
            return
        focus = self.focus_key()
        gone = set(self._order) - set(wanted)
        for k in gone:
            self.remove_row(k)
            self._cells.pop(k, None)
            self._seen.pop(k, None)
        existing = set(self._order) - gone
        new = [k for k in wanted if k not in existing]
        if new:
            if existing:
                # DataTable appends; re-adding keeps rows sorted without rebuilding cells
                # of unchanged rows more than once per membership change.
                for k in list(existing):
                    self.remove_row(k)
                for k in wanted:
                    self._add(k)
            else:
                for k in new:
                    self._add(k)
        self._order = wanted
        if focus is not None:
            self.select_key(*focus, announce=False)

    def _add(self, k: str) -> None:
        symbol, venue = split_key(k)
        cached = self._cells.get(k)
        if cached is None:
            cached = {c: fmt.DASH for c, _, _ in COLUMNS}
            cached["symbol"] = fmt.short_symbol(symbol)
            cached["venue"] = venue
            self._cells[k] = cached
        self.add_row(*(cached[c] for c, _, _ in COLUMNS), key=k)

    # ----------------------------------------------------------------- cells
    def update_view(self, view: HubView, now_ms: int, *, force: bool = False) -> None:
        # DataTable re-renders every visible cell after any update_cell, so coalesce
        # value updates to MIN_UPDATE_MS; rows joining/leaving are handled at once.
        if not force and now_ms - self._last_update_ms < MIN_UPDATE_MS:
            if len(view.markets) == len(self._order):
                return
        self._last_update_ms = now_ms
        markets = view.markets
        self.sync_rows([(sym, ven) for (ven, sym) in markets])
        up = self.get_component_rich_style("watchlist--up", partial=True)
        down = self.get_component_rich_style("watchlist--down", partial=True)
        stale = self.get_component_rich_style("watchlist--stale", partial=True)
        for (venue, symbol), m in markets.items():
            k = row_key(symbol, venue)
            cells = self._cells.get(k)
            if cells is None:
                continue
            if self._seen.get(k) == m.version:
                # Same market view: only the funding countdown moves with the clock.
                values: dict[str, Text | str] = {"next": _countdown(m, now_ms)}
            else:
                self._seen[k] = m.version
                values = self._row_values(m, now_ms, up, down, stale)
            for col, value in values.items():
                if cells.get(col) != value:
                    cells[col] = value
                    self.update_cell(k, col, value)
                    self.renders += 1

    @staticmethod
    def _row_values(
        m: MarketView, now_ms: int, up: Style, down: Style, stale: Style
    ) -> dict[str, Text | str]:
        depth = m.metrics
        ticker = m.ticker
        oi = m.open_interest
        chg = ticker.percentage if ticker is not None else None
        rate = m.funding_rate
        ann = m.annualized
        # OI in quote notional on every venue (some give only base amount).
        oi_value = None
        if oi is not None:
            if oi.value is not None:
                oi_value = oi.value
            elif oi.amount is not None and m.mid:
                oi_value = oi.amount * m.mid
        mid_style = stale if m.stale else ""
        return {
            "mid": Text(fmt.price(m.mid), style=mid_style, justify=RIGHT),
            "chg": Text(fmt.pct_points(chg), style=_sign_style(chg, up, down), justify=RIGHT),
            "spread": Text(
                fmt.bps(depth.spread_bps if depth is not None else None),
                style=mid_style,
                justify=RIGHT,
            ),
            "funding": Text(fmt.pct(rate, 4), style=_sign_style(rate, up, down), justify=RIGHT),
            "ann": Text(fmt.pct(ann, 1), style=_sign_style(ann, up, down), justify=RIGHT),
            "next": _countdown(m, now_ms),
            "oi": Text(fmt.compact(oi_value), justify=RIGHT),
        }

    # ---------------------------------------------------------------- cursor
    def focus_key(self) -> RowKeyT | None:
        if not self._order or self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None
        return split_key(key) if key else None

    def select_key(self, symbol: str, venue: str, *, announce: bool = True) -> bool:
        k = row_key(symbol, venue)
        if k not in self._cells or k not in self._order:
            return False
        idx = self.get_row_index(k)
        self.move_cursor(row=idx, animate=False)
        if announce:
            self.post_message(self.FocusChanged(symbol, venue))
        return True

    def select_index(self, index: int) -> bool:
        if 0 <= index < self.row_count:
            self.move_cursor(row=index, animate=False)
            return True
        return False

    def keys(self) -> list[RowKeyT]:
        return [split_key(k) for k in self._order]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value:
            symbol, venue = split_key(event.row_key.value)
            event.stop()
            self.post_message(self.FocusChanged(symbol, venue))


def _countdown(m: MarketView, now_ms: int) -> Text:
    return Text(fmt.countdown(m.next_funding_time, now_ms), justify=RIGHT)


def _sign_style(x: float | None, up: Style, down: Style) -> Style | str:
    if x is None or x == 0:
        return ""
    return up if x > 0 else down

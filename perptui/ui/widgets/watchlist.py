"""Watchlist: one row per (symbol, venue), drawn line by line from cached strips.

Why not Textual's DataTable: any ``update_cell`` invalidates every cached cell
(its caches are keyed by a table-wide update counter), so one changed price
re-rendered all 30 rows x 9 cells through Rich, about 40 % of the monitor's
paint time in the UI bench profile.  Here each row is one cached
:class:`~textual.strip.Strip`; a changed cell rebuilds its row's strip and
repaints that one line, and nothing is drawn through a Rich console.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from perptui.engine.views import HubView, MarketView
from perptui.ui import fmt
from perptui.ui.lines import ComponentStyles

COLUMNS: tuple[tuple[str, str, int], ...] = (
    # (key, label, width); no cell padding, right-aligned cells give the gaps.
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
LEFT_COLUMNS = frozenset({"symbol", "venue"})
TABLE_WIDTH = sum(w for _, _, w in COLUMNS)

RowKeyT = tuple[str, str]  # (symbol, venue)
# Values repaint at <= 1 Hz (a price ticking 5 times a second is noise in a
# list); the cursor and rows joining or leaving are drawn at once.
MIN_UPDATE_MS = 1000

Tone = Literal["", "up", "down", "stale"]
Cell = tuple[str, Tone]  # (text, colour role); roles map to component styles at paint


def row_key(symbol: str, venue: str) -> str:
    return f"{symbol}|{venue}"


def split_key(key: str) -> RowKeyT:
    symbol, venue = key.rsplit("|", 1)
    return symbol, venue


class Watchlist(ComponentStyles, ScrollView, can_focus=True):
    """Symbols x venues under a fixed header; the cursor row is the focus market."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "watchlist--header",
        "watchlist--cursor",
        "watchlist--up",
        "watchlist--down",
        "watchlist--stale",
    }

    DEFAULT_CSS = """
    Watchlist {
        background: $surface;
        color: $foreground;
        & > .watchlist--header { text-style: bold; background: $panel; color: $foreground; }
        & > .watchlist--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .watchlist--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    class FocusChanged(Message):
        """The cursor moved to another (symbol, venue)."""

        def __init__(self, symbol: str, venue: str) -> None:
            self.symbol = symbol
            self.venue = venue
            super().__init__()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cells: dict[str, dict[str, Cell]] = {}
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._cursor = 0
        self._last_update_ms = -(10**15)
        self._seen: dict[str, int] = {}  # row key -> MarketView.version last drawn
        self._strips: dict[tuple[str, bool], Strip] = {}  # (row key, is cursor) -> strip
        self._header: Strip | None = None
        self.renders = 0  # cells actually rewritten, for tests and bench
        self.rows_drawn = 0  # row strips built (cache misses), for tests and bench

    # ------------------------------------------------------------------ rows
    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    def sync_rows(self, keys: list[RowKeyT]) -> None:
        """Add rows that appeared and remove rows that left; keep the cursor's market."""
        wanted = [row_key(s, v) for s, v in sorted(keys)]
        if wanted == self._order:
            return
        focus = self.focus_key()
        for k in set(self._order) - set(wanted):
            self._cells.pop(k, None)
            self._seen.pop(k, None)
            self._drop_strips(k)
        for k in wanted:
            if k not in self._cells:
                symbol, venue = split_key(k)
                cells: dict[str, Cell] = {c: (fmt.DASH, "") for c, _, _ in COLUMNS}
                cells["symbol"] = (fmt.short_symbol(symbol), "")
                cells["venue"] = (venue, "")
                self._cells[k] = cells
        self._order = wanted
        self._index = {k: i for i, k in enumerate(wanted)}
        self.virtual_size = Size(TABLE_WIDTH, len(wanted) + 1)
        self._cursor = min(self._cursor, max(0, len(wanted) - 1))
        kept = focus is not None and self.select_key(*focus, announce=False)
        if not kept and wanted:
            # The focus market left (or this is the first fill): the cursor's new row
            # is the focus now, as DataTable announced a highlighted row.
            self._announce()
        self.refresh()

    # ----------------------------------------------------------------- cells
    def update_view(self, view: HubView, now_ms: int, *, force: bool = False) -> None:
        if not force and now_ms - self._last_update_ms < MIN_UPDATE_MS:
            if len(view.markets) == len(self._order):
                return
        self._last_update_ms = now_ms
        markets = view.markets
        self.sync_rows([(sym, ven) for (ven, sym) in markets])
        changed_rows: list[int] = []
        for (venue, symbol), m in markets.items():
            k = row_key(symbol, venue)
            cells = self._cells.get(k)
            if cells is None:
                continue
            if self._seen.get(k) == m.version:
                # Same market view: only the funding countdown moves with the clock.
                values: dict[str, Cell] = {"next": (fmt.countdown(m.next_funding_time, now_ms), "")}
            else:
                self._seen[k] = m.version
                values = row_values(m, now_ms)
            changed = False
            for col, value in values.items():
                if cells.get(col) != value:
                    cells[col] = value
                    self.renders += 1
                    changed = True
            if changed:
                self._drop_strips(k)
                changed_rows.append(self._index[k])
        self._refresh_rows(changed_rows)

    # ---------------------------------------------------------------- cursor
    def focus_key(self) -> RowKeyT | None:
        if not self._order:
            return None
        return split_key(self._order[self._cursor])

    def move_cursor(self, *, row: int, animate: bool = False, announce: bool = True) -> None:
        """Put the cursor on ``row`` (clamped), scroll it into view, say so if it moved."""
        del animate  # the signature DataTable callers use; the cursor never animates
        if not self._order:
            return
        row = max(0, min(len(self._order) - 1, row))
        old = self._cursor
        self._cursor = row
        self._scroll_to_cursor()
        if row != old:
            self._drop_strips(self._order[old])
            self._drop_strips(self._order[row])
            self._refresh_rows([old, row])
            if announce:
                self._announce()

    def select_key(self, symbol: str, venue: str, *, announce: bool = True) -> bool:
        k = row_key(symbol, venue)
        idx = self._index.get(k)
        if idx is None:
            return False
        moved = idx != self._cursor
        self.move_cursor(row=idx, announce=announce)
        if announce and not moved:
            self._announce()
        return True

    def select_index(self, index: int) -> bool:
        if 0 <= index < len(self._order):
            self.move_cursor(row=index)
            return True
        return False

    def keys(self) -> list[RowKeyT]:
        return [split_key(k) for k in self._order]

    def _announce(self) -> None:
        fk = self.focus_key()
        if fk is not None:
            self.post_message(self.FocusChanged(*fk))

    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        top = round(self.scroll_y)
        height = self._body_height()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False)
        elif self._cursor >= top + height:
            self.scroll_to(y=self._cursor - height + 1, animate=False)

    def action_move(self, step: int) -> None:
        self.move_cursor(row=self._cursor + step)

    def action_page(self, step: int) -> None:
        self.move_cursor(row=self._cursor + step * self._body_height())

    def action_edge(self, end: int) -> None:
        self.move_cursor(row=len(self._order) - 1 if end else 0)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= 1:
            self.move_cursor(row=round(self.scroll_y) + offset.y - 1)

    # ----------------------------------------------------------------- paint
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._header = None

    def _drop_strips(self, k: str) -> None:
        self._strips.pop((k, False), None)
        self._strips.pop((k, True), None)

    def _refresh_rows(self, rows: list[int]) -> None:
        """Repaint these rows (those on screen) in one refresh: each refresh() call
        also clears the widget's cached geometry and wakes its message pump."""
        if not rows:
            return
        top, height, width = round(self.scroll_y), self._body_height(), self.size.width
        lines = {row - top + 1 for row in rows}
        regions = [Region(0, y, width, 1) for y in sorted(lines) if 1 <= y <= height]
        if regions:
            self.refresh(*regions)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        x = round(self.scroll_x)
        if y == 0:
            if self._header is None:
                self._header = self._draw(
                    {c: (label, "") for c, label, _ in COLUMNS},
                    base + self.component_style("watchlist--header", partial=False),
                )
            return self._header.crop_extend(x, x + width, base)
        row = round(self.scroll_y) + y - 1
        if row >= len(self._order):
            return Strip.blank(width, base)
        k = self._order[row]
        cursor = row == self._cursor
        strip = self._strips.get((k, cursor))
        if strip is None:
            over = self.component_style("watchlist--cursor", partial=False) if cursor else None
            self.rows_drawn += 1
            strip = self._strips[(k, cursor)] = self._draw(self._cells[k], base, over)
        return strip.crop_extend(x, x + width, base)

    def _draw(self, cells: dict[str, Cell], style: Style, over: Style | None = None) -> Strip:
        """One row as a strip; ``over`` (the cursor) wins over the cells' colours."""
        tones = {
            "": None,
            "up": self.component_style("watchlist--up"),
            "down": self.component_style("watchlist--down"),
            "stale": self.component_style("watchlist--stale"),
        }
        segments = []
        for col, _, w in COLUMNS:
            text, tone = cells[col]
            text = text if len(text) <= w else text[: w - 1] + "…"
            text = text.ljust(w) if col in LEFT_COLUMNS else text.rjust(w)
            cell_style = style + tones[tone] if tones[tone] else style
            segments.append(Segment(text, cell_style + over if over else cell_style))
        return Strip(segments, TABLE_WIDTH)


def row_values(m: MarketView, now_ms: int) -> dict[str, Cell]:
    """The cells of one market's row, as text and colour role."""
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
    quiet: Tone = "stale" if m.stale else ""
    return {
        "mid": (fmt.price(m.mid), quiet),
        "chg": (fmt.pct_points(chg), _tone(chg)),
        "spread": (fmt.bps(depth.spread_bps if depth is not None else None), quiet),
        "funding": (fmt.pct(rate, 4), _tone(rate)),
        "ann": (fmt.pct(ann, 1), _tone(ann)),
        "next": (fmt.countdown(m.next_funding_time, now_ms), ""),
        "oi": (fmt.compact(oi_value), ""),
    }


def _tone(x: float | None) -> Tone:
    if x is None or x == 0:
        return ""
    return "up" if x > 0 else "down"

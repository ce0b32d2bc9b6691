"""`f`: the funding board - every perpetual of every venue, sortable and filterable, and
the best cross-venue carry per asset.

The screen reads the engine's :class:`~perptui.engine.board.BoardState` (replaced
wholesale on each venue refresh) on a slow clock and rebuilds its table only when the
state, the sort, the filter or the minute changed: hundreds of rows are cheap to format
once, not on every UI tick.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label

from perptui.core.board import (
    DESCENDING_BY_DEFAULT,
    SORT_COLUMNS,
    BoardRow,
    CarryPair,
    filter_rows,
    sort_rows,
)
from perptui.ui import fmt

# (column key, header) of the market view, in display order; keys are sort columns.
ROW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("venue", "venue"),
    ("symbol", "symbol"),
    ("funding_rate", "rate"),
    ("interval_hours", "int"),
    ("rate_8h", "per 8h"),
    ("apr", "APR"),
    ("predicted_rate", "pred"),
    ("next_funding_time", "next"),
    ("basis", "basis"),
    ("open_interest_usd", "OI $"),
    ("volume_24h_usd", "vol 24h $"),
)
PAIR_COLUMNS: tuple[str, ...] = (
    "base", "long", "short", "long APR", "short APR", "spread", "cost/yr", "net APR",
    "OI-w APR", "vol-w APR", "venues",
)  # fmt: skip
MIN_OI_STEPS: tuple[float, ...] = (0.0, 1e6, 1e7, 1e8)
MIN_VOLUME_STEPS: tuple[float, ...] = (0.0, 1e6, 1e7, 1e8, 1e9)  # 24 h quote volume floors
REBUILD_EVERY_S = 30.0  # the countdown column is shown to the minute


def _rate(x: float | None, digits: int = 4) -> Text:
    if x is None:
        return Text("-", style="dim")
    style = "green" if x > 0 else "red" if x < 0 else ""
    return Text(f"{x * 100:+.{digits}f}%", style=style)


def _countdown(next_ms: int | None, now_ms: int) -> str:
    if next_ms is None:
        return "-"
    minutes = max(0, next_ms - now_ms) // 60_000
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _interval(r: BoardRow) -> Text:
    text = f"{r.interval_hours:g}h"
    if r.interval_assumed:
        return Text(text + "~", style="dim")  # 8 h assumed: the venue did not say
    if r.previous_interval_hours is not None:
        return Text(f"{r.previous_interval_hours:g}>{text}", style="bold yellow")
    return Text(text)


def row_cells(r: BoardRow, now_ms: int) -> tuple[Any, ...]:
    """One table row of the market view (pure; the benchmark times it)."""
    return (
        r.venue,
        fmt.short_symbol(r.symbol),
        _rate(r.funding_rate),
        _interval(r),
        _rate(r.rate_8h),
        _rate(r.apr, 1),
        _rate(r.predicted_rate),
        _countdown(r.next_funding_time, now_ms),
        _rate(r.basis, 3),
        fmt.compact(r.open_interest_usd),
        fmt.compact(r.volume_24h_usd),
    )


def pair_cells(p: CarryPair) -> tuple[Any, ...]:
    return (
        p.base,
        f"{p.long_venue} {p.long_interval_hours:g}h",
        f"{p.short_venue} {p.short_interval_hours:g}h",
        _rate(p.long_apr, 1),
        _rate(p.short_apr, 1),
        _rate(p.apr_spread, 1),
        _rate(-p.cost_apr, 1),
        _rate(p.net_apr, 1),
        _rate(p.oi_weighted_apr, 1),
        _rate(p.volume_weighted_apr, 1),
        str(p.venues),
    )


class BoardScreen(Screen[tuple[str, str] | None]):
    """Returns (symbol, venue) of the row chosen with enter, or None on escape."""

    BINDINGS: ClassVar = [
        Binding("escape,f", "close", "Back"),
        Binding("s", "sort(1)", "Sort"),
        Binding("S", "sort(-1)", "Sort-", show=False),
        Binding("r", "reverse", "Reverse"),
        Binding("slash", "filter", "Filter"),
        Binding("o", "min_oi", "Min OI"),
        Binding("u", "min_volume", "Min vol"),
        Binding("c", "carry", "Carry"),
        Binding("enter", "choose", "Open", show=False),
    ]
    DEFAULT_CSS = """
    BoardScreen #board-status { height: 1; padding: 0 1; }
    BoardScreen #board-filter { display: none; }
    BoardScreen #board-filter.shown { display: block; }
    BoardScreen #board-table { height: 1fr; }
    """

    def __init__(
        self,
        state: Callable[[], Any],
        *,
        now_ms: Callable[[], int] | None = None,
        refresh_s: float = 1.0,
    ) -> None:
        super().__init__()
        self._state = state
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        self._refresh_s = refresh_s
        self.sort_column = "apr"
        self.descending = True
        self.filter_text = ""
        self.min_oi = 0.0
        self.min_volume = 0.0
        self.show_pairs = False
        self._shown: tuple[Any, ...] | None = None
        self._built_at = 0.0
        self.shown_rows: list[BoardRow] = []
        self.shown_pairs: list[CarryPair] = []

    def compose(self) -> ComposeResult:
        yield Label("funding board: waiting for the first refresh", id="board-status")
        yield Input(placeholder="filter: symbol or venue contains...", id="board-filter")
        yield DataTable(id="board-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.rebuild(force=True)
        self.set_interval(self._refresh_s, self.rebuild, name="board-clock")
        self.query_one(DataTable).focus()

    # ------------------------------------------------------------------ data

    @property
    def table(self) -> DataTable:
        return self.query_one("#board-table", DataTable)

    def rebuild(self, force: bool = False) -> None:
        state = self._state()
        version = getattr(state, "version", None)
        key = (version, self.sort_column, self.descending, self.filter_text, self.min_oi,
               self.min_volume, self.show_pairs)  # fmt: skip
        stale = time.monotonic() - self._built_at >= REBUILD_EVERY_S
        if not force and key == self._shown and not stale:
            return
        self._shown = key
        self._built_at = time.monotonic()
        rows: Sequence[BoardRow] = getattr(state, "rows", ()) or ()
        kept = filter_rows(
            rows, self.filter_text, min_oi_usd=self.min_oi, min_volume_usd=self.min_volume
        )
        table = self.table
        cursor = table.cursor_row
        table.clear(columns=True)
        if self.show_pairs:
            pairs = [p for p in getattr(state, "pairs", ()) or ()
                     if not self.filter_text or self.filter_text.upper() in p.base]  # fmt: skip
            if self.min_oi > 0 or self.min_volume > 0:
                bases = {r.base for r in kept}
                pairs = [p for p in pairs if p.base in bases]
            self.shown_pairs = pairs
            self.shown_rows = []
            table.add_columns(*PAIR_COLUMNS)
            table.add_rows([pair_cells(p) for p in pairs])
        else:
            ordered = sort_rows(kept, self.sort_column, self.descending)
            self.shown_rows = ordered
            self.shown_pairs = []
            for col, header in ROW_COLUMNS:
                mark = (" v" if self.descending else " ^") if col == self.sort_column else ""
                table.add_column(header + mark, key=col)
            now = self._now_ms()
            table.add_rows([row_cells(r, now) for r in ordered])
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)
        self.query_one("#board-status", Label).update(self._status(state, len(rows)))

    def _status(self, state: Any, total: int) -> str:
        venues = getattr(state, "venues", ()) or ()
        parts = []
        for s in venues:
            if s.last_error:
                parts.append(f"{s.venue}: error")
            elif s.refreshes:
                parts.append(f"{s.venue} {s.markets} ({s.requests} req)")
            else:
                parts.append(f"{s.venue}: loading")
        what = (
            f"{len(self.shown_pairs)} carry pairs (net of fees)"
            if self.show_pairs
            else f"{len(self.shown_rows)}/{total} markets, sort {self.sort_column}"
        )
        extra = []
        if self.filter_text:
            extra.append(f"filter '{self.filter_text}'")
        if self.min_oi:
            extra.append(f"OI >= {fmt.compact(self.min_oi)}")
        if self.min_volume:
            extra.append(f"vol >= {fmt.compact(self.min_volume)}")
        return "  ".join([what, *extra, "|", *parts])

    # ------------------------------------------------------------------ actions

    def action_close(self) -> None:
        if self.query_one(Input).has_focus:
            self._hide_filter()
            return
        self.dismiss(None)

    def action_sort(self, step: int) -> None:
        i = SORT_COLUMNS.index(self.sort_column) if self.sort_column in SORT_COLUMNS else 0
        self.sort_by(SORT_COLUMNS[(i + step) % len(SORT_COLUMNS)])

    def sort_by(self, column: str) -> None:
        self.show_pairs = False
        self.sort_column = column
        self.descending = column in DESCENDING_BY_DEFAULT
        self.rebuild()

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self.rebuild()

    def action_min_oi(self) -> None:
        i = MIN_OI_STEPS.index(self.min_oi) if self.min_oi in MIN_OI_STEPS else 0
        self.min_oi = MIN_OI_STEPS[(i + 1) % len(MIN_OI_STEPS)]
        self.rebuild()

    def action_min_volume(self) -> None:
        """Cycle the 24 h volume floor (0, 1M, 10M, 100M, 1B in quote)."""
        steps = MIN_VOLUME_STEPS
        i = steps.index(self.min_volume) if self.min_volume in steps else 0
        self.min_volume = steps[(i + 1) % len(steps)]
        self.rebuild()

    def action_carry(self) -> None:
        self.show_pairs = not self.show_pairs
        self.rebuild()

    def action_filter(self) -> None:
        box = self.query_one(Input)
        box.add_class("shown")
        box.focus()

    def _hide_filter(self) -> None:
        box = self.query_one(Input)
        box.remove_class("shown")
        self.table.focus()

    @on(Input.Changed, "#board-filter")
    def _typed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.rebuild()

    @on(Input.Submitted, "#board-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        self._hide_filter()

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value) if event.column_key is not None else ""
        if column in SORT_COLUMNS:
            if column == self.sort_column:
                self.action_reverse()
            else:
                self.sort_by(column)

    @on(DataTable.RowSelected, "#board-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_choose()

    def action_choose(self) -> None:
        i = self.table.cursor_row
        if self.show_pairs:
            if 0 <= i < len(self.shown_pairs):
                p = self.shown_pairs[i]
                self.dismiss((p.short_symbol, p.short_venue))
            return
        if 0 <= i < len(self.shown_rows):
            r = self.shown_rows[i]
            self.dismiss((r.symbol, r.venue))

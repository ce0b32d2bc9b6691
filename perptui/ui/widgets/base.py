"""Common shape of the monitor's panels: pure renderers of a frozen HubView."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from perptui.engine.views import HubView
from perptui.ui.lines import ComponentStyles, FramedRows, Line, Rows, as_text, runs_of


class Panel(FramedRows, ComponentStyles, Widget):
    """A panel keeps the inputs of its last paint and repaints only what changed.

    Subclasses implement :meth:`inputs` (a cheap, comparable tuple of what the paint
    depends on, typically MarketView objects compared by identity plus a clock
    quantum) and :meth:`lines` (the rows to draw, see perptui.ui.lines).
    ``update_view`` is called by the app's UI clock only while the panel is
    displayed; when the inputs moved it builds the rows at once and repaints the
    rows that differ from those drawn (none: no repaint at all).
    """

    DEFAULT_CSS = """
    Panel { height: 1fr; }
    """
    # Rows padded to the width as Textual pads a rendered Rich Text (background
    # only): the panels whose rows come from a Text (lines.from_text).
    TEXT_ROWS: ClassVar[bool] = True
    _chrome_title: str | None = None  # the border title / subtitle last set
    _chrome_subtitle: str | None = None

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.view: HubView | None = None
        self.focus_symbol: str | None = None
        self.focus_venue: str | None = None
        self.now_ms = 0
        self._inputs: object = None
        self.paints = 0  # times the inputs moved (a repaint was considered)
        self.rows_repainted = 0  # rows handed to Textual to repaint, for tests and bench
        self._rows = Rows()
        self._style_serial = 0
        self._built = 0  # rows lines() gave at the last build (before padding)

    def set_focus_market(self, symbol: str | None, venue: str | None) -> None:
        self.focus_symbol, self.focus_venue = symbol, venue

    def update_view(self, view: HubView, now_ms: int) -> None:
        self.view = view
        self.now_ms = now_ms
        inputs = self.inputs()
        if inputs != self._inputs:
            self._inputs = inputs
            self.paints += 1
            self.update_chrome()
            self.repaint_rows()

    def update_chrome(self) -> None:
        """Border title / subtitle for the new inputs (see :meth:`set_chrome`).

        Called here, not from ``render``: render only draws (a reactive set while
        rendering would schedule yet another paint).
        """

    def set_chrome(self, title: str | None = None, subtitle: str | None = None) -> None:
        """Set the border title / subtitle when they differ: Textual repaints the whole
        widget on every assignment, even of the same text."""
        if title is not None and title != self._chrome_title:
            self._chrome_title = title
            self.border_title = title
        if subtitle is not None and subtitle != self._chrome_subtitle:
            self._chrome_subtitle = subtitle
            self.border_subtitle = subtitle

    def inputs(self) -> object:
        return (self.view.version if self.view else None, self.focus_symbol, self.focus_venue)

    def on_resize(self) -> None:
        self.refresh()

    def lines(self) -> list[Line]:
        """The rows to draw."""
        raise NotImplementedError

    def render(self) -> Text:
        return as_text(self.lines())

    def _rows_key(self) -> object:
        return (self.size, self._style_serial)

    def repaint_rows(self) -> None:
        """Build the rows now; repaint those that changed, the whole panel when its
        row count (an auto-height panel's height) or size moved."""
        size = self.size
        key = self._rows_key()
        if not self.is_mounted or not size or not self._rows.valid(key):
            self.refresh()
            return
        rows = self.lines()
        height = self.styles.height
        if len(rows) != self._built and height is not None and height.is_auto:
            self.refresh(layout=True)  # e.g. the health bar when a hint appears
            return
        self._built = len(rows)
        changed = self._rows.set(rows, key, size.height)
        regions = [Region(0, start, size.width, end - start) for start, end in runs_of(changed)]
        if regions:
            # One call for all the runs: each refresh() also clears the widget's cached
            # geometry and wakes its message pump.
            self.rows_repainted += len(changed)
            super().refresh(*regions)

    def refresh(
        self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False
    ):
        if not regions:
            self._rows.clear()  # a whole repaint: build every row again
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_serial += 1  # colours changed (theme): draw the rows again

    def render_line(self, y: int) -> Strip:
        size = self.size
        return self._rows.line(
            y,
            self._rows_key(),
            self._build_rows,
            self.visual_style.rich_style,
            size,
            text_pad=self.TEXT_ROWS,
        )

    def _build_rows(self) -> list[Line]:
        rows = self.lines()
        self._built = len(rows)
        return rows

    def market(self):  # -> MarketView | None
        if self.view is None or self.focus_symbol is None or self.focus_venue is None:
            return None
        return self.view.market(self.focus_venue, self.focus_symbol)

"""Common shape of the monitor's panels: pure renderers of a frozen HubView."""

from __future__ import annotations

from typing import ClassVar

from textual.strip import Strip
from textual.widget import Widget

from perptui.engine.views import HubView
from perptui.ui.lines import ComponentStyles, Line, StripCache


class Panel(ComponentStyles, Widget):
    """A panel keeps the inputs of its last paint and repaints only when they change.

    Subclasses implement :meth:`inputs` (a cheap, comparable tuple of what the paint
    depends on, typically MarketView objects compared by identity plus a clock
    quantum) and ``render``.  ``update_view`` is called by the app's UI clock only
    while the panel is displayed.
    """

    DEFAULT_CSS = """
    Panel { height: 1fr; }
    """
    # A panel that sets this builds its rows in ``lines()`` and is drawn through
    # perptui.ui.lines (strips made directly, cached until the next refresh).
    DRAWS_LINES: ClassVar[bool] = False
    _serial = 0  # refresh() count: the strip cache's key (with the size)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.view: HubView | None = None
        self.focus_symbol: str | None = None
        self.focus_venue: str | None = None
        self.now_ms = 0
        self._inputs: object = None
        self.paints = 0
        self._strips = StripCache()

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
            self.refresh()

    def update_chrome(self) -> None:
        """Border title / subtitle for the new inputs.

        Called here, not from ``render``: render only draws (a reactive set while
        rendering would schedule yet another paint).
        """

    def inputs(self) -> object:
        return (self.view.version if self.view else None, self.focus_symbol, self.focus_venue)

    def on_resize(self) -> None:
        self.refresh()

    def lines(self) -> list[Line]:
        """The rows to draw (panels with ``DRAWS_LINES``)."""
        raise NotImplementedError

    def refresh(
        self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False
    ):
        self._serial += 1
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._serial += 1  # colours changed (theme): draw the rows again

    def render_line(self, y: int) -> Strip:
        if not self.DRAWS_LINES:
            return super().render_line(y)
        size = self.size
        key = (size, self._serial)
        return self._strips.line(y, key, self.lines, self.visual_style.rich_style, size.width)

    def market(self):  # -> MarketView | None
        if self.view is None or self.focus_symbol is None or self.focus_venue is None:
            return None
        return self.view.market(self.focus_venue, self.focus_symbol)

"""One-line title: focus market, live/paused state, UTC clock."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text

from perptui.ui import fmt
from perptui.ui.lines import Line, from_text
from perptui.ui.widgets.base import Panel


class TitleBar(Panel):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"titlebar--paused", "titlebar--mode"}

    def __init__(self, mode: str = "live", **kwargs) -> None:
        super().__init__(**kwargs)
        self.mode = mode
        self.paused = False

    def inputs(self) -> object:
        return (self.focus_symbol, self.focus_venue, self.paused, self.now_ms // 1000)

    def lines(self) -> list[Line]:
        return from_text(self.text())

    def text(self) -> Text:
        """The panel as one Rich ``Text`` (its rows, as ``render()`` gives them)."""
        out = Text(no_wrap=True, overflow="crop")
        out.append(" perptui ", style="bold")
        out.append(f"[{self.mode}] ", style=self.component_style("titlebar--mode", partial=False))
        if self.focus_symbol:
            out.append(f"{fmt.short_symbol(self.focus_symbol)} @ {self.focus_venue}  ")
        if self.paused:
            out.append(" PAUSED ", style=self.component_style("titlebar--paused", partial=False))
        clock = time.strftime("%H:%M:%S UTC", time.gmtime(self.now_ms / 1000))
        room = self.size.width - out.cell_len - len(clock) - 1
        if room > 0:
            out.append(" " * room)
            out.append(clock)
        return out

"""Health bar: per-venue feed state, message age, resyncs, msg/s; DB writer counters."""

from __future__ import annotations

from typing import ClassVar

from rich.console import RenderableType
from rich.text import Text

from perptui.ui.widgets.base import Panel

STATE_GLYPH = {
    "connected": "●",
    "connecting": "◌",
    "reconnecting": "◐",
    "stale": "◑",
    "down": "○",
}


class HealthBar(Panel):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "health--connected",
        "health--connecting",
        "health--reconnecting",
        "health--stale",
        "health--down",
        "health--dim",
        "health--hint",
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.db_rows: int | None = None  # None: logging disabled
        self.db_queue = 0
        self.hint = ""

    def set_db(self, rows: int | None, queue: int) -> None:
        self.db_rows, self.db_queue = rows, queue

    def inputs(self) -> object:
        if self.view is None:
            return (self.db_rows, self.db_queue, self.hint)
        return (
            tuple(self.view.health.values()),  # FeedHealth is frozen and comparable
            self.db_rows,
            self.db_queue,
            self.hint,
        )

    def render(self) -> RenderableType:
        s = self.get_component_rich_style
        dim, hint = s("health--dim", partial=True), s("health--hint", partial=True)
        # Venue chunks wrap as whole chunks so a narrow terminal never cuts one in half.
        chunks: list[Text] = []
        view = self.view
        if view is not None:
            for venue, h in view.health.items():
                style = s(f"health--{h.state}", partial=True)
                c = Text(no_wrap=True)
                c.append(f"{STATE_GLYPH.get(h.state, '?')} {venue} {h.state}", style=style)
                age = "—" if h.age_s is None else f"{h.age_s:.1f}s"
                c.append(f" {age} {h.msgs_per_s:.0f}/s rs{h.resyncs}", style=dim)
                if h.reconnects:
                    c.append(f" rc{h.reconnects}", style=dim)
                chunks.append(c)
        db = Text(
            "│ "
            + ("DB off" if self.db_rows is None else f"DB {self.db_rows:,} rows q{self.db_queue}"),
            style=dim,
        )
        chunks.append(db)
        out = Text(no_wrap=True, overflow="crop")
        width = max(10, self.size.width)
        col = 0
        for c in chunks:
            if col and col + 1 + c.cell_len > width:
                out.append("\n")
                col = 0
            elif col:
                out.append(" ")
                col += 1
            out.append_text(c)
            col += c.cell_len
        if self.hint:
            out.append("\n")
            out.append(self.hint, style=hint)
        return out

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

    def _venue_parts(self) -> tuple[tuple[str, str, str], ...]:
        """(venue, state, detail) as displayed; whole seconds so it changes ~1/s."""
        if self.view is None:
            return ()
        parts = []
        for venue, h in self.view.health.items():
            age = "—" if h.age_s is None else f"{int(h.age_s)}s"
            detail = f" {age} {h.msgs_per_s:.0f}/s rs{h.resyncs}"
            if h.reconnects:
                detail += f" rc{h.reconnects}"
            if h.malformed:
                detail += f" bad{h.malformed}"
            parts.append((venue, h.state, detail))
        return tuple(parts)

    def inputs(self) -> object:
        # Compare what would be shown, not the FeedHealth values: ages and rates
        # move every sample, the displayed text about once a second.
        return (self._venue_parts(), self.db_rows, self.db_queue, self.hint, self.size.width)

    def render(self) -> RenderableType:
        s = self.get_component_rich_style
        dim, hint = s("health--dim", partial=True), s("health--hint", partial=True)
        # Venue chunks wrap as whole chunks so a narrow terminal never cuts one in half.
        chunks: list[Text] = []
        for venue, state, detail in self._venue_parts():
            style = s(f"health--{state}", partial=True)
            c = Text(no_wrap=True)
            c.append(f"{STATE_GLYPH.get(state, '?')} {venue} {state}", style=style)
            c.append(detail, style=dim)
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

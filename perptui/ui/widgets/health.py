"""Health bar: per-venue feed state, message age, resyncs, msg/s; DB writer counters."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text

from perptui.ui.lines import Line, from_text
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
        # What is drawn: re-read once a second, or at once when a feed changes state.
        self._shown: tuple[tuple[tuple[str, str, str], ...], int | None, int] = ((), None, 0)
        self._shown_key: object = None

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
        # Rates, ages and row counts move at every sample; the bar reads them once a
        # second (a 5 Hz flicker of msg/s is noise), but a feed that changes state
        # (stale, reconnecting) shows at the next frame.
        states = tuple((v, h.state) for v, h in self.view.health.items()) if self.view else ()
        key = (self.now_ms // 1000, states)
        if key != self._shown_key:
            self._shown_key = key
            self._shown = (self._venue_parts(), self.db_rows, self.db_queue)
        return (self._shown, self.hint, self.size.width)

    def lines(self) -> list[Line]:
        return from_text(self.text())

    def text(self) -> Text:
        """The panel as one Rich ``Text`` (its rows, as ``render()`` gives them)."""
        s = self.component_style
        dim, hint = s("health--dim", partial=True), s("health--hint", partial=True)
        # Venue chunks wrap as whole chunks so a narrow terminal never cuts one in half.
        chunks: list[Text] = []
        parts, db_rows, db_queue = self._shown
        for venue, state, detail in parts:
            style = s(f"health--{state}", partial=True)
            c = Text(no_wrap=True)
            c.append(f"{STATE_GLYPH.get(state, '?')} {venue} {state}", style=style)
            c.append(detail, style=dim)
            chunks.append(c)
        db = Text(
            "│ " + ("DB off" if db_rows is None else f"DB {db_rows:,} rows q{db_queue}"),
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

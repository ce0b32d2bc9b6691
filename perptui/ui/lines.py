"""Panels drawn as rows of styled runs, straight to Textual strips.

The one place perptui works around Textual's rendering path.  A widget that
returns a Rich ``Text`` from ``render()`` is converted on every paint: Text to
Textual ``Content``, Content to strips, each line cropped and filtered again,
and the component styles looked up through the DOM.  For the order-book ladder
(repainted with every book of the focus market) that was about 6 ms a paint
here, most of the UI's CPU in the UI bench.  A panel that builds :class:`Line`
rows instead has them turned into strips directly (one ``Segment`` per run) and
cached until its next ``refresh()``; ``render()`` still returns the same text as
a Rich ``Text`` for tests and for anything that wants it as a renderable.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip


class Line:
    """One row: runs of (text, style).  The subset of ``rich.text.Text`` panels use."""

    __slots__ = ("cell_len", "runs")

    def __init__(self, text: str = "", style: Style | str | None = None) -> None:
        self.runs: list[tuple[str, Style | None]] = []
        self.cell_len = 0
        if text:
            self.append(text, style)

    def append(self, text: str, style: Style | str | None = None) -> Line:
        if text:
            # Only Style objects are kept: a "" style (no colour) is the same as none.
            self.runs.append((text, style if isinstance(style, Style) else None))
            self.cell_len += cell_len(text)
        return self

    def append_line(self, other: Line) -> Line:
        self.runs.extend(other.runs)
        self.cell_len += other.cell_len
        return self

    @property
    def plain(self) -> str:
        return "".join(t for t, _ in self.runs)

    def truncate(self, width: int, *, pad: bool = False) -> Line:
        """Cut to ``width`` cells (and pad with spaces to it when ``pad``)."""
        if self.cell_len > width:
            kept: list[tuple[str, Style | None]] = []
            room = width
            for text, style in self.runs:
                n = cell_len(text)
                if n <= room:
                    kept.append((text, style))
                    room -= n
                    continue
                cut = text
                while cell_len(cut) > room:
                    cut = cut[:-1]
                if cut:
                    kept.append((cut, style))
                break
            self.runs = kept
            self.cell_len = sum(cell_len(t) for t, _ in kept)
        if pad and self.cell_len < width:
            self.append(" " * (width - self.cell_len))
        return self

    def to_strip(self, base: Style, width: int) -> Strip:
        segments = [Segment(t, base + s if s is not None else base) for t, s in self.runs]
        return Strip(segments, self.cell_len).crop_extend(0, width, base)

    def to_text(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        for t, s in self.runs:
            out.append(t, style=s or "")
        return out


def as_text(lines: Iterable[Line]) -> Text:
    """Rows joined as one Rich ``Text`` (what ``render()`` returns)."""
    out = Text(no_wrap=True, overflow="crop")
    for i, line in enumerate(lines):
        if i:
            out.append("\n")
        out.append_text(line.to_text())
    return out


def from_text(text: Text) -> list[Line]:
    """A Rich ``Text`` (one span style per run, as panels build them) as rows."""
    rows: list[Line] = []
    for part in text.split("\n", allow_blank=True):
        plain = part.plain
        cuts = sorted({0, len(plain), *(x for sp in part.spans for x in (sp.start, sp.end))})
        line = Line()
        for a, b in pairwise(cuts):
            style: Style | None = None
            for sp in part.spans:
                if sp.start <= a and b <= sp.end and isinstance(sp.style, Style):
                    style = sp.style if style is None else style + sp.style
            line.append(plain[a:b], style)
        rows.append(line)
    return rows


class ComponentStyles:
    """``component_style``: a widget's component styles, kept until its styles change.

    Textual drops its own copy of them on every ``refresh()``, so a panel that
    repaints several times a second looked each one up through the DOM on every
    paint (about a third of the ladder's paint time).  Mixed in before ``Widget``.
    """

    _style_memo: dict[tuple[str, bool], Style] | None = None

    def component_style(self, name: str, partial: bool = True) -> Style:
        memo = self._style_memo
        if memo is None:
            memo = self._style_memo = {}
        style = memo.get((name, partial))
        if style is None:
            lookup = self.get_component_rich_style  # type: ignore[attr-defined]  # from Widget
            style = memo[(name, partial)] = lookup(name, partial=partial)
        return style

    def notify_style_update(self) -> None:
        self._style_memo = None  # a theme or CSS change: look them up again
        super().notify_style_update()  # type: ignore[misc]  # Widget's, next in the MRO


class StripCache:
    """A panel's rows as strips, rebuilt on the first line drawn after a refresh."""

    __slots__ = ("_key", "_strips")

    def __init__(self) -> None:
        self._strips: list[Strip] = []
        self._key: object = None

    def clear(self) -> None:
        self._key = None

    def line(self, y: int, key: object, build, base: Style, width: int) -> Strip:
        """Row ``y``; ``build()`` gives the rows when ``key`` (size, serial) moved."""
        if key != self._key:
            self._strips = [line.to_strip(base, width) for line in build()]
            self._key = key
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, base)

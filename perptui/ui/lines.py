"""Panels drawn as rows of styled runs, straight to Textual strips.

The one place perptui works around Textual's rendering path (also its
compositor, at the end of this module).  A widget that
returns a Rich ``Text`` from ``render()`` is converted on every paint: Text to
Textual ``Content``, Content to strips, each line cropped and filtered again,
and the component styles looked up through the DOM.  For the order-book ladder
(repainted with every book of the focus market) that was about 6 ms a paint
here, most of the UI's CPU in the UI bench.  A panel that builds :class:`Line`
rows instead has them turned into strips directly (one ``Segment`` per run) and
cached row by row; ``render()`` still returns the same text as a Rich ``Text`` for
tests and for anything that wants it as a renderable.

Every paint of a panel goes through Textual's per-line styling (border, filters,
compositor cuts: tens of microseconds a line), so the cheapest line is the one
not repainted.  :class:`Rows` keeps the rows last drawn; a panel rebuilds its rows
on the UI clock, compares them with those, and asks Textual to repaint only the
rows that changed (``refresh(Region)``), or nothing when none did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from itertools import pairwise
from typing import cast

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._border import get_box
from textual._compositor import Compositor
from textual.color import Color
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip
from textual.style import Style as TextualStyle
from textual.widget import Widget


class Line:
    """One row: runs of (text, style).  The subset of ``rich.text.Text`` panels use."""

    __slots__ = ("cell_len", "runs")

    def __init__(self, text: str = "", style: Style | str | None = None) -> None:
        self.runs: list[tuple[str, Style | None]] = []
        self.cell_len = 0
        if text:
            self.append(text, style)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Line) and self.runs == other.runs

    __hash__ = None  # type: ignore[assignment]  # mutable while a panel builds it

    def append(self, text: str, style: Style | str | None = None) -> Line:
        if text:
            # A "" style (no colour) is the same as none; markup such as "bold" is parsed.
            self.runs.append((text, _style(style)))
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

    def to_strip(self, base: Style, width: int, *, text_pad: bool = False) -> Strip:
        """The row as a strip ``width`` cells wide; ``text_pad``: the padding carries
        the background only, as Textual pads the lines of a rendered Rich ``Text``."""
        segments = [Segment(t, base + s if s is not None else base) for t, s in self.runs]
        pad = _background(base) if text_pad else base
        return Strip(segments, self.cell_len).crop_extend(0, width, pad)

    def to_text(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        for t, s in self.runs:
            out.append(t, style=s or "")
        return out


@lru_cache(maxsize=256)
def _parse(style: str) -> Style:
    return Style.parse(style)


@lru_cache(maxsize=64)
def _background(base: Style) -> Style:
    return Style(bgcolor=base.bgcolor)


def _style(style: Style | str | None) -> Style | None:
    if isinstance(style, Style):
        return style
    return _parse(style) if style else None


def as_text(lines: Iterable[Line]) -> Text:
    """Rows joined as one Rich ``Text`` (what ``render()`` returns)."""
    out = Text(no_wrap=True, overflow="crop")
    for i, line in enumerate(lines):
        if i:
            out.append("\n")
        out.append_text(line.to_text())
    return out


class RowText:
    """Rows built the way a Rich ``Text`` is (``append``; a "\n" starts a row), with
    no ``Text`` in between: `from_text` splitting one and cutting it at its spans
    was half of what the once-a-second panels (chart, funding) cost to build."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: list[Line] = [Line()]

    def append(self, text: str, style: Style | str | None = None) -> RowText:
        if "\n" not in text:
            self.rows[-1].append(text, style)
            return self
        first, *rest = text.split("\n")
        self.rows[-1].append(first, style)
        self.rows.extend(Line(part, style) for part in rest)
        return self

    def append_text(self, other: RowText) -> RowText:
        first, *rest = other.rows
        self.rows[-1].append_line(first)
        self.rows.extend(rest)
        return self

    def to_text(self) -> Text:
        return as_text(self.rows)


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
                if sp.start <= a and b <= sp.end:
                    span_style = _style(sp.style)
                    if span_style is not None:
                        style = span_style if style is None else style + span_style
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


def runs_of(rows: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Sorted row numbers as (first, end) runs: [1, 2, 3, 7] -> (1, 4), (7, 8)."""
    start = end = None
    for y in rows:
        if end is not None and y == end:
            end += 1
            continue
        if start is not None and end is not None:
            yield start, end
        start, end = y, y + 1
    if start is not None and end is not None:
        yield start, end


class Rows:
    """A panel's rows as drawn, each with its strip made on first use.

    ``key`` is what every row depends on besides the panel's data (the size and
    the colours): when it moves, all rows are built again.
    """

    __slots__ = ("_key", "_rows", "_strips")

    def __init__(self) -> None:
        self._rows: list[Line | None] | None = None
        self._strips: list[Strip | None] = []
        self._key: object = None

    def clear(self) -> None:
        self._rows = None

    def valid(self, key: object) -> bool:
        return self._rows is not None and key == self._key

    def set(self, rows: list[Line], key: object, height: int) -> list[int]:
        """Take freshly built rows; return the row numbers (< height) that changed.

        Rows past the last one built are blank (``None``), drawn in the base style.
        """
        padded: list[Line | None] = list(rows[:height])
        padded.extend([None] * (height - len(padded)))
        old = self._rows if key == self._key else None
        self._key = key
        self._rows = padded
        if old is None or len(old) != len(padded):
            self._strips = [None] * len(padded)
            return list(range(len(padded)))
        changed = [y for y, (new, was) in enumerate(zip(padded, old, strict=True)) if new != was]
        for y in changed:
            self._strips[y] = None
        return changed

    def line(
        self,
        y: int,
        key: object,
        build: Callable[[], list[Line]],
        base: Style,
        size,
        *,
        text_pad: bool = False,
    ) -> Strip:
        """Row ``y`` as a strip; rows are built again first when ``key`` moved."""
        width, height = size
        if not self.valid(key):
            self.set(build(), key, height)
        assert self._rows is not None
        if not 0 <= y < len(self._rows):
            return Strip.blank(width, base)
        strip = self._strips[y]
        if strip is None:
            row = self._rows[y]
            strip = (
                Strip.blank(width, base)
                if row is None
                else row.to_strip(base, width, text_pad=text_pad)
            )
            self._strips[y] = strip
        return strip


class CroppingCompositor(Compositor):
    """Textual's compositor, drawing only the widgets and rows an update touches.

    On a partial update Textual renders every widget whose *container* overlaps
    the updated area, each over its whole height (from its line cache), and then
    keeps the rows that changed: one repainted row of the ladder had the
    watchlist, footer, signals and every container rendered as well, about
    0.6 ms a frame here.  Here a widget is rendered only when its visible part
    overlaps the updated area, and only over the rows being repainted; the chops
    are cut as Textual cuts them (tests/ui compare the two).
    """

    def _render_chops(
        self, crop: Region, is_rendered_line: Callable[[int], bool]
    ) -> Sequence[Mapping[int, Strip]]:
        cuts = self.cuts
        chops: list[dict[int, Strip | None]] = [dict.fromkeys(line[:-1]) for line in cuts]
        crop_x1, crop_y1, crop_x2, crop_y2 = crop.corners
        for widget, (region, clip) in self.visible_widgets.items():  # front to back
            x, y, width, height = region.intersection(clip)
            if not width or not height or x >= crop_x2 or x + width <= crop_x1:
                continue
            last = x + width
            rows: list[int] = []
            row_cuts: dict[int, list[int]] = {}
            for row in range(max(y, crop_y1), min(y + height, crop_y2)):
                if not is_rendered_line(row):
                    continue
                line_cuts = [cut for cut in cuts[row] if x <= cut <= last]
                # Rows where every piece this widget would give is already taken by a
                # widget in front are not rendered at all: the containers behind the
                # panels (screen, rows, columns) were rendered over every repainted
                # row only to be thrown away, as many rows again as the panels drew.
                line = chops[row]
                given = line_cuts[:-1] if line_cuts and line_cuts[-1] == last else line_cuts
                if all(line.get(cut) is not None for cut in given):
                    continue
                rows.append(row)
                row_cuts[row] = line_cuts
            if not rows:
                continue
            top, end = rows[0], rows[-1] + 1
            strips = widget.render_lines(Region(x - region.x, top - region.y, width, end - top))
            for row, strip in zip(range(top, end), strips, strict=False):
                wanted = row_cuts.get(row)
                if wanted is None:
                    continue
                line = chops[row]
                pieces = strip.divide([cut - x for cut in wanted[1:]])
                for cut, piece in zip(wanted, pieces, strict=False):
                    if line.get(cut) is None:  # the front-most widget wins
                        line[cut] = piece
        return cast("Sequence[Mapping[int, Strip]]", chops)


class CroppingScreen(Screen):
    """A screen composited by :class:`CroppingCompositor` (the monitor's main screen)."""

    def __init__(
        self, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._compositor = CroppingCompositor()


class FramedRows:
    """``render_lines`` for a bordered panel without padding: content rows are framed
    here, the border rows (with their titles) still by Textual.

    Textual styles each repainted row through its generic path (padding, outline,
    hatch, tint, opacity, border edges looked up per row): about 100 us a row
    here, the ladder repaints ten or more rows a frame.  The frame's two edge
    segments depend only on the size, the colours and the border; they are
    computed once per such key and each content row becomes edge + row + edge
    with the app's line filters, as Textual builds it (tests/ui compare the two).
    Panels with padding, outline, tint, hatch or opacity keep Textual's path.
    Mixed in before ``Widget``.
    """

    _framed: dict[int, tuple[Strip, Strip]]
    _frame_key: object = None

    def _frame(self) -> tuple[object, Segment, Segment, Style, tuple, Color] | None:
        widget = cast("Widget", self)
        styles = widget.styles
        if tuple(styles.padding) != (0, 0, 0, 0) or widget.opacity != 1.0:
            return None
        if styles.text_opacity != 1.0 or styles.tint.a:
            return None
        if any(edge for edge, _ in styles.outline):
            return None
        if styles.has_rule("hatch") and styles.hatch != "none":
            return None
        (top, _), (right, right_color), (bottom, _), (left, left_color) = styles.border
        if not (top and right and bottom and left):
            return None
        base_background, background = widget.background_colors
        inner, outer = widget._styles_cache.get_inner_outer(base_background, background)
        left_seg = get_box(left, inner, outer, TextualStyle(foreground=base_background + left_color))[1][0]  # fmt: skip
        right_seg = get_box(right, inner, outer, TextualStyle(foreground=base_background + right_color))[1][2]  # fmt: skip
        filters = tuple(widget.get_line_filters())
        key = (widget.region.size, left_seg, right_seg, inner, filters, background)
        return key, left_seg, right_seg, inner.rich_style, filters, background

    def render_lines(self, crop: Region) -> list[Strip]:
        widget = cast("Widget", self)
        frame = self._frame()
        if frame is None:
            return super().render_lines(crop)  # type: ignore[misc]  # Widget's, next in the MRO
        key, left, right, inner, filters, background = frame
        if key != self._frame_key:
            self._framed = {}
            self._frame_key = key
        width, height = widget.region.size
        framed = self._framed
        out: list[Strip] = []
        for y in crop.line_range:
            if y == 0 or y == height - 1:  # border rows, with the title / subtitle
                out.extend(super().render_lines(Region(0, y, width, 1)))  # type: ignore[misc]
                continue
            content = widget.render_line(y - 1)
            hit = framed.get(y)
            if hit is not None and hit[0] is content:
                out.append(hit[1])
                continue
            strip = Strip([left, *content.adjust_cell_length(width - 2, inner), right], width)
            for line_filter in filters:
                strip = strip.apply_filter(line_filter, background)
            framed[y] = (content, strip)
            out.append(strip)
        if crop.column_span != (0, width):
            x1, x2 = crop.column_span
            out = [strip.crop(x1, x2) for strip in out]
        return out

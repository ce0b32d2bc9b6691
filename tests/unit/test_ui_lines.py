"""Rows drawn straight to strips (perptui.ui.lines) read the same as Rich Text."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from perptui.ui.lines import Line, as_text, from_text

RED = Style(color="red")
BOLD = Style(bold=True)
BASE = Style(bgcolor="black")


def test_line_keeps_runs_and_cell_width() -> None:
    line = Line("mid ", RED).append("≥1.2M").append(" 東京", BOLD)
    assert line.plain == "mid ≥1.2M 東京"
    assert line.cell_len == len("mid ≥1.2M ") + 4  # two wide characters
    strip = line.to_strip(BASE, 20)
    assert strip.cell_length == 20  # padded to the panel's width with the base style
    assert strip.text.rstrip() == "mid ≥1.2M 東京"
    assert [s.style for s in strip if s.text == "mid "] == [BASE + RED]


def test_truncate_cuts_at_cells_and_pads() -> None:
    line = Line("abc", RED).append("東京x")
    line.truncate(5)  # "abc" + one wide char; the second would straddle the edge
    assert line.plain == "abc東" and line.cell_len == 5
    line = Line("ab").truncate(4, pad=True)
    assert line.plain == "ab  " and line.cell_len == 4
    strip = Line("abcdef").to_strip(BASE, 3)
    assert strip.text == "abc"


def test_rich_text_round_trip() -> None:
    text = Text(no_wrap=True)
    text.append("BTC", style=BOLD)
    text.append(" @ okx\n")
    text.append("-0.11", style=RED)
    rows = from_text(text)
    assert [r.plain for r in rows] == ["BTC @ okx", "-0.11"]
    assert rows[0].runs[0] == ("BTC", BOLD) and rows[1].runs == [("-0.11", RED)]
    back = as_text(rows)
    assert back.plain == text.plain
    assert [(s.start, s.end, s.style) for s in back.spans] == [(0, 3, BOLD), (10, 15, RED)]

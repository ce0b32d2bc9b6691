"""Rows drawn straight to strips (perptui.ui.lines) read the same as Rich Text."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from perptui.ui.lines import Line, Rows, as_text, from_text, runs_of

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


def test_markup_styles_are_parsed_not_dropped() -> None:
    text = Text(no_wrap=True)
    text.append(" perptui ", style="bold")
    text.append("x", style="")
    rows = from_text(text)
    assert rows[0].runs == [(" perptui ", BOLD), ("x", None)]
    assert Line("a", "bold").runs == [("a", BOLD)]


def test_text_rows_pad_with_the_background_only() -> None:
    base = Style(color="white", bgcolor="black")
    strip = Line("ab").to_strip(base, 4, text_pad=True)
    assert [s.style for s in strip] == [base, Style(bgcolor="black")]
    assert [s.style for s in Line("ab").to_strip(base, 4)] == [base, base]


def test_runs_of_rows() -> None:
    assert list(runs_of([1, 2, 3, 7, 9, 10])) == [(1, 4), (7, 8), (9, 11)]
    assert list(runs_of([])) == []


def test_rows_report_only_the_rows_that_changed() -> None:
    rows = Rows()
    key = ("80x10", 0)
    first = [Line("a"), Line("b", RED), Line("c")]
    assert rows.set(first, key, 5) == [0, 1, 2, 3, 4]  # nothing drawn yet: every row
    assert rows.set([Line("a"), Line("b", RED), Line("c")], key, 5) == []
    assert rows.set([Line("a"), Line("b", BOLD), Line("c")], key, 5) == [1]  # style only
    assert rows.set([Line("a"), Line("b", BOLD)], key, 5) == [2]  # a row went blank
    assert rows.set([Line("a"), Line("b", BOLD)], ("80x12", 0), 5) == [0, 1, 2, 3, 4]
    base = Style(bgcolor="black")
    strip = rows.line(1, ("80x12", 0), list, base, (6, 5))
    assert strip.text == "b     "
    assert rows.line(1, ("80x12", 0), list, base, (6, 5)) is strip  # kept until it changes
    assert rows.line(4, ("80x12", 0), list, base, (6, 5)).text == " " * 6  # blank row
    # A new key (resize, theme) builds every row again from the panel.
    assert rows.line(0, ("90x12", 0), lambda: [Line("z")], base, (6, 5)).text == "z     "

"""Braille plots: line continuity and scale, time axis labels, settlement marks, depth curve."""

from __future__ import annotations

import datetime as dt

from perptui.ui import plot


def dots(canvas: plot.Canvas) -> set[tuple[int, int]]:
    out = set()
    for y in range(canvas.dots_h):
        for x in range(canvas.dots_w):
            bit = plot._DOT[y % 4][x % 2]
            if canvas.cells[y // 4][x // 2] & bit:
                out.add((x, y))
    return out


def test_line_puts_highs_on_top_and_joins_steps() -> None:
    c = plot.line([1.0, 2.0, 3.0, 1.0], width=2, height=2, lo=1.0, hi=3.0)
    d = dots(c)
    assert (0, 7) in d and (2, 0) in d  # lo at the bottom row of dots, hi at the top
    # The drop from 3 to 1 is a vertical run in the last column: no hole in the line.
    assert {(3, y) for y in range(0, 8)} <= d
    assert len(c.rows()) == 2 and all(len(r) == 2 for r in c.rows())


def test_line_right_aligns_and_skips_gaps() -> None:
    c = plot.line([5.0, None, 5.0], width=4, height=1, lo=4.0, hi=6.0)
    xs = sorted(x for x, _ in dots(c))
    assert xs == [5, 7]  # newest value at the right edge; the None is a gap


def test_time_axis_labels_round_times_in_utc() -> None:
    t0 = int(dt.datetime(2026, 11, 30, 13, 58, tzinfo=dt.UTC).timestamp() * 1000)
    axis = plot.time_axis(t0, t0 + 3_600_000, 60)
    assert len(axis) == 60
    assert "┬14:00" in axis and "┬14:30" in axis
    assert axis.index("┬14:00") < axis.index("┬14:30")


def test_marks_place_each_settlement_and_average_shared_columns() -> None:
    t0 = 0
    hour = 3_600_000
    pts = [(0, 0.0001), (8 * hour, 0.0002), (16 * hour, -0.0002)]
    row = plot.marks(pts, t0, 16 * hour, 17, scale=0.0002)
    assert row[0] == "▄" and row[8] == "█" and row[16] == "▀"
    assert row.count(" ") == 14
    # Two settlements in one column read as their mean.
    assert plot.marks([(0, 0.0002), (1, -0.0002)], 0, 10, 1, scale=0.0002) == "▁"


def test_depth_curve_grows_away_from_mid_on_both_sides() -> None:
    mid = 100.0
    bids = [(mid - 0.1 * (i + 1), 1.0) for i in range(10)]
    asks = [(mid + 0.1 * (i + 1), 2.0) for i in range(10)]
    bid_c, ask_c, top = plot.depth_curve(bids, asks, mid, width=10, height=4, max_frac=0.01)
    assert top == sum(p * a for p, a in asks)  # the larger side sets the scale

    def height_at(c: plot.Canvas, x: int) -> int:
        return sum(1 for (dx, _) in dots(c) if dx == x)

    # Bids fill leftwards from the centre, asks rightwards, each non-decreasing outwards.
    bid_h = [height_at(bid_c, x) for x in range(9, -1, -1)]
    ask_h = [height_at(ask_c, x) for x in range(10, 20)]
    assert bid_h == sorted(bid_h) and ask_h == sorted(ask_h)
    assert ask_h[-1] == 16 and 0 < bid_h[-1] < ask_h[-1]

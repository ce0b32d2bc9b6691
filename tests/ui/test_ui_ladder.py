"""The ladder: levels a side at 80x24 and 120x40, cumulative size, grouping by +/-."""

from __future__ import annotations

import math
import re

import pytest
from ui_support import FrozenClock, StaticBackend

from perptui.core import ladder
from perptui.core.model import BookSnapshot, MarketInfo
from perptui.engine.hub import Hub
from perptui.ui.app import MonitorApp

SYM = "BTC/USDT:USDT"
TICK = 0.1
MID = 90_000.0


def deep_book(levels: int = 300) -> BookSnapshot:
    # Every tick populated, sizes vary so a wrong sum shows.
    bids = tuple((round(MID - TICK * (i + 1), 1), 0.5 + (i % 7) * 0.25) for i in range(levels))
    asks = tuple((round(MID + TICK * (i + 1), 1), 0.75 + (i % 5) * 0.5) for i in range(levels))
    return BookSnapshot("binance", SYM, 0, bids, asks)


def make_app(book: BookSnapshot) -> tuple[MonitorApp, Hub]:
    clock = FrozenClock()
    hub = Hub([SYM], ["binance"], clock=clock)
    hub.set_market_info(
        MarketInfo("binance", SYM, "BTCUSDT", "BTC", "USDT", "USDT", True, 1.0, TICK, 0.001, 8.0)
    )
    hub.set_book(book)
    app = MonitorApp(StaticBackend(hub), clock=clock, load_funding_history=False, hz=10)
    return app, hub


PRICE = re.compile(r"^\s*([\d,]+\.\d)\s+(≥?[\d.,]+[KMB]?)\s+([\d.,]+[KMB]?)")


def ladder_sides(
    app: MonitorApp,
) -> tuple[list[tuple[float, str, str]], list[tuple[float, str, str]]]:
    """(asks top to bottom, bids top to bottom) as printed by the book panel."""
    text = app.query_one("#book").render().plain
    asks: list[tuple[float, str, str]] = []
    bids: list[tuple[float, str, str]] = []
    side = asks
    for line in text.splitlines()[1:]:
        if "mid " in line and "spread" in line:
            side = bids
            continue
        m = PRICE.match(line)
        if m:
            side.append((float(m.group(1).replace(",", "")), m.group(2), m.group(3)))
    return asks, bids


@pytest.mark.parametrize(("size", "minimum"), [((80, 24), 8), ((120, 40), 15)])
async def test_ladder_view_shows_enough_levels(size, minimum) -> None:
    app, _ = make_app(deep_book())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause()
        assert not app.query_one("#watchlist").display
        asks, bids = ladder_sides(app)
        assert len(asks) >= minimum and len(bids) >= minimum
        # Best prices meet at the mid line: asks ascend towards it, bids descend from it.
        assert asks[-1][0] == MID + TICK and bids[0][0] == MID - TICK
        assert [p for p, *_ in asks] == sorted((p for p, *_ in asks), reverse=True)
        # The bands table is on screen too (beside the ladder in this view).
        assert "bid depth" in app.query_one("#book").render().plain
        await pilot.press("b")  # back to the previous layout
        await pilot.pause()
        assert not app.ladder_view
        assert app.query_one("#watchlist").display


async def test_compact_book_panel_keeps_several_levels() -> None:
    app, _ = make_app(deep_book())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        asks, bids = ladder_sides(app)
        assert len(asks) >= 3 and len(bids) >= 3  # was one level a side


async def test_grouping_buckets_and_cumulative_size() -> None:
    book = deep_book()
    app, _ = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("b", "plus", "plus")  # 1 -> 2 -> 5 ticks a row
        await pilot.pause()
        _, bids = ladder_sides(app)
        # Hand computation: a bid's bucket is the multiple of 0.5 at or below it.
        buckets: dict[float, float] = {}
        for p, a in book.bids:
            k = round(math.floor(round(p * 10) / 5) * 5 / 10, 1)  # in tenths: exact
            buckets[k] = buckets.get(k, 0.0) + a
        expected = sorted(buckets.items(), reverse=True)
        cum = 0.0
        for (price, size_s, cum_s), (ep, es) in zip(bids, expected, strict=False):
            cum += es
            assert price == pytest.approx(ep)
            assert float(size_s.lstrip("≥").replace(",", "")) == pytest.approx(es, rel=1e-3)
            assert float(cum_s.replace(",", "")) == pytest.approx(cum, rel=1e-3)
        await pilot.press("minus", "minus", "minus")  # clamped at one tick
        await pilot.pause()
        _, bids = ladder_sides(app)
        assert [p for p, *_ in bids[:3]] == [MID - TICK, MID - 2 * TICK, MID - 3 * TICK]


def test_group_side_marks_a_bucket_the_levels_end_inside() -> None:
    levels = [(100.0, 1.0), (99.9, 2.0), (99.8, 3.0)]
    rows = ladder.group_side(levels, 0.5, asks=False, rows=10)
    # 100.0 is its own bucket; 99.9 and 99.8 fall in [99.5, 100.0) which may hold more.
    assert [(r.price, r.size, r.cum_size, r.partial) for r in rows] == [
        (100.0, 1.0, 1.0, False),
        (99.5, 5.0, 6.0, True),
    ]
    ask_rows = ladder.group_side([(100.1, 1.0), (100.4, 2.0)], 0.5, asks=True, rows=10)
    assert [(r.price, r.size, r.partial) for r in ask_rows] == [(100.5, 3.0, True)]
    assert ladder.next_step(1, -1) == 1 and ladder.next_step(1, 1) == 2
    assert ladder.increment_for(None, 10, 90_000.0) == pytest.approx(1.0)

"""Venues without a bulk funding endpoint still fill the board, through the Venue
contract's fallback (``Venue.fetch_board`` over ``fetch_fundings``): GMX over its recorded
REST payloads, with only its transport replaced."""

from __future__ import annotations

from pathlib import Path

from venues.test_venues_gmx import FakeGmx, routes

from perptui.engine.board import Board
from perptui.venues import make_venue


async def test_gmx_markets_appear_on_the_board(fixtures_dir: Path) -> None:
    venue = make_venue("gmx", client=FakeGmx(routes(fixtures_dir)))
    try:
        markets = await venue.load_markets()
        board = Board([venue])
        fetched = await board.refresh(venue)
        assert fetched is not None and not fetched.bulk
        rows = [r for r in board.state.rows if r.venue == "gmx"]
        funded = await venue.fetch_fundings(sorted(markets))
        assert {r.symbol for r in rows} == set(funded) and rows
        for r in rows:
            f = funded[r.symbol]
            assert r.funding_rate == f.funding_rate
            assert r.interval_hours == (f.interval_hours or 8.0)
            if r.funding_rate is not None:
                assert r.rate_1h == r.funding_rate / r.interval_hours
        assert board.state.status("gmx").refreshes == 1
    finally:
        await venue.close()

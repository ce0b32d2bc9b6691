"""The funding board against the emulator's whole market: real ccxt clients, real bulk
endpoints, the emulator's request log as the judge of how many requests a refresh costs."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from perptui.emulator import Emulator
from perptui.engine.board import Board, BoardSettings
from perptui.store.writer import Writer
from perptui.venues import make_venue

# The one bulk funding endpoint of each venue, and everything else a refresh may ask.
FUNDING_BULK = {
    "binance": "fapi/v1/premiumIndex",
    "bybit": "v5/market/tickers",
    "okx": "api/v5/public/funding-rate",
}
# Bulk requests per refresh (the minimum the venue's API allows for the board's columns):
# binance premiumIndex + fundingInfo + ticker/24hr + bookTicker; bybit tickers;
# okx funding-rate + tickers + open-interest + mark-price.
BULK_PER_REFRESH = {"binance": 4, "bybit": 1, "okx": 4}


def _since(before: dict[str, int], after: dict[str, int]) -> Counter[str]:
    return Counter({k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)})


async def test_whole_market_board_in_one_bulk_request_per_venue(tmp_path: Path) -> None:
    emu = Emulator(seed=3)
    await emu.start()
    venues = [
        make_venue(v, client=emu.connect(v, enableRateLimit=False))
        for v in ("binance", "bybit", "okx")
    ]
    writer = Writer(tmp_path / "board.db")
    await writer.start()
    try:
        for v in venues:
            await v.load_markets()
        board = Board(venues, writer=writer, settings=BoardSettings())
        for round_ in range(2):
            before = {v.id: emu.requests(v.id) for v in venues}
            fetched = await board.refresh_all()
            for v, f in zip(venues, fetched, strict=True):
                assert f is not None and f.bulk
                asked = _since(before[v.id], emu.requests(v.id))
                assert asked[f"{v.id} /{FUNDING_BULK[v.id]}"] == 1, asked
                singles = asked.pop(f"{v.id} /fapi/v1/openInterest", 0)
                assert sum(asked.values()) == BULK_PER_REFRESH[v.id], (round_, asked)
                assert singles == (v.board_oi_rotation if v.id == "binance" else 0)
                assert f.requests == BULK_PER_REFRESH[v.id] + singles  # the venue agrees
        rows = board.state.rows
        per_venue = Counter(r.venue for r in rows)
        assert min(per_venue.values()) >= 150 and sum(per_venue.values()) >= 450
        # interval mixes, taken from the venue: 8 h, 4 h and 1 h markets on every venue
        for venue in per_venue:
            hours = {r.interval_hours for r in rows if r.venue == venue}
            assert {1.0, 4.0, 8.0} <= hours, (venue, hours)
            assert not any(r.interval_assumed for r in rows if r.venue == venue)
        # a realistic market: some alts at +-0.1 % per 8 h, venues disagreeing by 0.05 %
        assert sum(abs(r.rate_8h or 0) >= 0.001 for r in rows) >= 10
        assert sum(p.apr_spread >= 0.0005 * 3 * 365 for p in board.state.pairs) >= 10
        bases = Counter(r.base for r in rows)
        assert any(n == 1 for n in bases.values()) and any(n == 3 for n in bases.values())
        oi = sorted(r.open_interest_usd for r in rows if r.open_interest_usd)
        vol = sorted(r.volume_24h_usd for r in rows if r.volume_24h_usd)
        assert oi[-1] / oi[0] > 1e3 and vol[-1] / vol[0] > 1e3
        assert all(r.bid is not None and r.ask is not None and r.bid < r.ask for r in rows)
        # unwatched markets never got a book (or a per-tick cost) in the emulator
        assert not emu.sim.active_books("binance")
        assert len(emu.sim._books) == 0
    finally:
        await writer.close()
        for v in venues:
            await v.close()
        await emu.stop()
    con = sqlite3.connect(tmp_path / "board.db")
    try:
        n, markets = con.execute(
            "SELECT COUNT(*), COUNT(DISTINCT exchange || symbol) FROM funding_rates"
        ).fetchone()
        kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM signals")}
    finally:
        con.close()
    assert markets == sum(per_venue.values()) and n >= markets  # every observation stored
    assert {"funding_arb", "divergence"} <= kinds


async def test_interval_change_is_taken_from_the_venue_and_shown() -> None:
    emu = Emulator(seed=3, venues=("bybit", "okx"))
    await emu.start()
    venues = [make_venue(v, client=emu.connect(v, enableRateLimit=False)) for v in ("bybit", "okx")]
    try:
        board = Board(venues)
        await board.refresh_all()
        sym = "BTC/USDT:USDT"
        before = {(r.venue, r.symbol): r for r in board.state.rows}
        assert before[("bybit", sym)].interval_hours == 8.0
        assert before[("okx", sym)].interval_hours == 8.0
        emu.sim.set_interval("bybit", sym, 1)
        emu.sim.set_interval("okx", sym, 4)
        await board.refresh_all()
        after = {(r.venue, r.symbol): r for r in board.state.rows}
        for venue, hours in (("bybit", 1.0), ("okx", 4.0)):
            row = after[(venue, sym)]
            assert row.interval_hours == hours and row.previous_interval_hours == 8.0
            assert row.interval_changed_at is not None
        # the per-hour rate follows the new interval
        row = after[("bybit", sym)]
        assert row.rate_1h == row.funding_rate
    finally:
        for v in venues:
            await v.close()
        await emu.stop()

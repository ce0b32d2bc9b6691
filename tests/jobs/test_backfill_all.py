"""``backfill --all``: funding for every perpetual a venue lists (OHLCV only for the
chosen symbols), the fewest requests, and a re-run that asks nothing."""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path

from perptui.emulator import Emulator
from perptui.emulator.catalog import MAJOR_SYMBOLS
from perptui.jobs.backfill import FUNDING, OHLCV, Backfill, BackfillSettings
from perptui.store.writer import Writer
from perptui.venues import make_venue

DAY = 86_400_000
# majors plus a 4 h, a 1 h and an 8 h tail market
LISTING = (*MAJOR_SYMBOLS[:6], "CRV/USDT:USDT", "YFI/USDT:USDT", "SNX/USDT:USDT")


async def test_all_perpetuals_funding_with_minimum_requests_then_nothing(tmp_path: Path) -> None:
    emu = Emulator(seed=2, venues=("bybit",), symbols=[s for s in LISTING])
    await emu.start()
    venue = make_venue("bybit", client=emu.connect("bybit", pro=False))
    db = tmp_path / "all.db"
    writer = await Writer(db, batch_rows=500).start()
    now = int(time.time() * 1000)
    s = BackfillSettings(since=now - 30 * DAY, until=now, whats=(FUNDING, OHLCV),
                         timeframe="1h", symbols=("BTC/USDT:USDT",), all_symbols=True)  # fmt: skip
    try:
        markets = await venue.load_markets()
        keys = await Backfill([venue], writer, s).series_for(venue)
        assert [k.symbol for k in keys if k.what == FUNDING] == sorted(markets)
        assert [k.symbol for k in keys if k.what == OHLCV] == ["BTC/USDT:USDT"]
        before = sum(emu.requests("bybit").values())
        reports = await Backfill([venue], writer, s).run()
        served = sum(emu.requests("bybit").values()) - before
        await writer.flush()
        page = {FUNDING: venue.page_limits[FUNDING], OHLCV: venue.page_limits[OHLCV]}
        minimum = sum(math.ceil(r.rows_fetched / page[r.key.what]) for r in reports)
        assert served == sum(r.requests for r in reports) == minimum
        assert all(r.status == "ok" and not r.gaps for r in reports), [
            (r.key.label, r.status) for r in reports if r.status != "ok"
        ]
        # every 1 h / 4 h / 8 h market paid for its own interval: 30 days of settlements
        hours = {r.key.symbol: r.step_ms // 3_600_000 for r in reports if r.key.what == FUNDING}
        for r in reports:
            if r.key.what == FUNDING:
                assert abs(r.stored_rows - 30 * 24 / hours[r.key.symbol]) <= 1
        mark = sum(emu.requests("bybit").values())
        again = await Backfill([venue], writer, s).run()
        assert sum(emu.requests("bybit").values()) == mark  # resumable: nothing to fetch
        assert sum(r.requests for r in again) == 0
    finally:
        await writer.close()
        await venue.close()
        await emu.stop()
    with sqlite3.connect(db) as con:
        n = con.execute("SELECT COUNT(DISTINCT symbol) FROM funding_rates").fetchone()[0]
    assert n == len(LISTING)

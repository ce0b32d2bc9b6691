"""backfill and collect on the DEX venues against the emulator: a BTC/USDT:USDT request is
answered with each venue's own market, stored under that symbol, and a rerun asks nothing."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from perptui.emulator import Emulator
from perptui.jobs.backfill import FUNDING, OHLCV, Backfill, BackfillSettings
from perptui.store.writer import Writer
from perptui.venues import make_venue

HOUR = 3_600_000
WANT = {"hyperliquid": "BTC/USDC:USDC", "dydx": "BTC/USDC:USDC", "gmx": "BTC/USD:USD"}


def rows(db: Path, table: str, exchange: str) -> list[tuple[str, int]]:
    conn = sqlite3.connect(db)
    try:
        cur = conn.execute(
            f"SELECT symbol, timestamp FROM {table} WHERE exchange=? ORDER BY timestamp",
            (exchange,),
        )
        return list(cur)
    finally:
        conn.close()


@pytest.mark.timeout(120)
async def test_backfill_dex_venues_resolves_symbols_and_resumes(tmp_path: Path) -> None:
    emu = Emulator(seed=2, venues=tuple(WANT), symbols=["BTC/USDT:USDT"])
    await emu.start()
    db = tmp_path / "dex.db"
    writer = await Writer(db, batch_rows=500).start()
    venues = [make_venue(v, client=emu.connect(v, pro=False)) for v in WANT]
    now = int(time.time() * 1000)
    s = BackfillSettings(
        since=now - 20 * 24 * HOUR,
        until=now,
        whats=(FUNDING, OHLCV),
        timeframe="1h",
        symbols=("BTC/USDT:USDT",),
        retry_base_s=0.05,
        retry_max_s=0.2,
    )
    try:
        first = await Backfill(venues, writer, s).run()
        second = await Backfill(venues, writer, s).run()
    finally:
        await writer.close()
        for v in venues:
            await v.close()
        await emu.stop()
    by = {(r.key.venue, r.key.what): r for r in first}
    for vid, symbol in WANT.items():
        candles = rows(db, "ohlcv", vid)
        assert {sym for sym, _ in candles} == {symbol} and len(candles) >= 20 * 24
        assert by[(vid, OHLCV)].key.symbol == symbol
    for vid in ("hyperliquid", "dydx"):
        funding = rows(db, "funding_rates", vid)
        assert {sym for sym, _ in funding} == {WANT[vid]} and len(funding) in (480, 481)
    # GMX keeps no funding history: skipped with the reason, nothing stored as settled
    assert by[("gmx", FUNDING)].skipped and "keeps no funding history" in " ".join(
        by[("gmx", FUNDING)].notes
    )
    assert sum(r.requests for r in second if r.key.what == FUNDING) == 0

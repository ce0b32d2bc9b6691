"""Stored = shown: a snapshot row holds the depth of the whole book the hub held.

A 600-level emulated binance book is logged by the real engine and writer; every
stored band is checked against ``depth_metrics`` of the emulator's full book at that
row's own sequence.  Before the fix the engine trimmed books to 20 levels and the
writer measured those, so every band wider than the 20th level was understated.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest

from perptui.core.bands import DEPTH_BANDS, ONE_PCT, band_suffix
from perptui.core.metrics import depth_metrics
from perptui.emulator import Emulator
from perptui.engine.engine import Engine
from perptui.engine.hub import Hub
from perptui.engine.workers import WorkerSettings
from perptui.store import db as store_db
from perptui.store import migrations
from perptui.store.writer import Writer
from perptui.venues import make_venue

BTC = "BTC/USDT:USDT"
RAW = 25


@pytest.mark.timeout(90)
async def test_stored_bands_are_the_full_books_depth(tmp_path: Path) -> None:
    db = tmp_path / "depth.db"
    emu = Emulator(seed=7, venues=("binance",), symbols=(BTC,))
    await emu.start()
    emu.keep_truth(depth=2000, seconds=60)  # the whole book, per sequence
    hub = Hub([BTC], ["binance"])
    writer = Writer(db, flush_interval=0.1)
    await writer.start()
    engine = Engine(
        [make_venue("binance", client=emu.connect("binance"))],
        [BTC],
        hub,
        writer,
        snapshot_every_s=0.25,
        settings=WorkerSettings(funding_poll_s=60, stale_after_s=5, seed=1),
        signals=False,
        book_depth=RAW,
    )
    try:
        await engine.start()
        deadline = time.monotonic() + 45
        while engine.snapshots_submitted < 8:
            assert time.monotonic() < deadline, "no snapshots"
            await asyncio.sleep(0.05)
    finally:
        await engine.stop()
        await writer.close()
        await emu.stop()

    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        rows = con.execute("SELECT * FROM order_book_snapshots ORDER BY timestamp").fetchall()
    finally:
        con.close()
    assert len(rows) >= 8
    checked = 0
    for row in rows:
        truths = emu.truth_at("binance", BTC, ts=row["timestamp"])
        assert truths, f"no emulator state at {row['timestamp']}"
        t = truths[-1]
        assert len(t.bids) >= 500 and len(t.asks) >= 500  # a deep book, far past 20 levels
        full = depth_metrics(t.bids, t.asks)
        assert row["depth_basis"] == "book"
        assert (row["bid_levels"], row["ask_levels"]) == (len(t.bids), len(t.asks))
        assert row["mid_price"] == pytest.approx(full.mid, rel=1e-12)
        assert row["spread_bps"] == pytest.approx(full.spread_bps, rel=1e-9)
        for b in DEPTH_BANDS:
            sfx = band_suffix(b)
            assert row[f"bid_depth_{sfx}"] == pytest.approx(full.bid_depth[b], rel=1e-9), sfx
            assert row[f"ask_depth_{sfx}"] == pytest.approx(full.ask_depth[b], rel=1e-9), sfx
            imb = "imbalance" if b == ONE_PCT else f"imbalance_{sfx}"
            assert row[imb] == pytest.approx(full.imbalance_by_band[b], rel=1e-9, abs=1e-12)
            assert row[f"reached_{sfx}"] == int(all(full.covers(b))), sfx
        raw = json.loads(row["raw_data"])
        assert raw["bids"] == [list(x) for x in t.bids[:RAW]]
        assert raw["asks"] == [list(x) for x in t.asks[:RAW]]
        checked += 1
        # what the old code stored: the same bands measured on the top 20 levels
        top20 = depth_metrics(t.bids[:20], t.asks[:20])
        assert full.bid_depth[0.05] > 5 * top20.bid_depth[0.05]
    assert checked == len(rows)
    # The emulated book spans ~3 % of the mid: 1 % is reached, 5 % is not, and says so.
    assert {r["reached_1pct"] for r in rows} == {1}
    assert {r["reached_5pct"] for r in rows} == {0}


def test_migration_marks_rows_logged_before_the_fix(tmp_path: Path) -> None:
    """A version-1 database (no per-band columns) keeps its rows, marked 'top20'."""
    path = tmp_path / "v1.db"
    con = sqlite3.connect(path, isolation_level=None)
    for stmt in migrations.split_statements(migrations.schema_sql()):
        con.execute(stmt)
    new_cols = [
        *(f"imbalance_{band_suffix(b)}" for b in DEPTH_BANDS if b != ONE_PCT),
        *(f"reached_{band_suffix(b)}" for b in DEPTH_BANDS),
        "bid_reach",
        "ask_reach",
        "bid_levels",
        "ask_levels",
        "depth_basis",
    ]
    for c in new_cols:  # back to the version-1 table
        con.execute(f"ALTER TABLE order_book_snapshots DROP COLUMN {c}")
    con.execute(
        "INSERT INTO order_book_snapshots (exchange, symbol, timestamp, mid_price, "
        "bid_depth_5pct) VALUES ('binance', 'BTC/USDT:USDT', 1, 100.0, 9.4e6)"
    )
    con.execute("PRAGMA user_version = 1")
    con.close()

    conn = store_db.connect_sync(path)  # migrates
    try:
        assert migrations.user_version(conn) == migrations.LATEST_VERSION >= 2
        have = migrations.table_columns(conn, "order_book_snapshots")
        assert set(new_cols) <= set(have)
        old = conn.execute(
            "SELECT depth_basis, bid_depth_5pct, reached_5pct FROM order_book_snapshots"
        ).fetchall()
        assert old == [("top20", 9.4e6, None)]  # kept, marked, nothing invented
    finally:
        conn.close()

"""The collector against the loopback emulator: settlement schedule, SIGTERM loses nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import journalled_collect
import pytest

from perptui.emulator import Emulator
from perptui.emulator.server import available_venues
from perptui.jobs.collect import Collector, CollectSettings, ObservedWriter
from perptui.store.writer import Writer
from perptui.venues import make_venue

HOUR = 3_600_000
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")


def key_in_db(conn: sqlite3.Connection, k: dict) -> bool:
    t = k["t"]
    if t == "funding":
        sql = "SELECT 1 FROM funding_rates WHERE exchange=? AND symbol=? AND kind=? AND timestamp=?"
        params = (k["x"], k["s"], k["kind"], k["ts"])
    elif t == "snapshots":
        sql = "SELECT 1 FROM order_book_snapshots WHERE exchange=? AND symbol=? AND timestamp=?"
        params = (k["x"], k["s"], k["ts"])
    elif t == "ohlcv":
        sql = "SELECT 1 FROM ohlcv WHERE exchange=? AND symbol=? AND timeframe=? AND timestamp=?"
        params = (k["x"], k["s"], k["tf"], k["ts"])
    elif t == "signals":
        sql = "SELECT 1 FROM signals WHERE kind=? AND exchange=? AND symbol=? AND timestamp=?"
        params = (k["kind"], k["x"], k["s"], k["ts"])
    else:
        raise AssertionError(f"unexpected record in the journal: {k}")
    return conn.execute(sql, params).fetchone() is not None


@pytest.mark.timeout(60)
def test_sigterm_loses_nothing_observed(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    journal = tmp_path / "observed.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPTUI_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    cmd, env = journalled_collect.command(
        journal, "--demo", "--db", str(db), "--log-file", str(tmp_path / "collect.log"),
        "--symbols", "BTC,ETH", "collect", "--snapshot-every", "0.2", "--catchup-hours", "6",
        env=env,
    )  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # run until books are flowing and the catch-up has started writing candles
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            lines = journal.read_text().splitlines() if journal.exists() else []
            kinds = {json.loads(x)["t"] for x in lines if x.endswith("}")}
            if len(lines) > 200 and {"snapshots", "funding", "ohlcv"} <= kinds:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"collector produced too little: {len(lines)} records")
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped after" in err and "Traceback" not in err
    observed = [json.loads(x) for x in journal.read_text().splitlines()]
    assert len(observed) > 200
    conn = sqlite3.connect(db)
    try:
        missing = [k for k in observed if not key_in_db(conn, k)]
        assert missing == [], f"{len(missing)} of {len(observed)} observed records lost"
        snapshots = conn.execute("SELECT COUNT(*) FROM order_book_snapshots").fetchone()[0]
    finally:
        conn.close()
    assert snapshots == sum(1 for k in observed if k["t"] == "snapshots")
    assert "dropped 0" in err


@pytest.mark.timeout(60)
async def test_funding_is_fetched_just_after_settlement_and_settled_rate_stored(
    tmp_path: Path,
) -> None:
    venue_id = available_venues()[0]
    emu = Emulator(seed=3, venues=(venue_id,))
    # Two seconds before an 8 h settlement (every emulated market settles on the grid).
    settle = (int(time.time() * 1000) // (8 * HOUR) - 3) * 8 * HOUR
    emu.clock.freeze(settle - 2_000)
    await emu.start()
    venue = make_venue(venue_id, client=emu.connect(venue_id))
    raw = await Writer(tmp_path / "c.db").start()
    writer = ObservedWriter(raw)
    settings = CollectSettings(
        symbols=SYMBOLS,
        funding_every_s=3600,
        settle_grace_s=0.5,
        snapshot_every_s=0.5,
        ohlcv_every_s=3600,
        catchup_hours=2,
        signals=False,
    )
    collector = Collector([venue], writer, settings, clock=emu.clock.now_ms)
    try:
        await collector.start()
        sched = collector.stats.schedules[venue_id]
        for _ in range(100):
            if sched.funding_rounds >= 1:
                break
            await asyncio.sleep(0.05)
        assert sched.next_settlement_ms == settle
        assert sched.settlement_rounds == 0
        # the clock passes the settlement; the schedule wakes ~2.5 s after it was armed
        emu.clock.freeze(settle + 1_000)
        t0 = time.monotonic()
        while sched.settlement_rounds == 0 and time.monotonic() - t0 < 15:
            await asyncio.sleep(0.05)
        assert sched.settlement_rounds == 1
        # not the hourly poll (3600 s): right after settlement, give or take the REST
        # pacing it queues behind (binance's 1000-level depth snapshots weigh 20 each)
        assert time.monotonic() - t0 < 12
        assert sched.funding_rounds == 2
        assert sched.next_settlement_ms is not None and sched.next_settlement_ms > settle
    finally:
        await collector.stop()
        await raw.close()
        await venue.close()
        await emu.stop()
    conn = sqlite3.connect(tmp_path / "c.db")
    try:
        for symbol in SYMBOLS:
            row = conn.execute(
                "SELECT funding_rate FROM funding_rates WHERE exchange=? AND symbol=? "
                "AND kind='settled' AND timestamp=?",
                (venue_id, symbol, settle),
            ).fetchone()
            assert row is not None, symbol
            truth = dict(emu.sim.funding_history(venue_id, symbol, settle, settle))
            assert row[0] == pytest.approx(truth[settle])
            live = conn.execute(
                "SELECT COUNT(*) FROM funding_rates WHERE exchange=? AND symbol=? AND kind='live'",
                (venue_id, symbol),
            ).fetchone()[0]
            assert live >= 2  # before and just after the settlement
    finally:
        conn.close()

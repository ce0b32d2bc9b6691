"""Backfill against the loopback emulator with real ccxt clients.

Requests are counted where they arrive: a middleware on the emulator's aiohttp app logs
every REST request, so the counts are the truth, not what the client believes it sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from perptui.emulator import Emulator
from perptui.emulator.server import available_venues
from perptui.jobs.backfill import (
    FUNDING,
    OHLCV,
    Backfill,
    BackfillSettings,
    SeriesKey,
    pacer_for,
    plan_windows,
)
from perptui.store.writer import Writer
from perptui.venues import make_venue

DAY = 86_400_000
HOUR = 3_600_000
# the USDT venues: their BTC/USDT:USDT is stored under that name (the DEX venues answer
# the same request with their own USDC / USD market; see test_jobs_backfill_dex)
VENUES = tuple(v for v in available_venues() if v in ("binance", "bybit", "okx"))
SYMBOL = "BTC/USDT:USDT"


class RequestLog:
    """Every REST request the emulator served (path + query), in arrival order."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []

    def since(self, mark: int) -> list[tuple[str, str]]:
        return self.entries[mark:]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/_emulator"):
            self.entries.append((request.path, request.query_string))
        return await handler(request)


async def start_emulator(venues: tuple[str, ...] = VENUES) -> tuple[Emulator, RequestLog]:
    emu = Emulator(seed=7, venues=venues)
    log = RequestLog()
    # outermost, so requests answered with an injected 429 are logged too
    emu.server.app.middlewares.insert(0, log.middleware)
    await emu.start()
    return emu, log


def venue_for(emu: Emulator, vid: str, fast_retries: bool = True) -> Any:
    venue = make_venue(vid, client=emu.connect(vid, pro=False))
    if fast_retries:
        venue.retry_base_s = 0.05  # the venue layer's own backoff, shortened for tests
        venue.retry_max_s = 0.2
    return venue


def truth_rows(emu: Emulator, key: SeriesKey, since: int, until: int, step: int) -> list[int]:
    if key.what == FUNDING:
        return [t for t, _ in emu.sim.funding_history(key.venue, key.symbol, since, until)]
    first = -(-since // step) * step
    rows = emu.sim.candles(key.venue, key.symbol, step, first, until)
    return [int(r[0]) for r in rows]


def stored(db: Path, key: SeriesKey) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        if key.what == FUNDING:
            cur = conn.execute(
                "SELECT timestamp FROM funding_rates WHERE exchange=? AND symbol=? "
                "AND kind='settled' ORDER BY timestamp",
                (key.venue, key.symbol),
            )
        else:
            cur = conn.execute(
                "SELECT timestamp FROM ohlcv WHERE exchange=? AND symbol=? AND timeframe=? "
                "ORDER BY timestamp",
                (key.venue, key.symbol, key.timeframe),
            )
        return [r[0] for r in cur]
    finally:
        conn.close()


def served_page(notes: list[str]) -> int | None:
    for note in notes:
        m = re.search(r"served at most (\d+) rows per page", note)
        if m:
            return int(m.group(1))
    return None


def settings(days: float, whats: tuple[str, ...] = (FUNDING, OHLCV)) -> BackfillSettings:
    now = int(time.time() * 1000)
    return BackfillSettings(
        since=now - int(days * DAY),
        until=now,
        whats=whats,
        timeframe="1h",
        symbols=(SYMBOL,),
        retry_base_s=0.05,
        retry_max_s=0.2,
    )


# --------------------------------------------------------------------------- planning


def test_plan_windows_covered_range_plans_nothing() -> None:
    import numpy as np

    ts = np.arange(0, 100 * HOUR, HOUR, dtype=np.int64)
    assert plan_windows(ts, 0, 99 * HOUR + HOUR - 1, HOUR, OHLCV) == []
    assert plan_windows(np.array([], dtype=np.int64), 5, 10, HOUR, FUNDING) == [(5, 10)]
    holey = np.delete(ts, [10, 11, 12])
    # before, the hole, and the tail (candles refetch the newest stored one)
    assert plan_windows(holey, -5 * HOUR, 120 * HOUR, HOUR, OHLCV) == [
        (-5 * HOUR, -1),
        (9 * HOUR + 1, 13 * HOUR - 1),
        (99 * HOUR, 120 * HOUR),
    ]
    assert plan_windows(holey, -5 * HOUR, 120 * HOUR, HOUR, FUNDING)[-1] == (
        99 * HOUR + 1,
        120 * HOUR,
    )


# --------------------------------------------------------------------------- emulator


@pytest.mark.timeout(80)
async def test_request_counts_are_the_minimum_and_rerun_makes_none(tmp_path: Path) -> None:
    emu, log = await start_emulator()
    db = tmp_path / "bf.db"
    writer = await Writer(db, batch_rows=500).start()
    venues = [venue_for(emu, v) for v in VENUES]
    try:
        s = settings(365)
        job = Backfill(venues, writer, s)
        checked = 0
        for venue in venues:
            await venue.load_markets()
            for what in (FUNDING, OHLCV):
                key = SeriesKey(venue.id, SYMBOL, what, "1h" if what == OHLCV else None)
                mark = len(log.entries)
                report = await job.run_series(venue, key)
                served = len(log.since(mark))
                rows = stored(db, key)
                step = report.step_ms
                cap = venue.history_caps_ms.get(what)
                since = report.since if cap is None else max(report.since, report.until - cap)
                truth = truth_rows(emu, key, since, report.until, step)
                # everything the venue had is stored, exactly once, without holes
                assert rows[-len(truth) :] == truth or rows == truth, key.label
                assert len(rows) == len(set(rows))
                page = venue.page_limits[what]
                learned = served_page(report.notes)
                if learned is None:
                    assert served == math.ceil(len(rows) / page), (key.label, served, page)
                else:
                    # The server's page is smaller than the venue layer assumed: one probe
                    # at the assumed size, then pages of what it serves.
                    assert learned < page
                    assert served <= math.ceil(len(rows) / learned) + 1, (key.label, served)
                assert report.requests == served
                assert report.status in ("ok", "partial")
                if cap is not None:
                    assert report.reached_cap and report.status == "partial"
                    assert any("history for" in n for n in report.notes)
                # a second run over the covered window asks the venue nothing
                mark = len(log.entries)
                again = await job.run_series(venue, key)
                assert log.since(mark) == [] and again.requests == 0, key.label
                assert stored(db, key) == rows
                checked += 1
        assert checked == 2 * len(VENUES)
    finally:
        for v in venues:
            await v.close()
        await writer.close()
        await emu.stop()


@pytest.mark.timeout(60)
async def test_cancelled_midway_then_rerun_completes_without_duplicates_or_gaps(
    tmp_path: Path,
) -> None:
    emu, log = await start_emulator(("binance",))
    db = tmp_path / "bf.db"
    venue = venue_for(emu, "binance")
    key = SeriesKey("binance", SYMBOL, OHLCV, "1h")
    s = settings(200, (OHLCV,))  # 4800 candles: 4 pages of 1500
    try:
        writer = await Writer(db, batch_rows=200).start()
        first_page = asyncio.Event()

        def hook(k: SeriesKey, event: str, info: dict[str, Any]) -> None:
            if event == "rows":
                first_page.set()

        job = Backfill([venue], writer, s, on_progress=hook)
        task = asyncio.create_task(job.run())
        await asyncio.wait_for(first_page.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await writer.close()  # what was accepted is committed; the page in flight is lost
        partial = stored(db, key)
        assert 0 < len(partial) < 4800

        mark = len(log.entries)
        writer = await Writer(db, batch_rows=500).start()
        reports = await Backfill([venue], writer, s).run()
        await writer.close()
        rows = stored(db, key)
        truth = truth_rows(emu, key, reports[0].since, reports[0].until, HOUR)
        assert rows == truth
        assert len(rows) == len(set(rows))
        assert all(b - a == HOUR for a, b in itertools.pairwise(rows))
        # resumed from the stored prefix: only the rest was asked for
        served = [e for e in log.since(mark) if "klines" in e[0]]
        assert len(served) == math.ceil((len(rows) - len(partial) + 1) / 1500)
        assert reports[0].status == "ok" and reports[0].gaps == []
    finally:
        await venue.close()
        await emu.stop()


@pytest.mark.timeout(60)
async def test_rate_limits_slow_it_down_but_it_completes(tmp_path: Path) -> None:
    emu, _log = await start_emulator(("binance",))
    db = tmp_path / "bf.db"
    venue = venue_for(emu, "binance")
    pacer = pacer_for(venue)
    pacer.max_s = 1.0  # the widest spacing 429s can cause; 10 s in real use
    # a burst long enough to exhaust the venue layer's own retries, then sporadic 429s
    emu.faults.inject("binance", "429", count=8, retry_after=0)
    emu.faults.inject("binance", "429", prob=0.2, retry_after=0)
    try:
        writer = await Writer(db, batch_rows=500).start()
        s = settings(120)
        reports = await Backfill([venue], writer, s).run()
        await writer.close()
        assert pacer.throttled >= 8
        limited = sum(f.fired for f in emu.faults.list())
        assert limited == pacer.throttled
        for r in reports:
            assert r.error is None and r.status == "ok", (r.key.label, r.error, r.notes)
            rows = stored(db, r.key)
            assert rows == truth_rows(emu, r.key, r.since, r.until, r.step_ms)
            assert len(rows) == len(set(rows))
    finally:
        await venue.close()
        await emu.stop()


@pytest.mark.timeout(80)
async def test_backfill_cli_demo_prints_coverage_and_is_idempotent(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    db = tmp_path / "cli.db"
    cmd = [
        sys.executable,
        "-m",
        "perptui",
        "--demo",
        "--db",
        str(db),
        "--venues",
        ",".join(VENUES),
        "--symbols",
        "ETH",
        "backfill",
        "--days",
        "30",
        "--no-progress",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPTUI_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=70, env=env)
    assert first.returncode == 0, first.stderr
    assert "backfill coverage" in first.stdout
    assert "ETH/USDT:USDT" in first.stdout
    counts = sqlite3.connect(db).execute("SELECT COUNT(*) FROM ohlcv").fetchone()[0]
    assert counts >= 30 * 24 * len(VENUES)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=70, env=env)
    assert second.returncode == 0, second.stderr
    assert f"{2 * len(VENUES)} series, 0 requests" in second.stdout


@pytest.mark.timeout(80)
def test_sigkilled_cli_backfill_resumes_without_duplicates_or_gaps(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    db = tmp_path / "kill.db"
    cmd = [
        sys.executable, "-m", "perptui", "--demo", "--db", str(db), "--venues", "binance",
        "--symbols", "BTC,ETH", "backfill", "--days", "365", "--what", "ohlcv", "--no-progress",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPTUI_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 40
        count = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                with contextlib.suppress(sqlite3.Error):
                    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                    count = conn.execute("SELECT COUNT(*) FROM ohlcv").fetchone()[0]
                    conn.close()
            if count > 0:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "finished before it could be killed"
        assert 0 < count < 2 * 8760
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for symbol in ("BTC/USDT:USDT", "ETH/USDT:USDT"):
            ts = [
                r[0]
                for r in conn.execute(
                    "SELECT timestamp FROM ohlcv WHERE exchange='binance' AND symbol=? "
                    "ORDER BY timestamp",
                    (symbol,),
                )
            ]
            assert len(ts) == len(set(ts)) >= 365 * 24
            assert all(b - a == HOUR for a, b in itertools.pairwise(ts)), symbol
    finally:
        conn.close()

"""The monitor end to end on the in-process emulator: real ccxt clients, engine, writer.

Covers what only the real pipeline shows: quitting flushes the DB (rows counted in
the SQLite file), stale and disconnected venues shown as such (emulator faults),
symbols added/removed at runtime, and a live start with no reachable venue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from pathlib import Path

import pytest

from perptui.config import Config
from perptui.emulator import Emulator
from perptui.engine.workers import WorkerSettings
from perptui.ui.app import MonitorApp
from perptui.ui.backend import EngineBackend
from perptui.ui.screens.search import SymbolSearch
from perptui.ui.widgets.funding import FundingPanel
from perptui.ui.widgets.health import HealthBar
from perptui.ui.widgets.watchlist import Watchlist

SIZE = (120, 40)
VENUE = "binance"
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")
FAST = WorkerSettings(
    stale_after_s=1.0,
    backoff_base=0.05,
    backoff_cap=0.3,
    down_after_failures=2,
    request_timeout_s=2.0,
    seed=1,
)


@pytest.fixture
async def emu():
    e = Emulator(seed=5, venues=(VENUE,), symbols=[*SYMBOLS, "DOGE/USDT:USDT"])
    await e.start()
    try:
        yield e
    finally:
        await e.stop()


def make_app(emu: Emulator, db: Path | None, **backend_kw) -> tuple[MonitorApp, EngineBackend]:
    config = Config(
        venues=(VENUE,),
        symbols=SYMBOLS,
        db_path=db or Path("unused.db"),
        log_db=db is not None,
        demo=True,
    )
    backend_kw.setdefault("worker_settings", FAST)
    backend = EngineBackend(config, emulator=emu, **backend_kw)
    return MonitorApp(backend, hz=10), backend


async def wait_for(pred, timeout: float = 10.0, step: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        await asyncio.sleep(step)
    return pred()


def health_text(app: MonitorApp) -> str:
    return str(app.main_screen.query_one(HealthBar).render())


def live_books(app: MonitorApp) -> int:
    v = app.last_view
    return 0 if v is None else sum(1 for m in v.markets.values() if m.bids)


async def test_quit_flushes_every_row_to_sqlite(emu: Emulator, tmp_path: Path) -> None:
    db = tmp_path / "monitor.db"
    app, backend = make_app(emu, db)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: live_books(app) == len(SYMBOLS))
        # Let at least two snapshot rounds happen, then quit at once.
        assert await wait_for(lambda: backend.engine.snapshots_submitted >= 2 * len(SYMBOLS))
        # The funding panel's history comes from the DB, read in a thread worker.
        funding = app.main_screen.query_one(FundingPanel)
        assert await wait_for(lambda: backend.writer.rows_written > 0)
        app.refresh_funding_history(app.focus_symbol, force=True)
        assert await wait_for(lambda: VENUE in funding.history, timeout=5)
        assert funding.history_symbol == app.focus_symbol
        await pilot.press("q")
        await pilot.pause(0.5)
    assert backend.stopped
    written = backend.writer.rows_written
    assert written > 0 and backend.writer.queue_depth == 0
    with sqlite3.connect(db) as conn:
        snaps = conn.execute("SELECT COUNT(*) FROM order_book_snapshots").fetchone()[0]
        funding = conn.execute("SELECT COUNT(*) FROM funding_rates").fetchone()[0]
    # Everything the engine handed to the writer is in the file after quitting.
    assert snaps >= backend.engine.snapshots_submitted - backend.writer.rejected
    assert snaps >= 2 * len(SYMBOLS)
    assert funding >= 1


async def test_stale_venue_is_shown_stale(emu: Emulator) -> None:
    # The hub calls a venue stale after 1 s without messages; the workers' own
    # watchdog is slowed so it does not drop the silent socket (which would show
    # "reconnecting"/"down" instead) within the test.
    quiet = dataclasses.replace(FAST, stale_after_s=60.0, down_after_failures=50)
    app, _ = make_app(emu, None, stale_after_s=1.0, worker_settings=quiet)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: live_books(app) == len(SYMBOLS))
        assert "binance connected" in health_text(app)
        emu.faults.inject(VENUE, "stall", duration=0)  # socket open, nothing sent
        ok = await wait_for(lambda: app.last_view.health[VENUE].state == "stale", timeout=15)
        assert ok, app.last_view.health[VENUE]
        await pilot.pause(0.3)
        assert await wait_for(lambda: "binance stale" in health_text(app), timeout=5)
        wl = app.main_screen.query_one(Watchlist)
        await pilot.pause(0.2)
        assert wl.renders > 0
        await pilot.press("q")


async def test_disconnected_venue_is_shown_down(emu: Emulator) -> None:
    app, _ = make_app(emu, None)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: live_books(app) == len(SYMBOLS))
        emu.faults.inject(VENUE, "drop", prob=1.0)  # every WS frame aborts the socket
        emu.faults.inject(VENUE, "5xx", prob=1.0)  # and REST answers 503
        assert await wait_for(
            lambda: (
                "binance down" in health_text(app) or "binance reconnecting" in health_text(app)
            ),
            timeout=15,
        )
        state = app.last_view.health[VENUE].state
        assert state in ("down", "reconnecting")
        await pilot.press("q")


async def test_add_and_remove_symbol_through_the_engine(emu: Emulator) -> None:
    app, backend = make_app(emu, None)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: live_books(app) == len(SYMBOLS))
        assert await wait_for(lambda: "DOGE/USDT:USDT" in backend.available_symbols())
        await pilot.press("a")
        assert isinstance(app.screen, SymbolSearch)
        await pilot.press(*"dogeusdt", "enter")
        wl = app.main_screen.query_one(Watchlist)
        assert await wait_for(lambda: ("DOGE/USDT:USDT", VENUE) in wl.keys())
        assert await wait_for(lambda: app.focus_symbol == "DOGE/USDT:USDT")
        assert "DOGE/USDT:USDT" in backend.engine.symbols
        await pilot.press("d")
        assert await wait_for(lambda: ("DOGE/USDT:USDT", VENUE) not in wl.keys())
        assert "DOGE/USDT:USDT" not in backend.engine.symbols
        await pilot.press("q")


async def test_live_start_without_reachable_venue_opens_and_hints(tmp_path: Path) -> None:
    # An emulator object that was never started: its port is closed, like no internet.
    emu = Emulator(seed=1, venues=(VENUE,), symbols=list(SYMBOLS))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        emu.port = s.getsockname()[1]  # closed again when the block ends
    app, backend = make_app(emu, None, no_venue_grace_s=0.5)
    backend.demo, backend.mode = False, "live"  # judge it as live mode would
    t0 = time.monotonic()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        assert time.monotonic() - t0 < 5, "the app must open without waiting for venues"
        assert await wait_for(lambda: "--demo" in health_text(app), timeout=5)
        assert app.last_view.health[VENUE].state in ("connecting", "reconnecting", "down")
        await pilot.press("q")
        await pilot.pause(0.3)
    assert backend.stopped


async def test_symbol_a_venue_does_not_list_is_explained_in_the_health_bar(emu: Emulator) -> None:
    app, backend = make_app(emu, None)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: live_books(app) == len(SYMBOLS))
        backend.engine.add_symbol("NOPE/USDT:USDT")
        health = app.main_screen.query_one(HealthBar)
        assert await wait_for(lambda: "NOPE/USDT:USDT" in health.hint)
        assert VENUE in health.hint
        backend.engine.remove_symbol("NOPE/USDT:USDT")
        assert await wait_for(lambda: "NOPE/USDT:USDT" not in health.hint)
        await pilot.press("q")


async def test_seeded_demo_shows_funding_history_within_ten_seconds(
    emu: Emulator, tmp_path: Path
) -> None:
    from perptui.commands.monitor import seed_history

    db = tmp_path / "demo.db"
    app, backend = make_app(emu, db, after_start=seed_history)
    async with app.run_test(size=SIZE) as pilot:
        funding = app.main_screen.query_one(FundingPanel)
        # No backfill was run by hand: the history is the demo's own seed.
        assert await wait_for(
            lambda: funding.history.get(VENUE) and funding.history_note == "settled", timeout=10
        ), funding.history_note
        rates = funding.history[VENUE]
        assert len(rates) >= 7 * 3  # a week of 8 h settlements
        t0 = time.monotonic()
        assert await wait_for(lambda: backend.history_version >= 1, timeout=30)
        print(f"seed finished {time.monotonic() - t0:.1f} s after history showed")
        assert not backend.start_error
        await pilot.press("q")
        await pilot.pause(0.5)
    with sqlite3.connect(db) as conn:
        settled = conn.execute(
            "SELECT COUNT(*) FROM funding_rates WHERE kind = 'settled' AND symbol = ?",
            (SYMBOLS[0],),
        ).fetchone()[0]
        candles = conn.execute(
            "SELECT COUNT(*) FROM ohlcv WHERE timeframe = '1h' AND symbol = ?", (SYMBOLS[0],)
        ).fetchone()[0]
    assert settled >= 21 and candles >= 7 * 24

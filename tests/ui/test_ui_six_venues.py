"""`perptui --demo --venues binance,bybit,okx,hyperliquid,dydx,gmx`: the monitor with all
six venues on the emulator; a BTC request shows each venue's own BTC perpetual and the
GMX book panel shows its pool instead of a ladder (depth bands n/a)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from perptui.config import Config
from perptui.emulator import Emulator
from perptui.engine.workers import WorkerSettings
from perptui.ui import fmt
from perptui.ui.app import MonitorApp
from perptui.ui.backend import EngineBackend
from perptui.ui.widgets.book import BookPanel
from perptui.ui.widgets.funding import FundingPanel
from perptui.ui.widgets.watchlist import Watchlist

SIX = ("binance", "bybit", "okx", "hyperliquid", "dydx", "gmx")
WANT = {
    "binance": "BTC/USDT:USDT",
    "bybit": "BTC/USDT:USDT",
    "okx": "BTC/USDT:USDT",
    "hyperliquid": "BTC/USDC:USDC",
    "dydx": "BTC/USDC:USDC",
    "gmx": "BTC/USD:USD",
}


async def wait_for(pred, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        await asyncio.sleep(0.1)
    return pred()


async def test_monitor_with_all_six_venues() -> None:
    emu = Emulator(seed=2, venues=SIX, symbols=["BTC/USDT:USDT"])
    await emu.start()
    config = Config(
        venues=SIX, symbols=("BTC/USDT:USDT",), db_path=Path("unused.db"), log_db=False, demo=True
    )
    settings = WorkerSettings(request_timeout_s=5.0, seed=1)
    backend = EngineBackend(config, emulator=emu, worker_settings=settings)
    app = MonitorApp(backend, hz=10)
    try:
        async with app.run_test(size=(140, 44)) as pilot:
            wl = app.main_screen.query_one(Watchlist)
            assert await wait_for(lambda: all((s, v) in wl.keys() for v, s in WANT.items()))
            view = app.last_view
            assert await wait_for(
                lambda: (
                    (m := app.last_view.market("gmx", WANT["gmx"])) is not None
                    and m.pool is not None
                )
            )
            for v in ("hyperliquid", "dydx"):
                assert await wait_for(lambda v=v: bool(app.last_view.market(v, WANT[v]).bids))

            # the funding panel of BTC/USDT:USDT lists every venue's BTC perpetual (one
            # peer group whatever the dollar), with Hyperliquid's predicted rate
            def hl_pred() -> float | None:
                m = app.last_view.market("hyperliquid", WANT["hyperliquid"])
                return None if m is None or m.funding is None else m.funding.predicted_rate

            assert await wait_for(lambda: hl_pred() is not None)
            app._set_focus("BTC/USDT:USDT", "binance")
            funding = app.main_screen.query_one(FundingPanel)

            def rows() -> dict[str, str]:
                lines = funding.render().plain.splitlines()
                return {v: next((x for x in lines if x[1:8].strip() == v[:7]), "") for v in SIX}

            ok = await wait_for(lambda: all(rows().values()), 10)
            assert ok, funding.render().plain
            assert await wait_for(lambda: fmt.pct(hl_pred(), 4) in rows()["hyperliquid"], 10)
            app._set_focus(WANT["gmx"], "gmx")
            await pilot.pause(0.5)
            book = app.main_screen.query_one(BookPanel)
            assert await wait_for(lambda: "pool (no order book)" in book.render().plain, 10)
            text = book.render().plain
            assert "depth bands: n/a" in text and "fund/h" in text and "impact" in text
            assert view is not None
            await pilot.press("q")
    finally:
        await emu.stop()

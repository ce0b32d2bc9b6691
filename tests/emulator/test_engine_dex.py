"""The engine with all three DEX venues on the emulator: a BTC request runs under each
venue's own market; GMX (no order book) runs no book loop and fills its pool state."""

from __future__ import annotations

import asyncio

import pytest
from emulator_helpers import wait_for
from rich.style import Style

from perptui.core.model import Signal
from perptui.core.signals import SignalThresholds
from perptui.emulator import Emulator
from perptui.engine.engine import Engine
from perptui.engine.hub import Hub
from perptui.engine.workers import WorkerSettings
from perptui.ui.widgets.book import pool_text
from perptui.venues import make_venue


async def shut_down(engine: Engine, venues: list, emu: Emulator) -> None:
    await engine.stop()
    for v in venues:
        await v.close()
    await emu.stop()
    await asyncio.sleep(0)


WANT = {"hyperliquid": "BTC/USDC:USDC", "dydx": "BTC/USDC:USDC", "gmx": "BTC/USD:USD"}


async def test_engine_runs_the_dex_venues_and_gmx_pool_state() -> None:
    emu = Emulator(seed=3, venues=tuple(WANT), symbols=["BTC/USDT:USDT"], speed=4)
    await emu.start()
    venues = [make_venue(v, client=emu.connect(v)) for v in WANT]
    hub = Hub(["BTC/USDT:USDT"], list(WANT))
    settings = WorkerSettings(funding_poll_s=0.5, oi_poll_s=0.5, ticker_poll_s=0.5)
    engine = Engine(venues, ["BTC/USDT:USDT"], hub, settings=settings, signals=False)
    await engine.start()
    try:

        def ready() -> bool:
            view = hub.sample()
            books = all(
                (m := view.market(v, WANT[v])) is not None and m.bids
                for v in ("hyperliquid", "dydx")
            )
            g = view.market("gmx", WANT["gmx"])
            return books and g is not None and g.pool is not None and g.funding is not None

        await wait_for(ready, timeout=30)
        view = hub.sample()
        gmx = view.market("gmx", "BTC/USD:USD")
        assert gmx is not None and gmx.pool is not None and not gmx.bids and not gmx.stale
        assert view.health["gmx"].state != "down"
        assert gmx.interval_hours == 1.0 and gmx.annualized is not None
        text = pool_text(gmx, {k: Style() for k in ("title", "dim", "bid", "ask")}).plain
        assert "depth bands: n/a" in text and "pay funding" in text and "impact" in text
        assert "$" in text.splitlines()[2]  # the long side's OI in USD
        # no book loop was started for GMX (its worker follows pools, not books)
        worker = engine.workers["gmx"]
        assert worker.active == ["BTC/USD:USD"] and not worker._book_tasks
    finally:
        await shut_down(engine, venues, emu)


async def test_divergence_compares_a_usdt_market_with_a_usdc_one_of_the_same_base() -> None:
    """binance's BTC/USDT:USDT and Hyperliquid's BTC/USDC:USDC are one peer group: the
    engine's divergence rule compares them (raw per-settlement rates and no threshold
    here, so an 8 h rate and an hourly one always differ; which is higher depends on the
    emulated premium at the moment)."""
    emu = Emulator(seed=3, venues=("binance", "hyperliquid"), symbols=["BTC/USDT:USDT"], speed=4)
    await emu.start()
    venues = [make_venue(v, client=emu.connect(v)) for v in ("binance", "hyperliquid")]
    hub = Hub(["BTC/USDT:USDT"], ["binance", "hyperliquid"])
    settings = WorkerSettings(funding_poll_s=0.5, oi_poll_s=5.0, ticker_poll_s=5.0)
    thr = SignalThresholds(rate_basis_hours=None, divergence=0.0, price_divergence=1.0)
    engine = Engine(venues, ["BTC/USDT:USDT"], hub, thresholds=thr, settings=settings)
    await engine.start()
    try:

        def divergence() -> Signal | None:
            return next((s for s in hub.sample().signals if s.kind == "divergence"), None)

        await wait_for(lambda: divergence() is not None, timeout=30)
        sig = divergence()
        assert sig is not None
        view = hub.sample()
        binance = view.market("binance", "BTC/USDT:USDT")
        hl = view.market("hyperliquid", "BTC/USDC:USDC")
        assert binance is not None and hl is not None
        assert binance.funding is not None and hl.funding is not None
        low, high = sig.inputs["low_venue"], sig.inputs["high_venue"]
        assert {low, high} == {"binance", "hyperliquid"} and sig.exchange == f"{low}|{high}"
        assert sig.direction == f"long {low} / short {high}"
        assert sig.inputs["low_rate"] < sig.inputs["high_rate"]
        assert sig.inputs["symbols"] == {
            "binance": "BTC/USDT:USDT",
            "hyperliquid": WANT["hyperliquid"],
        }
        assert sig.inputs["mixed_quotes"] is True
        assert sig.symbol == sig.inputs["symbols"][high]  # the short leg's own market
        assert sig.value == pytest.approx(sig.inputs["high_rate"] - sig.inputs["low_rate"])
    finally:
        await shut_down(engine, venues, emu)

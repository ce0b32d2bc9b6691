"""binance cuts a websocket that sends more than 10 messages a second; the fast path
spaces its subscribes so that `collect --all` (50 symbols per connection) stays connected.

The emulator enforces binance's documented limit (USDⓈ-M: "a limit of 10 incoming
messages per second"; beyond it the connection is dropped). A fast-path stream with its
spacing switched off is cut at once, which shows the limit is real here.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

from perptui.emulator import Emulator
from perptui.venues import make_venue
from perptui.venues.fast.binance import BinanceBookStream

N = 14  # symbols subscribed at once on one connection (> 10: a burst would be cut)


class UnpacedStream(BinanceBookStream):
    sends_per_s: ClassVar[float | None] = None


def _symbols(emu: Emulator) -> list[str]:
    linear = [m.symbol for m in emu.sim.markets("binance") if m.symbol.endswith(":USDT")]
    assert len(linear) >= N, len(linear)
    return linear[:N]


async def _watch_all(venue, symbols: list[str], timeout: float) -> int:
    async def one(symbol: str) -> bool:
        try:
            await asyncio.wait_for(venue.watch_order_book(symbol), timeout)
            return True
        except Exception:
            return False

    return sum(await asyncio.gather(*(one(s) for s in symbols)))


@pytest.mark.timeout(120)
async def test_subscribes_are_spaced_within_binance_message_limit() -> None:
    emu = Emulator(seed=6, venues=("binance",))
    await emu.start()
    wire = emu.server.wires["binance"]
    venue = make_venue("binance", client=emu.connect("binance"))  # the fast path
    try:
        await venue.load_markets()
        symbols = _symbols(emu)
        # 14 subscribes at 5 a second, then 14 depth snapshots paced by ccxt (weight 20)
        assert await _watch_all(venue, symbols, 90) == N
        assert wire.cut_for_rate == 0
        assert wire.sessions_opened == 1 and len(venue.open_streams()) == 1
    finally:
        await venue.close()
        await emu.stop()


@pytest.mark.timeout(60)
async def test_without_spacing_binance_cuts_the_connection() -> None:
    emu = Emulator(seed=6, venues=("binance",))
    await emu.start()
    wire = emu.server.wires["binance"]
    venue = make_venue("binance", client=emu.connect("binance"))
    venue.books = UnpacedStream(venue)
    try:
        await venue.load_markets()
        await _watch_all(venue, _symbols(emu), 5)
        assert wire.cut_for_rate >= 1
    finally:
        await venue.close()
        await emu.stop()

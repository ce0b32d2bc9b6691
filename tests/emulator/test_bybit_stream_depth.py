"""Bybit linear streams its 1000-level book by default, so the 1 % band is covered."""

from __future__ import annotations

from perptui.core.metrics import depth_metrics
from perptui.emulator import Emulator
from perptui.venues import make_venue

BTC = "BTC/USDT:USDT"


async def test_bybit_default_stream_reaches_the_one_percent_band() -> None:
    emu = Emulator(seed=3, venues=("bybit",), symbols=[BTC])
    await emu.start()
    venue = make_venue("bybit", client=emu.connect("bybit"))
    try:
        await venue.load_markets()
        for _ in range(5):
            book = await venue.watch_order_book(BTC)
        m = depth_metrics(book.bids, book.asks)
        assert m.flag == "ok"
        assert m.covers(0.01) == (True, True), (m.bid_reach, m.ask_reach)
        assert len(book.bids) > 50 and len(book.asks) > 50
        # ccxt's default, the 50-level topic, stops short of the band on the same book.
        for _ in range(3):
            shallow = await venue.watch_order_book(BTC, 50)
        m50 = depth_metrics(shallow.bids, shallow.asks)
        assert len(shallow.bids) <= 50 and m50.covers(0.01) != (True, True)
    finally:
        await venue.close()
        await emu.stop()

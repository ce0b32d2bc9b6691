"""Many books of one venue from a cold start: the venue's limits are waited for.

Found by the `collect --all` benchmark (368 books): binance books whose subscribe was
still queued behind the 5-a-second message spacing counted as stalled; each watchdog
strike dropped every connection of the venue (354 reconnects in 60 s), and the
subscribes' booked send slots bunched after a busy second, so binance's 10-a-second
limit cut connections too.  Real ccxt.pro clients against the loopback emulator.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from perptui.emulator import Emulator
from perptui.emulator.catalog import venue_markets
from perptui.engine.engine import Engine
from perptui.engine.hub import Hub
from perptui.engine.workers import WorkerSettings
from perptui.venues import make_venue

STALE_S = 1.0
N_BOOKS = 16  # 16 subscribes at 5/s: 3.2 s, over two watchdog periods


@pytest.mark.timeout(120)
async def test_a_cold_start_of_many_binance_books_is_waited_for_not_reconnected() -> None:
    venue = "binance"
    symbols = tuple(m.symbol for m in venue_markets(venue)[:N_BOOKS])
    emu = Emulator(seed=2, venues=(venue,), symbols=symbols)
    await emu.start()
    wire = emu.server.wires[venue]
    hub = Hub(symbols, [venue], stale_after_s=STALE_S)
    settings = WorkerSettings(
        stale_after_s=STALE_S, funding_poll_s=30, request_timeout_s=10, seed=1
    )
    client = make_venue(venue, client=emu.connect(venue))
    engine = Engine([client], symbols, hub, None, settings=settings, signals=False)
    loop = asyncio.get_running_loop()
    try:
        await engine.start()
        # a busy second while the subscribes go out (a big catch-up, a slow disk):
        # slots booked in advance would all fire at once when the loop comes back
        loop.call_later(0.3, time.sleep, 1.5)
        deadline = time.monotonic() + 90
        while not all(hub.latest_book(venue, s) is not None for s in symbols):
            assert time.monotonic() < deadline, "not every book arrived"
            await asyncio.sleep(0.1)
        assert wire.cut_for_rate == 0, "a connection was cut for sending too fast"
        assert wire.sessions_opened == 1, f"{wire.sessions_opened} connections opened"
        assert hub.sample().health[venue].reconnects == 0
    finally:
        await engine.stop()
        await emu.stop()

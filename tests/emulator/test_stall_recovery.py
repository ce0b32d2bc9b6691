"""After a stalled stream the venue returns to normal: one connection, no resync storm.

Found in the long fault campaign: after okx's stall trial the okx feed resynced and
reconnected ~45 times per phase for the rest of the run (coverage ~10 %).  The stall made
every book loop's watchdog fire at once; a forced drop also removed the connection its
neighbour had just opened (still connecting, so ccxt's ``close()`` could not stop it),
which then connected and streamed next to its replacement.  ccxt keeps books per symbol,
not per connection, so every update reached the shared book twice and okx's seqId chain
broke on each frame, forever.  Real ccxt.pro clients against the loopback emulator.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from perptui.emulator import Emulator
from perptui.engine.engine import Engine
from perptui.engine.hub import Hub
from perptui.engine.workers import WorkerSettings
from perptui.venues import make_venue

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT")
STALE_S = 1.0


async def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def _fresh_books(hub: Hub, venue: str, after_ms: int) -> bool:
    books = [hub.latest_book(venue, s) for s in SYMBOLS]
    return all(b is not None and b.timestamp > after_ms for b in books)


async def _rig(venue: str, seed: int) -> tuple[Emulator, Hub, Engine, Any]:
    """A started emulator of ``venue`` and an engine over it (not started yet)."""
    emu = Emulator(seed=seed, venues=(venue,), symbols=SYMBOLS)
    await emu.start()
    hub = Hub(SYMBOLS, [venue], stale_after_s=STALE_S)
    settings = WorkerSettings(
        stale_after_s=STALE_S,
        funding_poll_s=30,
        request_timeout_s=10,
        backoff_base=0.1,
        backoff_cap=1.0,
        seed=1,
    )
    client = make_venue(venue, client=emu.connect(venue))
    engine = Engine([client], SYMBOLS, hub, None, settings=settings, signals=False)
    return emu, hub, engine, client


@pytest.mark.timeout(120)
@pytest.mark.parametrize("venue", ["okx", "bybit"])
async def test_a_stall_is_survived_with_one_connection_and_no_resync_storm(venue: str) -> None:
    emu, hub, engine, client = await _rig(venue, seed=3)
    wire = emu.server.wires[venue]
    try:
        await engine.start()
        await _wait(lambda: _fresh_books(hub, venue, 0), 45, "books never arrived")
        # three stale periods of silence on an open socket: every loop's watchdog fires
        before = hub.sample().health[venue].reconnects
        emu.faults.inject(venue, "stall", count=1, duration=int(3 * STALE_S * 1000))

        def noticed() -> bool:
            # the health turns stale, or (the watchdog's drop and the reconnect can both
            # land between two polls: the stale state then lasts ~0.1 s) the drop counted
            h = hub.sample().health[venue]
            return h.state in ("stale", "reconnecting", "down") or h.reconnects > before

        await _wait(noticed, 20, "the stall was never noticed")
        t_stalled = int(time.time() * 1000)
        await _wait(lambda: _fresh_books(hub, venue, t_stalled), 40, "books did not come back")
        await _wait(lambda: len(wire.sessions) == 1, 15, f"{len(wire.sessions)} connections")
        # normal again: many more books per symbol, on one connection, no new resyncs
        resyncs = hub.sample().health[venue].resyncs
        for _ in range(5):
            mark = int(time.time() * 1000)
            await _wait(lambda m=mark: _fresh_books(hub, venue, m), 20, "books stopped")
        assert hub.sample().health[venue].resyncs == resyncs, "kept resyncing after the stall"
        # connected (a loaded box may show one book a moment stale: waited out, not failed)
        await _wait(
            lambda: hub.sample().health[venue].state == "connected", 10, "not connected again"
        )
        assert len(wire.sessions) == 1
        stray = getattr(client.client, "stray_connections", 0)
        assert stray <= 1  # an orphan, if one slipped through, was closed at its first frame
    finally:
        emu.faults.clear()
        await engine.stop()
        await emu.stop()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("venue", ["okx", "bybit", "binance"])
async def test_closing_a_dropped_connection_leaves_its_replacement_registered(
    venue: str,
) -> None:
    """The mechanism, step by step: drop a connection the way the watchdog does, let a
    book loop open its replacement, then let the old socket finish closing.  ccxt's own
    close callback would unregister the replacement (it deletes whatever client is
    listed for the url); the replacement must stay the one listed and the only one.
    (ccxt.pro's connections: the ccxt book path; the fast path owns its own.)"""
    emu = Emulator(seed=5, venues=(venue,), symbols=SYMBOLS[:1])
    await emu.start()
    v = make_venue(venue, client=emu.connect(venue), book_path="ccxt")
    ex = v.client
    wire = emu.server.wires[venue]
    try:
        await asyncio.wait_for(v.watch_order_book(SYMBOLS[0]), 20)
        (url, old), *_ = [(u, c) for u, c in ex.clients.items() if not c.closed()]
        ex.clients.pop(url)  # what drop_streams does first ...
        await asyncio.wait_for(v.watch_order_book(SYMBOLS[0]), 20)  # ... a loop reconnects
        new = ex.clients[url]
        assert new is not old and not new.closed()
        await old.close()  # ... and only then does the old socket finish closing
        await _wait(lambda: len(wire.sessions) == 1, 10, "the old connection stayed open")
        await _wait(lambda: old.closed(), 10, "the old client never closed")
        await asyncio.sleep(0)  # ccxt's close callback runs from the receive loop
        for _ in range(3):
            await asyncio.wait_for(v.watch_order_book(SYMBOLS[0]), 20)
        assert ex.clients.get(url) is new, "the live replacement was unregistered"
        assert len(wire.sessions) == 1
    finally:
        await v.close()
        await emu.stop()


@pytest.mark.timeout(120)
async def test_binance_resync_with_slow_snapshots_is_waited_for_not_reconnected() -> None:
    """Found in CI's fault campaign: after binance's stall, each new connection's books
    wait for their REST depth snapshot (paced by ccxt: weight 20 each, one after the
    other), longer than two watchdog periods; the watchdog dropped the connection again,
    which only queued more snapshots: 37 reconnects in 22 s and no book for a minute.
    Here every REST answer takes 2.5 s (2.5 watchdog periods) from the stall on."""
    venue = "binance"
    emu, hub, engine, _client = await _rig(venue, seed=4)  # the default (fast) book path
    wire = emu.server.wires[venue]
    try:
        await engine.start()
        await _wait(lambda: _fresh_books(hub, venue, 0), 45, "books never arrived")
        emu.faults.inject(venue, "latency", ms=2500, only="rest")
        emu.faults.inject(venue, "stall", count=1, duration=int(2.5 * STALE_S * 1000))
        await _wait(lambda: hub.sample().health[venue].state != "connected", 20, "stall never seen")
        t_stalled = int(time.time() * 1000)
        await _wait(lambda: _fresh_books(hub, venue, t_stalled), 40, "books did not come back")
        # one connection replaced the stalled one (two at most, were a watchdog to fire
        # in the very moment of the swap); the storm opened one per watchdog period
        opened = wire.sessions_opened
        assert opened <= 3, f"{opened} connections opened"
        await _wait(lambda: len(wire.sessions) == 1, 15, f"{len(wire.sessions)} connections")
    finally:
        emu.faults.clear()
        await engine.stop()
        await emu.stop()

"""The Venue contract's non-data operations, on real ccxt(.pro) clients and the emulator:
pacing scoped to one block, stream drop / reset, and ccxt's errors leaving as perptui's."""

from __future__ import annotations

import asyncio

import pytest

from perptui.emulator import Emulator
from perptui.errors import RateLimited, VenueError
from perptui.venues import make_venue
from perptui.venues.pacing import Pacer

BTC = "BTC/USDT:USDT"


@pytest.fixture
async def emu() -> Emulator:
    e = Emulator(seed=5, venues=("binance",))
    await e.start(port=0)
    yield e  # type: ignore[misc]
    await e.stop()


async def test_pacing_applies_only_inside_the_paced_block(emu: Emulator) -> None:
    async with make_venue("binance", client=emu.connect("binance", pro=False)) as venue:
        await venue.load_markets()
        pacer = Pacer()
        other_started = asyncio.Event()
        other_done = asyncio.Event()

        async def engine_like_loop() -> None:
            # started before the block (like the engine's loops in collect): never paced
            other_started.set()
            for _ in range(3):
                await venue.fetch_ticker(BTC)
            other_done.set()

        task = asyncio.create_task(engine_like_loop())
        await other_started.wait()
        with venue.paced(pacer):
            await venue.fetch_funding(BTC)
            await venue.fetch_order_book(BTC, 5)
        await task
        assert other_done.is_set()
        assert pacer.requests == 2
        await venue.fetch_funding(BTC)  # after the block: not paced either
        assert pacer.requests == 2


async def test_throttled_answers_widen_the_pacer_and_surface_as_rate_limited(
    emu: Emulator,
) -> None:
    venue = make_venue("binance", client=emu.connect("binance", pro=False), max_retries=1)
    venue.retry_base_s = 0.01
    async with venue:
        await venue.load_markets()
        pacer = Pacer(floor_s=0.01, max_s=0.05)
        emu.faults.inject("binance", "429", count=2, retry_after=0)
        with venue.paced(pacer), pytest.raises(RateLimited, match="failed after 2 attempts"):
            await venue.fetch_funding(BTC)
        assert pacer.throttled == 2 and pacer.requests == 2 and pacer.interval_s > 0
        # RateLimited is a VenueError: callers can catch every venue answer as one kind
        assert issubclass(RateLimited, VenueError)


async def test_drop_streams_closes_only_idle_connections_unless_forced(emu: Emulator) -> None:
    async with make_venue("binance", client=emu.connect("binance")) as venue:
        assert venue.open_streams() == {}  # nothing streams before the first watch
        await venue.watch_order_book(BTC)
        first = dict(venue.open_streams())
        assert len(first) == 1
        # the connection just delivered frames: not idle for 60 s, so left alone
        assert await venue.drop_streams(60.0) is False
        assert venue.open_streams() == first
        # forced: closed even though it is alive frame-wise
        assert await venue.drop_streams(None) is True
        assert venue.open_streams() == {}
        # the next watch reconnects and resubscribes on a new connection
        book = await venue.watch_order_book(BTC)
        assert book.bids and book.asks
        second = venue.open_streams()
        assert len(second) == 1 and second != first


async def test_a_forced_drop_for_one_symbol_closes_only_the_connection_carrying_it(
    emu: Emulator,
) -> None:
    """The watchdog's forced drop for one stalled book of many: its own connection
    goes, the venue's others (and their books) stay."""
    eth = "ETH/USDT:USDT"
    async with make_venue("binance", client=emu.connect("binance")) as venue:
        venue.books.per_connection = 1  # one symbol a connection, so there are two
        await venue.watch_order_book(BTC)
        await venue.watch_order_book(eth)
        before = dict(venue.open_streams())
        assert len(before) == 2
        eth_conn = venue.books.feeds[eth].conn
        assert await venue.drop_streams(None, symbol=eth) is True
        after = dict(venue.open_streams())
        assert len(after) == 1 and eth_conn is not None and eth_conn.closed
        assert venue.books.feeds[BTC].conn is not None and not venue.books.feeds[BTC].conn.closed
        # a symbol on no connection: nothing of its to drop, the others stay
        assert await venue.drop_streams(None, symbol=eth) is False
        assert venue.open_streams() == after
        book = await venue.watch_order_book(eth)  # and it comes back on a new one
        assert book.bids and len(venue.open_streams()) == 2


async def test_a_forced_drop_for_one_symbol_on_the_ccxt_path_closes_only_its_client(
    emu: Emulator,
) -> None:
    """ccxt.pro's binance spreads subscriptions over several connections; the one whose
    subscriptions name the stalled symbol (not WBTC's for BTC's) is the one closed."""
    eth = "ETH/USDT:USDT"
    client = emu.connect("binance")
    async with make_venue("binance", client=client, book_path="ccxt") as venue:
        await venue.watch_order_book(BTC)
        await venue.watch_order_book(eth)
        before = dict(venue.open_streams())
        assert len(before) == 2, "ccxt.pro put both books on one connection"
        eth_url = next(u for u, ws in client.clients.items() if venue._carries(ws, eth))
        assert await venue.drop_streams(None, symbol=eth) is True
        after = dict(venue.open_streams())
        assert eth_url not in after and len(after) == 1
        book = await venue.watch_order_book(BTC)  # the other connection still streams
        assert book.bids and dict(venue.open_streams()) == after

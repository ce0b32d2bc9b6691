"""Real ccxt clients (Hyperliquid, dYdX) and the GMX adapter against the loopback emulator:
every venue method, the venues' own error shapes, and faults (429, dropped sockets, lost
deltas) applied to them as to the CEX venues."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import ccxt.async_support as ccxt_async
import pytest
from emulator_helpers import wait_for

from perptui.emulator import Emulator
from perptui.errors import CapabilityMissing, UnknownSymbol, VenueError, VenueUnreachable
from perptui.venues import make_venue

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
HOUR = 3_600_000


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    e = Emulator(seed=8, venues=("hyperliquid", "dydx", "gmx"), symbols=SYMBOLS, speed=4)
    await e.start()
    yield e
    await e.stop()


def venue(emu: Emulator, vid: str):
    v = make_venue(vid, client=emu.connect(vid))
    v.retry_base_s = 0.01  # instance override: tests need no real backoff
    return v


@pytest.mark.parametrize("vid", ["hyperliquid", "dydx", "gmx"])
async def test_every_method_against_the_emulator(emu: Emulator, vid: str) -> None:
    v = venue(emu, vid)
    async with v:
        markets = await v.load_markets()
        quote = "USD" if vid == "gmx" else "USDC"
        btc = f"BTC/{quote}:{quote}"
        assert btc in markets and v.market("BTC").symbol == btc  # --symbols BTC finds it
        f = (await v.fetch_fundings(["BTC", "ETH"]))[btc]
        assert f.funding_rate is not None and f.interval_hours == 1.0
        oi = await v.fetch_open_interest("BTC")
        assert oi.value and oi.value > 0
        t = await v.fetch_ticker("BTC")
        assert t.last and abs(t.last / f.mark_price - 1) < 0.01
        now = v.now_ms()
        candles = await v.fetch_ohlcv_history("ETH", "1h", now - 48 * HOUR)
        assert len(candles.rows) in (48, 49) and candles.requests == 1
        if vid == "gmx":
            pool = await v.fetch_pool("BTC")
            assert pool.paying_side in ("long", "short") and len(pool.impacts) == 3
            with pytest.raises(CapabilityMissing):
                await v.fetch_order_book("BTC")
            return
        book = await v.fetch_order_book("BTC", 10)
        assert len(book.bids) == 10 and book.bids[0][0] < book.asks[0][0]
        hist = await v.fetch_funding_history("BTC", now - 30 * 24 * HOUR)
        assert len(hist.rows) in (719, 720)
        assert hist.requests == -(-len(hist.rows) // v.page_limits["funding"])  # fewest pages
        live = await asyncio.wait_for(v.watch_order_book("BTC"), 10)
        assert live.bids[0][0] < live.asks[0][0]


async def test_hyperliquid_ws_pushes_full_snapshots_equal_to_the_book(emu: Emulator) -> None:
    v = venue(emu, "hyperliquid")
    async with v:
        for _ in range(3):
            await asyncio.wait_for(v.watch_order_book("BTC"), 10)
        emu.faults.inject("hyperliquid", "drop", count=1)
        errors = 0
        for _ in range(3):
            try:
                await asyncio.wait_for(v.watch_order_book("BTC"), 10)
            except (VenueUnreachable, ccxt_async.NetworkError):
                errors += 1
        emu.pause()
        await asyncio.sleep(0.6)
        ob = v.client.orderbooks["BTC/USDC:USDC"]
        truth = emu.truth_book("hyperliquid", "BTC/USDC:USDC", 20)
        emu.resume()
    assert errors == 1
    assert [tuple(x[:2]) for x in ob["bids"]] == list(truth.bids)
    assert [tuple(x[:2]) for x in ob["asks"]] == list(truth.asks)


async def _published(emu: Emulator, symbol: str) -> tuple[list, list]:
    wire = emu.server.wires["dydx"]
    ch = wire.channels.find(symbol, 100)
    m = ch.market
    bids, asks = ch.snapshot()
    return (
        [(float(m.fmt_price(p)), float(m.fmt_qty(q))) for p, q in bids],
        [(float(m.fmt_price(p)), float(m.fmt_qty(q))) for p, q in asks],
    )


async def test_dydx_resubscribe_after_lost_deltas_resets_the_book(emu: Emulator) -> None:
    v = venue(emu, "dydx")
    sym = "BTC/USDC:USDC"
    async with v:
        for _ in range(5):
            await asyncio.wait_for(v.watch_order_book("BTC"), 10)
        emu.faults.inject("dydx", "gap", count=30)  # deltas lost: the book drifts, silently
        for _ in range(10):
            await asyncio.wait_for(v.watch_order_book("BTC"), 10)
        emu.faults.inject("dydx", "drop", count=1)
        resubscribed = False
        while not resubscribed:
            try:
                await asyncio.wait_for(v.watch_order_book("BTC"), 10)
                resubscribed = v.client.orderbooks[sym]["nonce"] == 1  # the new snapshot
            except (VenueUnreachable, ccxt_async.NetworkError):
                continue
        emu.pause()
        try:
            want = await _published(emu, sym)
            # frames already sent land; then the book is exactly the venue's: no stale level
            await wait_for(lambda: _levels(v.client.orderbooks[sym]) == want, timeout=10)
        finally:
            emu.resume()


def _levels(ob) -> tuple[list, list]:
    return [tuple(x[:2]) for x in ob["bids"]], [tuple(x[:2]) for x in ob["asks"]]


async def test_dydx_batched_stream_is_applied(emu: Emulator) -> None:
    v = venue(emu, "dydx")
    sym = "ETH/USDC:USDC"
    async with v:
        await v.load_markets()
        client = v.client
        for _ in range(6):
            await asyncio.wait_for(client.watch_order_book(sym, None, {"batched": True}), 10)
        await wait_for(lambda: client.orderbooks[sym]["nonce"] >= 4)
        emu.pause()
        try:
            wire = emu.server.wires["dydx"]
            # step until no connection holds a partial batch: all published updates are sent
            for _ in range(10):
                if not wire.held_updates():
                    break
                emu.step("dydx")
            want = await _published(emu, sym)
            await wait_for(lambda: _levels(client.orderbooks[sym]) == want, timeout=10)
        finally:
            emu.resume()


async def test_error_shapes(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as http:
        url = emu.http_base("hyperliquid") + "/info"
        async with http.post(url, data="{") as r:
            assert r.status == 422
            assert (await r.text()).startswith("Failed to deserialize the JSON body")
        async with http.post(url, json={"type": "l2Book", "coin": "NOPE"}) as r:
            assert r.status == 200 and await r.json() is None
        base = emu.http_base("dydx") + "/v4"
        async with http.get(base + "/candles/perpetualMarkets/BTC-USD?resolution=2MIN") as r:
            assert r.status == 400 and "resolution" in (await r.json())["errors"][0]["msg"]
        async with http.get(base + "/orderbooks/perpetualMarket/NOPE-USD") as r:
            assert r.status == 404 and "NOPE-USD" in (await r.json())["errors"][0]["msg"]
        async with http.get(emu.http_base("gmx") + "/prices/candles?period=1h") as r:
            assert r.status == 400 and json.loads(await r.text()) == {
                "message": "tokenSymbol is required"
            }
    dydx = emu.connect("dydx", pro=False)
    await dydx.load_markets()
    # ccxt maps the indexer's 400 through its HTTP table; the indexer's own message is kept
    with pytest.raises(ccxt_async.BaseError, match="resolution must be one of"):
        await dydx.indexerGetCandlesPerpetualMarketsMarket({"market": "BTC-USD", "resolution": "x"})
    await dydx.close()


@pytest.mark.parametrize("vid", ["hyperliquid", "dydx", "gmx"])
async def test_rate_limit_fault_is_retried(emu: Emulator, vid: str) -> None:
    v = venue(emu, vid)
    async with v:
        await v.load_markets()
        before = v.requests_made
        emu.faults.inject(vid, "429", count=1, retry_after=0)
        f = await v.fetch_fundings(["BTC"])
    assert f and v.requests_made >= before + 2


async def test_hyperliquid_predicted_fundings_through_the_venue() -> None:
    """The emulated predictedFundings answer (documented shape) read by the real venue."""
    e = Emulator(seed=8, venues=("hyperliquid", "binance"), symbols=SYMBOLS)
    e.clock.freeze(1_796_122_800_000 + 20 * 60_000)  # 20 min into an hour
    await e.start()
    try:
        async with aiohttp.ClientSession() as http:
            url = e.http_base("hyperliquid") + "/info"
            async with http.post(url, json={"type": "predictedFundings"}) as r:
                raw = await r.json()
        by_coin = {coin: dict(entries) for coin, entries in raw}
        assert set(by_coin) >= {"BTC", "ETH"}
        binance = by_coin["BTC"]["BinPerp"]  # the emulated binance's own settlement
        assert binance["fundingIntervalHours"] == 8 and binance["nextFundingTime"] % (8 * HOUR) == 0
        hl = by_coin["BTC"]["HlPerp"]
        assert hl["nextFundingTime"] == 1_796_122_800_000 + HOUR
        v = venue(e, "hyperliquid")
        async with v:
            f = (await v.fetch_fundings(["BTC"]))["BTC/USDC:USDC"]
            board = {q.symbol: q for q in (await v.fetch_board()).quotes}
        assert f.predicted_rate == float(hl["fundingRate"])
        assert f.next_funding_time == hl["nextFundingTime"]
        assert board["ETH/USDC:USDC"].predicted_rate == float(
            by_coin["ETH"]["HlPerp"]["fundingRate"]
        )
        assert e.requests("hyperliquid")  # every answer came from the emulator
    finally:
        await e.stop()


async def test_dydx_rejections_are_not_retried(emu: Emulator) -> None:
    """ccxt's HTTP table makes the indexer's 400/403/404 ExchangeNotAvailable (a network
    error); the venue names them from the indexer's body and never repeats them."""
    v = venue(emu, "dydx")
    async with v:
        await v.load_markets()
        cases = [
            # limit above the indexer's 1000: its express-validator 400 body
            (
                VenueError,
                "limit must be a positive integer",
                v.client.indexerGetCandlesPerpetualMarketsMarket,
                {"market": "BTC-USD", "resolution": "1HOUR", "limit": 5000},
            ),
            (
                UnknownSymbol,
                "NOPE-USD not found in markets of type PerpetualMarket",
                v.client.indexerGetOrderbooksPerpetualMarketMarket,
                {"market": "NOPE-USD"},
            ),
        ]
        for kind, text, fn, params in cases:
            before = v.requests_made
            with pytest.raises(kind, match=text) as info:
                await v.call("probe", fn, params)
            assert not isinstance(info.value, VenueUnreachable)
            assert v.requests_made == before + 1  # asked once
        before = v.requests_made
        emu.faults.inject("dydx", "418", count=1)  # the indexer's geo-block answer (403)
        with pytest.raises(VenueError, match="GEOBLOCKED") as info:
            await v.fetch_fundings(["BTC"])
        assert not isinstance(info.value, VenueUnreachable) and v.requests_made == before + 1
        # a 5xx is still the venue's trouble: retried, then answered
        emu.faults.inject("dydx", "5xx", count=1, status=503)
        before = v.requests_made
        assert (await v.fetch_fundings(["BTC"]))["BTC/USDC:USDC"].funding_rate is not None
        assert v.requests_made == before + 2

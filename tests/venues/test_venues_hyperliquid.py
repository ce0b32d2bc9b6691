"""Hyperliquid on the recorded payloads of README_dex.md: real ccxt, only the transport fake.

Each recorded file is served for the request ccxt builds (POST /info by body ``type``);
the venue's records are compared with ccxt 4.5.90's recorded parse and the raw payload.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import ccxt.async_support as ccxt_async
from dex_fixtures import (
    RecordedWs,
    dex_venue,
    hyperliquid_routes,
    load,
    predicted_fundings_doc_shape,
)

from perptui.core.model import FundingRecord

BTC = "BTC/USDC:USDC"
DATE = "Tue, 01 Dec 2026 10:17:00 GMT"  # venue clock of the fake answers
DATE_MS = 1_796_120_220_000
NEXT_HOUR_MS = 1_796_122_800_000  # 11:00 UTC that day


def levels(side) -> tuple[tuple[float, float], ...]:
    return tuple((float(p), float(a)) for p, a, *_ in side)


async def test_markets_only_main_dex_perps_and_coin_names_as_ids(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "hyperliquid", "metaAndAssetCtxs_testnet_142_perps")
    venue, transport = dex_venue("hyperliquid", hyperliquid_routes(fixtures_dir))
    async with venue:
        markets = await venue.load_markets()
        ccxt_btc = venue.client.market(BTC)
    universe = fx["httpResponse"][0]["universe"]
    assert len(markets) == len(universe) == 142
    assert transport.bodies() == [{"type": "metaAndAssetCtxs"}]  # no spotMeta, no perpDexs
    # ccxt's id is the universe position (testnet BTC is "3"; on mainnet it is 0)
    assert ccxt_btc["id"] == str([u["name"] for u in universe].index("BTC")) == "3"
    mainnet = load(fixtures_dir, "hyperliquid", "meta_mainnet_2023-07-17_sdk_cassette")
    assert [u["name"] for u in mainnet["httpResponse"]["universe"]].index("BTC") == 0
    # perptui's venue id is the coin name, the same on both networks
    assert markets[BTC].id == "BTC" and markets["KPEPE/USDC:USDC"].id == "kPEPE"
    assert markets[BTC].funding_interval_hours == 1.0
    expected = fx["additional_parses"][0]["parsedResponse"][0]
    assert markets[BTC].tick_size == expected["precision"]["price"]
    assert markets[BTC].lot_size == expected["precision"]["amount"]


async def test_fundings_use_the_venue_clock_not_the_local_one(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "hyperliquid", "metaAndAssetCtxs_testnet_142_perps")
    # the venue predicts nothing for these coins: the next hour comes from its clock
    routes = hyperliquid_routes(fixtures_dir, predictedFundings=[])
    venue, transport = dex_venue("hyperliquid", routes)
    transport.headers = {"Date": DATE}
    async with venue:
        got = await venue.fetch_fundings(fx["input"]["args"][0])
    for symbol, parsed in fx["parsedResponse"].items():
        f = got[symbol]
        assert f.funding_rate == parsed["fundingRate"]
        assert f.mark_price == parsed["markPrice"] and f.index_price == parsed["indexPrice"]
        assert f.interval_hours == 1.0
        # ccxt's fundingTimestamp is the harness machine's next hour; ours is the venue's
        assert f.timestamp == DATE_MS and f.next_funding_time == NEXT_HOUR_MS
        assert f.predicted_rate is None


PREDICTED_BTC = {
    "fundingRate": "0.0000231",
    "nextFundingTime": 1796122800000,
    "fundingIntervalHours": 1,
}


async def test_predicted_rate_and_settlement_from_predicted_fundings(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "hyperliquid", "metaAndAssetCtxs_testnet_142_perps")
    ctx_rate = fx["parsedResponse"][BTC]["fundingRate"]
    pred = predicted_fundings_doc_shape({"BTC": PREDICTED_BTC, "ETH": ..., "kPEPE": None})
    venue, transport = dex_venue(
        "hyperliquid", hyperliquid_routes(fixtures_dir, predictedFundings=pred)
    )
    transport.headers = {"Date": DATE}
    eth, pepe = "ETH/USDC:USDC", "KPEPE/USDC:USDC"
    async with venue:
        got = await venue.fetch_fundings([BTC, eth, pepe])
        one = await venue.fetch_funding("BTC")
    assert transport.bodies()[-1] == {"type": "predictedFundings"}  # ccxt's implicit POST /info
    btc = got[BTC]
    assert btc.predicted_rate == 0.0000231 != btc.funding_rate == ctx_rate  # not the ctx rate
    assert btc.next_funding_time == PREDICTED_BTC["nextFundingTime"]  # the venue's, stated
    assert one == btc
    # no HlPerp entry (ETH; BinPerp's is another venue's) or a null one (kPEPE): none
    for s in (eth, pepe):
        assert got[s].predicted_rate is None and got[s].next_funding_time == NEXT_HOUR_MS
    ctxs = dict(
        zip(
            (u["name"] for u in fx["httpResponse"][0]["universe"]),
            fx["httpResponse"][1],
            strict=True,
        )
    )
    assert got[eth].funding_rate == float(ctxs["ETH"]["funding"])
    assert got[pepe].funding_rate == float(ctxs["kPEPE"]["funding"])


async def test_predicted_fundings_failure_costs_only_the_prediction(fixtures_dir: Path) -> None:
    def refused(url, q, body):
        # what ccxt's fetch raises for the venue's 422 plain-text answer
        raise ccxt_async.ExchangeError("hyperliquid 422 Failed to deserialize the JSON body")

    venue, transport = dex_venue(
        "hyperliquid", hyperliquid_routes(fixtures_dir, predictedFundings=refused)
    )
    async with venue:
        got = await venue.fetch_fundings([BTC])
        board = await venue.fetch_board()
    assert got[BTC].funding_rate is not None and got[BTC].predicted_rate is None
    assert [b["type"] for b in transport.bodies()].count("predictedFundings") == 2  # not retried
    assert len(board.quotes) == 142 and all(q.predicted_rate is None for q in board.quotes)


async def test_board_carries_the_predicted_rate(fixtures_dir: Path) -> None:
    pred = predicted_fundings_doc_shape({"BTC": PREDICTED_BTC})
    venue, transport = dex_venue(
        "hyperliquid", hyperliquid_routes(fixtures_dir, predictedFundings=pred)
    )
    async with venue:
        board = await venue.fetch_board()
    quotes = {q.symbol: q for q in board.quotes}
    assert quotes[BTC].predicted_rate == 0.0000231
    assert quotes[BTC].next_funding_time == PREDICTED_BTC["nextFundingTime"]
    assert quotes["ETH/USDC:USDC"].predicted_rate is None
    assert board.requests == len(transport.calls) - 1  # load_markets is not the board's


async def test_open_interest_on_a_fresh_venue(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "hyperliquid", "metaAndAssetCtxs_testnet_142_perps")
    ctx = dict(
        zip(
            (u["name"] for u in fx["httpResponse"][0]["universe"]),
            fx["httpResponse"][1],
            strict=True,
        )
    )["BTC"]
    venue, _ = dex_venue("hyperliquid", hyperliquid_routes(fixtures_dir))
    async with venue:  # no load_markets first: ccxt's own method raises here
        oi = await venue.fetch_open_interest(BTC)
    assert oi.amount == float(ctx["openInterest"])
    assert oi.value == float(ctx["openInterest"]) * float(ctx["markPx"])


async def test_order_books_mainnet_and_testnet(fixtures_dir: Path) -> None:
    for name in ("l2Book_btc_mainnet_2025-10-30", "l2Book_btc_testnet_2024-12-21"):
        fx = load(fixtures_dir, "hyperliquid", name)
        routes = hyperliquid_routes(fixtures_dir, l2Book=fx["httpResponse"])
        venue, transport = dex_venue("hyperliquid", routes)
        async with venue:
            book = await venue.fetch_order_book(BTC, 100)  # all levels, not the 5 % band
        assert transport.bodies()[-1] == fx["request"]["body"]
        parsed = fx["parsedResponse"]
        assert book.bids == levels(parsed["bids"]) and book.asks == levels(parsed["asks"])
        assert book.timestamp == parsed["timestamp"] and book.bids[0][0] < book.asks[0][0]


async def test_funding_history_request_and_rows(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "hyperliquid", "fundingHistory_btc_2023-05-12_to_05-23")
    body = fx["request"]["body"]
    routes = hyperliquid_routes(fixtures_dir, fundingHistory=fx["httpResponse"])
    venue, transport = dex_venue("hyperliquid", routes)
    async with venue:
        page = await venue.fetch_funding_history(BTC, body["startTime"], body["endTime"])
    assert transport.bodies()[1] == body  # the recorded request, byte for byte
    # 34 rows (8-hourly in 2023) < one 500-row page; the series ends days before endTime,
    # so one more request from just after the last row makes sure nothing newer exists
    assert page.requests == 2
    assert transport.bodies()[2]["startTime"] == page.rows[-1].timestamp + 1
    assert page.rows == tuple(
        FundingRecord("hyperliquid", BTC, p["timestamp"], p["fundingRate"])
        for p in fx["parsedResponse"]
    )


async def test_candles_one_request_for_the_window(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "hyperliquid", "candleSnapshot_kpepe_1h_sdk_cassette")
    req = fx["request"]["body"]["req"]
    routes = hyperliquid_routes(fixtures_dir, candleSnapshot=fx["httpResponse"])
    venue, transport = dex_venue("hyperliquid", routes)
    async with venue:
        page = await venue.fetch_ohlcv_history(
            "KPEPE/USDC:USDC", "1h", req["startTime"], req["endTime"]
        )
    sent = transport.bodies()[1]
    assert sent["type"] == "candleSnapshot" and sent["req"]["coin"] == "kPEPE"
    assert sent["req"]["endTime"] == req["endTime"] and sent["req"]["interval"] == "1h"
    assert page.requests == 1
    expected = [c for c in fx["parsedResponse"] if c[0] >= req["startTime"]]
    assert [(c.timestamp, c.open, c.high, c.low, c.close, c.volume) for c in page.rows] == [
        tuple(c) for c in expected
    ]


async def test_ws_l2book_snapshot_through_ccxt_pro(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "hyperliquid", "ws_l2Book_btc_order_book_server.json"[:-5])
    server = RecordedWs([fx["ws_messages"]])
    url = await server.start()
    venue, _ = dex_venue("hyperliquid", hyperliquid_routes(fixtures_dir))
    venue.client.urls["api"]["ws"]["public"] = url
    try:
        async with venue:
            book = await asyncio.wait_for(venue.watch_order_book(BTC), 10)
    finally:
        await server.stop()
    assert server.received[0]["subscription"] == fx["request"]["subscribe"]["subscription"]
    parsed = fx["parsedResponse"]
    assert book.bids == levels(parsed["bids"]) and book.asks == levels(parsed["asks"])
    assert book.timestamp == fx["ws_messages"][1]["data"]["time"]

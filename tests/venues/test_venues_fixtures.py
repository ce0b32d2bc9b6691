"""Venue adapters on payloads recorded from the real exchanges.

Each test builds the real ccxt client through `make_venue`, loads the fixture's market
definitions, swaps only `client.fetch` for the recorded response, and checks the request
ccxt builds (against the recorded URL when the adapter asks the same question) and the
adapter's result (against ccxt's recorded parse and the adapter's own conversions).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from aiohttp import web
from venue_fixtures import fixture_venue, load, markets, path, query, recorded_route

from perptui.core.model import BookSnapshot, Candle, FundingInfo, FundingRecord, OpenInterest
from perptui.errors import UnknownSymbol

BTC = "BTC/USDT:USDT"


def levels(side: list[list[float]], factor: float = 1.0) -> tuple[tuple[float, float], ...]:
    return tuple((float(p), float(a) * factor) for p, a, *_ in side)


async def venue_for(fixtures_dir: Path, exchange: str, fixture: dict, **kw):
    venue, transport = fixture_venue(
        exchange, markets(fixtures_dir, exchange), recorded_route(fixture), **kw
    )
    await venue.load_markets()
    transport.calls.clear()  # only the call under test counts from here
    return venue, transport


# ----------------------------------------------------------------------------- binance


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_order_book(fixtures_dir: Path, exchange: str) -> None:
    fx = load(fixtures_dir, exchange, "fetchOrderBook")
    venue, transport = await venue_for(fixtures_dir, exchange, fx)
    async with venue:
        book = await venue.fetch_order_book(*fx["input"])
    assert transport.calls == [fx["request"]["url"]]
    parsed = fx["parsedResponse"]
    assert isinstance(book, BookSnapshot)
    assert (book.exchange, book.symbol) == (exchange, BTC)
    assert book.bids == levels(parsed["bids"]) and len(book.bids) == len(parsed["bids"]) > 0
    assert book.asks == levels(parsed["asks"])
    assert book.nonce == parsed["nonce"] and book.timestamp == parsed["timestamp"]
    assert book.bids[0][0] < book.asks[0][0]
    if exchange == "binance":
        assert len(book.bids) == 5


async def test_binance_depth_session_snapshot_1000_levels(fixtures_dir: Path) -> None:
    session = load(fixtures_dir, "binance", "ws_depth_session_SUSHIUSDT")
    snap = session["rest_snapshot"]
    entry = session["exchange_info_symbol_entry"]["payload"]
    venue, transport = fixture_venue(
        "binance", [entry], {"/fapi/v1/depth": snap["payload"]}, parse_raw=True
    )
    async with venue:
        book = await venue.fetch_order_book("SUSHI/USDT:USDT", 1000)
    assert transport.calls[-1] == snap["request"]["url"]
    raw = snap["payload"]
    assert book.nonce == raw["lastUpdateId"] and book.timestamp == int(raw["T"])
    assert len(book.bids) == len(book.asks) == 1000
    assert book.bids == levels(raw["bids"]) and book.asks == levels(raw["asks"])
    checks = session["checks"]["ccxt_4_5_90_rest_parse"]
    assert list(book.bids[0]) == checks["best_bid"] and list(book.asks[0]) == checks["best_ask"]
    prices = [p for p, _ in book.bids]
    assert prices == sorted(prices, reverse=True)


async def test_binance_depth_limit_rounds_up_to_an_accepted_value(fixtures_dir: Path) -> None:
    session = load(fixtures_dir, "binance", "ws_depth_session_SUSHIUSDT")
    entry = session["exchange_info_symbol_entry"]["payload"]
    venue, transport = fixture_venue(
        "binance", [entry], {"/fapi/v1/depth": session["rest_snapshot"]["payload"]}, parse_raw=True
    )
    async with venue:
        book = await venue.fetch_order_book("SUSHI/USDT:USDT", 30)
    assert query(transport.calls[-1])["limit"] == "50"  # /fapi/v1/depth takes 5,10,20,50...
    assert len(book.bids) == len(book.asks) == 30


async def test_binance_ohlcv_history(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "binance", "fetchOHLCV")
    parsed = fx["parsedResponse"]
    venue, transport = await venue_for(fixtures_dir, "binance", fx)
    async with venue:
        # the raw ccxt call on the same transport reproduces ccxt's recorded parse
        assert await venue.client.fetch_ohlcv(*fx["input"]) == parsed
        assert transport.calls == [fx["request"]["url"]]
        transport.calls.clear()
        page = await venue.fetch_ohlcv_history(BTC, "1m", parsed[0][0], parsed[-1][0])
    [url] = transport.calls
    assert path(url) == path(fx["request"]["url"])
    recorded = query(fx["request"]["url"])
    assert query(url) == {
        "symbol": recorded["symbol"],
        "interval": recorded["interval"],
        "startTime": str(parsed[0][0]),
        "endTime": str(parsed[-1][0]),
        "limit": "1500",  # /fapi/v1/klines max, beyond ccxt's own 1000 cap
    }
    assert page.requests == 1 and not page.reached_cap
    assert page.rows == tuple(Candle("binance", BTC, "1m", *row) for row in parsed)


async def test_binance_funding_from_premium_index(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "binance", "rest_premiumIndex_docexample")
    venue, transport = await venue_for(fixtures_dir, "binance", fx)
    async with venue:
        info = await venue.fetch_funding(BTC)
    assert transport.calls == [fx["request"]["url"]]
    p = fx["parsedResponse"]
    assert info == FundingInfo(
        exchange="binance",
        symbol=BTC,
        timestamp=p["timestamp"],
        funding_rate=p["fundingRate"],
        next_funding_time=p["fundingTimestamp"],
        interval_hours=8.0,  # ccxt has no interval here: binance's documented default
        mark_price=p["markPrice"],
        index_price=p["indexPrice"],
        predicted_rate=None,
    )


async def test_binance_funding_history(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "binance", "rest_fundingRate_docexample")
    parsed = fx["parsedResponse"]
    venue, transport = await venue_for(fixtures_dir, "binance", fx)
    since, until = parsed[0]["timestamp"], parsed[-1]["timestamp"]
    pages: list[tuple] = []
    async with venue:
        page = await venue.fetch_funding_history(BTC, since, until, on_page=pages.append)
    [url] = transport.calls
    assert path(url) == path(fx["request"]["url"])
    assert query(url) == {
        "symbol": "BTCUSDT",
        "startTime": str(since),
        "endTime": str(until),
        "limit": "1000",
    }
    expected = tuple(
        FundingRecord("binance", BTC, r["timestamp"], r["fundingRate"]) for r in parsed
    )
    assert page.rows == expected and page.requests == 1
    assert [tuple(p) for p in pages] == [expected]


@pytest.mark.parametrize(
    ("exchange", "name"),
    [("binance", "rest_openInterest_docexample"), ("bybit", "fetchOpenInterest")],
)
async def test_open_interest(fixtures_dir: Path, exchange: str, name: str) -> None:
    fx = load(fixtures_dir, exchange, name)
    venue, transport = await venue_for(fixtures_dir, exchange, fx)
    async with venue:
        oi = await venue.fetch_open_interest(BTC)
    # bybit: the adapter asks for the newest row only, exactly as the recorded call did
    assert transport.calls == [fx["request"]["url"]]
    p = fx["parsedResponse"]
    assert oi == OpenInterest(exchange, BTC, p["timestamp"], p["openInterestAmount"], None)


async def test_binance_spot_ticker_fixture_is_refused_as_non_perpetual(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "binance", "fetchTicker")
    venue, transport = await venue_for(fixtures_dir, "binance", fx)
    async with venue:
        with pytest.raises(UnknownSymbol, match=r"'BTC/USDT' is a spot market") as err:
            await venue.fetch_ticker(fx["input"][0])
        # the refusal happens before any request and points at the perpetual
        assert transport.calls == []
        assert "BTC/USDT:USDT" in str(err.value)


async def test_binance_markets_are_usdm_perpetuals_with_default_interval(
    fixtures_dir: Path,
) -> None:
    venue, _ = fixture_venue("binance", markets(fixtures_dir, "binance"))
    async with venue:
        found = await venue.load_markets()
    assert venue.ccxt_id == "binanceusdm"
    assert sorted(found) == ["BTC/USDT:USDT", "ETH/USDT:USDT", "LTC/USDT:USDT"]
    btc = found[BTC]
    assert (btc.id, btc.base, btc.quote, btc.settle, btc.linear) == (
        "BTCUSDT",
        "BTC",
        "USDT",
        "USDT",
        True,
    )
    assert (btc.contract_size, btc.tick_size, btc.lot_size) == (1.0, 0.1, 0.001)
    assert btc.funding_interval_hours == 8.0


async def test_binance_funding_info_adjusts_listed_intervals(fixtures_dir: Path) -> None:
    # GET /fapi/v1/fundingInfo lists only symbols whose interval differs from 8 h
    info = [
        {
            "symbol": "ETHUSDT",
            "adjustedFundingRateCap": "0.03000000",
            "adjustedFundingRateFloor": "-0.03000000",
            "fundingIntervalHours": 4,
            "disclaimer": False,
        }
    ]
    venue, transport = fixture_venue(
        "binance", markets(fixtures_dir, "binance"), {"/fapi/v1/fundingInfo": info}
    )
    async with venue:
        found = await venue.load_markets()
    assert [path(u) for u in transport.calls] == ["/fapi/v1/fundingInfo"]
    assert found["ETH/USDT:USDT"].funding_interval_hours == 4.0
    assert found[BTC].funding_interval_hours == 8.0


# ------------------------------------------------------------------------------- bybit


async def test_bybit_ohlcv_history(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "bybit", "fetchOHLCV")
    parsed = fx["parsedResponse"]
    symbol, timeframe, since, _ = fx["input"]
    venue, transport = await venue_for(fixtures_dir, "bybit", fx)
    async with venue:
        page = await venue.fetch_ohlcv_history(symbol, timeframe, since, parsed[-1][0])
    [url] = transport.calls
    recorded = query(fx["request"]["url"])
    assert path(url) == path(fx["request"]["url"])
    # the same start ccxt derived for the recording (since rounded up to the hour)
    assert query(url) == {**recorded, "end": str(parsed[-1][0]), "limit": "1000"}
    assert page.rows == tuple(Candle("bybit", symbol, timeframe, *row) for row in parsed)
    assert page.requests == 1


async def test_bybit_ticker(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "bybit", "fetchTicker")
    venue, transport = await venue_for(fixtures_dir, "bybit", fx)
    async with venue:
        venue.now_ms = lambda: 1_707_905_549_267  # type: ignore[method-assign]
        t = await venue.fetch_ticker(BTC)
    assert transport.calls == [fx["request"]["url"]]
    p = fx["parsedResponse"]
    assert (t.last, t.percentage, t.quote_volume) == (p["last"], p["percentage"], p["quoteVolume"])
    assert p["timestamp"] is None and t.timestamp == 1_707_905_549_267  # observed-at fallback


async def test_bybit_funding_rate(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "bybit", "fetchFundingRate")
    venue, transport = await venue_for(fixtures_dir, "bybit", fx)
    async with venue:
        info = await venue.fetch_funding(BTC)
    assert transport.calls == [fx["request"]["url"]]
    p = fx["parsedResponse"]
    assert info == FundingInfo(
        "bybit", BTC, p["timestamp"], 0.0001, 1_730_736_000_000, 8.0, 68591.46, 68599.9, None
    )
    assert p["interval"] == "8h"


async def test_bybit_funding_rates_in_one_request(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "bybit", "fetchFundingRates")
    venue, transport = await venue_for(fixtures_dir, "bybit", fx)
    async with venue:
        got = await venue.fetch_fundings(*fx["input"])
    assert transport.calls == [fx["request"]["url"]]
    p = fx["parsedResponse"][BTC]
    assert list(got) == [BTC]
    assert got[BTC].funding_rate == p["fundingRate"]
    assert got[BTC].next_funding_time == p["fundingTimestamp"]
    assert got[BTC].mark_price == p["markPrice"] and got[BTC].interval_hours == 8.0


async def test_bybit_funding_history(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "bybit", "rest_funding_history_nautilus")
    parsed = fx["parsedResponse"]
    venue, transport = await venue_for(fixtures_dir, "bybit", fx)
    since, until = parsed[0]["timestamp"], parsed[-1]["timestamp"]
    async with venue:
        page = await venue.fetch_funding_history(BTC, since, until)
    [url] = transport.calls
    assert path(url) == path(fx["request"]["url"])
    assert query(url) == {
        **query(fx["request"]["url"]),
        "startTime": str(since),
        "endTime": str(until),  # bybit rejects startTime alone
    }
    assert page.rows == tuple(
        FundingRecord("bybit", BTC, r["timestamp"], r["fundingRate"]) for r in parsed
    )


async def test_bybit_ticker_push_funding_conversion(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "bybit", "ws_tickers_linear_docexample")
    venue, _ = fixture_venue("bybit", markets(fixtures_dir, "bybit"))
    async with venue:
        await venue.load_markets()
        m = venue.market(BTC)
        parsed = venue.client.parse_funding_rate(fx["payload"]["data"], venue.client.market(BTC))
        stored = fx["ccxt_parse_funding_rate_of_data"]
        assert parsed["fundingRate"] == stored["fundingRate"]
        info = venue.funding_info(m, parsed)
    assert info.funding_rate == -0.000212 and info.next_funding_time == 1_673_280_000_000
    assert info.interval_hours == 8.0
    assert info.mark_price == stored["markPrice"] and info.index_price == stored["indexPrice"]


async def test_bybit_markets_carry_funding_interval(fixtures_dir: Path) -> None:
    venue, transport = fixture_venue("bybit", markets(fixtures_dir, "bybit"))
    async with venue:
        found = await venue.load_markets()
    assert transport.calls == []
    assert sorted(found) == ["BTC/USDT:USDT", "ETH/USDT:USDT", "LTC/USDT:USDT"]
    assert {m.funding_interval_hours for m in found.values()} == {8.0}  # fundingInterval 480
    assert venue.client.options["fetchMarkets"]["types"] == ["linear"]


# --------------------------------------------------------------------------------- okx


async def test_okx_order_book_amounts_are_base_units(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "okx", "fetchOrderBook")
    venue, transport = await venue_for(fixtures_dir, "okx", fx)
    async with venue:
        book = await venue.fetch_order_book(*fx["input"])
        ct_val = float(venue.client.market(BTC)["info"]["ctVal"])
    assert transport.calls == [fx["request"]["url"]]
    assert ct_val == 0.01 == venue.market(BTC).contract_size
    parsed = fx["parsedResponse"]
    # 13807 contracts x 0.01 BTC
    assert book.bids == ((43466.3, 138.07), (43466.2, 171.51))
    assert book.asks == ((43466.4, 148.81), (43466.5, 146.24))
    for ours, theirs in ((book.bids, parsed["bids"]), (book.asks, parsed["asks"])):
        expected = levels(theirs, ct_val)
        assert [p for p, _ in ours] == [p for p, _ in expected]
        assert [a for _, a in ours] == pytest.approx([a for _, a in expected], rel=1e-12)
    assert book.timestamp == parsed["timestamp"]


async def test_okx_open_interest_in_base_units(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "okx", "fetchOpenInterest")
    venue, transport = await venue_for(fixtures_dir, "okx", fx)
    async with venue:
        oi = await venue.fetch_open_interest(BTC)
    assert transport.calls == [fx["request"]["url"]]
    p = fx["parsedResponse"]
    # ccxt's amount is contracts (oi); x ctVal it must equal okx's own oiCcy
    assert oi.amount == pytest.approx(p["openInterestAmount"] * 0.01, rel=1e-12)
    assert oi.amount == pytest.approx(float(fx["httpResponse"]["data"][0]["oiCcy"]), rel=1e-12)
    assert oi.value == p["openInterestValue"] and oi.timestamp == p["timestamp"]


async def test_okx_funding_history_within_retained_window(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "okx", "rest_funding_rate_history_nautilus")
    parsed = fx["parsedResponse"]
    venue, transport = await venue_for(fixtures_dir, "okx", fx)
    since, until = parsed[0]["timestamp"], parsed[-1]["timestamp"]
    async with venue:
        venue.now_ms = lambda: until + 3_600_000  # type: ignore[method-assign]
        page = await venue.fetch_funding_history(BTC, since, until)
    [url] = transport.calls
    assert path(url) == path(fx["request"]["url"])
    assert query(url) == {
        "instId": "BTC-USDT-SWAP",
        "before": str(since - 1),  # okx: newer than (exclusive)
        "after": str(until + 1),  # okx: older than (exclusive)
        "limit": "400",
    }
    # ccxt reports okx's realizedRate, the rate actually settled
    assert [r.funding_rate for r in page.rows] == [-0.00002, 0.00015]
    assert page.rows == tuple(
        FundingRecord("okx", BTC, r["timestamp"], r["fundingRate"]) for r in parsed
    )
    assert not page.reached_cap and page.requests == 1


async def test_okx_funding_history_older_than_cap_makes_no_request(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "okx", "rest_funding_rate_history_nautilus")
    parsed = fx["parsedResponse"]
    venue, transport = await venue_for(fixtures_dir, "okx", fx)
    async with venue:  # real clock: 2024 data is far older than okx's ~3 months
        page = await venue.fetch_funding_history(
            BTC, parsed[0]["timestamp"], parsed[-1]["timestamp"]
        )
    assert transport.calls == [] and page.requests == 0 and page.rows == ()
    assert page.reached_cap and "last 90 days" in page.note


async def test_okx_funding_rate_and_interval(fixtures_dir: Path) -> None:
    # The okx REST /public/funding-rate row has the shape of this (unknown-origin) push;
    # wrapped in okx's REST envelope it exercises ccxt's REST path and our conversion.
    fx = load(fixtures_dir, "okx", "ws_funding_rate_nautilus")
    row = fx["payload"]["data"][0]
    envelope = {"code": "0", "msg": "", "data": [row]}
    venue, transport = fixture_venue(
        "okx", markets(fixtures_dir, "okx"), {"/api/v5/public/funding-rate": envelope}
    )
    async with venue:
        await venue.load_markets()
        assert venue.market(BTC).funding_interval_hours is None  # okx markets don't say
        venue.now_ms = lambda: int(row["ts"])  # type: ignore[method-assign]
        info = await venue.fetch_funding(BTC)
        learned = venue.market(BTC).funding_interval_hours
    assert query(transport.calls[-1]) == {"instId": "BTC-USDT-SWAP"}
    stored = fx["ccxt_parse_funding_rate_of_data0"]
    assert info.funding_rate == stored["fundingRate"]
    assert info.predicted_rate == stored["nextFundingRate"] == 0.0002
    assert info.next_funding_time == stored["fundingTimestamp"]
    assert info.interval_hours == 8.0 == learned  # nextFundingTime - fundingTime


SPOT_METHODS = {
    "fetchOrderBook_spot": "fetch_order_book",
    "fetchOHLCV_spot": "fetch_ohlcv",
    "fetchTicker_spot": "fetch_ticker",
}


@pytest.mark.parametrize("name", sorted(SPOT_METHODS))
async def test_okx_spot_fixtures_are_refused(fixtures_dir: Path, name: str) -> None:
    fx = load(fixtures_dir, "okx", name)
    venue, transport = await venue_for(fixtures_dir, "okx", fx)
    symbol = fx["input"][0]
    async with venue:
        with pytest.raises(UnknownSymbol, match="spot market, not a perpetual swap") as err:
            if name == "fetchOrderBook_spot":
                await venue.fetch_order_book(symbol, 2)
            elif name == "fetchOHLCV_spot":
                await venue.fetch_ohlcv_history(symbol, "1h", fx["input"][2])
            else:
                await venue.fetch_ticker(symbol)
        assert transport.calls == []  # refused before any request
        # the transport is faithful: ccxt itself reproduces its recorded spot parse
        raw = await getattr(venue.client, SPOT_METHODS[name])(*fx["input"])
        assert raw == fx["parsedResponse"]
        assert transport.calls == [fx["request"]["url"]]
    assert "did you mean BTC/USDT:USDT" in str(err.value)


async def test_okx_markets_contract_sizes(fixtures_dir: Path) -> None:
    venue, _ = fixture_venue("okx", markets(fixtures_dir, "okx"))
    async with venue:
        found = await venue.load_markets()
    assert "BTC/USDT" not in found and len(found) == 5
    sizes = {s: (m.contract_size, m.lot_size) for s, m in found.items()}
    assert sizes[BTC] == (0.01, 0.001)  # lot 0.1 contract x 0.01 BTC
    assert sizes["DOGE/USDT:USDT"] == (1000.0, 100.0)
    assert found[BTC].tick_size == 0.1 and found[BTC].id == "BTC-USDT-SWAP"


# ---------------------------------------------------------------------- symbol errors


@pytest.mark.parametrize("exchange", ["binance", "bybit", "okx"])
async def test_unknown_and_non_perpetual_symbols(fixtures_dir: Path, exchange: str) -> None:
    venue, transport = fixture_venue(exchange, markets(fixtures_dir, exchange))
    async with venue:
        await venue.load_markets()
        with pytest.raises(UnknownSymbol, match=r"unknown symbol 'SOL/USDT:USDT'"):
            venue.market("SOL/USDT:USDT")
        with pytest.raises(UnknownSymbol, match=r"did you mean BTC/USDT:USDT") as err:
            await venue.fetch_order_book("BTC/USDT", 5)
        assert exchange in str(err.value)
        venue_id = venue.market(BTC).id
        assert venue.market(venue_id).symbol == BTC  # the venue's own id is accepted
    assert [c for c in transport.calls if "fundingInfo" not in c] == []


# --------------------------------------------------------------- websocket replay


def _point_ws_at(urls: object, base: str) -> object:
    if isinstance(urls, dict):
        return {k: _point_ws_at(v, base) for k, v in urls.items()}
    if isinstance(urls, str):
        return re.sub(r"^wss?://[^/]+", base, urls)
    return urls


async def test_binance_watch_order_book_replays_recorded_session(fixtures_dir: Path) -> None:
    """ccxt.pro's real sync logic over a loopback socket replaying the recorded diffs.

    The REST snapshot comes through the replaced transport; the 255 recorded depthUpdate
    messages come over a real websocket on 127.0.0.1, in their recorded order.
    """
    session = load(fixtures_dir, "binance", "ws_depth_session_SUSHIUSDT")
    diffs = [m["payload"] for m in session["ws_messages"]]
    final_u = diffs[-1]["data"]["u"]
    subscribed: list[dict] = []

    async def stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            sub = json.loads(msg.data)
            subscribed.append(sub)
            await ws.send_json({"result": None, "id": sub["id"]})
            for payload in diffs:
                await ws.send_json(payload)
        return ws

    app = web.Application()
    app.router.add_get("/{tail:.*}", stream)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    entry = session["exchange_info_symbol_entry"]["payload"]
    venue, transport = fixture_venue(
        "binance", [entry], {"/fapi/v1/depth": session["rest_snapshot"]["payload"]}, parse_raw=True
    )
    venue.client.urls["api"]["ws"] = _point_ws_at(
        venue.client.urls["api"]["ws"], f"ws://127.0.0.1:{port}"
    )
    symbol = "SUSHI/USDT:USDT"
    nonces: list[int] = []
    try:
        async with venue:
            async with asyncio.timeout(20):
                while not nonces or nonces[-1] != final_u:
                    book = await venue.watch_order_book(symbol, 1000)
                    nonces.append(book.nonce)
    finally:
        await runner.cleanup()
    assert subscribed[0]["method"] == "SUBSCRIBE"
    assert subscribed[0]["params"] == ["sushiusdt@depth@100ms"]
    assert transport.calls[-1] == session["rest_snapshot"]["request"]["url"]
    assert nonces == sorted(nonces)  # only ever moves forward
    best = session["checks"]["best_bid_ask_after_replay"]
    assert (book.bids[0][0], book.asks[0][0]) == (float(best[0]), float(best[1]))
    assert book.bids[0][0] < book.asks[0][0]
    assert [p for p, _ in book.bids] == sorted((p for p, _ in book.bids), reverse=True)
    assert [p for p, _ in book.asks] == sorted(p for p, _ in book.asks)
    assert all(a > 0 for _, a in book.bids + book.asks)

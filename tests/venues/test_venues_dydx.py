"""dYdX v4 on the recorded payloads of README_dex.md: real ccxt, only the transport fake.

Besides the recorded files, two synthetic indexer responders (in the indexer's own format
and semantics: newest first, ``limit`` at most 1000, windows by ``fromISO``/``toISO`` and
``effectiveBeforeOrAt``, unknown parameters ignored) show that ccxt's own calls would miss
the asked window, and that the venue's calls do not.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import ccxt.pro as ccxt_pro
from dex_fixtures import RecordedWs, dex_venue, dydx_routes, load

from perptui.core.units import iso_ms
from perptui.venues.dydx_book import DydxBookClient

BTC = "BTC/USDC:USDC"
ETH = "ETH/USDC:USDC"
HOUR = 3_600_000
MINUTE = 60_000


def levels(side) -> tuple[tuple[float, float], ...]:
    return tuple((float(p), float(a)) for p, a, *_ in side)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


async def test_markets_and_live_fields_from_perpetual_markets(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "dydx", "perpetual_markets_btc_eth_sol")
    raw = fx["httpResponse"]["markets"]
    venue, transport = dex_venue("dydx", dydx_routes(fixtures_dir))
    async with venue:
        markets = await venue.load_markets()
        fundings = await venue.fetch_fundings([BTC, ETH])
        oi = await venue.fetch_open_interest(BTC)
        ticker = await venue.fetch_ticker(BTC)
    assert sorted(markets) == sorted(p["symbol"] for p in fx["parsedResponse"])
    assert markets[BTC].id == "BTC-USD" and markets[BTC].funding_interval_hours == 1.0
    assert markets[BTC].tick_size == 1.0 and markets[BTC].lot_size == 0.0001
    for sym, tick in ((BTC, "BTC-USD"), (ETH, "ETH-USD")):
        f = fundings[sym]
        assert f.funding_rate == float(raw[tick]["nextFundingRate"])
        assert f.mark_price == f.index_price == float(raw[tick]["oraclePrice"])
        assert f.interval_hours == 1.0 and f.next_funding_time % HOUR == 0
        assert 0 < f.next_funding_time - f.timestamp <= HOUR
    assert oi.amount == float(raw["BTC-USD"]["openInterest"])
    assert oi.value == float(raw["BTC-USD"]["openInterest"]) * float(raw["BTC-USD"]["oraclePrice"])
    assert ticker.quote_volume == float(raw["BTC-USD"]["volume24H"])
    change, last = float(raw["BTC-USD"]["priceChange24H"]), float(raw["BTC-USD"]["oraclePrice"])
    assert ticker.last == last and ticker.percentage == change / (last - change) * 100
    # one indexer request per question, through ccxt's implicit API
    assert all("/v4/perpetualMarkets" in u for u in transport.urls())


async def test_static_market_file_parses(fixtures_dir: Path) -> None:
    venue, _ = dex_venue("dydx", dydx_routes(fixtures_dir, "ccxt_static_perpetual_markets_btc"))
    async with venue:
        markets = await venue.load_markets()
    assert list(markets) == [BTC] and markets[BTC].settle == "USDC"


async def test_order_books(fixtures_dir: Path) -> None:
    for name in ("orderbook_btc", "ccxt_static_orderbook_btc"):
        fx = load(fixtures_dir, "dydx", name)
        routes = dydx_routes(fixtures_dir)
        routes["/v4/orderbooks/perpetualMarket/BTC-USD"] = fx["httpResponse"]
        venue, transport = dex_venue("dydx", routes)
        async with venue:
            book = await venue.fetch_order_book(BTC, 100)
        assert transport.urls()[-1] == fx["ccxt_built_requests"][-1]["url"]
        parsed = fx["parsedResponse"]
        assert book.bids == levels(parsed["bids"]) and book.asks == levels(parsed["asks"])
        assert book.nonce is None and book.bids[0][0] < book.asks[0][0]


def candle_indexer(newest: int, count: int):
    """The indexer's candles endpoint: 1MIN BTC candles newest first in [fromISO, toISO]."""

    def respond(url: str, q: dict[str, str], body: Any) -> dict[str, Any]:
        hi = ms(q["toISO"]) if "toISO" in q else newest
        lo = ms(q["fromISO"]) if "fromISO" in q else 0
        limit = min(int(q.get("limit", 1000)), 1000)
        rows = []
        t = min(hi, newest) // MINUTE * MINUTE
        while t >= lo and t > newest - count * MINUTE and len(rows) < limit:
            px = str(50_000 + t // MINUTE % 1000)
            rows.append(
                {
                    "startedAt": iso_ms(t),
                    "ticker": "BTC-USD",
                    "resolution": "1MIN",
                    "low": px,
                    "high": px,
                    "open": px,
                    "close": px,
                    "baseTokenVolume": "1",
                    "usdVolume": px,
                    "trades": 1,
                }
            )
            t -= MINUTE
        return {"candles": rows}

    return respond


async def test_candles_recorded_files(fixtures_dir: Path) -> None:
    for name in ("candles_btc_1min", "ccxt_static_candles_btc_1min"):
        fx = load(fixtures_dir, "dydx", name)
        routes = dydx_routes(fixtures_dir)
        routes["/v4/candles/perpetualMarkets/BTC-USD"] = fx["httpResponse"]
        venue, transport = dex_venue("dydx", routes)
        stamps = [c[0] for c in fx["parsedResponse"]]
        async with venue:
            page = await venue.fetch_ohlcv_history(BTC, "1m", stamps[0], stamps[-1])
        q = transport.calls[-1][1]
        assert "fromISO=" in q and "toISO=" in q and "fromIso" not in q and "toIso" not in q
        assert [[c.timestamp, c.open, c.high, c.low, c.close, c.volume] for c in page.rows] == [
            list(c) for c in fx["parsedResponse"]
        ]


async def test_candle_window_is_really_the_window_asked_for(fixtures_dir: Path) -> None:
    newest = ms("2025-12-08T16:11:00.000Z")
    since, until = newest - 3 * 1000 * MINUTE, newest - 2 * 1000 * MINUTE - MINUTE  # old window
    routes = dydx_routes(fixtures_dir)
    routes["/v4/candles/perpetualMarkets/BTC-USD"] = candle_indexer(newest, 10_000)
    venue, _ = dex_venue("dydx", routes)
    async with venue:
        await venue.load_markets()
        page = await venue.fetch_ohlcv_history(BTC, "1m", since, until)
        # the naive path: ccxt's own fetch_ohlcv with the same window
        naive = await venue.client.fetch_ohlcv(BTC, "1m", since, 1000, {"until": until})
    assert [c.timestamp for c in page.rows] == list(range(since, until + 1, MINUTE))
    assert page.requests == 1
    # ccxt's fromIso/toIso are ignored by the indexer: the newest candles come back and
    # ccxt's client-side filter keeps those >= since, all of them after `until`
    assert naive and all(c[0] > until for c in naive)


def funding_indexer(newest: int, count: int):
    """/v4/historicalFunding: hourly rows newest first, <= effectiveBeforeOrAt, <= 1000."""

    def respond(url: str, q: dict[str, str], body: Any) -> dict[str, Any]:
        hi = ms(q["effectiveBeforeOrAt"]) if "effectiveBeforeOrAt" in q else newest
        limit = min(int(q.get("limit", 1000)), 1000)
        first = newest - (count - 1) * HOUR
        rows, t = [], min(hi - 219, newest) // HOUR * HOUR
        while t >= first and len(rows) < limit:
            rows.append(
                {
                    "ticker": "BTC-USD",
                    "rate": f"{t // HOUR % 97 * 1e-7:.7f}",
                    "price": "90000",
                    "effectiveAtHeight": str(t // 1000),
                    "effectiveAt": iso_ms(t + 219),
                }
            )
            t -= HOUR
        return {"historicalFunding": rows}

    return respond


async def test_funding_history_recorded_and_paged_backwards(fixtures_dir: Path) -> None:
    fx = load(fixtures_dir, "dydx", "historical_funding_btc")
    routes = dydx_routes(fixtures_dir)
    routes["/v4/historicalFunding/BTC-USD"] = fx["httpResponse"]
    venue, transport = dex_venue("dydx", routes)
    stamps = [p["timestamp"] for p in fx["parsedResponse"]]
    async with venue:
        page = await venue.fetch_funding_history(BTC, stamps[0], stamps[-1])
    url = transport.urls()[-1]
    assert "effectiveBeforeOrAt=" in url and "until=" not in url
    assert [(r.timestamp, r.funding_rate) for r in page.rows] == [
        (p["timestamp"], p["fundingRate"]) for p in fx["parsedResponse"]
    ]
    static = load(fixtures_dir, "dydx", "ccxt_static_historical_funding_btc")
    routes["/v4/historicalFunding/BTC-USD"] = static["httpResponse"]
    venue, _ = dex_venue("dydx", routes)
    t = static["parsedResponse"][0]["timestamp"]
    async with venue:
        page = await venue.fetch_funding_history(BTC, t - HOUR, t)
    assert [(r.timestamp, r.funding_rate) for r in page.rows] == [
        (t, static["parsedResponse"][0]["fundingRate"])
    ]

    # 2,500 hours of history newest first, 1,000 per page: three requests, every row once
    newest = ms("2025-12-08T16:00:00.000Z")
    routes["/v4/historicalFunding/BTC-USD"] = funding_indexer(newest, 2500)
    venue, transport = dex_venue("dydx", routes)
    async with venue:
        page = await venue.fetch_funding_history(BTC, newest - 2499 * HOUR, newest + HOUR)
    assert len(page.rows) == 2500 and page.requests == 3
    assert [r.timestamp for r in page.rows] == [
        newest - k * HOUR + 219 for k in range(2499, -1, -1)
    ]


class _Stub:
    def __init__(self) -> None:
        self.resolved: list[Any] = []

    def resolve(self, result: Any, message_hash: Any) -> None:
        self.resolved.append(result)


def _client(cls: type, fixtures_dir: Path) -> Any:
    c = cls()
    c.set_markets(load(fixtures_dir, "dydx", "perpetual_markets_btc_eth_sol")["parsedResponse"])
    return c


def _book(c: Any, symbol: str = ETH) -> tuple[list[list[float]], list[list[float]]]:
    ob = c.orderbooks[symbol]
    return [list(x) for x in ob["bids"]], [list(x) for x in ob["asks"]]


def test_batched_deltas_are_applied_and_the_book_never_crosses(fixtures_dir: Path) -> None:
    snap, batch = load(fixtures_dir, "dydx", "ws_v4_orderbook_eth_usd")["ws_messages"]
    stock, ours, stub = (
        _client(ccxt_pro.dydx, fixtures_dir),
        _client(DydxBookClient, fixtures_dir),
        _Stub(),
    )
    for c in (stock, ours):
        c.handle_message(stub, json.loads(json.dumps(snap)))
        c.handle_message(stub, json.loads(json.dumps(batch)))
    assert _book(stock) == (
        levels_list(snap["contents"]["bids"]),
        levels_list(snap["contents"]["asks"]),
    )
    bids, asks = _book(ours)
    newest: dict[tuple[str, float], float] = {}
    for part in batch["contents"]:
        for side in ("bids", "asks"):
            for p, s in part.get(side, []):
                newest[(side, float(p))] = float(s)
    # every level of the (newer) batch is in the book as last sent; zeros are gone
    for (side, p), s in newest.items():
        book_side = dict(map(tuple, bids if side == "bids" else asks))
        assert book_side.get(p, 0.0) == s
    # the batch (another session, ETH ~2396) crosses the older ~3393 snapshot: the
    # older crossing bids are dropped, never the newer levels
    assert bids[0][0] < asks[0][0] and ours.uncrossed_levels > 0
    assert ours.orderbooks[ETH]["nonce"] == batch["message_id"]


def levels_list(side: list[dict[str, str]]) -> list[list[float]]:
    return [[float(x["price"]), float(x["size"])] for x in side]


async def test_resubscribe_snapshot_replaces_the_book(fixtures_dir: Path) -> None:
    snap = load(fixtures_dir, "dydx", "ws_v4_orderbook_eth_usd")["ws_messages"][0]
    later = json.loads(json.dumps(snap))
    later["contents"]["bids"] = later["contents"]["bids"][10:]  # 10 bids gone meanwhile
    later["message_id"] = 1
    server = RecordedWs([[snap], [later]], close_after=True)
    url = await server.start()
    routes = dydx_routes(fixtures_dir)
    venue, _ = dex_venue("dydx", routes)
    venue.client.urls["api"]["ws"] = url
    try:
        async with venue:
            first = await asyncio.wait_for(venue.watch_order_book(ETH, 200), 10)
            second = None
            for _ in range(20):  # the engine's loop: the socket closed, watch again
                try:
                    second = await asyncio.wait_for(venue.watch_order_book(ETH, 200), 10)
                except Exception:
                    await asyncio.sleep(0.05)
                    continue
                if server.connections >= 2:
                    break
    finally:
        await server.stop()
    assert server.connections >= 2 and server.received[-1]["channel"] == "v4_orderbook"
    assert first.bids == tuple(map(tuple, levels_list(snap["contents"]["bids"])))
    assert second is not None
    assert second.bids == tuple(map(tuple, levels_list(later["contents"]["bids"])))
    # the naive path: stock ccxt.pro merges the re-subscribe snapshot into the old book
    stock, stub = _client(ccxt_pro.dydx, fixtures_dir), _Stub()
    stock.handle_message(stub, json.loads(json.dumps(snap)))
    stock.handle_message(stub, json.loads(json.dumps(later)))
    assert len(_book(stock)[0]) == len(snap["contents"]["bids"]) != len(second.bids)

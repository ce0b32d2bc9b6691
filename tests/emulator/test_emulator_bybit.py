"""Real ccxt / ccxt.pro bybit clients against the emulator's bybit v5 linear wire."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from ccxt.base import errors as cx
from emulator_helpers import running, wait_for, watch_through_drop

from perptui.core.units import HOUR_MS
from perptui.emulator import Clock, Emulator
from perptui.emulator.bybit import fmt_oi, fmt_px, fmt_qty, fmt_rate
from perptui.venues import make_venue
from perptui.venues.bybit import BybitPro

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
FROZEN_MS = 1_731_000_000_000 + 1_234_567  # a Thursday in Nov 2024, mid-interval


@pytest.fixture
async def live() -> AsyncIterator[Emulator]:
    """Real clock, books stepped 4x faster than bybit's 20 ms (5 ms)."""
    async with running(Emulator(seed=3, venues=("bybit",), symbols=[BTC, ETH], speed=4)) as emu:
        yield emu


@pytest.fixture
async def frozen() -> AsyncIterator[Emulator]:
    """Frozen clock: REST answers are exact functions of FROZEN_MS."""
    emu = Emulator(seed=3, venues=("bybit",), symbols=[BTC, ETH], clock=Clock(FROZEN_MS))
    async with running(emu):
        yield emu


def topic(emu: Emulator, symbol: str, depth: int = 50) -> Any:
    wire = emu.server.wires["bybit"]
    return wire._topics[f"orderbook.{depth}.{emu.sim.market('bybit', symbol).venue_id}"]


def book_of(client: Any, symbol: str) -> tuple[list[list[float]], list[list[float]], int]:
    ob = client.orderbooks[symbol]
    return [list(x) for x in ob["bids"]], [list(x) for x in ob["asks"]], ob["timestamp"]


async def settle_and_compare(emu: Emulator, client: Any, symbol: str, depth: int = 50) -> None:
    """Pause the simulator, let the client drain the stream, compare every level."""
    emu.pause()
    t = topic(emu, symbol, depth)
    await wait_for(lambda: book_of(client, symbol)[2] == t.last_ts)
    await asyncio.sleep(0.02)  # nothing else may arrive
    bids, asks, ts = book_of(client, symbol)
    truth = emu.truth_book("bybit", symbol, depth)
    assert ts == t.last_ts
    assert bids == [list(x) for x in truth.bids]
    assert asks == [list(x) for x in truth.asks]
    assert len(bids) == len(asks) == depth
    emu.resume()


async def test_watch_order_book_converges_over_1000_updates(live: Emulator) -> None:
    client = live.connect("bybit")
    await client.watch_order_book(BTC)
    t = topic(live, BTC)
    u0 = t.u
    checkpoint, checks = 250, 0
    while t.u - u0 < 1000:
        await client.watch_order_book(BTC)
        if t.u - u0 >= checkpoint:
            await settle_and_compare(live, client, BTC)
            checkpoint, checks = checkpoint + 250, checks + 1
    await settle_and_compare(live, client, BTC)
    assert t.u - u0 >= 1000 and checks >= 3
    await client.close()


async def test_two_symbols_and_two_clients_share_topics(live: Emulator) -> None:
    a, b = live.connect("bybit"), live.connect("bybit")
    for _ in range(50):
        await asyncio.gather(
            a.watch_order_book(BTC), b.watch_order_book(BTC), a.watch_order_book(ETH)
        )
    for c, s in ((a, BTC), (b, BTC), (a, ETH)):
        await settle_and_compare(live, c, s)
    await a.close()
    await b.close()
    assert not live.sim.active_books("bybit")  # listeners detached with the connections


async def test_gap_then_server_snapshot_resyncs_ccxt(live: Emulator) -> None:
    client = live.connect("bybit")
    for _ in range(20):
        await client.watch_order_book(BTC)
    await settle_and_compare(live, client, BTC)
    live.pause()
    gap = live.faults.inject("bybit", "gap", count=1, snapshot_after=2)
    while not gap.fired:
        live.step("bybit")  # the next visible delta is lost
    t = topic(live, BTC)
    await wait_for(lambda: client.orderbooks[BTC]["timestamp"] is not None)
    await asyncio.sleep(0.05)
    truth = live.truth_book("bybit", BTC, 50)
    # ccxt.pro bybit ignores u, so the book silently diverges ...
    assert [list(x) for x in client.orderbooks[BTC]["bids"]] != [list(x) for x in truth.bids] or [
        list(x) for x in client.orderbooks[BTC]["asks"]
    ] != [list(x) for x in truth.asks]
    live.step("bybit")  # delivered (still wrong underneath)
    live.step("bybit")  # replaced by a fresh snapshot: ccxt resets its book
    await settle_and_compare(live, client, BTC)
    assert t.u > 0
    for _ in range(200):
        await client.watch_order_book(BTC)
    await settle_and_compare(live, client, BTC)
    await client.close()


async def test_gap_without_snapshot_needs_resubscribe(live: Emulator) -> None:
    client = live.connect("bybit")
    for _ in range(10):
        await client.watch_order_book(BTC)
    live.pause()
    gap = live.faults.inject("bybit", "gap", count=1, snapshot_after=0)
    while not gap.fired:
        live.step("bybit")
    await asyncio.sleep(0.05)
    truth = live.truth_book("bybit", BTC, 50)
    ob = client.orderbooks[BTC]
    assert ([list(x) for x in ob["bids"]], [list(x) for x in ob["asks"]]) != (
        [list(x) for x in truth.bids],
        [list(x) for x in truth.asks],
    )
    # the app-level remedy: unsubscribe (same depth) and watch again -> fresh snapshot
    await client.un_watch_order_book(BTC, {"limit": 50})
    await client.watch_order_book(BTC)
    await settle_and_compare(live, client, BTC)
    await client.close()


async def test_dropped_connection_reconnects_and_converges(live: Emulator) -> None:
    client = live.connect("bybit")
    errors = await watch_through_drop(live, client, "bybit", BTC, updates=300)
    assert errors >= 1  # the drop reached the watcher; the next watch reconnected
    await settle_and_compare(live, client, BTC)
    await client.close()


async def test_raw_stream_u_seq_ping_and_errors(live: Emulator) -> None:
    url = live.ws_base("bybit") + "/v5/public/linear"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"op": "ping", "req_id": "7"}))
        pong = json.loads((await ws.receive()).data)
        assert pong["op"] == "ping" and pong["ret_msg"] == "pong" and pong["req_id"] == "7"
        await ws.send_str(
            json.dumps({"op": "subscribe", "req_id": "1", "args": ["orderbook.50.NOPEUSDT"]})
        )
        bad = json.loads((await ws.receive()).data)
        assert bad["success"] is False and "NOPEUSDT" in bad["ret_msg"]
        await ws.send_str(
            json.dumps({"op": "subscribe", "req_id": "2", "args": ["orderbook.50.BTCUSDT"]})
        )
        ack = json.loads((await ws.receive()).data)
        assert ack == {
            "success": True,
            "ret_msg": "",
            "conn_id": ack["conn_id"],
            "req_id": "2",
            "op": "subscribe",
        }
        msgs = [json.loads((await ws.receive()).data) for _ in range(60)]
        assert msgs[0]["type"] == "snapshot" and all(m["type"] == "delta" for m in msgs[1:])
        us = [m["data"]["u"] for m in msgs]
        seqs = [m["data"]["seq"] for m in msgs]
        assert all(b - a == 1 for a, b in itertools.pairwise(us))
        assert all(b >= a for a, b in itertools.pairwise(seqs))
        assert all(m["cts"] <= m["ts"] for m in msgs)
        # an injected gap shows on the wire as u jumping by 2
        live.faults.inject("bybit", "gap", count=1, snapshot_after=0)
        more = [json.loads((await ws.receive()).data) for _ in range(5)]
        jumps = [
            b["data"]["u"] - a["data"]["u"] for a, b in zip([msgs[-1], *more], more, strict=False)
        ]
        assert sorted(jumps) == [1, 1, 1, 1, 2]


async def test_level1_snapshots_and_deep_topics(live: Emulator) -> None:
    url = live.ws_base("bybit") + "/v5/public/linear"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        args = ["orderbook.1.ETHUSDT", "orderbook.1000.ETHUSDT", "orderbook.500.ETHUSDT"]
        await ws.send_str(json.dumps({"op": "subscribe", "req_id": "9", "args": args}))
        assert json.loads((await ws.receive()).data)["success"] is True
        by_topic: dict[str, list[dict[str, Any]]] = {a: [] for a in args}
        while len(by_topic["orderbook.1000.ETHUSDT"]) < 3:
            m = json.loads((await ws.receive()).data)
            by_topic[m["topic"]].append(m)
        level1 = by_topic["orderbook.1.ETHUSDT"]
        assert {m["type"] for m in level1} == {"snapshot"}  # level 1: snapshots only
        assert all(len(m["data"]["b"]) == len(m["data"]["a"]) == 1 for m in level1)
        deep = by_topic["orderbook.1000.ETHUSDT"][0]["data"]
        assert len(deep["b"]) > 500 and len(deep["a"]) > 500  # the whole simulated book
        # 1000 levels push every 10th step (200 ms; 50 ms at 4x speed), never faster
        ts = [m["ts"] for m in by_topic["orderbook.1000.ETHUSDT"]]
        assert all(b - a >= 40 for a, b in itertools.pairwise(ts))


async def test_markets_from_paginated_instruments(frozen: Emulator) -> None:
    client = frozen.connect("bybit", pro=False)
    markets = await client.load_markets()
    assert set(markets) == {BTC, ETH}
    for sym, m in markets.items():
        vm = frozen.sim.market("bybit", sym)
        assert m["id"] == vm.venue_id and m["swap"] and m["linear"] and m["contractSize"] == 1
        assert m["precision"]["price"] == float(vm.tick)
        assert m["precision"]["amount"] == float(vm.lot)
        assert m["limits"]["amount"]["min"] == float(vm.min_qty)
        assert int(m["info"]["fundingInterval"]) == vm.funding_interval_h * 60
    # the cursor chain walks the whole list one row at a time
    seen, cursor = [], None
    for _ in range(5):
        params = {"category": "linear", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = await client.public_get_v5_market_instruments_info(params)
        seen += [r["symbol"] for r in page["result"]["list"]]
        cursor = page["result"]["nextPageCursor"]
        if not cursor:
            break
    assert sorted(seen) == ["BTCUSDT", "ETHUSDT"]
    await client.close()


async def test_rest_book_funding_ticker_match_truth(frozen: Emulator) -> None:
    client = frozen.connect("bybit", pro=False)
    sim, vm = frozen.sim, frozen.sim.market("bybit", BTC)
    ob = await client.fetch_order_book(BTC, 200)
    truth = frozen.truth_book("bybit", BTC, 200)
    assert [tuple(x) for x in ob["bids"]] == list(truth.bids)
    assert [tuple(x) for x in ob["asks"]] == list(truth.asks)
    fr = await client.fetch_funding_rate(BTC)
    f = sim.funding_now("bybit", BTC, FROZEN_MS)
    assert fr["fundingRate"] == float(fmt_rate(f.rate))
    assert fr["fundingTimestamp"] == f.next_time and fr["timestamp"] == FROZEN_MS
    assert fr["markPrice"] == float(fmt_px(vm, f.mark))
    assert fr["indexPrice"] == float(fmt_px(vm, f.index))
    assert fr["interval"] == f"{vm.funding_interval_h}h"
    rates = await client.fetch_funding_rates([BTC, ETH])
    assert set(rates) == {BTC, ETH}
    tk = await client.fetch_ticker(BTC)
    t24 = sim.ticker_24h("bybit", BTC, FROZEN_MS)
    assert tk["last"] == float(fmt_px(vm, t24.last)) and tk["baseVolume"] == float(
        fmt_qty(vm, t24.volume)
    )
    assert tk["bid"] == truth.bids[0][0] and tk["ask"] == truth.asks[0][0]
    await client.close()


async def test_funding_history_ohlcv_open_interest_match_truth(frozen: Emulator) -> None:
    client = frozen.connect("bybit", pro=False)
    sim, vm = frozen.sim, frozen.sim.market("bybit", BTC)
    since = FROZEN_MS - 30 * 24 * HOUR_MS
    rows = await client.fetch_funding_rate_history(BTC, since, 50)
    expect = sim.funding_history("bybit", BTC, since, since + 50 * 8 * HOUR_MS)
    assert [(r["timestamp"], r["fundingRate"]) for r in rows] == [
        (t, float(fmt_rate(x))) for t, x in expect
    ]
    assert len(rows) == 50
    # no window: the latest 200 (bybit's cap), even when asked for more
    raw = await client.public_get_v5_market_funding_history(
        {"category": "linear", "symbol": "BTCUSDT", "limit": 500}
    )
    assert len(raw["result"]["list"]) == 200
    assert (
        int(raw["result"]["list"][0]["fundingRateTimestamp"])
        == sim.funding_history("bybit", BTC, 0, FROZEN_MS)[-1][0]
    )
    candles = await client.fetch_ohlcv(BTC, "1h", since, 24)
    truth = sim.candles("bybit", BTC, HOUR_MS, since, since + 24 * HOUR_MS)
    truth = truth[truth[:, 0] >= since][:24]
    assert [c[0] for c in candles] == [int(r[0]) for r in truth]
    assert [c[1:5] for c in candles] == [
        [float(fmt_px(vm, float(x))) for x in r[1:5]] for r in truth
    ]
    assert [c[5] for c in candles] == [float(fmt_qty(vm, float(r[5]))) for r in truth]
    raw = await client.public_get_v5_market_kline(
        {"category": "linear", "symbol": "BTCUSDT", "interval": "1", "limit": 5000}
    )
    assert len(raw["result"]["list"]) == 1000  # kline limit cap
    oi = await client.fetch_open_interest(BTC)
    t_oi = FROZEN_MS // HOUR_MS * HOUR_MS
    assert oi["timestamp"] == t_oi
    assert oi["openInterestAmount"] == float(fmt_oi(vm, sim.open_interest("bybit", BTC, t_oi)))
    await client.close()


async def test_errors_map_to_ccxt_classes(frozen: Emulator) -> None:
    client = frozen.connect("bybit", pro=False)
    await client.load_markets()
    with pytest.raises(cx.BadSymbol):  # the venue's own answer, not ccxt's local check
        await client.public_get_v5_market_orderbook({"category": "linear", "symbol": "NOPEUSDT"})
    with pytest.raises(cx.BadSymbol):
        await client.public_get_v5_market_tickers({"category": "linear", "symbol": "NOPEUSDT"})
    with pytest.raises(cx.BadSymbol):
        await client.fetch_order_book("NOPE/USDT:USDT")
    frozen.faults.inject("bybit", "429", count=1)
    with pytest.raises(cx.RateLimitExceeded):
        await client.fetch_ticker(BTC)
    frozen.faults.inject("bybit", "418", count=1)  # bybit bans with 403 / 10018, no 418
    with pytest.raises(cx.RateLimitExceeded):
        await client.fetch_ticker(BTC)
    frozen.faults.inject("bybit", "5xx", count=1)
    with pytest.raises(cx.ExchangeNotAvailable):
        await client.fetch_ticker(BTC)
    with pytest.raises(cx.BadRequest):
        await client.public_get_v5_market_kline(
            {"category": "linear", "symbol": "BTCUSDT", "interval": "7"}
        )
    assert (await client.fetch_ticker(BTC))["symbol"] == BTC  # faults were one-shot
    await client.close()


async def test_bybit_pro_detects_a_lost_delta_and_resubscribes(live: Emulator) -> None:
    """The venue's BybitPro checks u continuity: a lost delta that bybit never heals
    (no snapshot follows) rejects the watcher once; the next watch unsubscribes and
    subscribes again, and the fresh snapshot's book is the truth."""
    venue = make_venue("bybit", client=live.connect("bybit"))
    client = venue.client
    assert isinstance(client, BybitPro)
    for _ in range(20):
        await client.watch_order_book(BTC)
    gap = live.faults.inject("bybit", "gap", count=1, snapshot_after=0)
    errors: list[str] = []
    for _ in range(100):
        try:
            await client.watch_order_book(BTC)
        except cx.InvalidNonce as exc:
            errors.append(type(exc).__name__)
    assert gap.fired == 1
    assert errors == ["InvalidNonce"] and client.book_failures == {"gap": 1}
    await settle_and_compare(live, client, BTC)
    await venue.close()


async def test_bybit_pro_gap_healed_by_server_snapshot_and_clean_stream(live: Emulator) -> None:
    """Bybit's own remedy (a snapshot pushed after a publishing problem) also resets
    the book; 1000 clean deltas raise nothing."""
    venue = make_venue("bybit", client=live.connect("bybit"))
    client = venue.client
    await client.watch_order_book(BTC)
    t = topic(live, BTC)
    u0 = t.u
    while t.u - u0 < 1000:
        await client.watch_order_book(BTC)
    assert client.book_failures == {}
    live.faults.inject("bybit", "gap", count=1, snapshot_after=2)
    errors = 0
    for _ in range(100):
        try:
            await client.watch_order_book(BTC)
        except cx.InvalidNonce:
            errors += 1
    assert errors == 1 and client.book_failures == {"gap": 1}
    await settle_and_compare(live, client, BTC)
    await venue.close()

"""Real ccxt / ccxt.pro okx clients against the emulator's okx v5 swap wire."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from ccxt.base import errors as cx
from emulator_helpers import running, wait_for, watch_through_drop

from perptui.core.okx_checksum import checksum_of_parsed, okx_checksum
from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS
from perptui.emulator import Clock, Emulator
from perptui.emulator.okx import FUNDING_HISTORY_CAP_MS, contracts, fmt_px, fmt_rate, num
from perptui.venues import make_venue
from perptui.venues.okx import OkxPro

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
FROZEN_MS = 1_731_000_000_000 + 1_234_567


@pytest.fixture
async def live() -> AsyncIterator[Emulator]:
    """Real clock, books stepped 20x faster than okx's 100 ms (5 ms)."""
    async with running(Emulator(seed=5, venues=("okx",), symbols=[BTC, ETH], speed=20)) as emu:
        yield emu


@pytest.fixture
async def frozen() -> AsyncIterator[Emulator]:
    emu = Emulator(seed=5, venues=("okx",), symbols=[BTC, ETH], clock=Clock(FROZEN_MS))
    async with running(emu):
        yield emu


def stream(emu: Emulator, symbol: str) -> Any:
    wire = emu.server.wires["okx"]
    return wire._streams[("books", emu.sim.market("okx", symbol).venue_id)]


async def settle_and_compare(emu: Emulator, client: Any, symbol: str) -> None:
    """Pause, let the client catch up to the last seqId sent, compare all 400 levels."""
    emu.pause()
    s = stream(emu, symbol)
    await wait_for(
        lambda: symbol in client.orderbooks and client.orderbooks[symbol]["nonce"] == s.last_seq
    )
    await asyncio.sleep(0.02)
    ob = client.orderbooks[symbol]
    truth = emu.truth_book("okx", symbol, 400)
    assert ob["nonce"] == s.last_seq
    assert [list(x) for x in ob["bids"]] == [list(x) for x in truth.bids]
    assert [list(x) for x in ob["asks"]] == [list(x) for x in truth.asks]
    assert len(ob["bids"]) == len(ob["asks"]) == 400
    emu.resume()


async def test_watch_order_book_converges_over_1000_updates(live: Emulator) -> None:
    client = live.connect("okx")
    await client.watch_order_book(BTC)
    s = stream(live, BTC)
    sent0 = live.stats["ws_messages"]
    checkpoint, checks = 250, 0
    while live.stats["ws_messages"] - sent0 < 1000:
        await client.watch_order_book(BTC)
        if live.stats["ws_messages"] - sent0 >= checkpoint:
            await settle_and_compare(live, client, BTC)
            checkpoint, checks = checkpoint + 250, checks + 1
    await settle_and_compare(live, client, BTC)
    assert checks >= 3 and s.conns
    await client.close()


async def test_seq_gap_raises_invalid_nonce_then_resyncs(live: Emulator) -> None:
    client = live.connect("okx")
    for _ in range(20):
        await client.watch_order_book(BTC)
    live.pause()
    gap = live.faults.inject("okx", "gap", count=1)
    while not gap.fired:
        live.step("okx")
    live.step("okx")  # its prevSeqId names the lost push: ccxt notices
    live.resume()
    errors = 0
    for _ in range(100):
        try:
            await client.watch_order_book(BTC)
        except cx.InvalidNonce:
            errors += 1  # ccxt dropped its book; the next watch unsubscribes + resubscribes
    assert errors == 1
    await settle_and_compare(live, client, BTC)
    await client.close()


async def test_dropped_connection_reconnects_and_converges(live: Emulator) -> None:
    client = live.connect("okx")
    errors = await watch_through_drop(live, client, "okx", BTC, updates=200)
    assert errors >= 1
    await settle_and_compare(live, client, BTC)
    await client.close()


async def test_wrong_checksum_is_visible_to_a_verifier_but_not_to_ccxt(live: Emulator) -> None:
    """ccxt.pro okx 4.5.90 does not check ``checksum``: a wrong one changes nothing in its
    book. A verifier over the raw frames (what an app would need) catches exactly it."""
    url = live.ws_base("okx") + "/ws/v5/public"
    arg = {"channel": "books", "instId": "BTC-USDT-SWAP"}
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_str("ping")
        assert (await ws.receive()).data == "pong"
        await ws.send_str(
            json.dumps(
                {"op": "subscribe", "args": [{"channel": "books", "instId": "NOPE-USDT-SWAP"}]}
            )
        )
        err = json.loads((await ws.receive()).data)
        assert err["event"] == "error" and err["code"] == "60018"
        await ws.send_str(json.dumps({"op": "subscribe", "args": [arg]}))
        assert json.loads((await ws.receive()).data) == {"event": "subscribe", "arg": arg}
        books: dict[str, dict[Decimal, list[str]]] = {"bids": {}, "asks": {}}
        bad: list[int] = []
        prev_seq = None
        for i in range(150):
            if i == 60:
                live.faults.inject("okx", "checksum", count=1)
            msg = json.loads((await ws.receive()).data)
            data = msg["data"][0]
            assert msg["action"] == ("snapshot" if i == 0 else "update")
            assert data["prevSeqId"] == (-1 if i == 0 else prev_seq)
            prev_seq = data["seqId"]
            for side in ("bids", "asks"):
                for row in data[side]:
                    if row[1] == "0":
                        books[side].pop(Decimal(row[0]), None)
                    else:
                        books[side][Decimal(row[0])] = row
            b = [books["bids"][k] for k in sorted(books["bids"], reverse=True)]
            a = [books["asks"][k] for k in sorted(books["asks"])]
            assert len(b) == len(a) == 400
            if okx_checksum(b, a) != data["checksum"]:
                bad.append(i)
        assert len(bad) == 1 and bad[0] >= 60
    # ccxt takes wrong checksums silently and still holds the true book
    client = live.connect("okx")
    for _ in range(10):
        await client.watch_order_book(BTC)
    fault = live.faults.inject("okx", "checksum", count=3)
    for _ in range(50):
        await client.watch_order_book(BTC)
    assert fault.fired == 3
    await settle_and_compare(live, client, BTC)
    ob = client.orderbooks[BTC]
    truth = live.truth_book("okx", BTC, 25)
    assert checksum_of_parsed(ob["bids"], ob["asks"]) == checksum_of_parsed(truth.bids, truth.asks)
    await client.close()


async def test_parsed_book_checksum_matches_frames(live: Emulator) -> None:
    """An app-level check is possible on ccxt's float book: the strings round-trip."""
    url = live.ws_base("okx") + "/ws/v5/public"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_str(
            json.dumps(
                {"op": "subscribe", "args": [{"channel": "books", "instId": "ETH-USDT-SWAP"}]}
            )
        )
        await ws.receive()
        for _ in range(30):
            data = json.loads((await ws.receive()).data)["data"][0]
        live.pause()
        await asyncio.sleep(0.05)
        while True:  # drain
            try:
                data = json.loads((await ws.receive(timeout=0.1)).data)["data"][0]
            except TimeoutError:
                break
        truth = live.truth_book("okx", ETH, 25)
        assert checksum_of_parsed(truth.bids, truth.asks) == data["checksum"]


async def test_markets_in_contracts(frozen: Emulator) -> None:
    client = frozen.connect("okx", pro=False)
    markets = await client.load_markets()
    assert set(markets) == {BTC, ETH}
    for sym, m in markets.items():
        vm = frozen.sim.market("okx", sym)
        assert m["id"] == vm.venue_id and m["swap"] and m["linear"]
        assert m["contractSize"] == float(vm.contract_size)
        assert m["precision"] == {"amount": float(vm.lot), "price": float(vm.tick)}
        assert m["limits"]["amount"]["min"] == float(vm.min_qty)
    assert markets[BTC]["contractSize"] == 0.01  # the real BTC-USDT-SWAP ctVal
    # a REST book is in contracts; x contractSize gives the simulator's base amounts
    ob = await client.fetch_order_book(BTC, 50)
    truth = frozen.truth_book("okx", BTC, 50)
    assert [tuple(x[:2]) for x in ob["bids"]] == list(truth.bids)
    assert [tuple(x[:2]) for x in ob["asks"]] == list(truth.asks)
    book = frozen.sim.book("okx", BTC)
    vm = frozen.sim.market("okx", BTC)
    for (price, amount, *_), (ticks, lots) in zip(ob["bids"], book.levels("bids", 50), strict=True):
        assert price == float(ticks * vm.tick)
        assert Decimal(str(amount)) * vm.contract_size == lots * vm.lot * vm.contract_size
    await client.close()


async def test_funding_and_capped_history(frozen: Emulator) -> None:
    client = frozen.connect("okx", pro=False)
    sim, vm = frozen.sim, frozen.sim.market("okx", BTC)
    fr = await client.fetch_funding_rate(BTC)
    f = sim.funding_now("okx", BTC, FROZEN_MS)
    assert fr["fundingRate"] == float(fmt_rate(f.rate))
    assert fr["fundingTimestamp"] == f.next_time
    assert fr["nextFundingTimestamp"] == f.next_time + vm.funding_interval_h * HOUR_MS
    assert fr["interval"] == f"{vm.funding_interval_h}h"
    mark = await client.fetch_mark_price(BTC)
    assert mark["markPrice"] == float(fmt_px(vm, f.mark))
    # `before` alone returns the newest page above it, as okx does
    since = FROZEN_MS - 30 * DAY_MS
    rows = await client.fetch_funding_rate_history(BTC, since, 50)
    newest = sim.funding_history("okx", BTC, since, FROZEN_MS)[-50:]
    assert [(r["timestamp"], r["fundingRate"]) for r in rows] == [
        (t, float(fmt_rate(x, 8))) for t, x in newest
    ]
    # page backwards with `after` until okx stops: only the last 3 months exist
    got: list[int] = []
    after = None
    for _ in range(10):
        params = {"instId": "BTC-USDT-SWAP", "limit": 100, **({"after": after} if after else {})}
        page = (await client.public_get_public_funding_rate_history(params))["data"]
        if not page:
            break
        assert len(page) <= 100
        got += [int(r["fundingTime"]) for r in page]
        after = page[-1]["fundingTime"]
    expect = sim.funding_history("okx", BTC, FROZEN_MS - FUNDING_HISTORY_CAP_MS, FROZEN_MS)
    assert sorted(got) == [t for t, _ in expect]
    assert min(got) >= FROZEN_MS - FUNDING_HISTORY_CAP_MS
    old = await client.fetch_funding_rate_history(BTC, FROZEN_MS - 200 * DAY_MS, 10)
    assert old and min(r["timestamp"] for r in old) >= FROZEN_MS - FUNDING_HISTORY_CAP_MS
    await client.close()


async def test_ohlcv_open_interest_and_limits(frozen: Emulator) -> None:
    client = frozen.connect("okx", pro=False)
    sim, vm = frozen.sim, frozen.sim.market("okx", BTC)

    def expected(tf: int, since: int, n: int) -> list[list[float]]:
        rows = sim.candles("okx", BTC, tf, since, since + n * tf)[:n]
        return [
            [
                int(r[0]),
                *(float(fmt_px(vm, float(x))) for x in r[1:5]),
                float(num(contracts(vm, float(r[5])) * vm.contract_size)),
            ]
            for r in rows
        ]

    recent = FROZEN_MS - 10 * HOUR_MS  # /market/candles
    assert await client.fetch_ohlcv(BTC, "1h", recent, 5) == expected(HOUR_MS, recent, 5)
    old = FROZEN_MS - 3 * DAY_MS  # older than 1439 bars of 1m: /market/history-candles
    assert await client.fetch_ohlcv(BTC, "1m", old, 50) == expected(MINUTE_MS, old, 50)
    q = {"instId": "BTC-USDT-SWAP", "bar": "1m", "limit": 1000}
    assert len((await client.public_get_market_candles(q))["data"]) == 300
    assert len((await client.public_get_market_history_candles(q))["data"]) == 300
    too_old = {**q, "after": str(FROZEN_MS - 2 * DAY_MS)}
    assert (await client.public_get_market_candles(too_old))["data"] == []  # latest 1440 only
    assert len((await client.public_get_market_history_candles(too_old))["data"]) == 300
    oi = await client.fetch_open_interest(BTC)
    cts = contracts(vm, sim.open_interest("okx", BTC, FROZEN_MS))
    assert oi["openInterestAmount"] == float(cts)  # contracts, as ccxt reports okx
    assert oi["baseVolume"] == float(cts * vm.contract_size)
    assert oi["timestamp"] == FROZEN_MS
    await client.close()


async def test_errors_map_to_ccxt_classes(frozen: Emulator) -> None:
    client = frozen.connect("okx", pro=False)
    await client.load_markets()
    with pytest.raises(cx.BadSymbol):
        await client.public_get_market_books({"instId": "NOPE-USDT-SWAP"})
    with pytest.raises(cx.BadSymbol):
        await client.public_get_public_funding_rate({"instId": "NOPE-USDT-SWAP"})
    frozen.faults.inject("okx", "429", count=1)
    with pytest.raises(cx.RateLimitExceeded):
        await client.fetch_order_book(BTC)
    frozen.faults.inject("okx", "5xx", count=1)
    with pytest.raises(cx.ExchangeNotAvailable):
        await client.fetch_order_book(BTC)
    with pytest.raises(cx.BadRequest):
        await client.public_get_market_candles({"instId": "BTC-USDT-SWAP", "bar": "7m"})
    assert (await client.fetch_order_book(BTC))["symbol"] == BTC
    await client.close()


def test_checksum_helpers_round_trip() -> None:
    assert num(Decimal("30244.0")) == "30244" and num(Decimal("0.00001")) == "0.00001"
    rows = [(30243.5, 1.44679), (30244.0, 0.08), (1e-05, 10.0)]
    strings = [("30243.5", "1.44679"), ("30244", "0.08"), ("0.00001", "10")]
    assert checksum_of_parsed(rows, rows) == okx_checksum(strings, strings)


async def test_okx_pro_rejects_a_wrong_checksum_and_resyncs(live: Emulator) -> None:
    """The venue's OkxPro (what make_venue hands the engine) checks every frame's
    checksum: a wrong one rejects the watcher once, the next watch resubscribes, and the
    book it then holds is the truth again, with the seqId chain and checksum intact."""
    venue = make_venue("okx", client=live.connect("okx"))
    client = venue.client
    assert isinstance(client, OkxPro)
    for _ in range(20):
        await client.watch_order_book(BTC)
    fault = live.faults.inject("okx", "checksum", count=1)
    errors: list[str] = []
    for _ in range(100):
        try:
            await client.watch_order_book(BTC)
        except cx.InvalidNonce as exc:
            errors.append(type(exc).__name__)
    assert fault.fired == 1
    assert errors == ["ChecksumError"] and client.book_failures == {"checksum": 1}
    await settle_and_compare(live, client, BTC)
    await venue.close()


async def test_okx_pro_takes_clean_and_gapped_streams_without_false_alarms(
    live: Emulator,
) -> None:
    """1000 clean updates: no checksum alarm; a seqId gap is still ccxt's InvalidNonce."""
    venue = make_venue("okx", client=live.connect("okx"))
    client = venue.client
    sent0 = live.stats["ws_messages"]
    while live.stats["ws_messages"] - sent0 < 1000:
        await client.watch_order_book(BTC)
    assert client.book_failures == {}
    gap = live.faults.inject("okx", "gap", count=1)
    errors = 0
    for _ in range(100):
        try:
            await client.watch_order_book(BTC)
        except cx.InvalidNonce:
            errors += 1
    assert gap.fired == 1 and errors == 1 and client.book_failures == {}
    await settle_and_compare(live, client, BTC)
    await venue.close()


async def test_okx_basis_is_its_stated_premium_in_the_hub(frozen: Emulator) -> None:
    """okx's funding-rate row has no mark or index; the funding panel's basis column
    reads okx's own premium (it was "—" for okx in every demo)."""
    from perptui.engine.hub import Hub

    venue = make_venue("okx", client=frozen.connect("okx", pro=False))
    try:
        await venue.load_markets()
        f = await venue.fetch_funding(BTC)
        assert f.mark_price is None and f.index_price is None
        premium = frozen.sim.premium("okx", BTC, FROZEN_MS)
        assert f.basis == pytest.approx(float(fmt_rate(premium)))
        hub = Hub([BTC], ["okx"])
        hub.set_funding(f)
        assert hub.sample().markets[("okx", BTC)].basis == f.basis
    finally:
        await venue.close()

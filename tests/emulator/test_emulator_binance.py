"""Real ccxt / ccxt.pro binanceusdm clients against the loopback emulator."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import ccxt
import pytest
from emulator_helpers import assert_book_matches, converge, running, shape, shape_diff

from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS
from perptui.emulator import Emulator
from perptui.emulator.clock import Clock

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
FROZEN_AT = 1_764_000_000_000  # 2025-11-24T16:00:00Z, a funding settlement


@pytest.fixture
async def frozen_emu():
    async with running(Emulator(seed=7, venues=("binance",), clock=Clock(FROZEN_AT + 1234))) as emu:
        yield emu


@pytest.fixture
async def fast_emu():
    # books step every 100 ms / 20: 1,000 updates in a few seconds of wall time
    async with running(Emulator(seed=3, venues=("binance",), speed=20)) as emu:
        yield emu


# ------------------------------------------------------------------------- REST truth


async def test_connect_points_every_url_at_the_emulator(frozen_emu: Emulator) -> None:
    client = frozen_emu.connect("binance")
    try:
        assert type(client).__name__ == "binanceusdm"
        assert client.enableRateLimit
        urls: list[str] = []

        def walk(v: Any) -> None:
            if isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, str):
                urls.append(v)

        walk(client.urls["api"])
        assert len(urls) > 20
        ok = (frozen_emu.http_base("binance"), frozen_emu.ws_base("binance"))
        assert all(u.startswith(ok) for u in urls), [u for u in urls if not u.startswith(ok)]
        # paths are kept: fapi REST and the /ws stream root
        assert client.urls["api"]["fapiPublic"] == frozen_emu.http_base("binance") + "/fapi/v1"
        assert client.urls["api"]["ws"]["linear"] == frozen_emu.ws_base("binance") + "/ws"
    finally:
        await client.close()


async def test_rest_parses_to_truth(frozen_emu: Emulator) -> None:
    emu = frozen_emu
    sim = emu.sim
    now = emu.clock.now_ms()
    client = emu.connect("binance", pro=False)
    try:
        markets = await client.load_markets()
        swaps = [s for s, m in markets.items() if m["swap"] and m["linear"]]
        assert {BTC, ETH, "SOL/USDT:USDT"} <= set(swaps) and len(swaps) >= 15
        assert len(markets) == len(swaps)  # only the USDⓈ-M exchangeInfo was loaded
        for sym in swaps:
            vm = sim.market("binance", sym)
            assert markets[sym]["precision"]["price"] == float(vm.tick)
            assert markets[sym]["precision"]["amount"] == float(vm.lot)

        fr = await client.fetch_funding_rate(BTC)
        truth = sim.funding_now("binance", BTC, now)
        assert fr["fundingRate"] == pytest.approx(truth.rate, abs=1e-12)
        assert fr["fundingTimestamp"] == truth.next_time
        assert fr["markPrice"] == pytest.approx(truth.mark, rel=1e-9)
        assert fr["indexPrice"] == pytest.approx(truth.index, rel=1e-9)

        since = now - 30 * DAY_MS
        hist = await client.fetch_funding_rate_history(BTC, since, 1000)
        want = sim.funding_history("binance", BTC, since, now)
        assert [(h["timestamp"], h["fundingRate"]) for h in hist] == [
            (t, pytest.approx(r, abs=1e-12)) for t, r in want
        ]
        assert len(hist) == 90 and all(
            b - a == 8 * HOUR_MS
            for a, b in zip(
                [h["timestamp"] for h in hist], [h["timestamp"] for h in hist[1:]], strict=False
            )
        )
        # backfill reach: 400 days back exists
        old = await client.fetch_funding_rate_history(BTC, now - 400 * DAY_MS, 10)
        assert len(old) == 10 and old[0]["timestamp"] >= now - 400 * DAY_MS

        ohlcv = await client.fetch_ohlcv(ETH, "1h", now - 48 * HOUR_MS, 24)
        rows = sim.candles("binance", ETH, HOUR_MS, now - 48 * HOUR_MS, now)[:24]
        tick = float(sim.market("binance", ETH).tick)
        assert [c[0] for c in ohlcv] == [int(r[0]) for r in rows]
        for c, r in zip(ohlcv, rows, strict=True):
            assert c[1] == pytest.approx(round(r[1] / tick) * tick, abs=tick / 10)
            assert c[4] == pytest.approx(round(r[4] / tick) * tick, abs=tick / 10)
            assert c[3] <= min(c[1], c[4]) <= max(c[1], c[4]) <= c[2]
        old_candles = await client.fetch_ohlcv(BTC, "1d", now - 400 * DAY_MS, 1000)
        assert len(old_candles) >= 400

        oi = await client.fetch_open_interest(BTC)
        lot = float(sim.market("binance", BTC).lot)
        assert oi["openInterestAmount"] == pytest.approx(
            sim.open_interest("binance", BTC, now), abs=lot
        )
        assert oi["timestamp"] == now

        ticker = await client.fetch_ticker("SOL/USDT:USDT")
        t24 = sim.ticker_24h("binance", "SOL/USDT:USDT", now)
        assert ticker["open"] == pytest.approx(t24.open, rel=1e-3)
        assert ticker["baseVolume"] > 0

        ob = await client.fetch_order_book(BTC, 1000)
        truth_book = emu.truth_book("binance", BTC)
        assert ob["nonce"] == truth_book.nonce
        assert [tuple(x) for x in ob["bids"]] == list(truth_book.bids)
        assert [tuple(x) for x in ob["asks"]] == list(truth_book.asks)
    finally:
        await client.close()


async def test_error_shapes_raise_ccxt_classes(frozen_emu: Emulator) -> None:
    emu = frozen_emu
    client = emu.connect("binance", pro=False)
    try:
        await client.load_markets()
        with pytest.raises(ccxt.BadSymbol):
            await client.fapiPublicGetPremiumIndex({"symbol": "NOPEUSDT"})
        with pytest.raises(ccxt.BadRequest):
            await client.fapiPublicGetFundingRate({"symbol": "BTCUSDT", "limit": 5000})

        emu.faults.inject("binance", "429", count=1, retry_after=3)
        with pytest.raises(ccxt.DDoSProtection) as info:  # RateLimitExceeded is a subclass
            await client.fetch_funding_rate(BTC)
        assert "429" in str(info.value)
        assert (await client.fetch_funding_rate(BTC))["symbol"] == BTC  # count=1: gone

        emu.faults.inject("binance", "418", count=1)
        with pytest.raises(ccxt.DDoSProtection):
            await client.fetch_open_interest(BTC)
        emu.faults.inject("binance", "5xx", count=1, status=503)
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await client.fetch_open_interest(BTC)
    finally:
        await client.close()


async def test_429_carries_retry_after(frozen_emu: Emulator) -> None:
    emu = frozen_emu
    emu.faults.inject("binance", "429", count=1, retry_after=7)
    url = emu.http_base("binance") + "/fapi/v1/premiumIndex?symbol=BTCUSDT"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as r:
            assert r.status == 429
            assert r.headers["Retry-After"] == "7"
            body = await r.json()
            assert body["code"] == -1003 and isinstance(body["msg"], str)
        async with http.get(url) as r:
            assert r.status == 200


# ------------------------------------------------------------------------- order book sync


async def test_watch_order_book_converges_over_1000_updates(fast_emu: Emulator) -> None:
    client = fast_emu.connect("binance")
    try:
        report = await converge(fast_emu, client, "binance", BTC, updates=1000, compare_every=250)
        assert report.updates >= 1000
        assert report.comparisons >= 5
        assert report.errors == []
        assert min(report.max_levels) >= 500
    finally:
        await client.close()


async def test_resyncs_after_sequence_gap(fast_emu: Emulator) -> None:
    emu = fast_emu
    client = emu.connect("binance")
    try:
        injected: list[bool] = []

        def gap_once(n: int) -> None:
            if n == 150 and not injected:
                emu.faults.inject("binance", "gap", count=1)
                injected.append(True)

        report = await converge(emu, client, "binance", ETH, updates=400, on_update=gap_once)
        # ccxt detects pu != its nonce, rejects with ChecksumError; re-calling resubscribes,
        # refetches the snapshot and the book is exact again
        assert "ChecksumError" in report.errors
        assert report.comparisons >= 2
    finally:
        await client.close()


async def test_resyncs_after_dropped_connection(fast_emu: Emulator) -> None:
    emu = fast_emu
    client = emu.connect("binance")
    try:

        def drop_once(n: int) -> None:
            if n == 120:
                emu.faults.inject("binance", "drop", count=1)

        report = await converge(emu, client, "binance", BTC, updates=400, on_update=drop_once)
        assert any(
            e in ("NetworkError", "RequestTimeout", "ExchangeNotAvailable") for e in report.errors
        ), report.errors
        assert report.comparisons >= 2
    finally:
        await client.close()


async def test_combined_stream_250ms_chain_and_daily_cut() -> None:
    clock = Clock(FROZEN_AT)
    emu = Emulator(seed=5, venues=("binance",), clock=clock, speed=10)
    await emu.start()
    try:
        url = emu.ws_base("binance") + "/stream?streams=btcusdt@depth@250ms/ethusdt@depth@100ms"
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            last: dict[str, int] = {}
            seen = {"btcusdt@depth@250ms": 0, "ethusdt@depth@100ms": 0}
            steps = {"btcusdt@depth@250ms": [], "ethusdt@depth@100ms": []}
            while min(seen.values()) < 6:
                msg = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
                name, data = msg["stream"], msg["data"]
                assert data["e"] == "depthUpdate" and data["s"] in ("BTCUSDT", "ETHUSDT")
                assert data["U"] <= data["u"]
                if name in last:
                    assert data["pu"] == last[name]  # unbroken chain
                last[name] = data["u"]
                seen[name] += 1
                steps[name].append(emu.sim.book("binance", BTC if name[0] == "b" else ETH).seq)
            # a 250 ms stream merges ~2.5 steps of the 100 ms book per event
            b = steps["btcusdt@depth@250ms"]
            assert (b[-1] - b[0]) / (len(b) - 1) > 2
            clock.advance(24 * HOUR_MS)  # binance cuts every connection after 24 h
            closed = False
            for _ in range(50):
                m = await asyncio.wait_for(ws.receive(), 5)
                if m.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    closed = True
                    break
            assert closed
    finally:
        await emu.stop()


async def test_same_seed_same_book_and_candles() -> None:
    async def snapshot(seed: int) -> tuple[Any, Any]:
        emu = Emulator(seed=seed, venues=("binance",), clock=Clock(FROZEN_AT))
        await emu.start()
        client = emu.connect("binance", pro=False)
        try:
            for _ in range(25):  # the same sequence of steps
                emu.sim.book("binance", BTC).step(emu.clock.now_ms())
                emu.clock.advance(100)
            ob = await client.fetch_order_book(BTC, 1000)
            candles = await client.fetch_ohlcv(BTC, "5m", FROZEN_AT - 10 * DAY_MS, 99)
            return (ob["bids"], ob["asks"], ob["nonce"]), candles
        finally:
            await client.close()
            await emu.stop()

    a, b, c = await snapshot(11), await snapshot(11), await snapshot(12)
    assert a == b
    assert a[0] != c[0] and a[1] != c[1]


async def test_book_matches_truth_after_rest_refresh(frozen_emu: Emulator) -> None:
    """A watched book stays exact while the (frozen) clock jumps forward."""
    emu = frozen_emu
    client = emu.connect("binance")
    try:
        await client.watch_order_book(ETH)
        for _ in range(5):
            emu.clock.advance(MINUTE_MS)
            await client.watch_order_book(ETH)
        await assert_book_matches(emu, client, "binance", ETH)
    finally:
        await client.close()


# ------------------------------------------------------------------------- shapes vs recordings


def _load(fixtures_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((fixtures_dir / "binance" / name).read_text())


def _path_and_query(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[1]


async def _get(emu: Emulator, path_query: str) -> Any:
    async with aiohttp.ClientSession() as http:
        async with http.get(emu.http_base("binance") + "/" + path_query) as r:
            assert r.status == 200, await r.text()
            return await r.json()


# recorder quirk (fixtures README): these numeric fields were stored as strings
_RECORDER_QUIRKS = {
    "fetchOrderBook.json": ("$.lastUpdateId", "$.E", "$.T"),
    "fetchTicker.json": ("$.openTime", "$.closeTime", "$.firstId", "$.lastId", "$.count"),
}


async def test_rest_shapes_match_recorded_payloads(
    frozen_emu: Emulator, fixtures_dir: Path
) -> None:
    emu = frozen_emu
    checked = []
    for name in sorted(p.name for p in (fixtures_dir / "binance").glob("*.json")):
        doc = _load(fixtures_dir, name)
        if "httpResponse" not in doc:
            continue
        url = doc["request"]["url"]
        if "/fapi/" not in url:
            # fetchTicker.json is the spot ticker (/api/v3): compare the fields the futures
            # ticker shares with it (every futures field exists there with the same type)
            assert name == "fetchTicker.json", name
            got = await _get(emu, "fapi/v1/ticker/24hr?symbol=BTCUSDT")
            diff = shape_diff(
                shape(got), shape(doc["httpResponse"], _RECORDER_QUIRKS[name]), subset=True
            )
            assert diff == [], (name, diff)
            checked.append(name)
            continue
        got = await _get(emu, _path_and_query(url))
        want = shape(doc["httpResponse"], _RECORDER_QUIRKS.get(name, ()))
        assert shape_diff(shape(got), want) == [], (name, shape_diff(shape(got), want))
        checked.append(name)
    assert {
        "fetchOHLCV.json",
        "fetchOrderBook.json",
        "fetchTicker.json",
        "rest_fundingRate_docexample.json",
        "rest_openInterest_docexample.json",
        "rest_premiumIndex_docexample.json",
    } <= set(checked)


async def test_depth_session_shapes_match_recording(
    frozen_emu: Emulator, fixtures_dir: Path
) -> None:
    emu = frozen_emu
    rec = _load(fixtures_dir, "ws_depth_session_SUSHIUSDT.json")
    # REST snapshot (live recording: numbers are numbers)
    snap = await _get(emu, "fapi/v1/depth?symbol=SUSHIUSDT&limit=1000")
    assert shape_diff(shape(snap), shape(rec["rest_snapshot"]["payload"])) == []
    # exchangeInfo symbol entry
    info = await _get(emu, "fapi/v1/exchangeInfo")
    entry = next(s for s in info["symbols"] if s["symbol"] == "SUSHIUSDT")
    want_entry = rec["exchange_info_symbol_entry"]["payload"]
    want_filters = {f["filterType"]: f for f in want_entry["filters"]}
    got_filters = {f["filterType"]: f for f in entry["filters"]}
    assert set(got_filters) == set(want_filters)
    for ft, f in want_filters.items():
        assert shape_diff(shape(got_filters[ft]), shape(f)) == [], ft
    strip = lambda d: {k: v for k, v in d.items() if k != "filters"}  # noqa: E731
    assert shape_diff(shape(strip(entry)), shape(strip(want_entry))) == []
    # combined-stream depth message
    url = emu.ws_base("binance") + "/stream?streams=sushiusdt@depth@100ms"
    emu.clock.advance(1)
    got = None
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        for _ in range(50):  # the server subscribes right after the handshake
            emu.step("binance")
            try:
                got = json.loads((await asyncio.wait_for(ws.receive(), 0.1)).data)
                break
            except TimeoutError:
                continue
    assert got is not None
    want_msg = rec["ws_messages"][0]["payload"]
    assert shape_diff(shape(got), shape(want_msg)) == []
    # the docs' example carries extra fields (ps, st) the live recording does not; every
    # field the emulator sends must still be there with the same type
    doc = _load(fixtures_dir, "ws_depthUpdate_docexample.json")["payload"]
    assert shape_diff(shape(got["data"]), shape(doc), subset=True) == []


async def test_recovers_from_malformed_frame_clean_close_and_stall(fast_emu: Emulator) -> None:
    emu = fast_emu
    client = emu.connect("binance")
    try:
        plan = {
            40: ("malformed", {}),  # ccxt.pro's receive loop dies silently: feed goes stale
            120: ("disconnect", {}),  # clean server close, like binance's 24 h cut
            200: ("latency", {"count": 20, "ms": 20}),
            240: ("stall", {}),  # socket open, nothing sent
        }

        def inject(n: int) -> None:
            if n in plan:
                kind, params = plan.pop(n)
                params.setdefault("count", 1)
                emu.faults.inject("binance", kind, **params)

        report = await converge(
            emu,
            client,
            "binance",
            "SOL/USDT:USDT",
            updates=320,
            on_update=inject,
            watch_timeout=1.5,
        )
        assert report.errors.count("Stale") == 2 and "NetworkError" in report.errors
        assert report.comparisons >= 2
    finally:
        await client.close()

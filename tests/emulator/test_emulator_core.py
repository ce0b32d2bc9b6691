"""The emulator's simulator, fault plan, server plumbing and standalone command."""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import signal
import sys
from decimal import Decimal

import aiohttp
import numpy as np
import pytest

from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS
from perptui.emulator import Emulator
from perptui.emulator.catalog import ASSETS, VENUES, venue_markets
from perptui.emulator.clock import Clock
from perptui.emulator.faults import FaultPlan, parse_duration_ms, parse_spec
from perptui.emulator.market import MarketSim
from perptui.emulator.server import check_loopback
from perptui.emulator.venue_base import rewrite_urls

BTC = "BTC/USDT:USDT"
NOW = 1_764_000_000_000  # 2025-11-24T16:00:00Z


def _sim(seed: int = 1, venues: tuple[str, ...] = VENUES) -> MarketSim:
    return MarketSim(seed=seed, venues=venues, clock=Clock(NOW))


# ------------------------------------------------------------------------- catalog


def test_catalog_lists_majors_and_a_dozen_more_per_venue() -> None:
    for venue in VENUES:
        markets = venue_markets(venue)
        bases = {m.base for m in markets}
        assert {"BTC", "ETH", "SOL"} <= bases and len(bases) >= 15
        intervals = {m.funding_interval_h for m in markets}
        if venue in ("hyperliquid", "dydx", "gmx"):
            assert intervals == {1}  # hourly funding (GMX: continuous, shown per hour)
        else:
            assert 8 in intervals and intervals & {1, 4}
        for m in markets:
            assert m.tick > 0 and m.lot > 0 and m.contract_size > 0
            assert m.fmt_price(12345) == f"{Decimal(12345) * m.tick:.{m.price_decimals}f}"
    okx_btc = next(m for m in venue_markets("okx") if m.base == "BTC")
    assert okx_btc.venue_id == "BTC-USDT-SWAP" and okx_btc.contract_size == Decimal("0.01")


# ------------------------------------------------------------------------- simulator


def test_clock_freeze_and_advance() -> None:
    clock = Clock()
    assert abs(clock.now_ms() - int(__import__("time").time() * 1000)) < 1000
    with pytest.raises(RuntimeError):
        clock.advance(5)
    clock.freeze(1000)
    clock.advance(250)
    assert clock.now_ms() == 1250 and clock.frozen
    clock.unfreeze()
    assert not clock.frozen


def test_same_seed_same_market_different_seed_differs() -> None:
    a, b, c = _sim(4), _sim(4), _sim(5)
    for sim in (a, b, c):
        book = sim.book("bybit", BTC)
        for _ in range(200):
            book.step(sim.clock.now_ms())
            sim.clock.advance(100)
    ca = a.candles("okx", "ETH/USDT:USDT", HOUR_MS, NOW - 30 * DAY_MS, NOW)
    cb = b.candles("okx", "ETH/USDT:USDT", HOUR_MS, NOW - 30 * DAY_MS, NOW)
    assert np.array_equal(ca, cb)
    assert a.book("bybit", BTC).levels("bids") == b.book("bybit", BTC).levels("bids")
    assert a.funding_history("binance", BTC, NOW - DAY_MS * 90, NOW) == b.funding_history(
        "binance", BTC, NOW - DAY_MS * 90, NOW
    )
    assert a.book("bybit", BTC).levels("asks") != c.book("bybit", BTC).levels("asks")
    assert not np.array_equal(
        ca, c.candles("okx", "ETH/USDT:USDT", HOUR_MS, NOW - 30 * DAY_MS, NOW)
    )


def test_history_is_stable_as_time_moves_on() -> None:
    """Past candles and funding do not change when the clock advances (backfill resumes)."""
    sim = _sim(2)
    before = sim.candles("binance", BTC, MINUTE_MS, NOW - 3 * HOUR_MS, NOW - HOUR_MS)
    f_before = sim.funding_history("binance", BTC, NOW - 20 * DAY_MS, NOW)
    sim.clock.advance(5 * DAY_MS)
    assert np.array_equal(
        before, sim.candles("binance", BTC, MINUTE_MS, NOW - 3 * HOUR_MS, NOW - HOUR_MS)
    )
    assert sim.funding_history("binance", BTC, NOW - 20 * DAY_MS, NOW) == f_before


def test_book_invariants_and_id_chain() -> None:
    sim = _sim(3)
    for venue, sym in (("binance", BTC), ("okx", "DOGE/USDT:USDT"), ("bybit", "SOL/USDT:USDT")):
        book = sim.book(venue, sym)
        prev_last = book.last_id
        for i in range(600):
            diff = book.step(sim.clock.now_ms())
            sim.clock.advance(100)
            assert diff.prev_id == prev_last and diff.first_id == prev_last + 1
            assert diff.last_id >= diff.first_id and diff.seq == i + 1
            prev_last = diff.last_id
            assert diff.bids or diff.asks
        bids, asks = book.levels("bids"), book.levels("asks")
        assert len(bids) >= 500 and len(asks) >= 500
        assert all(a[0] > b[0] for a, b in itertools.pairwise(bids))
        assert all(a[0] < b[0] for a, b in itertools.pairwise(asks))
        assert bids[0][0] < asks[0][0]
        assert all(q > 0 for _, q in bids + asks)
        # the book sits on the market's mark price (within a couple of ticks)
        mid = (bids[0][0] + asks[0][0]) / 2 * float(book.market.tick)
        assert abs(mid / sim.mark_price(venue, sym) - 1) < 0.001


def test_prices_realistic_correlated_and_sometimes_diverging() -> None:
    sim = _sim(9)
    start = NOW - 400 * DAY_MS
    daily = sim.candles("binance", BTC, DAY_MS, start, NOW)
    assert len(daily) >= 400
    vol = np.diff(np.log(daily[:, 4])).std() * math.sqrt(365)
    assert 0.3 < vol < 1.2
    assert 0.2 < daily[-1, 4] / ASSETS["BTC"].price < 5
    h = {v: sim.candles(v, BTC, HOUR_MS, NOW - 60 * DAY_MS, NOW)[:, 4] for v in VENUES}
    r = {v: np.diff(np.log(x)) for v, x in h.items()}
    assert np.corrcoef(r["binance"], r["bybit"])[0, 1] > 0.9
    gap_bps = np.abs(h["binance"] / h["okx"] - 1) * 1e4
    assert not np.array_equal(h["binance"], h["okx"])
    assert np.median(gap_bps) < 10 and gap_bps.max() > 15  # mostly tight, sometimes not


def test_funding_ranges_intervals_and_episodes() -> None:
    sim = _sim(6)
    rates = []
    for sym in ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "DOGE/USDT:USDT"):
        hist = sim.funding_history("binance", sym, NOW - 400 * DAY_MS, NOW)
        assert len(hist) == 1201  # 8 h for 400 days, both ends settlements
        assert hist[-1][0] <= NOW
        rates += [r for _, r in hist]
    arr = np.abs(np.array(rates))
    assert np.median(arr) <= 0.00015  # typical ~0.01 %
    assert (arr > 0.001).sum() >= 3  # episodes beyond 0.1 %
    fast = next(m for m in sim.markets("binance") if m.funding_interval_h < 8)
    fh = sim.funding_history("binance", fast.symbol, NOW - DAY_MS, NOW)
    assert len(fh) == 24 // fast.funding_interval_h + 1  # inclusive ends
    now = sim.funding_now("binance", BTC)
    assert now.next_time > NOW and (now.next_time % (8 * HOUR_MS)) == 0
    assert -0.0075 <= now.rate <= 0.0075 and now.mark > 0 and now.index > 0


def test_open_interest_and_ticker() -> None:
    sim = _sim(8)
    oi = sim.open_interest("binance", BTC)
    assert 0.5 * 8e9 / 68000 < oi < 1.5 * 8e9 / 68000
    t = sim.ticker_24h("okx", "ETH/USDT:USDT")
    assert t.low <= min(t.open, t.last) <= max(t.open, t.last) <= t.high
    assert t.volume > 0 and t.close_time == NOW


# ------------------------------------------------------------------------- faults


def test_fault_specs_parse() -> None:
    f = parse_spec("429:0.05")
    assert (f.kind, f.prob, f.venue) == ("429", 0.05, None)
    f = parse_spec("binance/drop:every=30s")
    assert (f.kind, f.every_ms, f.venue) == ("drop", 30_000, "binance")
    f = parse_spec("latency:ms=80,jitter=20")
    assert f.params == {"ms": 80, "jitter": 20}
    f = parse_spec("stall:every=1m,duration=5s")
    assert f.every_ms == 60_000 and f.params["duration"] == 5000
    assert parse_spec("5xx:502").params["status"] == 502
    assert parse_duration_ms("24h") == 86_400_000
    with pytest.raises(ValueError):
        parse_spec("meteor:1")
    with pytest.raises(ValueError):
        parse_duration_ms("soon")


def test_fault_plan_is_seeded_counted_and_periodic() -> None:
    def pattern(seed: int) -> list[bool]:
        plan = FaultPlan(seed, Clock(0))
        plan.inject("bybit", "gap", prob=0.3)
        return [plan.check("bybit", "gap") is not None for _ in range(200)]

    assert pattern(1) == pattern(1) and pattern(1) != pattern(2)
    assert 30 < sum(pattern(1)) < 90
    plan = FaultPlan(0, Clock(0))
    plan.inject(None, "429", count=2)
    assert plan.check("okx", "429") and plan.check("binance", "429")
    assert plan.check("okx", "429") is None
    plan.inject("okx", "drop", every="10s")
    assert plan.check("okx", "drop", "c1") is None  # the period starts now
    plan.clock.advance(10_000)
    assert plan.check("binance", "drop", "c1") is None  # other venue
    assert plan.check("okx", "drop", "c1") is not None
    assert plan.check("okx", "drop", "c1") is None
    plan.clear()
    assert plan.list() == []


# ------------------------------------------------------------------------- server / connect


def test_rewrite_urls_keeps_paths() -> None:
    api = {
        "rest": "https://api.bybit.com",
        "ws": {"public": {"linear": "wss://stream.bybit.com/v5/public/linear"}},
        "list": ["https://x.y/z"],
        "n": 3,
    }
    got = rewrite_urls(api, "http://127.0.0.1:9/bybit", "ws://127.0.0.1:9/bybit")
    assert got["rest"] == "http://127.0.0.1:9/bybit"
    assert got["ws"]["public"]["linear"] == "ws://127.0.0.1:9/bybit/v5/public/linear"
    assert got["list"] == ["http://127.0.0.1:9/bybit/z"] and got["n"] == 3


def test_refuses_non_loopback_bind() -> None:
    check_loopback("127.0.0.1")
    for host in ("0.0.0.0", "192.168.1.2", "example.com", "::"):
        with pytest.raises(ValueError):
            check_loopback(host)
    with pytest.raises(ValueError):
        Emulator(venues=("binance",), host="0.0.0.0")


async def test_control_endpoint_and_health() -> None:
    emu = Emulator(seed=0, venues=("binance",), clock=Clock(NOW))
    port = await emu.start()
    base = f"http://127.0.0.1:{port}/_emulator"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/health") as r:
                health = await r.json()
                assert health["ok"] and health["venues"] == ["binance"] and health["now"] == NOW
            async with http.post(base + "/faults", json={"spec": "binance/429:1.0"}) as r:
                assert r.status == 200 and (await r.json())["kind"] == "429"
            async with http.post(base + "/faults", json={"kind": "latency", "ms": 5}) as r:
                assert r.status == 200
            async with http.post(base + "/faults", json={"spec": "nope"}) as r:
                assert r.status == 400
            async with http.get(base + "/faults") as r:
                assert [f["kind"] for f in await r.json()] == ["429", "latency"]
            async with http.get(emu.http_base("binance") + "/fapi/v1/ping") as r:
                assert r.status == 429
            async with http.delete(base + "/faults") as r:
                assert r.status == 200
            async with http.get(emu.http_base("binance") + "/fapi/v1/ping") as r:
                assert r.status == 200 and await r.json() == {}
            async with http.get(emu.http_base("binance") + "/fapi/v1/nothing") as r:
                assert r.status == 404
    finally:
        await emu.stop()


async def test_books_step_only_while_subscribed() -> None:
    emu = Emulator(seed=0, venues=("binance",), speed=20)
    await emu.start()
    try:
        client = emu.connect("binance")
        book = emu.sim.book("binance", "ETH/USDT:USDT")
        seq0 = book.seq
        await asyncio.sleep(0.2)
        assert book.seq == seq0  # nobody listening: not stepped
        await client.watch_order_book("ETH/USDT:USDT")
        await client.watch_order_book("ETH/USDT:USDT")
        assert book.seq > seq0 and book.listeners
        await client.close()
        await asyncio.sleep(0.2)
        assert not book.listeners
        seq1 = book.seq
        await asyncio.sleep(0.2)
        assert book.seq == seq1
    finally:
        await emu.stop()


async def test_standalone_command_serves_until_interrupted() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "perptui",
        "emulator",
        "--venues",
        "binance",
        "--port",
        "0",
        "--fault",
        "latency:ms=1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert "127.0.0.1:" in first
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        rest_url = line.split("REST ")[1].split()[0]
        assert rest_url.startswith("http://127.0.0.1:") and rest_url.endswith("/binance")
        async with aiohttp.ClientSession() as http:
            async with http.get(rest_url + "/fapi/v1/time") as r:
                assert "serverTime" in await r.json()
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

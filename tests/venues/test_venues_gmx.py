"""GMX v2 adapter on the recorded /tokens, /markets and /prices/tickers bodies.

No complete /markets/info body was ever recorded (README_dex.md, Gaps), so the pool tests
use one hand-written entry in GMX's documented shape with round raw integers, and every
expected number is worked out by hand in the comments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perptui.core.pool import price_impact_usd
from perptui.errors import CapabilityMissing
from perptui.venues import make_venue

BTC = "BTC/USD:USD"
BTC_POOL = "0x47c031236e19d024b42f8AE6780E44A573170703"  # BTC/USD [WBTC.b-USDC]
E30 = 10**30


def body(fixtures_dir: Path, name: str) -> Any:
    return json.loads((fixtures_dir / "gmx" / f"{name}.json").read_text())["httpResponse"]


class FakeGmx:
    """The transport: answers GETs by path from recorded or hand-written bodies."""

    id = "gmx"
    enableRateLimit = True

    def __init__(self, routes: dict[str, Any], now_ms: int = 1_783_345_314_888) -> None:
        self.routes = routes
        self.calls: list[tuple[str, dict[str, Any] | None]] = []
        self.now = now_ms

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        self.calls.append((path, params))
        route = self.routes[path]
        return route(params or {}) if callable(route) else json.loads(json.dumps(route))

    def milliseconds(self) -> int:
        return self.now

    async def close(self) -> None:
        pass


def info_entry(**over: Any) -> dict[str, Any]:
    entry = {
        "name": "BTC/USD [WBTC.b-USDC]",
        "marketToken": BTC_POOL,
        "openInterestLong": str(50_000_000 * E30),  # $50M
        "openInterestShort": str(40_000_000 * E30),  # $40M
        "availableLiquidityLong": str(25_000_000 * E30),
        "availableLiquidityShort": str(60_000_000 * E30),
        # -0.0876 a year = -0.00001 an hour (8760 h): longs pay 0.001 %/h
        "fundingRateLong": str(-876 * 10**26),
        # receivers: 0.0876 x 50/40 = 0.1095 a year = 0.0000125 an hour
        "fundingRateShort": str(1095 * 10**26),
        "borrowingRateLong": str(876 * 10**25),  # 0.00876 a year = 0.000001 an hour
        "borrowingRateShort": "0",
        "positionImpactFactorPositive": str(5 * 10**19),  # 5e-11 per USD^2
        "positionImpactFactorNegative": str(10**20),  # 1e-10 per USD^2
        "positionImpactExponentFactor": str(2 * E30),
    }
    entry.update(over)
    return entry


def routes(fixtures_dir: Path, **extra: Any) -> dict[str, Any]:
    r = {
        "/tokens": body(fixtures_dir, "tokens_arbitrum"),
        "/markets": body(fixtures_dir, "markets_arbitrum"),
        "/prices/tickers": body(fixtures_dir, "prices_tickers_arbitrum"),
        "/markets/info": {"markets": [info_entry()]},
    }
    r.update(extra)
    return r


async def test_markets_from_the_recorded_catalogue(fixtures_dir: Path) -> None:
    listed = [
        m
        for m in body(fixtures_dir, "markets_arbitrum")["markets"]
        if m["isListed"] and int(m["indexToken"], 16) != 0
    ]
    venue = make_venue("gmx", client=FakeGmx(routes(fixtures_dir)))
    async with venue:
        markets = await venue.load_markets()
    assert len(markets) == len(listed) == 124  # swap-only and unlisted markets dropped
    assert markets[BTC].id == BTC_POOL and markets[BTC].funding_interval_hours == 1.0
    # the other BTC pools keep their pool name
    assert "BTC/USD:USD [tBTC-tBTC]" in markets and "BTC/USD:USD [WBTC.b-WBTC.b]" in markets
    assert markets["ETH/USD:USD"].id == next(
        m["marketToken"] for m in listed if m["name"] == "ETH/USD [ETH-USDC]"
    )
    # a bare BTC request, another venue's symbol and the pool address all find it
    assert venue.market("BTC/USDT:USDT").symbol == BTC
    assert venue.market(BTC_POOL.lower()).symbol == BTC


async def test_prices_decode_against_the_hand_computed_reference(fixtures_dir: Path) -> None:
    ref = json.loads((fixtures_dir / "gmx" / "prices_tickers_arbitrum.json").read_text())
    expected = {r["tokenSymbol"]: r for r in ref["derived_for_reference_not_part_of_payload"]}
    venue = make_venue("gmx", client=FakeGmx(routes(fixtures_dir)))
    async with venue:
        btc = await venue.fetch_ticker(BTC)
        eth = await venue.fetch_ticker("ETH")
    # raw / 10^(30 - decimals): BTC has 8 decimals, ETH 18
    assert btc.last == pytest.approx(
        (expected["BTC"]["minPrice_usd"] + expected["BTC"]["maxPrice_usd"]) / 2, rel=1e-12
    )
    assert eth.last == pytest.approx(1739.495434083952, rel=1e-12)


async def test_funding_borrowing_and_asymmetry_by_hand(fixtures_dir: Path) -> None:
    transport = FakeGmx(routes(fixtures_dir))
    venue = make_venue("gmx", client=transport)
    async with venue:
        pool = await venue.fetch_pool(BTC)
        funding = await venue.fetch_funding(BTC)
        oi = await venue.fetch_open_interest(BTC)
    assert pool.funding_long_h == pytest.approx(-0.00001, rel=1e-12)
    assert pool.funding_short_h == pytest.approx(0.0000125, rel=1e-12)
    assert pool.borrowing_long_h == pytest.approx(0.000001, rel=1e-12)
    assert pool.borrowing_short_h == 0.0
    assert pool.paying_side == "long"
    assert (pool.oi_long_usd, pool.oi_short_usd) == (50e6, 40e6)
    assert (pool.cap_long_usd, pool.cap_short_usd) == (75e6, 100e6)
    # perptui's sign: positive = longs pay
    assert funding.funding_rate == pytest.approx(0.00001, rel=1e-12)
    assert funding.interval_hours == 1.0 and funding.next_funding_time is None
    assert oi.value == 90e6 and oi.amount == pytest.approx(90e6 / funding.mark_price)


async def test_receiving_side_is_derived_when_only_payers_are_given(fixtures_dir: Path) -> None:
    entry = info_entry()
    del entry["fundingRateShort"]
    venue = make_venue(
        "gmx", client=FakeGmx(routes(fixtures_dir, **{"/markets/info": {"markets": [entry]}}))
    )
    async with venue:
        pool = await venue.fetch_pool(BTC)
    assert pool.funding_short_h == pytest.approx(0.00001 * 50 / 40, rel=1e-12)


async def test_price_impact_by_hand(fixtures_dir: Path) -> None:
    venue = make_venue("gmx", client=FakeGmx(routes(fixtures_dir)))
    async with venue:
        pool = await venue.fetch_pool(BTC)
    by_size = {q.size_usd: q for q in pool.impacts}
    # imbalance d = 50M - 40M = 10M longs. A $1M long: d' = 11M, it worsens the balance:
    # -(11e6^2 - 10e6^2) x 1e-10 = -2100 USD = -21 bps of $1M.
    assert by_size[1e6].long_bps == pytest.approx(-21.0, rel=1e-9)
    # a $1M short: d' = 9M, improves it: (10e6^2 - 9e6^2) x 5e-11 = +950 USD = +9.5 bps
    assert by_size[1e6].short_bps == pytest.approx(9.5, rel=1e-9)
    # a $25M short flips the book: 10e6^2 x 5e-11 - 15e6^2 x 1e-10 = 5000 - 22500
    assert price_impact_usd(50e6, 40e6, 25e6, False, 5e-11, 1e-10, 2) == pytest.approx(-17500)
    assert price_impact_usd(40e6, 40e6, 1e6, True, 5e-11, 1e-10, 2) == pytest.approx(-100)


async def test_no_book_no_funding_history_said_plainly(fixtures_dir: Path) -> None:
    venue = make_venue("gmx", client=FakeGmx(routes(fixtures_dir)))
    async with venue:
        with pytest.raises(CapabilityMissing, match="no order book"):
            await venue.fetch_order_book(BTC)
        with pytest.raises(CapabilityMissing, match="keeps no funding history"):
            await venue.fetch_funding_history(BTC, 0)


async def test_candles_latest_limit_only(fixtures_dir: Path) -> None:
    hour = 3_600_000
    now = 1_783_345_314_888
    newest = now // hour * hour

    def candles(q: dict[str, Any]) -> dict[str, Any]:
        n = int(q["limit"])
        rows = [[(newest - k * hour) // 1000, 10 + k, 12 + k, 9 + k, 11 + k] for k in range(n)]
        return {"period": q["period"], "candles": rows}  # newest first, seconds

    transport = FakeGmx(routes(fixtures_dir, **{"/prices/candles": candles}), now)
    venue = make_venue("gmx", client=transport)
    async with venue:
        page = await venue.fetch_ohlcv_history(BTC, "1h", newest - 5 * hour)
        old = await venue.fetch_ohlcv_history(BTC, "1h", newest - 20_000 * hour)
    assert transport.calls[-2] == (
        "/prices/candles",
        {"tokenSymbol": "BTC", "period": "1h", "limit": 6},
    )
    assert [c.timestamp for c in page.rows] == [newest - k * hour for k in range(5, -1, -1)]
    assert page.rows[-1].open == 10 and page.rows[-1].volume == 0.0
    assert len(old.rows) == 10_000 and old.reached_cap and "only the latest 10000" in old.note

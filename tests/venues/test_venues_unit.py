"""Venue behaviour beyond single recorded payloads: paging, caps, retries, errors, factory.

History tests serve synthetic pages computed from the request's query string, in each
venue's own wire format and range semantics (binance: oldest rows from startTime; bybit
and okx: newest rows of the range), so ccxt still builds every request and parses every
response for real.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest
from venue_fixtures import Transport, fixture_venue, markets, path, query

from perptui.core.metrics import depth_metrics
from perptui.core.model import MarketInfo
from perptui.errors import (
    CapabilityMissing,
    RateLimited,
    UnknownExchange,
    UnknownSymbol,
    VenueError,
    VenueUnreachable,
)
from perptui.venues import CcxtVenue, make_venue
from perptui.venues.binance import BinanceVenue
from perptui.venues.okx import OkxVenue
from perptui.venues.paging import Pager

BTC = "BTC/USDT:USDT"
HOUR = 3_600_000
DAY = 24 * HOUR


def now_hour() -> int:
    import time

    return int(time.time() * 1000) // HOUR * HOUR


# --------------------------------------------------------------- synthetic series


class Series:
    """A regular series of timestamps [first, last] with a deterministic value."""

    def __init__(self, first: int, last: int, step: int) -> None:
        self.first, self.last, self.step = first, last, step

    def times(self, lo: int, hi: int) -> list[int]:
        lo = max(lo, self.first)
        hi = min(hi, self.last)
        if lo > hi:
            return []
        start = self.first + math.ceil((lo - self.first) / self.step) * self.step
        return list(range(start, hi + 1, self.step))

    @staticmethod
    def rate(t: int) -> float:
        return round(((t // HOUR) % 17 - 8) * 1e-5, 8)


def oldest(ts: list[int], limit: int) -> list[int]:
    return ts[:limit]


def newest(ts: list[int], limit: int) -> list[int]:
    return ts[-limit:] if limit else []


def binance_funding(series: Series, served: list[tuple[int, int, int]]) -> Callable:
    def respond(url: str, q: dict[str, str]) -> Any:
        lo, hi, limit = int(q["startTime"]), int(q["endTime"]), int(q["limit"])
        assert limit <= 1000
        served.append((lo, hi, limit))
        return [
            {"symbol": q["symbol"], "fundingRate": f"{series.rate(t):.8f}", "fundingTime": t}
            for t in oldest(series.times(lo, hi), limit)
        ]

    return respond


def kline_row(t: int) -> list[str]:
    base = 30_000 + (t // HOUR) % 500
    return [str(t), str(base), str(base + 5), str(base - 5), str(base + 1), "12.5"]


def binance_klines(series: Series, served: list) -> Callable:
    def respond(url: str, q: dict[str, str]) -> Any:
        lo, hi, limit = int(q["startTime"]), int(q["endTime"]), int(q["limit"])
        assert limit <= 1500
        served.append((lo, hi, limit))
        return [
            [t, *kline_row(t)[1:], t + series.step - 1, "1", 3, "1", "1", "0"]
            for t in oldest(series.times(lo, hi), limit)
        ]

    return respond


def bybit_funding(series: Series, served: list) -> Callable:
    def respond(url: str, q: dict[str, str]) -> Any:
        assert "endTime" in q, "bybit rejects startTime without endTime"
        lo, hi, limit = int(q["startTime"]), int(q["endTime"]), int(q["limit"])
        assert limit <= 200
        served.append((lo, hi, limit))
        rows = [
            {
                "symbol": q["symbol"],
                "fundingRate": str(series.rate(t)),
                "fundingRateTimestamp": str(t),
            }
            for t in reversed(newest(series.times(lo, hi), limit))
        ]
        return {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": rows}}

    return respond


def bybit_kline(series: Series, served: list) -> Callable:
    def respond(url: str, q: dict[str, str]) -> Any:
        lo, hi, limit = int(q["start"]), int(q["end"]), int(q["limit"])
        assert limit <= 1000
        served.append((lo, hi, limit))
        rows = [[*kline_row(t), "1000"] for t in reversed(newest(series.times(lo, hi), limit))]
        result = {"symbol": q["symbol"], "category": "linear", "list": rows}
        return {"retCode": 0, "retMsg": "OK", "result": result}

    return respond


def okx_range(q: dict[str, str]) -> tuple[int, int]:
    # before: newer than (exclusive); after: older than (exclusive)
    lo = int(q["before"]) + 1 if "before" in q else 0
    hi = int(q["after"]) - 1 if "after" in q else 2**62
    return lo, hi


def okx_funding(series: Series, served: list, *, page_cap: int = 400, retain: int = 90 * DAY):
    def respond(url: str, q: dict[str, str]) -> Any:
        lo, hi = okx_range(q)
        limit = min(int(q.get("limit", 400)), page_cap)
        served.append((lo, hi, limit))
        lo = max(lo, now_hour() - retain)
        rows = [
            {
                "instType": "SWAP",
                "instId": q["instId"],
                "fundingRate": str(series.rate(t) + 1e-6),
                "realizedRate": str(series.rate(t)),
                "fundingTime": str(t),
            }
            for t in reversed(newest(series.times(lo, hi), limit))
        ]
        return {"code": "0", "msg": "", "data": rows}

    return respond


def okx_candles(series: Series, served: list) -> Callable:
    def respond(url: str, q: dict[str, str]) -> Any:
        lo, hi = okx_range(q)
        limit = int(q["limit"])
        assert limit <= 300
        served.append((lo, hi, limit))
        rows = [
            [*kline_row(t), "100", "100", "1"]
            for t in reversed(newest(series.times(lo, hi), limit))
        ]
        return {"code": "0", "msg": "", "data": rows}

    return respond


async def history_venue(fixtures_dir: Path, exchange: str, routes: dict[str, Any]) -> Any:
    venue, transport = fixture_venue(exchange, markets(fixtures_dir, exchange), routes)
    # ccxt's throttle would only add wall time here (2-3 s for binance's weight-10 pages)
    venue.client.enableRateLimit = False
    pinned = now_hour()
    venue.now_ms = lambda: pinned  # the clock caps are measured on, pinned to the series
    await venue.load_markets()
    transport.calls.clear()
    return venue, transport


def assert_complete(page: Any, expected: list[int], pages: list[list[Any]]) -> None:
    got = [r.timestamp for r in page.rows]
    assert got == expected, f"{len(got)} rows vs {len(expected)} expected"
    # handed on oldest first, page after page, nothing twice
    assert [r.timestamp for chunk in pages for r in chunk] == expected


# ------------------------------------------------------------------ history paging

CASES = {
    # venue, kind, route, responder, step, days, page size
    "binance-funding": (
        "binance",
        "funding",
        "/fapi/v1/fundingRate",
        binance_funding,
        8 * HOUR,
        400,
        1000,
    ),
    "binance-ohlcv": ("binance", "ohlcv", "/fapi/v1/klines", binance_klines, HOUR, 365, 1500),
    "bybit-funding": (
        "bybit",
        "funding",
        "/v5/market/funding/history",
        bybit_funding,
        8 * HOUR,
        365,
        200,
    ),
    "bybit-ohlcv": ("bybit", "ohlcv", "/v5/market/kline", bybit_kline, HOUR, 365, 1000),
    "okx-ohlcv": ("okx", "ohlcv", "/api/v5/market/history-candles", okx_candles, HOUR, 100, 300),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_history_costs_ceil_rows_over_page(fixtures_dir: Path, case: str) -> None:
    exchange, kind, route, make, step, days, page_size = CASES[case]
    now = now_hour()
    series = Series(now - 2 * 365 * DAY, now, step)
    served: list[tuple[int, int, int]] = []
    responder = make(series, served)
    routes = {route: responder}
    if exchange == "okx":
        routes["/api/v5/market/candles"] = responder  # recent windows use the live endpoint
    venue, transport = await history_venue(fixtures_dir, exchange, routes)
    since = now - days * DAY + 3 * 60_000  # deliberately not on a row boundary
    pages: list[list[Any]] = []
    async with venue:
        assert venue.page_limits[kind] == page_size
        if kind == "funding":
            page = await venue.fetch_funding_history(BTC, since, now, on_page=pages.append)
        else:
            page = await venue.fetch_ohlcv_history(BTC, "1h", since, now, on_page=pages.append)
    expected = series.times(since, now)
    assert_complete(page, expected, pages)
    assert page.requests == len(transport.calls) == math.ceil(len(expected) / page_size)
    assert all(limit == page_size for _, _, limit in served)
    assert not page.reached_cap and page.note == ""


async def test_funding_records_carry_the_served_rates(fixtures_dir: Path) -> None:
    now = now_hour()
    series = Series(now - 30 * DAY, now, 8 * HOUR)
    venue, _ = await history_venue(
        fixtures_dir, "bybit", {"/v5/market/funding/history": bybit_funding(series, [])}
    )
    async with venue:
        page = await venue.fetch_funding_history(BTC, now - 10 * DAY)
    assert page.rows and all(r.funding_rate == Series.rate(r.timestamp) for r in page.rows)
    assert {(r.exchange, r.symbol) for r in page.rows} == {("bybit", BTC)}


async def test_okx_funding_history_stops_at_the_retention_cap(fixtures_dir: Path) -> None:
    now = now_hour()
    series = Series(now - 2 * 365 * DAY, now, 8 * HOUR)
    served: list = []
    venue, _ = await history_venue(
        fixtures_dir, "okx", {"/api/v5/public/funding-rate-history": okx_funding(series, served)}
    )
    async with venue:
        page = await venue.fetch_funding_history(BTC, now - 365 * DAY, now)
    assert page.reached_cap
    assert "okx serves funding history only for the last 90 days" in page.note
    expected = series.times(now - 90 * DAY, now)
    assert [r.timestamp for r in page.rows] == expected
    assert page.requests == math.ceil(len(expected) / 400) == 1
    # realizedRate (what settled) is what ccxt reports and we store
    assert all(r.funding_rate == Series.rate(r.timestamp) for r in page.rows)


async def test_okx_server_serving_smaller_pages_loses_nothing(fixtures_dir: Path) -> None:
    # a server holding to the older documented maximum of 100 rows per funding page
    now = now_hour()
    series = Series(now - 365 * DAY, now, 8 * HOUR)
    served: list = []
    route = okx_funding(series, served, page_cap=100)
    venue, _ = await history_venue(
        fixtures_dir, "okx", {"/api/v5/public/funding-rate-history": route}
    )
    pages: list = []
    async with venue:
        page = await venue.fetch_funding_history(BTC, now - 80 * DAY, now, on_page=pages.append)
    expected = series.times(now - 80 * DAY, now)
    assert_complete(page, expected, pages)
    assert "at most 100 rows per page" in page.note
    assert page.requests <= math.ceil(len(expected) / 100) + 1


async def test_okx_hourly_funding_with_unknown_interval(fixtures_dir: Path) -> None:
    # okx markets do not state the interval; paging assumes 8 h and must still be
    # complete and minimal for a symbol settling every hour
    now = now_hour()
    series = Series(now - 365 * DAY, now, HOUR)
    venue, _ = await history_venue(
        fixtures_dir, "okx", {"/api/v5/public/funding-rate-history": okx_funding(series, [])}
    )
    async with venue:
        assert venue.market(BTC).funding_interval_hours is None
        page = await venue.fetch_funding_history(BTC, now - 60 * DAY, now)
    expected = series.times(now - 60 * DAY, now)
    assert [r.timestamp for r in page.rows] == expected
    assert page.requests == math.ceil(len(expected) / 400)


async def test_late_listing_and_delisting(fixtures_dir: Path) -> None:
    now = now_hour()
    listed = Series(now - 100 * DAY, now - 20 * DAY, HOUR)  # listed late, delisted since
    venue, _ = await history_venue(
        fixtures_dir, "bybit", {"/v5/market/kline": bybit_kline(listed, [])}
    )
    async with venue:
        page = await venue.fetch_ohlcv_history(BTC, "1h", now - 365 * DAY, now)
    expected = listed.times(0, now)
    assert [c.timestamp for c in page.rows] == expected
    assert "no ohlcv data before" in page.note
    windows_before_listing = math.ceil((365 - 100) * 24 / 1000)
    assert page.requests <= windows_before_listing + math.ceil(len(expected) / 1000) + 2


async def test_history_resumes_after_a_kill(fixtures_dir: Path) -> None:
    now = now_hour()
    series = Series(now - 365 * DAY, now, HOUR)
    venue, _ = await history_venue(
        fixtures_dir, "bybit", {"/v5/market/kline": bybit_kline(series, [])}
    )
    stored: list[int] = []

    def write_then_die(rows: list[Any]) -> None:
        stored.extend(r.timestamp for r in rows)
        if len(stored) > 2500:
            raise KeyboardInterrupt  # the process dies after the third page is written

    async with venue:
        with pytest.raises(KeyboardInterrupt):
            await venue.fetch_ohlcv_history(BTC, "1h", now - 200 * DAY, now, on_page=write_then_die)
        resumed = await venue.fetch_ohlcv_history(BTC, "1h", stored[-1] + 1, now)
    stored.extend(r.timestamp for r in resumed.rows)
    assert stored == series.times(now - 200 * DAY, now)  # no duplicates, no gaps


async def test_history_default_until_is_now_and_future_is_clamped(fixtures_dir: Path) -> None:
    now = now_hour()
    series = Series(now - 10 * DAY, now, HOUR)
    venue, _ = await history_venue(
        fixtures_dir, "bybit", {"/v5/market/kline": bybit_kline(series, [])}
    )
    async with venue:
        page = await venue.fetch_ohlcv_history(BTC, "1h", now - 2 * DAY, now + 30 * DAY)
        page2 = await venue.fetch_ohlcv_history(BTC, "1h", now - 2 * DAY)
    assert page.rows == page2.rows and page.rows[-1].timestamp == now
    assert page.requests == 1


async def test_unknown_timeframe_is_a_capability_error(fixtures_dir: Path) -> None:
    venue, transport = await history_venue(fixtures_dir, "okx", {})
    async with venue:
        with pytest.raises(CapabilityMissing, match=r"okx: timeframe '7m' not offered"):
            await venue.fetch_ohlcv_history(BTC, "7m", 0)
    assert transport.calls == []


# ---------------------------------------------------------------------- pure pager


def make_fetch(times: list[int], *, keep: str, cap: int | None = None) -> tuple[Callable, list]:
    asked: list[tuple[int, int, int]] = []

    class Row:
        def __init__(self, t: int) -> None:
            self.timestamp = t

    async def fetch(lo: int, hi: int, limit: int) -> list[Any]:
        asked.append((lo, hi, limit))
        inside = [t for t in times if lo <= t <= hi]
        n = min(limit, cap or limit)
        chosen = inside[:n] if keep == "oldest" else inside[-n:]
        return [Row(t) for t in reversed(chosen)]  # order must not matter

    return fetch, asked


# an ascending venue by definition keeps the oldest rows, so (newest, ascending) is absent
@pytest.mark.parametrize(
    ("keep", "ascending"), [("oldest", True), ("oldest", False), ("newest", False)]
)
@pytest.mark.parametrize("cap", [None, 7])
async def test_pager_is_complete_whatever_the_server_keeps(
    keep: str, ascending: bool, cap: int | None
) -> None:
    times = [t for t in range(0, 5000, 10) if not 1200 <= t < 1500]  # a 300-ms outage
    fetch, _ = make_fetch(times, keep=keep, cap=cap)
    pager = Pager(fetch, limit=25, step_ms=10, ascending=ascending)
    rows = await pager.run(3, 4321, expect_from=0)  # the series is known to exist from 0
    assert [r.timestamp for r in rows] == [t for t in times if 3 <= t <= 4321]
    if cap is None and not ascending:
        # + the outage: one empty window, one probe of the remainder, one window resuming
        assert pager.pages <= math.ceil(len(rows) / 25) + 3
    if cap is not None:
        assert pager.limit == cap


async def test_pager_regular_series_exact_minimum() -> None:
    times = list(range(1000, 1000 + 10 * 997, 10))  # 997 rows
    for keep, ascending in (("oldest", True), ("oldest", False), ("newest", False)):
        fetch, asked = make_fetch(times, keep=keep)
        pager = Pager(fetch, limit=100, step_ms=10, ascending=ascending)
        rows = await pager.run(995, 1000 + 10 * 996)
        assert len(rows) == 997 and pager.pages == 10, (keep, ascending, asked)


async def test_pager_denser_series_than_assumed() -> None:
    times = list(range(0, 30_000, 10))  # rows every 10 ms, pager told 40 ms
    fetch, _ = make_fetch(times, keep="newest")
    pager = Pager(fetch, limit=50, step_ms=40, ascending=False)
    rows = await pager.run(0, 29_999)
    assert [r.timestamp for r in rows] == times
    assert pager.pages == math.ceil(len(times) / 50)


async def test_pager_async_on_page_and_validation() -> None:
    fetch, _ = make_fetch(list(range(0, 100, 10)), keep="oldest")
    seen: list[int] = []

    async def on_page(rows: list[Any]) -> None:
        await asyncio.sleep(0)
        seen.extend(r.timestamp for r in rows)

    await Pager(fetch, limit=3, step_ms=10, ascending=True, on_page=on_page).run(0, 99)
    assert seen == list(range(0, 100, 10))
    with pytest.raises(ValueError):
        Pager(fetch, limit=0, step_ms=10, ascending=True)


# ----------------------------------------------------------- retries and failures


def tickers_route(fixtures_dir: Path) -> dict[str, Any]:
    from venue_fixtures import load, recorded_route

    return recorded_route(load(fixtures_dir, "bybit", "fetchFundingRate"))


async def test_transient_errors_are_retried_with_backoff(fixtures_dir: Path) -> None:
    venue, transport = await history_venue(fixtures_dir, "bybit", tickers_route(fixtures_dir))
    venue.retry_base_s = 0.001  # type: ignore[misc]
    transport.errors = [
        ccxt_async.RateLimitExceeded("bybit 429 Too Many Requests"),
        ccxt_async.RequestTimeout("bybit GET timed out"),
        ccxt_async.ExchangeNotAvailable("bybit connection reset"),
    ]
    before = venue.requests_made
    async with venue:
        info = await venue.fetch_funding(BTC)
    assert info.funding_rate == 0.0001
    assert len(transport.calls) == 4 == venue.requests_made - before


async def test_retries_are_bounded(fixtures_dir: Path) -> None:
    venue, transport = await history_venue(fixtures_dir, "bybit", tickers_route(fixtures_dir))
    venue.retry_base_s = 0.001  # type: ignore[misc]
    venue.max_retries = 2  # type: ignore[misc]
    transport.errors = [ccxt_async.DDoSProtection("bybit 403 rate limited")] * 5
    async with venue:
        with pytest.raises(
            VenueUnreachable, match=r"bybit: fetchFundingRate failed after 3"
        ) as info:
            await venue.fetch_funding(BTC)
        assert isinstance(info.value, RateLimited)  # the kind survives the retries
    assert len(transport.calls) == 3


async def test_non_transient_errors_are_not_retried(fixtures_dir: Path) -> None:
    venue, transport = await history_venue(fixtures_dir, "bybit", tickers_route(fixtures_dir))
    transport.errors = [ccxt_async.ExchangeError("bybit {retCode: 10001, params error}")]
    async with venue:
        with pytest.raises(VenueError, match="bybit: fetchFundingRate: ExchangeError") as info:
            await venue.fetch_funding(BTC)
        assert isinstance(info.value.__cause__, ccxt_async.ExchangeError)
        transport.errors = [ccxt_async.BadSymbol("bybit symbol invalid")]
        with pytest.raises(UnknownSymbol, match="bybit: fetchFundingRate"):
            await venue.fetch_funding(BTC)
    assert len(transport.calls) == 2


async def test_retry_after_is_honoured(fixtures_dir: Path) -> None:
    venue, _ = fixture_venue("bybit", markets(fixtures_dir, "bybit"))
    async with venue:
        venue.client.last_response_headers = {"Retry-After": "7"}
        delay = venue._retry_delay(0, ccxt_async.RateLimitExceeded("429"))
        assert delay == 7.0
        venue.client.last_response_headers = {"retry-after": "900"}
        assert venue._retry_delay(0, ccxt_async.RateLimitExceeded("429")) == 120.0
        venue.client.last_response_headers = {}
        assert 0.375 <= venue._retry_delay(0, ccxt_async.RateLimitExceeded("429")) <= 0.5
        assert venue._retry_delay(20, ccxt_async.RequestTimeout("t")) <= 30.0


async def test_rate_limiting_is_on() -> None:
    async with make_venue("okx") as venue:
        assert venue.client.enableRateLimit is True
        assert venue.client.rateLimit > 0


# -------------------------------------------------------------- capabilities, symbols


async def test_missing_capability_is_reported_not_crashed(fixtures_dir: Path) -> None:
    venue, transport = await history_venue(fixtures_dir, "okx", {})
    venue.client.has = {**venue.client.has, "fetchFundingRateHistory": False}
    async with venue:
        assert venue.has["fetchFundingRateHistory"] is False
        with pytest.raises(
            CapabilityMissing, match=r"^okx: fetchFundingRateHistory not supported by ccxt$"
        ):
            await venue.fetch_funding_history(BTC, 0)
    assert transport.calls == []


async def test_watch_needs_ccxt_pro(fixtures_dir: Path) -> None:
    venue, _ = fixture_venue("okx", markets(fixtures_dir, "okx"), pro=False)
    async with venue:
        assert not venue.is_pro
        with pytest.raises(CapabilityMissing, match=r"okx: watchOrderBook not supported by ccxt"):
            await venue.watch_order_book(BTC, 5)


async def test_fetch_fundings_falls_back_to_one_call_per_symbol(fixtures_dir: Path) -> None:
    from venue_fixtures import load, recorded_route

    fx = load(fixtures_dir, "binance", "rest_premiumIndex_docexample")
    venue, transport = await history_venue(fixtures_dir, "binance", recorded_route(fx))
    venue.client.has = {**venue.client.has, "fetchFundingRates": False}
    async with venue:
        got = await venue.fetch_fundings([BTC, BTC])
        assert list(got) == [BTC] and got[BTC].funding_rate == 0.00038246
        assert transport.calls == [fx["request"]["url"]]
        assert await venue.fetch_fundings([]) == {}
        with pytest.raises(UnknownSymbol):
            await venue.fetch_fundings(["BTC/USDT"])
    assert len(transport.calls) == 1


async def test_market_before_load_is_a_programming_error() -> None:
    async with make_venue("bybit") as venue:
        with pytest.raises(RuntimeError, match="load_markets"):
            venue.market(BTC)


async def test_generic_venue_without_quirks(fixtures_dir: Path) -> None:
    # the generic class over a ccxt id it has no subclass for (binanceusdm used raw)
    client = ccxt_async.binanceusdm({"enableRateLimit": True})
    client.set_markets(markets(fixtures_dir, "binance"))
    transport = Transport(
        {
            "/fapi/v1/premiumIndex": {
                "symbol": "BTCUSDT",
                "markPrice": "1.5",
                "indexPrice": "1.4",
                "lastFundingRate": "0.0001",
                "nextFundingTime": 1597392000000,
                "time": 1597370495002,
            }
        }
    )
    client.fetch = transport
    venue = CcxtVenue(client)
    async with venue:
        found = await venue.load_markets()
        assert venue.id == "binanceusdm" and BTC in found
        assert found[BTC].funding_interval_hours is None  # no default without a quirk class
        info = await venue.fetch_funding(BTC)
    assert info.interval_hours is None and info.mark_price == 1.5


def test_inverse_levels_are_converted_to_base() -> None:
    venue = CcxtVenue.__new__(CcxtVenue)
    m = MarketInfo(
        "x", "BTC/USD:BTC", "BTC-USD-SWAP", "BTC", "USD", "BTC", False, 100.0, 0.1, None, 8.0
    )
    assert venue.levels(m, [[50_000.0, 10.0, 1]], None) == ((50_000.0, 0.02),)
    linear = MarketInfo("x", BTC, "B", "BTC", "USDT", "USDT", True, 0.01, 0.1, 0.001, 8.0)
    assert venue.levels(linear, [[1.0, 3.0], [0.9, 7.0]], 1) == ((1.0, 0.03),)


def _ladder(best: float, step: float, n: int) -> list[list[float]]:
    return [[round(best + i * step, 6), 1.0 + i] for i in range(n)]


def test_streamed_levels_stop_at_the_widest_depth_band() -> None:
    """Without a limit only levels within 5 % of the touch are converted (bands stay exact)."""
    venue = CcxtVenue.__new__(CcxtVenue)
    m = MarketInfo("x", BTC, "B", "BTC", "USDT", "USDT", True, 1.0, 0.1, 0.001, 8.0)
    bids = _ladder(100.0, -0.5, 40)  # 100 .. 80.5
    asks = _ladder(100.5, 0.5, 40)  # 100.5 .. 120
    got_bids = venue.levels(m, bids, None)
    got_asks = venue.levels(m, asks, None)
    # bids down to 95.0 (5 % under 100, the edge level kept), asks up to 105.5 (100.5 x 1.05 = 105.525),
    # plus one level beyond each cut so the depth metrics can tell the book reaches the 5 % edge
    assert [p for p, _ in got_bids] == [p for p, _ in bids if p >= 94.5]
    assert got_bids[-2] == (95.0, 11.0)
    assert [p for p, _ in got_asks] == [p for p, _ in asks if p <= 106.0]
    assert got_asks[-2] == (105.5, 11.0)
    metrics = depth_metrics(got_bids, got_asks)
    assert metrics.covers(0.05) == (True, True)
    full = depth_metrics(bids, asks)
    assert metrics.bid_depth == full.bid_depth and metrics.ask_depth == full.ask_depth
    # an explicit limit is honoured as asked, band or not
    assert len(venue.levels(m, bids, 30)) == 30


def test_streamed_levels_are_capped() -> None:
    class Capped(CcxtVenue):
        max_book_levels = 7

    venue = Capped.__new__(Capped)
    m = MarketInfo("x", BTC, "B", "BTC", "USDT", "USDT", True, 1.0, 0.1, 0.001, 8.0)
    assert len(venue.levels(m, _ladder(100.0, -0.001, 50), None)) == 7


def test_contract_sizes_convert_without_binary_noise() -> None:
    venue = CcxtVenue.__new__(CcxtVenue)
    for cs, contracts, base in ((0.01, 13807.0, 138.07), (0.1, 3.0, 0.3), (10.0, 3.0, 30.0)):
        m = MarketInfo("x", BTC, "B", "BTC", "USDT", "USDT", True, cs, 0.1, 0.001, 8.0)
        assert venue.levels(m, [[43466.3, contracts, 0.0]], None) == ((43466.3, base),)
    # ccxt parsers that leave strings still convert (slow path)
    m = MarketInfo("x", BTC, "B", "BTC", "USDT", "USDT", True, 0.01, 0.1, 0.001, 8.0)
    assert venue.levels(m, [["43466.3", "13807"]], None) == ((43466.3, 138.07),)


# ------------------------------------------------------------------------- factory


def test_unknown_exchange_message() -> None:
    with pytest.raises(UnknownExchange) as err:
        make_venue("foo")
    msg = str(err.value)
    assert msg.startswith("unknown exchange 'foo' (")
    assert f"ccxt knows {len(ccxt_async.exchanges)} exchanges; e.g. binance, bybit, okx)" in msg
    with pytest.raises(UnknownExchange, match="did you mean bybit"):
        make_venue("bybt")
    with pytest.raises(UnknownExchange):
        make_venue("")


async def test_make_venue_builds_the_right_client() -> None:
    async with make_venue("binance") as v:
        assert isinstance(v, BinanceVenue) and isinstance(v.client, ccxt_pro.binanceusdm)
        assert (v.id, v.ccxt_id, v.is_pro) == ("binance", "binanceusdm", True)
        assert v.client.timeout == 10_000 and v.client.enableRateLimit is True
    async with make_venue("binance", pro=False, timeout_ms=2500) as v:
        assert type(v.client) is ccxt_async.binanceusdm and v.client.timeout == 2500
        assert not v.is_pro
    async with make_venue("binanceusdm") as v:
        assert isinstance(v, BinanceVenue)
    async with make_venue("OKX", options={"fetchMarkets": {"types": ["swap", "spot"]}}) as v:
        assert isinstance(v, OkxVenue)
        assert v.client.options["fetchMarkets"]["types"] == ["swap", "spot"]
        assert v.client.options["defaultType"] == "swap"
    async with make_venue("bybit") as v:
        assert v.client.options["defaultSubType"] == "linear"
        assert v.page_limits == {"funding": 200, "ohlcv": 1000}
    async with make_venue("kraken", pro=False) as v:
        assert type(v) is CcxtVenue and v.id == "kraken"


async def test_credentials_reach_ccxt_but_never_repr_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    creds = {"api_key": "AK-visible-nowhere", "secret": "S3CRET-xyz", "passphrase": "pw-123"}
    async with make_venue("okx", credentials=creds) as v:
        assert (v.client.apiKey, v.client.secret, v.client.password) == (
            "AK-visible-nowhere",
            "S3CRET-xyz",
            "pw-123",
        )
        text = repr(v) + str(v)
    for secret in creds.values():
        assert secret not in text
        assert secret not in caplog.text


async def test_injected_client_is_used_and_always_closed() -> None:
    client = ccxt_pro.okx({"enableRateLimit": True})
    venue = make_venue("okx", client=client)
    assert venue.client is client and venue.client.options["defaultType"] == "swap"
    client.open()
    assert client.session is not None
    async with venue:
        pass
    assert client.session is None
    await venue.close()  # idempotent
    with pytest.raises(UnknownExchange):
        make_venue("nope", client=ccxt_pro.okx())


async def test_load_markets_keeps_only_perpetual_swaps(fixtures_dir: Path) -> None:
    mk = markets(fixtures_dir, "okx")
    dated = dict(
        mk[1],
        symbol="BTC/USDT:USDT-250328",
        id="BTC-USDT-250328",
        swap=False,
        future=True,
        type="future",
        expiry=1743148800000,
    )
    inactive = dict(mk[2], symbol="ETH/USDT:USDT", active=False)
    venue, _ = fixture_venue(
        "okx", [m for m in mk if m["symbol"] != "ETH/USDT:USDT"] + [dated, inactive]
    )
    async with venue:
        found = await venue.load_markets()
        assert "BTC/USDT:USDT-250328" not in found and "ETH/USDT:USDT" not in found
        with pytest.raises(UnknownSymbol, match="is a future market"):
            venue.market("BTC/USDT:USDT-250328")
        with pytest.raises(UnknownSymbol, match="inactive swap"):
            venue.market("ETH/USDT:USDT")
    assert all(isinstance(m, MarketInfo) and m.exchange == "okx" for m in found.values())


def test_path_helpers() -> None:
    url = "https://x.test/a/b?c=1&d=2"
    assert path(url) == "/a/b" and query(url) == {"c": "1", "d": "2"}


async def test_spot_only_exchange_is_reported(fixtures_dir: Path) -> None:
    spot = [m for m in markets(fixtures_dir, "binance") if m["type"] == "spot"]
    async with make_venue("kraken", pro=False) as venue:
        assert venue.client.has.get("swap") is False
        venue.client.set_markets(spot)
        with pytest.raises(CapabilityMissing, match="kraken: ccxt lists no swap markets"):
            await venue.load_markets()


async def test_okx_swap_ticker_quote_volume_from_base_amount(fixtures_dir: Path) -> None:
    # okx's recorded ticker is spot; the same row relabelled as the swap (synthetic) shows
    # the derivative convention: volCcy24h is the base amount, no quote volume is given
    from venue_fixtures import load

    raw = load(fixtures_dir, "okx", "fetchTicker_spot")["httpResponse"]
    row = dict(raw["data"][0], instType="SWAP", instId="BTC-USDT-SWAP", volCcy24h="212.5")
    venue, transport = await history_venue(
        fixtures_dir, "okx", {"/api/v5/market/ticker": {**raw, "data": [row]}}
    )
    async with venue:
        t = await venue.fetch_ticker(BTC)
    assert query(transport.calls[0]) == {"instId": "BTC-USDT-SWAP"}
    assert t.last == 73384.8 and t.timestamp == 1710328243709
    assert t.quote_volume == pytest.approx(212.5 * 73384.8)


def test_watch_depth_rounds_to_a_topic_the_venue_offers() -> None:
    from perptui.venues.bybit import BybitVenue

    bybit = BybitVenue.__new__(BybitVenue)
    # No depth asked: the deepest linear topic (1000), not ccxt's 50-level default.
    assert [bybit.watch_book_limit(n) for n in (None, 1, 20, 50, 51, 5000)] == [
        1000,
        1,
        50,
        50,
        200,
        1000,
    ]
    assert bybit.book_limit(5000) == 500
    okx = OkxVenue.__new__(OkxVenue)
    assert okx.watch_book_limit(1000) == okx.book_limit(1000) == 400


async def test_all_three_venues_against_the_emulator() -> None:
    """End to end over loopback: the emulator's wire formats, real ccxt(.pro) clients."""
    from perptui.emulator import Emulator

    emu = Emulator(seed=3)
    await emu.start(port=0)
    try:
        for vid in ("binance", "bybit", "okx"):
            async with make_venue(vid, client=emu.connect(vid)) as venue:
                venue.client.enableRateLimit = False  # the emulator does not throttle
                found = await venue.load_markets()
                assert BTC in found and all(m.exchange == vid for m in found.values())
                book = await venue.fetch_order_book(BTC, 20)
                watched = await venue.watch_order_book(BTC, 20)
                for b in (book, watched):
                    assert 0 < len(b.bids) <= 20 and b.bids[0][0] < b.asks[0][0]
                truth = emu.truth_book(vid, BTC, 1)
                assert abs(book.bids[0][0] - truth.bids[0][0]) / truth.bids[0][0] < 0.01
                funding = await venue.fetch_funding(BTC)
                assert funding.interval_hours and funding.next_funding_time
                now = venue.now_ms()
                hist = await venue.fetch_funding_history(BTC, now - 20 * DAY)
                step = int(funding.interval_hours * HOUR)
                ts = [r.timestamp for r in hist.rows]
                assert ts == sorted(set(ts)) and len(ts) >= 20 * 24 * HOUR // step - 1
                assert all(b - a == step for a, b in itertools.pairwise(ts))
                candles = await venue.fetch_ohlcv_history(BTC, "1h", now - 5 * DAY)
                cts = [c.timestamp for c in candles.rows]
                assert len(cts) >= 5 * 24 and all(b - a == HOUR for a, b in itertools.pairwise(cts))
                assert candles.requests <= math.ceil(len(cts) / 100) + 1
    finally:
        await emu.stop()

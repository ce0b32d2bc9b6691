"""Funding and candle history from a ccxt venue: the venue's history caps, paging
through a range (`paging.Pager`), and the notes that say what a fetch could not cover."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from perptui.core.model import (
    Candle,
    FetchPage,
    FundingRecord,
    MarketInfo,
)
from perptui.core.numbers import finite_float
from perptui.core.units import DAY_MS, HOUR_MS, timeframe_ms, utc_text
from perptui.errors import CapabilityMissing
from perptui.venues.base import FUNDING, OHLCV, OnPage, Venue
from perptui.venues.ccxt_client import _request_counter
from perptui.venues.ccxt_markets import CcxtMarkets
from perptui.venues.paging import Pager

# Funding settles every 8 h on most venues; used only to size pages when the venue
# does not say (never reported as the market's interval).
FALLBACK_FUNDING_STEP_MS = 8 * HOUR_MS


class CcxtHistory(CcxtMarkets):
    """fetch_funding_history / fetch_ohlcv_history and their per-venue hooks."""

    ascending_history: ClassVar[frozenset[str]] = frozenset()

    async def fetch_funding_history(
        self,
        symbol: str,
        since: int,
        until: int | None = None,
        on_page: OnPage | None = None,
    ) -> FetchPage:
        m = await self.perp(symbol)
        self.require("fetchFundingRateHistory")
        hours = m.funding_interval_hours
        step = int(hours * HOUR_MS) if hours else FALLBACK_FUNDING_STEP_MS

        async def fetch(lo: int, hi: int, limit: int) -> list[FundingRecord]:
            raw = await self.call(
                "fetchFundingRateHistory",
                self.client.fetch_funding_rate_history,
                m.symbol,
                lo,
                limit,
                self.funding_history_params(lo, hi, limit),
            )
            return [r for r in (self.funding_record(m, x) for x in raw or ()) if r is not None]

        return await self._history(FUNDING, fetch, step, since, until, on_page, self.listed_at(m))

    def funding_history_params(self, lo: int, hi: int, limit: int) -> dict[str, Any]:
        """Hook: how this venue's ccxt method bounds a range (`until` is inclusive)."""
        return {"until": hi}

    def funding_record(self, m: MarketInfo, x: dict[str, Any]) -> FundingRecord | None:
        rate = finite_float(x.get("fundingRate"))
        ts = x.get("timestamp")
        if rate is None or ts is None:
            return None
        return FundingRecord(self.id, m.symbol, int(ts), rate)

    async def fetch_ohlcv_history(
        self,
        symbol: str,
        timeframe: str,
        since: int,
        until: int | None = None,
        on_page: OnPage | None = None,
    ) -> FetchPage:
        m = await self.perp(symbol)
        self.require("fetchOHLCV")
        timeframes = getattr(self.client, "timeframes", None) or {}
        if timeframes and timeframe not in timeframes:
            raise CapabilityMissing(
                f"{self.id}: timeframe {timeframe!r} not offered "
                f"(choose from {', '.join(timeframes)})"
            )
        step = timeframe_ms(timeframe)
        since = -(-since // step) * step  # first candle opening at or after `since`

        async def fetch(lo: int, hi: int, limit: int) -> list[Candle]:
            raw = await self.ohlcv_page(m, timeframe, lo, hi, limit)
            return [c for c in (self.candle(m, timeframe, x) for x in raw or ()) if c is not None]

        return await self._history(OHLCV, fetch, step, since, until, on_page, self.listed_at(m))

    async def ohlcv_page(
        self, m: MarketInfo, timeframe: str, lo: int, hi: int, limit: int
    ) -> list[list[Any]]:
        """Hook: one page of raw ccxt candles opening in [lo, hi]."""
        return await self.call(
            "fetchOHLCV",
            self.client.fetch_ohlcv,
            m.symbol,
            timeframe,
            lo,
            limit,
            self.ohlcv_params(lo, hi, limit),
        )

    def ohlcv_params(self, lo: int, hi: int, limit: int) -> dict[str, Any]:
        return {"until": hi}

    def candle(self, m: MarketInfo, timeframe: str, x: list[Any]) -> Candle | None:
        if len(x) < 6 or x[0] is None:
            return None
        o, h, lo, c = (finite_float(v) for v in x[1:5])
        if o is None or h is None or lo is None or c is None:
            return None
        return Candle(
            exchange=self.id,
            symbol=m.symbol,
            timeframe=timeframe,
            timestamp=int(x[0]),
            open=o,
            high=h,
            low=lo,
            close=c,
            volume=finite_float(x[5]) or 0.0,
        )

    async def _history(
        self,
        kind: str,
        fetch: Callable[[int, int, int], Awaitable[list[Any]]],
        step: int,
        since: int,
        until: int | None,
        on_page: OnPage | None,
        listed: int | None = None,
    ) -> FetchPage:
        now = self.now_ms()
        until = now if until is None else min(int(until), now)
        since = int(since)
        notes: list[str] = []
        earliest = self.history_cap_start(kind, since)
        reached_cap = earliest is not None
        if earliest is not None:
            days = self.history_caps_ms[kind] / DAY_MS
            notes.append(
                f"{self.id} serves {kind} history only for the last {days:g} days: "
                f"start moved from {utc_text(since, zone=True)} to {utc_text(earliest, zone=True)}"
            )
            since = earliest
        expect_from = earliest if reached_cap else listed
        counter = [0]
        token = _request_counter.set(counter)
        rows: list[Any] = []
        try:
            rows = await self._page_through(
                kind, fetch, step, since, until, on_page, notes, expect_from
            )
        finally:
            _request_counter.reset(token)
        requests = counter[0]
        if requests > 0 and rows and rows[0].timestamp - since >= step and not reached_cap:
            notes.append(f"no {kind} data before {utc_text(rows[0].timestamp, zone=True)}")
        return FetchPage(
            rows=tuple(rows), requests=requests, reached_cap=reached_cap, note="; ".join(notes)
        )

    async def _page_through(
        self,
        kind: str,
        fetch: Callable[[int, int, int], Awaitable[list[Any]]],
        step: int,
        since: int,
        until: int,
        on_page: OnPage | None,
        notes: list[str],
        expect_from: int | None,
    ) -> list[Any]:
        rows: list[Any] = []
        if since <= until:
            pager = Pager(
                fetch,
                limit=self.page_limits.get(kind, Venue.page_limits[kind]),
                step_ms=step,
                ascending=kind in self.ascending_history,
                on_page=on_page,
            )
            rows = await pager.run(since, until, expect_from=expect_from)
            if pager.limit < self.page_limits.get(kind, pager.limit):
                notes.append(f"venue served at most {pager.limit} rows per page")
        return rows

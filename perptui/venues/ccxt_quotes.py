"""Single-market quotes from a ccxt venue: funding rate, open interest and ticker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, ClassVar

from perptui.core.funding import parse_interval
from perptui.core.model import (
    FundingInfo,
    MarketInfo,
    OpenInterest,
    Ticker,
)
from perptui.core.numbers import finite_float
from perptui.venues.ccxt_markets import CcxtMarkets

log = logging.getLogger(__name__)


class CcxtQuotes(CcxtMarkets):
    """fetchFundingRate(s), fetchOpenInterest and fetchTicker as perptui records."""

    open_interest_params: ClassVar[dict[str, Any]] = {}

    async def fetch_funding(self, symbol: str) -> FundingInfo:
        m = await self.perp(symbol)
        self.require("fetchFundingRate")
        fr = await self.call("fetchFundingRate", self.client.fetch_funding_rate, m.symbol)
        return self.funding_info(m, fr)

    async def fetch_fundings(self, symbols: Iterable[str]) -> dict[str, FundingInfo]:
        wanted = [(await self.perp(s)) for s in dict.fromkeys(symbols)]
        if not wanted:
            return {}
        out: dict[str, FundingInfo] = {}
        if self.client.has.get("fetchFundingRates"):
            many = await self.call(
                "fetchFundingRates",
                self.client.fetch_funding_rates,
                [m.symbol for m in wanted],
            )
            for m in wanted:
                fr = (many or {}).get(m.symbol)
                if fr is not None:
                    out[m.symbol] = self.funding_info(m, fr)
        missing = [m for m in wanted if m.symbol not in out]
        if missing:
            self.require("fetchFundingRate")
            results = await asyncio.gather(
                *(self.fetch_funding(m.symbol) for m in missing), return_exceptions=True
            )
            errors = []
            for m, res in zip(missing, results, strict=True):
                if isinstance(res, BaseException):
                    errors.append(res)
                    log.warning("%s: funding for %s failed: %s", self.id, m.symbol, res)
                else:
                    out[m.symbol] = res
            if errors and not out:
                raise errors[0]
        return out

    def stated_basis(self, fr: dict[str, Any]) -> float | None:
        """Hook: a basis the venue states with its funding rate (else None, and readers
        derive it from mark and index)."""
        return None

    def funding_info(self, m: MarketInfo, fr: dict[str, Any]) -> FundingInfo:
        hours = parse_interval(fr.get("interval"))
        if hours is not None:
            self.set_funding_interval(m.symbol, hours)
        else:
            hours = self.market(m.symbol).funding_interval_hours
        ts = fr.get("timestamp")
        next_time = fr.get("fundingTimestamp") or fr.get("nextFundingTimestamp")
        return FundingInfo(
            exchange=self.id,
            symbol=m.symbol,
            timestamp=int(ts) if ts is not None else self.now_ms(),
            funding_rate=finite_float(fr.get("fundingRate")),
            next_funding_time=int(next_time) if next_time is not None else None,
            interval_hours=hours,
            mark_price=finite_float(fr.get("markPrice")),
            index_price=finite_float(fr.get("indexPrice")),
            predicted_rate=finite_float(fr.get("nextFundingRate")),
            basis=self.stated_basis(fr),
        )

    async def fetch_open_interest(self, symbol: str) -> OpenInterest:
        m = await self.perp(symbol)
        self.require("fetchOpenInterest")
        oi = await self.call(
            "fetchOpenInterest",
            self.client.fetch_open_interest,
            m.symbol,
            dict(self.open_interest_params),
        )
        ts = oi.get("timestamp")
        return OpenInterest(
            exchange=self.id,
            symbol=m.symbol,
            timestamp=int(ts) if ts is not None else self.now_ms(),
            amount=self.base_amount(m, finite_float(oi.get("openInterestAmount"))),
            value=finite_float(oi.get("openInterestValue")),
        )

    async def fetch_ticker(self, symbol: str) -> Ticker:
        m = await self.perp(symbol)
        self.require("fetchTicker")
        t = await self.call("fetchTicker", self.client.fetch_ticker, m.symbol)
        ts = t.get("timestamp")
        return Ticker(
            exchange=self.id,
            symbol=m.symbol,
            timestamp=int(ts) if ts is not None else self.now_ms(),
            last=finite_float(t.get("last")),
            percentage=finite_float(t.get("percentage")),
            quote_volume=self.quote_volume(m, t),
        )

    def quote_volume(self, m: MarketInfo, t: dict[str, Any]) -> float | None:
        """Hook: 24 h volume in quote currency from a ccxt ticker."""
        return finite_float(t.get("quoteVolume"))

"""Bybit v5 linear (USDT/USDC) perpetuals."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from perptui.core.model import MarketInfo, MarketQuote
from perptui.venues.base import FUNDING, OHLCV
from perptui.venues.ccxt_venue import CcxtVenue, _float, interval_hours


class BybitVenue(CcxtVenue):
    venue_id = "bybit"
    ccxt_class = "bybit"
    ccxt_options: ClassVar[dict[str, Any]] = {
        "defaultType": "swap",
        "defaultSubType": "linear",
        # only the linear instruments-info category: no spot/inverse/option requests
        "fetchMarkets": {"types": ["linear"]},
    }
    # /v5/market/funding/history: "limit [1, 200]"; /v5/market/kline: "limit [1, 1000]".
    # Both return newest first within [start, end], so pages are fixed time windows.
    page_limits: ClassVar[dict[str, int]] = {FUNDING: 200, OHLCV: 1000}
    perp_subtypes = frozenset({"linear"})
    # /v5/market/open-interest returns a history list, newest first; one row is enough.
    open_interest_params: ClassVar[dict[str, Any]] = {"limit": 1}
    # /v5/market/orderbook linear: "limit [1, 500]".
    max_depth: ClassVar[int] = 500

    # The board: /v5/market/tickers is ccxt's fetchFundingRates and already carries
    # bid/ask, turnover, open interest value and the current interval: one request.
    board_tickers = False

    def board_interval(
        self, m: MarketInfo, fr: dict[str, Any], extra: dict[str, Any]
    ) -> float | None:
        stated = _float((fr.get("info") or {}).get("fundingIntervalHour"))
        # older payloads lack fundingIntervalHour: ccxt then reads instruments-info
        return stated if stated else interval_hours(fr.get("interval"))

    def board_quote(
        self, m: MarketInfo, fr: dict[str, Any], extra: dict[str, Any], now: int
    ) -> MarketQuote:
        info = fr.get("info") or {}
        quote = super().board_quote(m, fr, extra, now)
        return replace(
            quote,
            bid=_float(info.get("bid1Price")),
            ask=_float(info.get("ask1Price")),
            open_interest_usd=_float(info.get("openInterestValue")),
            volume_24h_usd=_float(info.get("turnover24h")),
        )

    def market_funding_interval(self, m: dict[str, Any]) -> float | None:
        minutes = _float((m.get("info") or {}).get("fundingInterval"))  # instruments-info
        return minutes / 60.0 if minutes else None

    # websocket orderbook.{depth} topics for linear: 1, 50, 200, 1000 levels
    watch_depths: ClassVar[tuple[int, ...]] = (1, 50, 200, 1000)
    # The stream the monitor and collect watch when they ask for no depth: ccxt's
    # default is the 50-level topic, which on a liquid book stops well short of the
    # 1 % band.  The 1000-level topic reaches it and, pushed every 200 ms instead of
    # every 20 ms, costs fewer messages, not more.
    stream_depth: ClassVar[int] = 1000

    def book_limit(self, limit: int | None) -> int | None:
        return None if limit is None else min(limit, self.max_depth)

    def watch_book_limit(self, limit: int | None) -> int | None:
        if limit is None:
            return self.stream_depth
        return next((n for n in self.watch_depths if n >= limit), self.watch_depths[-1])

"""Binance USDⓈ-M perpetuals (ccxt `binanceusdm`, REST under /fapi)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import ccxt.pro as ccxt_pro

from perptui.core.funding import parse_interval
from perptui.core.model import MarketInfo
from perptui.errors import PerptuiError
from perptui.venues.base import FUNDING, OHLCV
from perptui.venues.book_guard import GuardedBooks
from perptui.venues.ccxt_venue import CcxtVenue

log = logging.getLogger(__name__)


class BinancePro(GuardedBooks, ccxt_pro.binanceusdm):
    """ccxt.pro binanceusdm with the crossed-book guard.

    ccxt.pro already keeps binance's futures sync rules: the REST snapshot's
    ``lastUpdateId`` against the buffered diffs' ``U``/``u``, then each diff's ``pu`` equal
    to the previous ``u`` (else ChecksumError, the book and the subscription dropped, and
    the next watch refetches a snapshot). What it lacks is the guard every perptui venue
    shares: a crossed or locked book is out of sync however it got there. Raising from
    `handle_order_book_message` joins ccxt's own failure path for a broken chain; the
    book stays crossed until ccxt resets it from a new snapshot, so every diff applied to
    it meanwhile raises again before ccxt could resolve a watcher with it. A crossed REST
    snapshot fails before ccxt applies it.
    """

    async def watch_order_book_for_symbols(
        self, symbols: list[str], limit: int | None = None, params: dict | None = None
    ) -> Any:
        await self.before_book_watch(symbols)
        return await super().watch_order_book_for_symbols(symbols, limit, params or {})

    def handle_order_book_message(self, client: Any, message: Any, orderbook: Any) -> Any:
        result = super().handle_order_book_message(client, message, orderbook)
        error = self.crossed_error(orderbook)
        if error is not None:
            self.book_failures["crossed"] = self.book_failures.get("crossed", 0) + 1
            raise error
        return result

    async def fetch_rest_order_book_safe(self, symbol: str, limit: Any = None, params: Any = None):
        snapshot = await super().fetch_rest_order_book_safe(symbol, limit, params or {})
        error = self.crossed_error({**snapshot, "symbol": symbol})
        if error is not None:
            self.book_failures["crossed"] = self.book_failures.get("crossed", 0) + 1
            raise error
        return snapshot


class BinanceVenue(CcxtVenue):
    venue_id = "binance"
    ccxt_class = "binanceusdm"
    pro_client_class = BinancePro
    ccxt_options: ClassVar[dict[str, Any]] = {
        "defaultType": "swap",
        "defaultSubType": "linear",
        "fetchMarkets": {"types": ["linear"]},
    }
    # GET /fapi/v1/fundingRate: "limit Default 100; max 1000", ascending from startTime.
    # GET /fapi/v1/klines: "limit Default 500; max 1500" (ccxt itself stops at 1000).
    page_limits: ClassVar[dict[str, int]] = {FUNDING: 1000, OHLCV: 1500}
    ascending_history = frozenset({FUNDING, OHLCV})
    perp_subtypes = frozenset({"linear"})
    # Binance settles every 8 h unless GET /fapi/v1/fundingInfo lists the symbol.
    default_funding_interval_hours = 8.0
    # GET /fapi/v1/depth accepts only these limits.
    depth_limits: ClassVar[tuple[int, ...]] = (5, 10, 20, 50, 100, 500, 1000)

    # The board: premiumIndex (funding, mark, index) + fundingInfo (intervals) +
    # ticker/24hr (volume) + bookTicker (bid/ask); OI has no bulk endpoint, so it rotates.
    board_oi_rotation = 25

    async def board_extras(
        self, perps: dict[str, MarketInfo], fundings: dict[str, Any], notes: list[str]
    ) -> dict[str, dict[str, Any]]:
        extras = await super().board_extras(perps, fundings, notes)
        books = await self._board_bulk("fetchBidsAsks", self.client.fetch_bids_asks, notes)
        for symbol, b in books.items():
            if symbol in perps:
                extras.setdefault(symbol, {})["book"] = b
        if self.client.has.get("fetchFundingIntervals"):
            found = await self._board_bulk(
                "fetchFundingIntervals", self.client.fetch_funding_intervals, notes
            )
            if found:
                for symbol in perps:
                    entry = found.get(symbol) or {}
                    # fundingInfo lists the markets off the default schedule; any other
                    # market settles every 8 h by the venue's own rule
                    hours = parse_interval(entry.get("interval"))
                    extras.setdefault(symbol, {})["interval"] = (
                        hours if hours is not None else self.default_funding_interval_hours
                    )
        return extras

    def board_interval(
        self, m: MarketInfo, fr: dict[str, Any], extra: dict[str, Any]
    ) -> float | None:
        return extra.get("interval") or parse_interval(fr.get("interval"))

    def book_limit(self, limit: int | None) -> int | None:
        if limit is None:
            return None
        return next((n for n in self.depth_limits if n >= limit), self.depth_limits[-1])

    async def load_funding_intervals(self) -> None:
        if not self.client.has.get("fetchFundingIntervals"):
            return
        try:
            found = await self.call("fetchFundingIntervals", self.client.fetch_funding_intervals)
        except PerptuiError as exc:
            # Not fatal: every symbol keeps the documented 8 h default.
            log.warning("%s: funding intervals unavailable, assuming 8 h: %s", self.id, exc)
            return
        for symbol, entry in (found or {}).items():
            hours = parse_interval((entry or {}).get("interval"))
            if hours is not None:
                self.set_funding_interval(symbol, hours)

    async def ohlcv_page(
        self, m: MarketInfo, timeframe: str, lo: int, hi: int, limit: int
    ) -> list[list[Any]]:
        # ccxt's fetch_ohlcv caps binance at 1000 rows (and trims its result to that);
        # /fapi/v1/klines serves 1500, so call the endpoint through ccxt's implicit API
        # and keep ccxt's own kline parser.
        request = {
            "symbol": m.id,
            "interval": self.client.timeframes.get(timeframe, timeframe),
            "startTime": lo,
            "endTime": hi,
            "limit": limit,
        }
        raw = await self.call("fetchOHLCV", self.client.fapiPublicGetKlines, request)
        return self.client.parse_ohlcvs(raw, self.client.market(m.symbol), timeframe)

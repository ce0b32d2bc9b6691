"""Bybit v5 linear (USDT/USDC) perpetuals."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any, ClassVar

import ccxt.pro as ccxt_pro
from ccxt.base.errors import InvalidNonce

from perptui.core.funding import parse_interval
from perptui.core.model import MarketInfo, MarketQuote
from perptui.core.numbers import finite_float
from perptui.venues.base import FUNDING, OHLCV
from perptui.venues.book_guard import GuardedBooks
from perptui.venues.ccxt_venue import CcxtVenue


class BybitPro(GuardedBooks, ccxt_pro.bybit):
    """ccxt.pro bybit that keeps bybit's sync rules, which ccxt.pro 4.5.90 ignores.

    Bybit v5 ``orderbook.{depth}.{symbol}``: a ``snapshot`` replaces the book (on
    subscribe, whenever bybit republishes one, and with ``u`` = 1 after a service
    restart); each ``delta`` carries ``u`` = previous ``u`` + 1. ccxt applies deltas
    without looking at ``u``, even to a book that never had a snapshot, so one lost
    delta leaves a silently wrong book. Here a delta is applied only when ``u`` follows
    on; otherwise (or when the result is crossed or locked) the book is dropped, the
    watcher rejected with `InvalidNonce`, deltas are ignored until the next snapshot,
    and the next watch unsubscribes and subscribes the topic again, the one way a
    client can ask bybit for a snapshot.
    """

    def handle_order_book(self, client: Any, message: Any) -> None:
        topic = message.get("topic") or ""
        data = message.get("data") or {}
        market_type = "spot" if client.url.find("spot") >= 0 else "contract"
        market = self.safe_market(data.get("s"), None, None, market_type)
        symbol = market["symbol"]
        message_hash = "orderbook:" + symbol
        timestamp = self.safe_integer(message, "ts")
        update_id = self.safe_integer(data, "u")
        state = self._guard_state()
        if message.get("type") == "snapshot":
            orderbook = self.orderbooks.get(symbol)
            if orderbook is None:
                orderbook = self.order_book()
                self.orderbooks[symbol] = orderbook
            orderbook.reset(self.parse_order_book(data, symbol, timestamp, "b", "a"))
            orderbook["nonce"] = update_id
            state["awaiting"].discard(symbol)
        else:
            orderbook = self.orderbooks.get(symbol)
            if orderbook is None or symbol in state["awaiting"]:
                return  # no snapshot (yet, or since a failure): a delta cannot apply
            nonce = orderbook["nonce"]
            if update_id is not None and nonce is not None and update_id != nonce + 1:
                error = InvalidNonce(
                    f"{self.id} {symbol}: delta u={update_id} after u={nonce} "
                    "(a delta was lost); resync"
                )
                self._fail(client, symbol, message_hash, topic, "gap", error)
                return
            self.handle_deltas(orderbook["asks"], data.get("a") or [])
            self.handle_deltas(orderbook["bids"], data.get("b") or [])
            orderbook["nonce"] = update_id
            orderbook["timestamp"] = timestamp
            orderbook["datetime"] = self.iso8601(timestamp)
        orderbook["symbol"] = symbol
        crossed = self.crossed_error(orderbook)
        if crossed is not None:
            self._fail(client, symbol, message_hash, topic, "crossed", crossed)
            return
        client.resolve(orderbook, message_hash)
        if topic.split(".")[1:2] == ["1"]:  # level 1 also feeds watch_bids_asks, as in ccxt
            bidask = self.parse_ws_bid_ask(orderbook, market)
            self.bidsasks[symbol] = bidask
            client.resolve({symbol: bidask}, "bidask:" + symbol)

    def _fail(
        self, client: Any, symbol: str, message_hash: str, topic: str, kind: str, error: Exception
    ) -> None:
        state = self._guard_state()
        state["awaiting"].add(symbol)
        if topic:
            state["resubscribe"][symbol] = (client.url, topic)
        self.fail_book(client, symbol, message_hash, kind, error)

    async def watch_order_book_for_symbols(
        self, symbols: list[str], limit: int | None = None, params: dict | None = None
    ) -> Any:
        unified = await self.before_book_watch(symbols)
        resubscribe = self._guard_state()["resubscribe"]
        if resubscribe:
            for symbol in unified:
                url, topic = resubscribe.pop(symbol, (None, None))
                ws = self.clients.get(url) if url else None
                if ws is None or ws.closed():
                    continue  # a new connection subscribes afresh and gets a snapshot
                # The subscription stays registered with ccxt, so its watch below waits
                # for the snapshot bybit sends in reply to the new subscribe.
                with contextlib.suppress(Exception):
                    for op in ("unsubscribe", "subscribe"):
                        await ws.send({"op": op, "req_id": str(self.request_id()), "args": [topic]})
        return await super().watch_order_book_for_symbols(symbols, limit, params or {})


class BybitVenue(CcxtVenue):
    venue_id = "bybit"
    ccxt_class = "bybit"
    pro_client_class = BybitPro
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
        stated = finite_float((fr.get("info") or {}).get("fundingIntervalHour"))
        # older payloads lack fundingIntervalHour: ccxt then reads instruments-info
        return stated if stated else parse_interval(fr.get("interval"))

    def board_quote(
        self, m: MarketInfo, fr: dict[str, Any], extra: dict[str, Any], now: int
    ) -> MarketQuote:
        info = fr.get("info") or {}
        quote = super().board_quote(m, fr, extra, now)
        return replace(
            quote,
            bid=finite_float(info.get("bid1Price")),
            ask=finite_float(info.get("ask1Price")),
            open_interest_usd=finite_float(info.get("openInterestValue")),
            volume_24h_usd=finite_float(info.get("turnover24h")),
        )

    def market_funding_interval(self, m: dict[str, Any]) -> float | None:
        minutes = finite_float((m.get("info") or {}).get("fundingInterval"))  # instruments-info
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

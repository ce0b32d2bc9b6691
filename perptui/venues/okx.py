"""OKX perpetual swaps (instType SWAP). Sizes are contracts of `ctVal` base units."""

from __future__ import annotations

from typing import Any, ClassVar

import ccxt.pro as ccxt_pro
from ccxt.base.errors import ChecksumError

from perptui.core.model import MarketInfo
from perptui.core.numbers import finite_float
from perptui.core.okx_checksum import CHECKSUM_DEPTH, checksum_of_parsed
from perptui.core.units import DAY_MS
from perptui.venues.base import FUNDING, OHLCV
from perptui.venues.book_guard import GuardedBooks
from perptui.venues.ccxt_books import VERIFIED_DEPTH
from perptui.venues.ccxt_venue import CcxtVenue


class OkxPro(GuardedBooks, ccxt_pro.okx):
    """ccxt.pro okx that also checks each ``books`` frame's crc32 ``checksum``.

    ccxt.pro 4.5.90 checks the ``seqId``/``prevSeqId`` chain when the frames carry it,
    but never the checksum, which is the only check a stream without ``seqId`` (OKX
    before 2023, and some channels still) offers. After ccxt applied a frame, the top 25
    levels of its book are hashed as OKX does and compared; a mismatch, or a crossed or
    locked book, rejects the watcher before ccxt resolves it. The channel is then left in
    ccxt's own ``resync`` state, so the next watch unsubscribes and subscribes again and
    OKX answers with a fresh snapshot (OKX sends snapshots only on subscribe).
    """

    async def watch_order_book_for_symbols(
        self, symbols: list[str], limit: int | None = None, params: dict | None = None
    ) -> Any:
        await self.before_book_watch(symbols)
        return await super().watch_order_book_for_symbols(symbols, limit, params or {})

    def handle_order_book_message(
        self, client: Any, message: Any, orderbook: Any, messageHash: str, market: Any = None
    ) -> Any:
        result = super().handle_order_book_message(client, message, orderbook, messageHash, market)
        if messageHash not in client.subscriptions:
            return result  # ccxt found a seqId gap and rejected the watcher already
        error: Exception | None = None
        kind = "checksum"
        expected = message.get("checksum") if isinstance(message, dict) else None
        if expected is not None:
            got = checksum_of_parsed(orderbook["bids"], orderbook["asks"])
            if got != int(expected):
                error = ChecksumError(
                    f"{self.id} {orderbook['symbol']}: book checksum {got} != {expected}; resync"
                )
        if error is None:
            error = self.crossed_error(orderbook)
            kind = "crossed"
        # A frame without seqId is checked by its top-25 checksum alone: a lost update
        # deeper than that is invisible, so only those levels are ever published.
        seq = message.get("seqId") if isinstance(message, dict) else None
        orderbook[VERIFIED_DEPTH] = CHECKSUM_DEPTH if seq is None else None
        if error is not None:
            # ccxt's update loop sees the missing subscription, stops applying this
            # frame's data and marks the channel for a resubscribe.
            del client.subscriptions[messageHash]
            self._guard_state()["awaiting"].add(messageHash)
            self.fail_book(client, orderbook["symbol"], messageHash, kind, error)
        return result

    def handle_order_book(self, client: Any, message: Any) -> Any:
        result = super().handle_order_book(client, message)
        awaiting = self._guard_state()["awaiting"]
        if awaiting:
            # ccxt marks a failed *update* for a resubscribe itself; a failed snapshot
            # needs the same, or the channel would keep streaming into no book.
            for message_hash in awaiting:
                client.subscriptions.setdefault(message_hash, "resync")
            awaiting.clear()
        return result


class OkxVenue(CcxtVenue):
    venue_id = "okx"
    ccxt_class = "okx"
    pro_client_class = OkxPro
    ccxt_options: ClassVar[dict[str, Any]] = {
        "defaultType": "swap",
        "fetchMarkets": {"types": ["swap"]},
    }
    # /api/v5/public/funding-rate-history: "limit ... maximum is 400"; data from "the last
    # 3 months" only. /api/v5/market/history-candles (and candles): "maximum is 300".
    # Both return newest first, bounded by `before` (newer than) / `after` (older than).
    page_limits: ClassVar[dict[str, int]] = {FUNDING: 400, OHLCV: 300}
    history_caps_ms: ClassVar[dict[str, int]] = {FUNDING: 90 * DAY_MS}
    # /api/v5/market/books: "sz ... maximum is 400".
    max_depth: ClassVar[int] = 400

    # The board: funding-rate?instId=ANY (rates, interval from the two settlement
    # times, premium) + tickers + open-interest + mark-price, each one SWAP-wide request.
    async def board_extras(
        self, perps: dict[str, MarketInfo], fundings: dict[str, Any], notes: list[str]
    ) -> dict[str, dict[str, Any]]:
        extras = await super().board_extras(perps, fundings, notes)
        if self.client.has.get("fetchMarkPrices"):
            marks = await self._board_bulk("fetchMarkPrices", self.client.fetch_mark_prices, notes)
            for symbol, mk in marks.items():
                if symbol in perps:
                    extras.setdefault(symbol, {})["mark"] = mk
        return extras

    def stated_basis(self, fr: dict[str, Any]) -> float | None:
        # okx's funding-rate carries neither mark nor index, but states its premium
        # index (impact prices over the index) with the rate
        return finite_float((fr.get("info") or {}).get("premium"))

    def book_limit(self, limit: int | None) -> int | None:
        return None if limit is None else min(limit, self.max_depth)

    def funding_history_params(self, lo: int, hi: int, limit: int) -> dict[str, Any]:
        # ccxt sends before=since-1 only, which okx answers with the *latest* rows;
        # `after` (exclusive) closes the window.
        return {"after": hi + 1}

    def ohlcv_params(self, lo: int, hi: int, limit: int) -> dict[str, Any]:
        # ccxt maps `until` to okx `after`, which is exclusive
        return {"until": hi + 1}

    def quote_volume(self, m: MarketInfo, t: dict[str, Any]) -> float | None:
        # okx swap tickers carry no quote volume (ccxt leaves it None, and its baseVolume
        # is vol24h in contracts); volCcy24h is the base amount, so quote ~ base x last.
        given = finite_float(t.get("quoteVolume"))
        if given is not None:
            return given
        base = finite_float((t.get("info") or {}).get("volCcy24h"))
        last = finite_float(t.get("last"))
        return base * last if base is not None and last is not None else None

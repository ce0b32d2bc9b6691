"""OKX perpetual swaps (instType SWAP). Sizes are contracts of `ctVal` base units."""

from __future__ import annotations

from typing import Any, ClassVar

from perptui.core.model import MarketInfo
from perptui.venues.base import FUNDING, OHLCV
from perptui.venues.ccxt_venue import DAY_MS, CcxtVenue, _float


class OkxVenue(CcxtVenue):
    venue_id = "okx"
    ccxt_class = "okx"
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

    def board_basis(self, fr: dict[str, Any]) -> float | None:
        # okx states the premium (mark over index) with the funding rate
        return _float((fr.get("info") or {}).get("premium"))

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
        given = _float(t.get("quoteVolume"))
        if given is not None:
            return given
        base = _float((t.get("info") or {}).get("volCcy24h"))
        last = _float(t.get("last"))
        return base * last if base is not None and last is not None else None

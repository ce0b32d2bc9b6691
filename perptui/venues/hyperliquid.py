"""Hyperliquid perpetuals (ccxt / ccxt.pro `hyperliquid`, POST /info, WS l2Book).

Every REST question is a POST to /info with a ``type`` (``metaAndAssetCtxs``, ``l2Book``,
``fundingHistory``, ``candleSnapshot``); every ``l2Book`` websocket push is a full snapshot,
so ccxt.pro's reset-on-push book is already right and needs no repair here.

Quirks handled (ccxt 4.5.90, seen on the recorded payloads in README_dex.md):

- ccxt's market ``id`` of a perp is its *position* in ``meta.universe`` (BTC is "3" on
  testnet and "0" on mainnet), so it is never used as perptui's venue id: `MarketInfo.id`
  is the coin name (``BTC``, ``kPEPE``), stable across networks and restarts.
- ``parse_funding_rate`` takes ``fundingTimestamp`` from the local wall clock; the payload has
  no time at all. The next settlement is computed here from the observation time instead,
  which is the venue's HTTP ``Date`` header when the transport gave one.
- ``fetch_open_interest`` calls ``self.symbol()`` before loading markets and fails on a fresh
  client; the venue always loads markets first (`perp`) and reads every OI from one
  ``metaAndAssetCtxs`` answer, adding the notional (``openInterest x markPx``) ccxt leaves out.
- HIP-3 builder-deployed perps (``perpDexs``) are not loaded (``fetchMarkets.types =
  ['swap']``) and any market flagged ``hip3`` is dropped, so only the main perp dex shows.
- ``fetchCurrencies`` asks for ``spotMeta``; perp data never needs spot tokens, so it is off.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from perptui.core.model import FundingInfo, MarketInfo, OpenInterest
from perptui.core.numbers import finite_float
from perptui.core.units import HOUR_MS
from perptui.venues.base import FUNDING, OHLCV
from perptui.venues.ccxt_venue import CcxtVenue
from perptui.venues.hourly import next_hour, response_time_ms


class HyperliquidVenue(CcxtVenue):
    venue_id = "hyperliquid"
    ccxt_class = "hyperliquid"
    ccxt_options: ClassVar[dict[str, Any]] = {
        "defaultType": "swap",
        "fetchMarkets": {"types": ["swap"]},
    }
    # capability flags switched off on the client: no spotMeta round trip at load_markets
    has_overrides: ClassVar[dict[str, Any]] = {"fetchCurrencies": False}
    # fundingHistory answers at most 500 rows from startTime, oldest first; candleSnapshot at
    # most 5000 candles, oldest first (and only the latest 5000 of a timeframe exist).
    page_limits: ClassVar[dict[str, int]] = {FUNDING: 500, OHLCV: 5000}
    ascending_history = frozenset({FUNDING, OHLCV})
    perp_subtypes = frozenset({"linear"})
    # funding settles every hour on the hour (Hyperliquid docs, "Funding")
    default_funding_interval_hours = 1.0
    settlement_ms: ClassVar[int] = HOUR_MS

    def __init__(self, client: Any, **options: Any) -> None:
        super().__init__(client, **options)
        client.has.update(self.has_overrides)

    # --------------------------------------------------------------- markets

    def is_perpetual(self, m: dict[str, Any]) -> bool:
        if (m.get("info") or {}).get("hip3"):
            return False
        return super().is_perpetual(m)

    def market_info(self, m: dict[str, Any]) -> MarketInfo:
        info = super().market_info(m)
        coin = (m.get("info") or {}).get("name") or m.get("baseName") or info.base
        return MarketInfo(
            exchange=info.exchange,
            symbol=info.symbol,
            id=str(coin),
            base=info.base,
            quote=info.quote,
            settle=info.settle,
            linear=info.linear,
            contract_size=info.contract_size,
            tick_size=info.tick_size,
            lot_size=info.lot_size,
            funding_interval_hours=info.funding_interval_hours,
        )

    # --------------------------------------------------------------- funding

    def observed_at(self) -> int:
        """Venue time of the last answer (HTTP Date header), else the local clock."""
        at = response_time_ms(self.client)
        return self.now_ms() if at is None else at

    def funding_info(self, m: MarketInfo, fr: dict[str, Any]) -> FundingInfo:
        base = super().funding_info(m, fr)
        at = self.observed_at()
        return FundingInfo(
            exchange=base.exchange,
            symbol=base.symbol,
            timestamp=at,
            funding_rate=base.funding_rate,
            next_funding_time=next_hour(at, self.settlement_ms),
            interval_hours=base.interval_hours,
            mark_price=base.mark_price,
            index_price=base.index_price,
            predicted_rate=None,  # metaAndAssetCtxs carries the running hour's rate only
        )

    # ----------------------------------------------------------- open interest

    async def fetch_open_interest(self, symbol: str) -> OpenInterest:
        m = await self.perp(symbol)  # markets loaded first: ccxt's own method needs them
        many = await self.call("fetchOpenInterests", self.client.fetch_open_interests, [m.symbol])
        oi = (many or {}).get(m.symbol) or {}
        amount = finite_float(oi.get("openInterestAmount"))
        mark = finite_float(((oi.get("info") or {}).get("info") or oi.get("info") or {}).get("markPx"))
        value = finite_float(oi.get("openInterestValue"))
        if value is None and amount is not None and mark is not None:
            value = amount * mark
        return OpenInterest(
            exchange=self.id,
            symbol=m.symbol,
            timestamp=self.observed_at(),
            amount=amount,
            value=value if value is None or math.isfinite(value) else None,
        )

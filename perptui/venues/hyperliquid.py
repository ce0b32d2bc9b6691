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

Predicted rate: ``metaAndAssetCtxs`` carries only the running hour's rate. The venue's
``predictedFundings`` question (POST /info, no other field; Hyperliquid docs, "Retrieve
predicted funding rates for different venues") answers, per coin, a list of
``[venue, {fundingRate, nextFundingTime[, fundingIntervalHours]} | null]`` pairs, where
``HlPerp`` is Hyperliquid itself (``BinPerp`` / ``BybitPerp`` are its view of those
venues). ccxt 4.5.90 has no method for it, so it goes through the implicit
``publicPostInfo``; one request answers every coin. Its ``nextFundingTime`` is the venue's
own statement of the next settlement and replaces the hour computed from the clock. Losing
it costs the predicted column only, never the funding rate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, ClassVar

from perptui.core.model import FundingInfo, MarketInfo, MarketQuote, OpenInterest
from perptui.core.numbers import finite_float
from perptui.core.units import HOUR_MS
from perptui.errors import CapabilityMissing, VenueError
from perptui.venues.base import FUNDING, OHLCV
from perptui.venues.ccxt_venue import CcxtVenue
from perptui.venues.hourly import next_hour, response_time_ms

log = logging.getLogger(__name__)


def predicted_by_coin(
    raw: Any, venue: str = "HlPerp"
) -> dict[str, tuple[float | None, int | None]]:
    """``{coin: (predicted rate, next funding time)}`` of ``venue`` in a predictedFundings
    answer; coins without an entry (or with ``null`` data) for that venue are left out."""
    out: dict[str, tuple[float | None, int | None]] = {}
    for item in raw if isinstance(raw, list) else ():
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], list)):
            continue
        coin, entries = item
        for entry in entries:
            if not (isinstance(entry, list) and len(entry) == 2) or entry[0] != venue:
                continue
            data = entry[1]
            if isinstance(data, dict):
                at = finite_float(data.get("nextFundingTime"))
                out[str(coin)] = (
                    finite_float(data.get("fundingRate")),
                    None if at is None else int(at),
                )
    return out


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
    # predictedFundings: asked beside every funding refresh (one request for all coins);
    # the entry named `predicted_venue` is Hyperliquid's own prediction
    predicted_fundings: ClassVar[bool] = True
    predicted_venue: ClassVar[str] = "HlPerp"
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
            predicted_rate=None,  # metaAndAssetCtxs: the running hour only (see `predicted`)
        )

    async def predicted(self) -> dict[str, tuple[float | None, int | None]]:
        """Hyperliquid's predicted rate and next settlement per coin ({} when unavailable)."""
        if not self.predicted_fundings:
            return {}
        try:
            raw = await self.call(
                "predictedFundings", self.client.publicPostInfo, {"type": "predictedFundings"}
            )
        except (VenueError, CapabilityMissing) as exc:  # VenueUnreachable is a VenueError
            log.warning("%s: predictedFundings unavailable: %s", self.id, exc)
            return {}
        return predicted_by_coin(raw, self.predicted_venue)

    def with_predicted(
        self, f: FundingInfo, m: MarketInfo, pred: dict[str, tuple[float | None, int | None]]
    ) -> FundingInfo:
        rate, at = pred.get(m.id, (None, None))
        if rate is None and at is None:
            return f
        return replace(
            f,
            predicted_rate=rate,
            next_funding_time=at if at is not None else f.next_funding_time,
        )

    async def fetch_funding(self, symbol: str) -> FundingInfo:
        m = await self.perp(symbol)
        return (await self.fetch_fundings([m.symbol]))[m.symbol]

    async def fetch_fundings(self, symbols: Iterable[str]) -> dict[str, FundingInfo]:
        got = await super().fetch_fundings(symbols)
        if not got:
            return got
        pred = await self.predicted()
        return {s: self.with_predicted(f, self.market(s), pred) for s, f in got.items()}

    # ------------------------------------------------------------------ board

    async def board_extras(
        self,
        perps: dict[str, MarketInfo],
        fundings: dict[str, dict[str, Any]],
        notes: list[str],
    ) -> dict[str, dict[str, Any]]:
        extras = await super().board_extras(perps, fundings, notes)
        pred = await self.predicted()
        for symbol in fundings:
            hit = pred.get(perps[symbol].id)
            if hit is not None:
                extras.setdefault(symbol, {})["predicted"] = hit
        return extras

    def board_quote(
        self, m: MarketInfo, fr: dict[str, Any], extra: dict[str, Any], now: int
    ) -> MarketQuote:
        q = super().board_quote(m, fr, extra, now)
        rate, at = extra.get("predicted", (None, None))
        return replace(
            q,
            predicted_rate=rate,
            # ccxt's fundingTimestamp is the local clock's next hour; the venue's wins
            next_funding_time=at if at is not None else next_hour(now, self.settlement_ms),
        )

    # ----------------------------------------------------------- open interest

    async def fetch_open_interest(self, symbol: str) -> OpenInterest:
        m = await self.perp(symbol)  # markets loaded first: ccxt's own method needs them
        many = await self.call("fetchOpenInterests", self.client.fetch_open_interests, [m.symbol])
        oi = (many or {}).get(m.symbol) or {}
        amount = finite_float(oi.get("openInterestAmount"))
        mark = finite_float(
            ((oi.get("info") or {}).get("info") or oi.get("info") or {}).get("markPx")
        )
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

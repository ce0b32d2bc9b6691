"""dYdX v4 perpetuals: ccxt `dydx` where it covers the indexer, its implicit API elsewhere.

ccxt 4.5.90 parses markets, books, candles and funding history, but has no unified funding
rate, open interest or ticker for dydx (``fetchFundingRate(s)=False``,
``fetchOpenInterest=None``, ``fetchTicker=False``). All three live in the indexer's
``GET /v4/perpetualMarkets`` entry of each market (``nextFundingRate``, ``oraclePrice``,
``openInterest``, ``volume24H``, ``priceChange24H``), which ccxt's implicit
``indexerGetPerpetualMarkets`` fetches; one request answers every symbol.

Gaps in ccxt's own history calls, handled here (see README_dex.md, "Parser findings"):

- candles: ccxt sends ``fromIso``/``toIso``; the indexer reads ``fromISO``/``toISO``
  (v4-chain comlink api-documentation.md, GetCandles), so ccxt's window is ignored and the
  newest candles come back whatever was asked. `ohlcv_page` sends the documented names.
- funding history: ccxt leaves ``until=`` in the URL and never sends ``since``. The indexer
  pages *backwards* from ``effectiveBeforeOrAt``, newest first, at most 1000 rows; windows
  of ``limit`` hours (the pager's fixed windows) therefore get every row with one request.

Errors: the indexer answers a bad request with HTTP 400 and its express-validator body
``{"errors": [{"msg", "param", "location", "value"}]}`` (v4-chain comlink), an unknown
market with 404 ``{"errors": [{"msg": "<ticker> not found in markets of type
PerpetualMarket"}]}`` and a geo-blocked caller with 403 ``{"errors": [{"msg", "code":
"GEOBLOCKED"}]}``. ccxt's dydx ``handle_errors`` only reads ``code`` of the chain's
answers, so its HTTP table turns all three into ExchangeNotAvailable and every one would
be retried. `rejection` names them instead (`ccxt_errors.install_rejections`): a request
error, an unknown symbol, a refusal, none retried.

The websocket book is repaired by `DydxBookClient` (venues/dydx_book.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from perptui.core.model import (
    FetchPage,
    FundingInfo,
    FundingRecord,
    MarketInfo,
    OpenInterest,
    Ticker,
)
from perptui.core.numbers import finite_float
from perptui.core.units import HOUR_MS, iso_ms
from perptui.venues.base import FUNDING, OHLCV, OnPage
from perptui.venues.ccxt_errors import install_rejections
from perptui.venues.ccxt_venue import CcxtVenue
from perptui.venues.dydx_book import adopt_book_client
from perptui.venues.hourly import next_hour, response_time_ms


def _errors(body: Any) -> list[dict[str, Any]]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def indexer_messages(body: Any) -> list[str]:
    """The ``msg`` (and ``param``) of each entry of an indexer error body."""
    out = []
    for e in _errors(body):
        if e.get("msg"):
            param = e.get("param")
            out.append(f"{e['msg']} ({param})" if param else str(e["msg"]))
    return out


def indexer_codes(body: Any) -> set[str]:
    """The ``code`` of each entry of an indexer error body (``GEOBLOCKED``)."""
    return {str(e["code"]) for e in _errors(body) if e.get("code")}


class DydxVenue(CcxtVenue):
    venue_id = "dydx"
    ccxt_class = "dydx"
    # /v4/candles and /v4/historicalFunding: "limit ... max 1000", newest first.
    page_limits: ClassVar[dict[str, int]] = {FUNDING: 1000, OHLCV: 1000}
    perp_subtypes = frozenset({"linear"})
    # funding accrues hourly on dYdX v4 (docs "Funding": paid every hour)
    default_funding_interval_hours = 1.0
    # fields of a /v4/perpetualMarkets entry that carry live data
    funding_field: ClassVar[str] = "nextFundingRate"
    oracle_field: ClassVar[str] = "oraclePrice"
    oi_field: ClassVar[str] = "openInterest"

    # HTTP statuses whose indexer answer blames the request (see module docstring); a 404
    # whose message has `unknown_market_text` is an unknown symbol
    rejected_statuses: ClassVar[dict[int, str]] = {
        400: "bad_request",
        403: "forbidden",
        404: "bad_request",
    }
    unknown_market_text: ClassVar[str] = "not found in markets of type"

    def __init__(self, client: Any, **options: Any) -> None:
        super().__init__(client, **options)
        adopt_book_client(client)
        install_rejections(client, self.rejection)

    def rejection(self, status: int, body: Any) -> tuple[str, str] | None:
        """(kind, the indexer's message) for an answer that blames the request, else None."""
        kind = self.rejected_statuses.get(status)
        if kind is None:
            return None
        messages = indexer_messages(body)
        text = "; ".join(messages) or f"HTTP {status}"
        if status == 404 and any(self.unknown_market_text in m for m in messages):
            kind = "unknown_symbol"
        if "GEOBLOCKED" in indexer_codes(body):
            kind, text = "forbidden", f"GEOBLOCKED: {text}"
        return kind, text

    # ------------------------------------------------------------ live fields

    def observed_at(self) -> int:
        at = response_time_ms(self.client)
        return self.now_ms() if at is None else at

    async def perpetual_markets(self, ticker: str | None = None) -> dict[str, dict[str, Any]]:
        """Raw /v4/perpetualMarkets entries keyed by ticker (``BTC-USD``)."""
        params = {"ticker": ticker} if ticker else {}
        raw = await self.call("perpetualMarkets", self.client.indexerGetPerpetualMarkets, params)
        return dict((raw or {}).get("markets") or {})

    def funding_from(self, m: MarketInfo, entry: dict[str, Any], at: int) -> FundingInfo:
        oracle = finite_float(entry.get(self.oracle_field))
        return FundingInfo(
            exchange=self.id,
            symbol=m.symbol,
            timestamp=at,
            funding_rate=finite_float(entry.get(self.funding_field)),
            next_funding_time=next_hour(at, HOUR_MS),
            interval_hours=m.funding_interval_hours,
            mark_price=oracle,  # dYdX marks positions at the oracle price
            index_price=oracle,
            predicted_rate=None,
        )

    async def fetch_funding(self, symbol: str) -> FundingInfo:
        m = await self.perp(symbol)
        entry = (await self.perpetual_markets(m.id)).get(m.id)
        if entry is None:
            return self.funding_from(m, {}, self.observed_at())
        return self.funding_from(m, entry, self.observed_at())

    async def fetch_fundings(self, symbols: Iterable[str]) -> dict[str, FundingInfo]:
        wanted = [(await self.perp(s)) for s in dict.fromkeys(symbols)]
        if not wanted:
            return {}
        entries = await self.perpetual_markets()
        at = self.observed_at()
        return {
            m.symbol: self.funding_from(m, entries[m.id], at) for m in wanted if m.id in entries
        }

    async def fetch_open_interest(self, symbol: str) -> OpenInterest:
        m = await self.perp(symbol)
        entry = (await self.perpetual_markets(m.id)).get(m.id) or {}
        amount = finite_float(entry.get(self.oi_field))
        oracle = finite_float(entry.get(self.oracle_field))
        return OpenInterest(
            exchange=self.id,
            symbol=m.symbol,
            timestamp=self.observed_at(),
            amount=amount,
            value=amount * oracle if amount is not None and oracle is not None else None,
        )

    async def fetch_ticker(self, symbol: str) -> Ticker:
        m = await self.perp(symbol)
        entry = (await self.perpetual_markets(m.id)).get(m.id) or {}
        last = finite_float(entry.get(self.oracle_field))
        change = finite_float(entry.get("priceChange24H"))
        pct = None
        if last is not None and change is not None and last - change > 0:
            pct = change / (last - change) * 100.0
        return Ticker(
            exchange=self.id,
            symbol=m.symbol,
            timestamp=self.observed_at(),
            last=last,
            percentage=pct,
            quote_volume=finite_float(entry.get("volume24H")),  # USD notional
        )

    # ---------------------------------------------------------------- history

    async def fetch_funding_history(
        self,
        symbol: str,
        since: int,
        until: int | None = None,
        on_page: OnPage | None = None,
    ) -> FetchPage:
        # ccxt's fetch_funding_rate_history never bounds below and leaks `until`; every page
        # goes through the implicit endpoint instead (see module docstring).
        m = await self.perp(symbol)

        async def fetch(lo: int, hi: int, limit: int) -> list[FundingRecord]:
            raw = await self.call(
                "fetchFundingRateHistory",
                self.client.indexerGetHistoricalFundingMarket,
                {"market": m.id, "effectiveBeforeOrAt": iso_ms(hi), "limit": limit},
            )
            rows = []
            for entry in (raw or {}).get("historicalFunding") or ():
                ts = self.client.parse8601(entry.get("effectiveAt"))
                rate = finite_float(entry.get("rate"))
                if ts is not None and rate is not None:
                    rows.append(FundingRecord(self.id, m.symbol, int(ts), rate))
            return rows

        return await self._history(FUNDING, fetch, HOUR_MS, since, until, on_page)

    async def ohlcv_page(
        self, m: MarketInfo, timeframe: str, lo: int, hi: int, limit: int
    ) -> list[list[Any]]:
        request = {
            "market": m.id,
            "resolution": self.client.timeframes.get(timeframe, timeframe),
            "fromISO": iso_ms(lo),
            "toISO": iso_ms(hi),
            "limit": limit,
        }
        raw = await self.call(
            "fetchOHLCV", self.client.indexerGetCandlesPerpetualMarketsMarket, request
        )
        rows = (raw or {}).get("candles") or []
        return self.client.parse_ohlcvs(rows, self.client.market(m.symbol), timeframe)

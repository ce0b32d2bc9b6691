"""The market-wide funding board from a ccxt venue: one bulk funding request plus the
bulk tickers / open interest the venue offers, with a rotating per-market fallback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from perptui.core.funding import parse_interval
from perptui.core.model import (
    BoardFetch,
    MarketInfo,
    MarketQuote,
)
from perptui.core.numbers import finite_float
from perptui.errors import CapabilityMissing, UnknownSymbol, VenueError
from perptui.venues.ccxt_errors import short
from perptui.venues.ccxt_quotes import CcxtQuotes

log = logging.getLogger(__name__)


class CcxtBoard(CcxtQuotes):
    """fetch_board and its per-venue hooks (board_extras, board_interval, board_quote ...)."""

    # The funding board (fetch_board): which bulk endpoints a refresh asks, and how many
    # single-market requests run at once when the venue has no bulk funding endpoint
    # (ccxt's own rate limiter paces them further).
    board_tickers: ClassVar[bool] = True  # fetchTickers for volume / bid / ask
    board_open_interests: ClassVar[bool] = True  # fetchOpenInterests where ccxt has it
    board_fallback_concurrency: ClassVar[int] = 4  # OI requests at once (rotation)
    # Venues without bulk open interest: markets whose OI one refresh asks for, one
    # request each, rotating through the listing (the first refresh asks for all).
    board_oi_rotation: ClassVar[int] = 0

    async def fetch_board(self, *, full: bool = False) -> BoardFetch:
        """Every perpetual's funding, prices, OI and volume with as few requests as the
        venue allows: one bulk funding request where ccxt has fetchFundingRates (else
        the contract's chunked fallback), plus the venue's bulk tickers / open interest.
        ``full``: also fill every column that otherwise fills in over several refreshes
        (open interest on venues without a bulk endpoint), at one request per market.

        The funding interval of each quote is what the venue says in this refresh
        (`board_interval` hook); a market whose interval the venue did not state gets
        None, never a remembered value."""
        if not self.client.has.get("fetchFundingRates"):
            # no bulk endpoint: the contract's paced fallback over fetch_fundings (which
            # a venue subclass may have specialised)
            return await super().fetch_board(full=full)
        perps = await self.load_markets()
        before = self.requests_made
        notes: list[str] = []
        bulk = True
        raw = await self.call("fetchFundingRates", self.client.fetch_funding_rates)
        fundings = {s: fr for s, fr in (raw or {}).items() if s in perps}
        self._board_full = full
        extras = await self.board_extras(perps, fundings, notes)
        now = self.now_ms()
        quotes = []
        for symbol, fr in fundings.items():
            m = perps[symbol]
            quotes.append(self.board_quote(m, fr, extras.get(symbol, {}), now))
        quotes.sort(key=lambda q: q.symbol)
        return BoardFetch(
            exchange=self.id,
            quotes=tuple(quotes),
            requests=self.requests_made - before,
            bulk=bulk,
            notes=tuple(notes),
        )

    async def board_extras(
        self,
        perps: dict[str, MarketInfo],
        fundings: dict[str, dict[str, Any]],
        notes: list[str],
    ) -> dict[str, dict[str, Any]]:
        """Hook: per symbol, the ccxt ticker ("ticker") and open interest ("oi") dicts
        from the venue's bulk endpoints; subclasses add what their venue offers."""
        extras: dict[str, dict[str, Any]] = {}
        if self.board_tickers and self.client.has.get("fetchTickers"):
            tickers = await self._board_bulk("fetchTickers", self.client.fetch_tickers, notes)
            for symbol, t in tickers.items():
                if symbol in perps:
                    extras.setdefault(symbol, {})["ticker"] = t
        if self.board_open_interests and self.client.has.get("fetchOpenInterests"):
            ois = await self._board_bulk(
                "fetchOpenInterests", self.client.fetch_open_interests, notes
            )
            for symbol, oi in ois.items():
                if symbol in perps:
                    extras.setdefault(symbol, {})["oi"] = oi
        if self.board_oi_rotation > 0 and self.client.has.get("fetchOpenInterest"):
            for symbol, oi in (await self._board_oi_rotation(list(fundings))).items():
                extras.setdefault(symbol, {}).setdefault("oi", oi)
        return extras

    async def _board_oi_rotation(self, symbols: list[str]) -> dict[str, dict[str, Any]]:
        """OI of the next `board_oi_rotation` markets (of all with ``fetch_board(full=True)``);
        every market answers from its last fetched value meanwhile."""
        cache: dict[str, dict[str, Any]] = self.__dict__.setdefault("_board_oi", {})
        cursor = int(self.__dict__.get("_board_oi_cursor", 0))
        if getattr(self, "_board_full", False):
            due = symbols
        else:
            n = min(self.board_oi_rotation, len(symbols))
            due = [symbols[(cursor + i) % len(symbols)] for i in range(n)] if symbols else []
            self.__dict__["_board_oi_cursor"] = (cursor + n) % max(1, len(symbols))
        gate = asyncio.Semaphore(self.board_fallback_concurrency)

        async def one(symbol: str) -> None:
            async with gate:
                try:
                    cache[symbol] = await self.call(
                        "fetchOpenInterest",
                        self.client.fetch_open_interest,
                        symbol,
                        dict(self.open_interest_params),
                    )
                except (VenueError, UnknownSymbol) as exc:  # VenueUnreachable is a VenueError
                    log.debug("%s: OI of %s unavailable: %s", self.id, symbol, exc)

        await asyncio.gather(*(one(s) for s in due))
        return dict(cache)

    async def _board_bulk(
        self, what: str, fn: Callable[..., Awaitable[Any]], notes: list[str], *args: Any
    ) -> dict[str, Any]:
        """One optional bulk call; its failure costs the board a column, not the refresh."""
        try:
            return dict(await self.call(what, fn, *args) or {})
        except (VenueError, CapabilityMissing) as exc:  # VenueUnreachable is a VenueError
            notes.append(f"{what} unavailable: {short(exc, 120)}")
            log.warning("%s: board %s failed: %s", self.id, what, exc)
            return {}

    def board_interval(
        self, m: MarketInfo, fr: dict[str, Any], extra: dict[str, Any]
    ) -> float | None:
        """Hook: the interval (hours) the venue states for this market in this refresh."""
        return parse_interval(fr.get("interval"))

    def board_quote(
        self, m: MarketInfo, fr: dict[str, Any], extra: dict[str, Any], now: int
    ) -> MarketQuote:
        ticker = extra.get("ticker") or {}
        book = extra.get("book") or ticker
        oi = extra.get("oi") or {}
        hours = self.board_interval(m, fr, extra)
        if hours is not None:
            self.set_funding_interval(m.symbol, hours)
        mark = (
            finite_float(fr.get("markPrice"))
            or finite_float((extra.get("mark") or {}).get("markPrice"))
            or finite_float(ticker.get("markPrice"))
        )
        next_time = fr.get("fundingTimestamp") or fr.get("nextFundingTimestamp")
        ts = fr.get("timestamp")
        return MarketQuote(
            exchange=self.id,
            symbol=m.symbol,
            base=m.base,
            timestamp=int(ts) if ts is not None else now,
            funding_rate=finite_float(fr.get("fundingRate")),
            interval_hours=hours,
            next_funding_time=int(next_time) if next_time is not None else None,
            predicted_rate=finite_float(fr.get("nextFundingRate")),
            mark_price=mark,
            index_price=finite_float(fr.get("indexPrice")),
            basis=self.stated_basis(fr),
            bid=finite_float(book.get("bid")),
            ask=finite_float(book.get("ask")),
            open_interest_usd=self.board_oi_usd(m, oi, mark),
            volume_24h_usd=self.quote_volume(m, ticker) if ticker else None,
        )

    def board_oi_usd(self, m: MarketInfo, oi: dict[str, Any], mark: float | None) -> float | None:
        value = finite_float(oi.get("openInterestValue"))
        if value is not None:
            return value
        amount = self.base_amount(m, finite_float(oi.get("openInterestAmount")))
        return amount * mark if amount is not None and mark is not None else None

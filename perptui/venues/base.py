"""The venue contract every backend (ccxt, the loopback emulator via ccxt) honours.

Callers (engine workers, jobs, doctor, UI backends) only ever see this interface and the
frozen records of `perptui.core.model`; which ccxt class sits underneath, how it pages, and how
a venue's contracts turn into base units is the implementation's business.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, ClassVar

from perptui.core.model import (
    BookSnapshot,
    FetchPage,
    FundingInfo,
    MarketInfo,
    OpenInterest,
    Ticker,
)

# A backfill job passes this to write every page as it arrives, so a killed run loses at
# most the page in flight. It may be sync or async.
OnPage = Callable[[Sequence[Any]], Awaitable[None] | None]

# History kinds, the keys of `Venue.page_limits` and `Venue.history_caps_ms`.
FUNDING = "funding"
OHLCV = "ohlcv"


class Venue(abc.ABC):
    """One exchange's public perpetual-swap data, in perptui's own records.

    Class attributes describe the venue (cryptofeed style) so a subclass for a quirky
    venue is mostly data:

    - ``page_limits``: rows per request the venue serves at most, per history kind.
    - ``history_caps_ms``: how far back (ms before now) the venue serves a history kind;
      absent means no known cap.
    """

    page_limits: ClassVar[dict[str, int]] = {FUNDING: 100, OHLCV: 200}
    history_caps_ms: ClassVar[dict[str, int]] = {}

    id: str  # perptui's venue id, e.g. "binance"
    ccxt_id: str  # ccxt class name, e.g. "binanceusdm"
    client: Any  # the ccxt (pro or async_support) instance

    @property
    @abc.abstractmethod
    def has(self) -> dict[str, Any]:
        """ccxt capability map (`exchange.has`)."""

    @abc.abstractmethod
    async def load_markets(self, reload: bool = False) -> dict[str, MarketInfo]:
        """Perpetual swap markets only, keyed by unified symbol."""

    @abc.abstractmethod
    def market(self, symbol: str) -> MarketInfo:
        """The perpetual market for `symbol`; UnknownSymbol otherwise."""

    @abc.abstractmethod
    async def fetch_order_book(self, symbol: str, limit: int | None = None) -> BookSnapshot: ...

    @abc.abstractmethod
    async def watch_order_book(self, symbol: str, limit: int | None = None) -> BookSnapshot:
        """Next book update over websocket; CapabilityMissing without ccxt.pro support."""

    @abc.abstractmethod
    async def fetch_funding(self, symbol: str) -> FundingInfo: ...

    @abc.abstractmethod
    async def fetch_fundings(self, symbols: Iterable[str]) -> dict[str, FundingInfo]: ...

    @abc.abstractmethod
    async def fetch_funding_history(
        self,
        symbol: str,
        since: int,
        until: int | None = None,
        on_page: OnPage | None = None,
    ) -> FetchPage:
        """Settled funding in [since, until], oldest first (rows: FundingRecord)."""

    @abc.abstractmethod
    async def fetch_ohlcv_history(
        self,
        symbol: str,
        timeframe: str,
        since: int,
        until: int | None = None,
        on_page: OnPage | None = None,
    ) -> FetchPage:
        """Candles opening in [since, until], oldest first (rows: Candle)."""

    @abc.abstractmethod
    async def fetch_open_interest(self, symbol: str) -> OpenInterest: ...

    @abc.abstractmethod
    async def fetch_ticker(self, symbol: str) -> Ticker: ...

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the client's sessions and sockets; safe to call twice."""

    async def __aenter__(self) -> Venue:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

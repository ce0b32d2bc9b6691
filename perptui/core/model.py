"""Plain frozen records passed between venues, engine, store and UI.

Everything here is immutable so a producer can hand a value to the UI or the
writer without copying and without locks.  Times are epoch milliseconds (UTC),
as ccxt uses them; prices and sizes are floats in the market's quote / base units
(contracts already multiplied by contract size where a venue quotes contracts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

Level = tuple[float, float]  # (price, amount)


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """One perpetual swap market as the venue defines it."""

    exchange: str
    symbol: str  # unified ccxt symbol, e.g. BTC/USDT:USDT
    id: str  # venue's own id, e.g. BTCUSDT / BTC-USDT-SWAP
    base: str
    quote: str
    settle: str
    linear: bool
    contract_size: float  # base units per contract (okx BTC-USDT-SWAP: 0.01)
    tick_size: float | None
    lot_size: float | None
    funding_interval_hours: float | None  # None: venue did not say (assume 8 h)


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    exchange: str
    symbol: str
    timestamp: int  # ms
    bids: tuple[Level, ...]  # best first, amounts in base units
    asks: tuple[Level, ...]
    nonce: int | None = None


class LiveBook(Protocol):
    """A venue's live, validated book, read when it is needed rather than per message.

    A stream applies messages to its own book; copying the whole book into a
    :class:`BookSnapshot` on every message was the engine's largest cost, while
    the hub reads a book only on its clock (the UI's 4-10 Hz for the focus
    market, once a second for the rest).  ``snapshot()`` copies the book as it
    stands *now*, or returns None when it is no longer the venue's in-sync book
    (a failed check dropped it, a resync replaced it): the hub then keeps the
    last good copy and never shows a book the venue has stopped vouching for.
    """

    @property
    def exchange(self) -> str: ...

    @property
    def symbol(self) -> str: ...

    def snapshot(self) -> BookSnapshot | None: ...


@dataclass(frozen=True, slots=True)
class CopiedBook:
    """A :class:`LiveBook` that is already a copy (REST polls, venues without a live book)."""

    book: BookSnapshot

    @property
    def exchange(self) -> str:
        return self.book.exchange

    @property
    def symbol(self) -> str:
        return self.book.symbol

    def snapshot(self) -> BookSnapshot | None:
        return self.book


@dataclass(frozen=True, slots=True)
class BookRecord:
    """A book as the store logs it: the hub's metrics of the whole book + its top levels.

    ``metrics`` (a :class:`perptui.core.metrics.DepthMetrics`) were computed once, on
    the clock, from every level the hub held, so a stored row says what the monitor
    showed; recomputing them from ``book`` would measure only its top levels.  ``book``
    holds the top N levels per side kept as ``raw_data`` (the replay ladder, later
    re-analysis).
    """

    book: BookSnapshot
    metrics: Any

    @property
    def exchange(self) -> str:
        return self.book.exchange

    @property
    def symbol(self) -> str:
        return self.book.symbol

    @property
    def timestamp(self) -> int:
        return self.book.timestamp


@dataclass(frozen=True, slots=True)
class FundingInfo:
    """A live funding observation: the rate that will settle next."""

    exchange: str
    symbol: str
    timestamp: int  # ms, when observed (venue time when given)
    funding_rate: float | None
    next_funding_time: int | None  # ms
    interval_hours: float | None
    mark_price: float | None = None
    index_price: float | None = None
    predicted_rate: float | None = None  # okx nextFundingRate etc., where given
    basis: float | None = None  # where the venue states it (okx premium), else None


def vouched_limit(limit: int | None, verified_depth: int | None) -> int | None:
    """The levels per side to hand out: ``limit`` (None or 0: all), but never deeper
    than the venue's checks vouch for (``verified_depth``; None: the whole book)."""
    if verified_depth is not None and (not limit or limit > verified_depth):
        return verified_depth
    return limit


@dataclass(frozen=True, slots=True)
class FundingRecord:
    """A settled funding payment from history."""

    exchange: str
    symbol: str
    timestamp: int  # ms, settlement time
    funding_rate: float


@dataclass(frozen=True, slots=True)
class Candle:
    exchange: str
    symbol: str
    timeframe: str
    timestamp: int  # ms, candle open
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class OpenInterest:
    exchange: str
    symbol: str
    timestamp: int
    amount: float | None  # base units / contracts as ccxt reports
    value: float | None  # quote notional where known


@dataclass(frozen=True, slots=True)
class Ticker:
    exchange: str
    symbol: str
    timestamp: int
    last: float | None
    percentage: float | None  # 24 h change in %
    quote_volume: float | None


@dataclass(frozen=True, slots=True)
class Signal:
    kind: str  # "funding_arb" | "divergence" | "imbalance"
    exchange: str  # venue, or "a|b" for cross-venue signals
    symbol: str
    timestamp: int
    direction: str  # human readable action, e.g. "short perp / long spot"
    value: float  # the number that crossed the threshold
    threshold: float
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FetchPage:
    """Result of a paginated history fetch, saying honestly how far it got."""

    rows: tuple[Any, ...]
    requests: int
    reached_cap: bool = False  # venue's history cap stopped us before `since`
    note: str = ""


@dataclass(frozen=True, slots=True)
class MarketQuote:
    """One perpetual's market-wide snapshot from a venue's bulk endpoints (the board).

    Every field the venue did not give is None; ``interval_hours`` is the interval the
    venue stated in this very refresh, never a remembered or assumed one.
    """

    exchange: str
    symbol: str
    base: str
    timestamp: int
    funding_rate: float | None
    interval_hours: float | None
    next_funding_time: int | None
    predicted_rate: float | None = None
    mark_price: float | None = None
    index_price: float | None = None
    basis: float | None = None  # where the venue states it (okx premium), else None
    bid: float | None = None
    ask: float | None = None
    open_interest_usd: float | None = None
    volume_24h_usd: float | None = None


@dataclass(frozen=True, slots=True)
class BoardFetch:
    """A venue's whole-market refresh: the quotes and what it cost in requests."""

    exchange: str
    quotes: tuple[MarketQuote, ...]
    requests: int
    bulk: bool  # funding came from one bulk request (False: paced per-symbol fallback)
    notes: tuple[str, ...] = ()

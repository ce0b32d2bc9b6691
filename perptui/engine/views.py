"""The hub's frozen records: what a reader (the UI, the engine clock) gets from a sample.

Plain frozen dataclasses, no behaviour beyond lookups; :mod:`perptui.engine.hub` builds
them.  Views of keys that did not change are reused object-for-object between samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from perptui.core.metrics import DepthMetrics
from perptui.core.model import Candle, FundingInfo, Level, MarketInfo, OpenInterest, Signal, Ticker
from perptui.core.peers import peer_symbol
from perptui.core.pool import PoolState

Key = tuple[str, str]  # (venue, symbol)

FEED_STATES = ("connecting", "connected", "reconnecting", "stale", "down")


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """How one venue's feeds are doing, as of the sample that produced it."""

    exchange: str
    state: str = "connecting"  # one of FEED_STATES
    last_msg_ms: int | None = None
    age_s: float | None = None  # seconds since last_msg_ms at sample time
    resyncs: int = 0
    reconnects: int = 0
    malformed: int = 0  # websocket frames skipped because they did not decode
    msgs_per_s: float = 0.0
    last_error: str = ""  # short, never contains credentials
    notes: tuple[str, ...] = ()  # e.g. symbols skipped because the venue does not list them


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    t: int  # ms
    mid: float | None
    spread_bps: float | None
    imbalance: tuple[float, ...]  # per band, in the order of HubView.bands


@dataclass(frozen=True, slots=True)
class MarketView:
    """Everything the UI shows for one (venue, symbol), frozen at sample time."""

    exchange: str
    symbol: str
    version: int  # bumps whenever this key's view was rebuilt
    bids: tuple[Level, ...] = ()  # top levels, best first
    asks: tuple[Level, ...] = ()
    book_ts: int | None = None  # venue timestamp of the book
    book_received_ms: int | None = None  # our clock when it arrived
    stale: bool = False  # no book for longer than the hub's stale_after
    metrics: DepthMetrics | None = None
    funding: FundingInfo | None = None
    funding_rate: float | None = None
    interval_hours: float | None = None  # venue's funding interval (funding, else market info)
    interval_assumed: bool = False  # True: the venue did not say; 8 h assumed
    annualized: float | None = None
    basis: float | None = None
    next_funding_time: int | None = None  # countdown = next_funding_time - now
    ticker: Ticker | None = None
    open_interest: OpenInterest | None = None
    candles: tuple[Candle, ...] = ()  # venue OHLCV, last candle extended from the live mid
    history: tuple[HistoryPoint, ...] = ()
    bands: tuple[float, ...] = ()
    market: MarketInfo | None = None
    pool: PoolState | None = None  # GMX: per-side liquidity, OI caps, price impact

    @property
    def key(self) -> Key:
        return (self.exchange, self.symbol)

    @property
    def mid(self) -> float | None:
        return self.metrics.mid if self.metrics is not None else None

    def mid_history(self) -> tuple[float, ...]:
        return tuple(p.mid for p in self.history if p.mid is not None)

    def spread_history(self) -> tuple[float, ...]:
        return tuple(p.spread_bps for p in self.history if p.spread_bps is not None)

    def imbalance_history(self, band: float = 0.01) -> tuple[float, ...]:
        try:
            i = self.bands.index(band)
        except ValueError:
            return ()
        return tuple(p.imbalance[i] for p in self.history if len(p.imbalance) > i)


@dataclass(frozen=True, slots=True)
class HubView:
    version: int
    now_ms: int
    venues: tuple[str, ...]
    symbols: tuple[str, ...]
    markets: Mapping[Key, MarketView]
    health: Mapping[str, FeedHealth]
    signals: tuple[Signal, ...]  # most recent last
    signals_total: int  # count ever added; a reader highlights signals beyond its last count
    # Keys rebuilt by this sample, relative to the previous sample by *any* caller
    # (the UI and the engine clock both sample).  A reader on its own clock should
    # compare MarketView objects by identity (or .version) with what it last drew.
    changed: frozenset[Key] = field(default_factory=frozenset)

    def market(self, venue: str, symbol: str) -> MarketView | None:
        return self.markets.get((venue, symbol))

    def peer(self, venue: str, symbol: str) -> MarketView | None:
        """``venue``'s market in ``symbol``'s peer group (`perptui.core.peers`: one base,
        USDT = USDC = USD), the exact symbol first: what a cross-venue panel shows for it."""
        found = self.markets.get((venue, symbol))
        if found is not None:
            return found
        hit = peer_symbol(symbol, [s for v, s in self.markets if v == venue])
        return None if hit is None else self.markets[(venue, hit)]

"""The hub's mutable slots: one `KeyState` per (venue, symbol) and one `HealthState` per
venue.  Only the hub touches them; readers get frozen views (`engine.views`)."""

from __future__ import annotations

from collections import deque

from perptui.core.metrics import DepthMetrics
from perptui.core.model import (
    BookSnapshot,
    Candle,
    FundingInfo,
    LiveBook,
    MarketInfo,
    OpenInterest,
    Ticker,
)
from perptui.core.pool import PoolState
from perptui.engine.views import HistoryPoint, MarketView


class KeyState:
    """Mutable per-(venue, symbol) slot; only the hub touches it."""

    __slots__ = (
        "book",
        "book_copied_ms",
        "book_received_ms",
        "candle_series",
        "candles",
        "funding",
        "history",
        "last_hist_t",
        "live",
        "live_candle",
        "market",
        "metrics",
        "metrics_at",
        "metrics_for",
        "oi",
        "pool",
        "stale",
        "ticker",
        "timeframe",
        "version",
        "view",
    )

    def __init__(self, history_points: int) -> None:
        self.book: BookSnapshot | None = None
        self.book_received_ms: int | None = None
        self.metrics_at = -(10**15)  # hub clock when `metrics` were computed
        self.live: LiveBook | None = None  # a newer book, not copied yet (see Hub.set_live_book)
        self.book_copied_ms: int | None = None  # book_received_ms of the last good copy
        self.funding: FundingInfo | None = None
        self.ticker: Ticker | None = None
        self.oi: OpenInterest | None = None
        self.pool: PoolState | None = None  # pool venues (GMX): liquidity instead of a book
        self.candles: dict[int, Candle] = {}  # open time -> candle
        self.candle_series: tuple[Candle, ...] = ()  # the same, oldest first
        self.live_candle: Candle | None = None  # newest period, extended from live mids
        self.timeframe: str | None = None
        self.market: MarketInfo | None = None
        self.metrics: DepthMetrics | None = None
        self.metrics_for: BookSnapshot | None = None
        self.history: deque[HistoryPoint] = deque(maxlen=history_points)
        self.last_hist_t = 0
        self.stale = False
        self.version = 0
        self.view: MarketView | None = None

    def take_live(self) -> BookSnapshot | None:
        """Copy the pending live book; the copy, or None (the last good copy stays).

        A book the venue stopped vouching for leaves the previous copy and its own
        receive time, so it turns stale on time instead of looking fresh.
        """
        live, self.live = self.live, None
        if live is None:
            return None
        book = live.snapshot()
        if book is None:
            self.book_received_ms = self.book_copied_ms
            return None
        self.book = book
        self.book_copied_ms = self.book_received_ms
        return book


class HealthState:
    """Mutable per-venue feed health; only the hub touches it."""

    __slots__ = (
        "feeds",
        "last_error",
        "last_msg_ms",
        "malformed",
        "msg_total",
        "notes",
        "rate_window",
        "reconnects",
        "resyncs",
    )

    def __init__(self) -> None:
        self.feeds: dict[str, str] = {}  # feed name ("" = venue level) -> state
        self.last_msg_ms: int | None = None
        self.msg_total = 0
        self.rate_window: deque[tuple[int, int]] = deque()  # (sample ms, msg_total)
        self.resyncs = 0
        self.reconnects = 0
        self.malformed = 0
        self.last_error = ""
        self.notes: list[str] = []

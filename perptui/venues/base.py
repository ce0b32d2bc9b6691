"""The venue contract every backend (ccxt, the loopback emulator via ccxt) honours.

Callers (engine workers, jobs, doctor, UI backends) only ever see this interface and the
frozen records of `perptui.core.model`; which ccxt class sits underneath, how it pages, and how
a venue's contracts turn into base units is the implementation's business.

What an implementation promises beyond the method signatures:

- **Errors** are perptui's (`perptui.errors`), never the library's: `UnknownSymbol`,
  `CapabilityMissing`, `BookOutOfSync` (a streamed book failed its sequence/checksum
  check), `VenueUnreachable` / `VenueTimeout` / `RateLimited` (transient, already retried
  where the method says so) and `VenueError` for any other answer.  Keep the original
  exception as ``__cause__``.  `asyncio.CancelledError` and `TimeoutError` pass through.
- **Streams**: a venue that streams books says so in ``has["watchOrderBook"]`` and
  implements `open_streams` / `drop_streams`, so the engine can notice a connection that
  died between two watches and drop one that went silent, without knowing what a
  connection is.  Non-streaming venues keep the defaults.
- **Pacing**: bulk jobs wrap their requests in ``with venue.paced(pacer):``; only the
  requests made inside that block (in this task and the tasks it starts) wait for the
  `perptui.venues.pacing.Pacer` and report throttling to it.
- No raw client: whatever library object sits underneath stays an implementation detail.
"""

from __future__ import annotations

import abc
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from perptui.core.model import (
    BoardFetch,
    BookSnapshot,
    CopiedBook,
    FetchPage,
    FundingInfo,
    LiveBook,
    MarketInfo,
    MarketQuote,
    OpenInterest,
    Ticker,
)
from perptui.errors import PerptuiError, VenueError

if TYPE_CHECKING:
    from perptui.core.pool import PoolState
    from perptui.venues.pacing import Pacer

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
    ccxt_id: str  # the underlying library's name for it, e.g. "binanceusdm" (for messages)

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

    async def watch_live_book(self, symbol: str, limit: int | None = None) -> LiveBook:
        """Wait for the next book update; the book itself is copied when it is read.

        Venues that keep a validated book of their own return a handle to it (see
        ``core.model.LiveBook``); the default copies at once.
        """
        return CopiedBook(await self.watch_order_book(symbol, limit))

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

    @property
    def malformed_frames(self) -> int:
        """Websocket frames skipped because they did not decode (0 for REST-only venues)."""
        return 0

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the client's sessions and sockets; safe to call twice."""

    def now_ms(self) -> int:
        """The clock history caps and a default `until` are measured against (epoch ms)."""
        return int(time.time() * 1000)

    def listed_at(self, market: MarketInfo) -> int | None:
        """When the market was listed (epoch ms), if the venue publishes it."""
        return None

    async def fetch_pools(self, symbols: Iterable[str]) -> dict[str, PoolState]:
        """Pool state per symbol, for venues that trade against a pool (GMX) instead
        of an order book; a book venue has none."""
        from perptui.errors import CapabilityMissing

        raise CapabilityMissing(f"{self.id} trades on order books, not pools")

    def history_cap_start(self, kind: str, since: int) -> int | None:
        """Where ``kind`` history starts on this venue, if its cap cuts off ``since``.

        None when the venue serves everything from ``since`` (or has no known cap).
        The history fetches move their start there themselves; a job planning its own
        windows (backfill) asks the same question here so both agree.
        """
        cap = self.history_caps_ms.get(kind)
        if cap is None:
            return None
        earliest = self.now_ms() - cap
        return earliest if since < earliest else None

    # ----------------------------------------------------------------- streams

    def open_streams(self) -> Mapping[str, int]:
        """Stream connection name -> a token that changes whenever it is replaced.

        Only open connections are listed.  The engine compares two readings: a name
        whose token changed or that disappeared is a connection that closed in between
        (the next watch reconnects silently, so this is the only way to see it).
        """
        return {}

    def book_syncing(self, symbol: str) -> bool:
        """True while ``symbol`` is subscribed on an open stream and its book waits
        for the snapshot it is built on (binance's REST depth, fetched through the
        venue's pacing).  The engine's watchdog does not count that as a stall.
        Venues that cannot tell say False."""
        return False

    async def drop_streams(self, idle_s: float | None = None, symbol: str | None = None) -> bool:
        """Close stream connections that received nothing for ``idle_s`` seconds.

        ``None`` closes every stream connection (one that answers pings but stopped
        delivering looks alive frame-wise).  With ``symbol``, only the connection(s)
        carrying that symbol's book are considered (every connection when the venue
        cannot tell which): one stalled book of many must not resubscribe them all.
        A connection that has not received its first frame yet is only closed with
        ``None``.  The next watch reconnects,
        resubscribes and rebuilds its books from a fresh snapshot; watches pending on a
        closed connection fail with `VenueUnreachable` (or are cancelled).  Returns
        whether anything was closed.
        """
        return False

    # ------------------------------------------------------------------ pacing

    @contextlib.contextmanager
    def paced(self, pacer: Pacer) -> Iterator[None]:
        """Pace the requests made inside the block (default: no pacing support)."""
        yield

    # ------------------------------------------------------------ the board

    board_chunk: ClassVar[int] = 50  # markets per fetch_fundings call in the fallback

    async def fetch_board(self, *, full: bool = False) -> BoardFetch:
        """Every perpetual's funding, for the market-wide board.

        This default works for any venue through `fetch_fundings`, in chunks of
        ``board_chunk`` markets one after another (the venue's own pacing applies);
        venues with bulk endpoints override it with one request per kind of data.
        The quote's interval is the one the venue reported with the rate."""
        markets = await self.load_markets()
        symbols = sorted(markets)
        quotes: list[MarketQuote] = []
        notes: list[str] = []
        # venues that count their HTTP requests keep `requests_made`
        before = int(getattr(self, "requests_made", 0))
        for i in range(0, len(symbols), self.board_chunk):
            chunk = symbols[i : i + self.board_chunk]
            try:
                got = await self.fetch_fundings(chunk)
            except Exception as exc:  # one chunk failing costs its rows, not the board
                if not isinstance(exc, PerptuiError):
                    raise
                notes.append(f"{len(chunk)} markets: {exc}")
                continue
            for sym, f in got.items():
                m = markets.get(sym)
                quotes.append(
                    MarketQuote(
                        exchange=self.id,
                        symbol=sym,
                        base=m.base if m is not None else sym.split("/")[0],
                        timestamp=f.timestamp,
                        funding_rate=f.funding_rate,
                        interval_hours=f.interval_hours,
                        next_funding_time=f.next_funding_time,
                        predicted_rate=f.predicted_rate,
                        mark_price=f.mark_price,
                        index_price=f.index_price,
                    )
                )
        if not quotes and notes:
            raise VenueError(f"{self.id}: no funding for any market ({notes[0]})")
        return BoardFetch(
            exchange=self.id,
            quotes=tuple(quotes),
            requests=int(getattr(self, "requests_made", 0)) - before,
            bulk=False,
            notes=tuple(notes),
        )

    async def __aenter__(self) -> Venue:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

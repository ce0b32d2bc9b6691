"""Long-lived loops that pull market data from one venue into the hub.

One :class:`VenueWorker` per venue owns:

* a book loop per watched symbol: ``watch_order_book`` when the venue
  streams books, otherwise REST ``fetch_order_book`` polling, re-armed only after
  the previous poll finished (never two requests of one loop in flight);
* pollers for funding (+ mark/index), open interest, tickers and recent OHLCV,
  each re-armed after it finishes.

Network faults are normal: every loop classifies the error, reports it in the
hub's feed health ("reconnecting", resync and reconnect counters, last error),
backs off with jitter and tries again.  Only cancellation ends a loop, and an
unknown symbol ends just that symbol's loops with a note in the venue's health.

The worker sees only the `perptui.venues.base.Venue` contract: perptui's error kinds,
``open_streams`` / ``drop_streams`` for the stream watchdog, never the library below.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perptui.core.model import BookSnapshot, FundingInfo, LiveBook, MarketInfo
from perptui.core.units import timeframe_ms
from perptui.engine.feed import Feed, cancelled_by_peer, classify, describe
from perptui.engine.hub import Hub
from perptui.engine.shutdown import cancel_and_wait, raise_if_cancelling
from perptui.errors import (
    CapabilityMissing,
    UnknownSymbol,
    VenueUnreachable,
)

if TYPE_CHECKING:
    from perptui.venues.base import Venue

log = logging.getLogger(__name__)
SNAPSHOT_WAIT_CAP_S = 600.0  # see VenueWorker._awaiting_snapshot

OnFunding = Callable[[FundingInfo], None]


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    use_ws: bool = True  # stream books where the venue supports it
    book_limit: int | None = None  # None: the venue's default stream depth
    rest_book_limit: int = 100
    book_poll_s: float = 1.0  # REST polling cadence when not streaming
    # Streaming: at most one book per this interval is taken from the venue (which keeps
    # applying every diff in the background).  The UI samples at 4-10 Hz, so
    # converting 40+ updates/s per symbol into records would only burn CPU.
    book_min_interval_s: float = 0.2
    # None: poll once at start-up (feeding the hub at once), then never again -- for
    # a caller that keeps funding current on its own schedule (the collector).
    funding_poll_s: float | None = 15.0
    oi_poll_s: float = 30.0
    ticker_poll_s: float = 30.0
    ohlcv_poll_s: float = 60.0
    ohlcv_timeframe: str = "1m"
    ohlcv_candles: int = 120  # recent candles seeded for the focus chart
    stale_after_s: float = 10.0  # watchdog: no book for this long -> stale + resubscribe
    # Upper bound for one REST call, including the venue layer's own retries, so a
    # venue that keeps failing shows up as reconnecting rather than connecting forever.
    request_timeout_s: float = 15.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    backoff_reset_after: float = 30.0
    down_after_failures: int = 4  # consecutive failures before a feed says "down"
    seed: int | None = None  # jitter seed (tests)


# ------------------------------------------------------------------ the venue worker


class VenueWorker:
    """All loops of one venue.  Start with :meth:`start`, add/remove symbols any time."""

    def __init__(
        self,
        venue: Venue,
        hub: Hub,
        symbols: Iterable[str],
        settings: WorkerSettings | None = None,
        *,
        on_funding: OnFunding | None = None,
    ) -> None:
        self.venue = venue
        self.id: str = venue.id
        self.hub = hub
        self.settings = settings or WorkerSettings()
        self.on_funding = on_funding
        self.wanted: list[str] = list(dict.fromkeys(symbols))
        self.active: list[str] = []  # wanted symbols the venue lists
        self.skipped: dict[str, str] = {}  # symbol -> why
        # requested symbol -> the venue's own market for it (BTC/USDT:USDT asked, a venue
        # quoting in USDC answers BTC/USDC:USDC); loops and records use the venue's symbol
        self.resolved: dict[str, str] = {}
        self.markets_loaded = asyncio.Event()
        self.markets: dict[str, Any] = {}  # symbol -> MarketInfo, once loaded
        self._ohlcv_seeded: set[str] = set()
        self._ws_seen: dict[str, int] = {}  # url -> id of its live connection
        self._last_ws_drop = -1e9  # monotonic time of the last forced websocket drop
        self._malformed_seen = 0
        self._fundings_bulk = True  # fetch_fundings until the venue says it cannot
        self._book_tasks: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._streaming = bool(self.settings.use_ws and self._has("watchOrderBook"))

    def _has(self, capability: str) -> bool:
        return bool((self.venue.has or {}).get(capability))

    # -------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Spawn the loops; returns at once (markets load in the background)."""
        if self._started:
            return
        self._started = True
        self.hub.set_health(self.id, feed="markets", state="connecting")
        self._tasks.append(self._spawn(self._run(), "main"))

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel every loop and close the venue; returns within ~2 x ``timeout_s``.

        A loop ends at its next turn even if a cancellation was swallowed below it
        (engine/shutdown.py); one that outlives ``timeout_s`` is logged and left
        behind rather than holding the shutdown (and the writer's last commit) hostage.
        """
        tasks = [*self._tasks, *self._book_tasks.values()]
        await cancel_and_wait(tasks, timeout_s, f"{self.id} worker")
        self._tasks.clear()
        self._book_tasks.clear()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.venue.close(), timeout=timeout_s)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(coro, name=f"perptui:{self.id}:{name}")

    async def _run(self) -> None:
        await self._load_markets()
        for sym in list(self.wanted):
            self._activate(sym)
        s = self.settings
        self._tasks.append(
            self._spawn(self._poll("funding", s.funding_poll_s, self._funding_once), "funding")
        )
        self._tasks.append(self._spawn(self._poll("oi", s.oi_poll_s, self._oi_once), "oi"))
        self._tasks.append(
            self._spawn(self._poll("ticker", s.ticker_poll_s, self._ticker_once), "ticker")
        )
        self._tasks.append(
            self._spawn(self._poll("ohlcv", s.ohlcv_poll_s, self._ohlcv_once), "ohlcv")
        )
        if self._has("fetchPool"):  # liquidity, OI caps and price impact instead of a book
            self._tasks.append(
                self._spawn(self._poll("pool", s.funding_poll_s or 15.0, self._pool_once), "pool")
            )

    async def _load_markets(self) -> None:
        feed = Feed(self.hub, self.id, "markets", self.settings)
        while True:
            raise_if_cancelling()
            try:
                markets = await asyncio.wait_for(
                    self.venue.load_markets(), timeout=self.settings.request_timeout_s
                )
            except asyncio.CancelledError as exc:
                if not cancelled_by_peer(exc):
                    raise
                await asyncio.sleep(feed.failed(exc))
            except Exception as exc:
                delay = feed.failed(exc)
                log.info(
                    "%s: markets not loaded (%s); retry in %.1fs", self.id, describe(exc), delay
                )
                await asyncio.sleep(delay)
            else:
                feed.forget()  # markets are loaded once; not a live feed
                self.markets = dict(markets or {})
                self.markets_loaded.set()
                return

    # -------------------------------------------------------------- symbols
    def add_symbol(self, symbol: str) -> None:
        if symbol not in self.wanted:
            self.wanted.append(symbol)
        if self.markets_loaded.is_set():
            self._activate(symbol)

    def remove_symbol(self, symbol: str) -> None:
        if symbol in self.wanted:
            self.wanted.remove(symbol)
        actual = self.resolved.pop(symbol, None)
        if actual is not None and actual not in self.resolved.values():
            symbol = actual
        if symbol in self.active:
            self.active.remove(symbol)
        if symbol in self.skipped:
            del self.skipped[symbol]
            self.hub.set_health(self.id, notes=self._notes())
        task = self._book_tasks.pop(symbol, None)
        if task is not None:
            task.cancel()
        self.hub.set_health(self.id, feed="book:" + symbol, state=None)

    def _notes(self) -> list[str]:
        return [f"{s}: {why}" for s, why in self.skipped.items()]

    def _skip(self, symbol: str, why: str) -> None:
        if symbol in self.active:
            self.active.remove(symbol)
        self.skipped[symbol] = why
        self.hub.set_health(self.id, notes=self._notes())
        self.hub.set_health(self.id, feed="book:" + symbol, state=None)
        log.warning("%s: skipping %s (%s)", self.id, symbol, why)

    def _activate(self, symbol: str) -> None:
        if symbol in self.active or symbol in self._book_tasks:
            return
        try:
            info = self.venue.market(symbol)
        except UnknownSymbol as exc:
            text = str(exc)
            hint = text[text.find("did you mean") :] if "did you mean" in text else ""
            self._skip(symbol, "not listed" + (f"; {hint}" if hint else ""))
            return
        except Exception as exc:  # any other venue oddity: treat as not listed
            self._skip(symbol, describe(exc))
            return
        if isinstance(info, MarketInfo) and info.symbol != symbol:
            self.resolved[symbol] = symbol = info.symbol
            if symbol in self.active or symbol in self._book_tasks:
                return  # two requests, one market
        self.active.append(symbol)
        if isinstance(info, MarketInfo):
            self.hub.set_market_info(info)
        has = getattr(self.venue, "has", None) or {}
        if has.get("fetchOrderBook") is False and not has.get("watchOrderBook"):
            return  # a pool venue (GMX): no book to follow; its pool state is polled
        self._book_tasks[symbol] = self._spawn(self._book_loop(symbol), "book:" + symbol)

    # -------------------------------------------------------------- books
    async def _book_loop(self, symbol: str) -> None:
        """Books of one symbol into the hub until cancelled or the venue drops the symbol."""
        feed = Feed(self.hub, self.id, "book:" + symbol, self.settings)
        feed.set("connecting")
        strikes = 0  # consecutive watchdog periods without a book
        syncing = 0  # of those, periods spent waiting for the venue's snapshot
        try:
            while True:
                raise_if_cancelling()
                try:
                    book = await self._next_book(symbol, feed)
                except asyncio.CancelledError as exc:
                    if not cancelled_by_peer(exc):
                        raise
                    await asyncio.sleep(feed.failed(VenueUnreachable("stream reset")))
                    continue
                except TimeoutError as exc:
                    if self._streaming and self._awaiting_snapshot(symbol, syncing):
                        # Subscribed on a live connection, the book waits for its
                        # snapshot (a paced REST call): not a stall. Dropping the
                        # connection now would only queue another snapshot.
                        syncing += 1
                        feed.set("connecting", "resyncing: waiting for the book snapshot")
                    elif self._streaming:
                        strikes += 1
                        await self._stalled(symbol, feed, strikes)
                    else:
                        await asyncio.sleep(feed.failed(exc))
                    continue
                except Exception as exc:
                    if not await self._book_failed(symbol, feed, exc):
                        return
                    continue
                strikes = syncing = feed.forced_drops = 0
                await self._deliver(book, feed)
        finally:
            # Only our own entry: the symbol may have been removed and re-added,
            # with a new loop registered while this one was being cancelled.
            if self._book_tasks.get(symbol) is asyncio.current_task():
                del self._book_tasks[symbol]

    async def _next_book(self, symbol: str, feed: Feed) -> BookSnapshot | LiveBook:
        """The next streamed book (TimeoutError after stale_after_s), or one REST poll.

        A streamed book comes as the venue's live book, copied when the hub reads it.
        """
        s = self.settings
        if not self._streaming:
            return await asyncio.wait_for(
                self.venue.fetch_order_book(symbol, s.rest_book_limit),
                timeout=s.request_timeout_s,
            )
        if self._ws_lost():
            # The socket died while this loop was between watches (the venue
            # reconnects silently on the next watch): show it.
            self.hub.count_reconnect(self.id)
            feed.set("reconnecting", "websocket connection lost; reconnecting")
        return await asyncio.wait_for(
            self.venue.watch_live_book(symbol, s.book_limit), timeout=s.stale_after_s
        )

    def _awaiting_snapshot(self, symbol: str, periods: int) -> bool:
        """The venue says ``symbol``'s book waits for its snapshot.

        No request timeout bounds this: the snapshot call ends by itself (its own
        timeouts and retries, then it fails the watch), but it may first queue behind
        the venue's pacing for as long as the snapshots ahead of it take (binance:
        one 1000-level depth a second, so ``collect --all`` waits minutes for its last
        books). ``SNAPSHOT_WAIT_CAP_S`` only guards against a venue that claims to
        sync forever.
        """
        if periods * self.settings.stale_after_s >= SNAPSHOT_WAIT_CAP_S:
            return False
        return self.venue.book_syncing(symbol)

    async def _stalled(self, symbol: str, feed: Feed, strikes: int) -> None:
        """A stream delivered nothing for ``strikes`` watchdog periods.

        Socket open but silent (or a quiet book): say so honestly, and drop the
        connection if it is the connection that went quiet.
        """
        feed.set("stale", f"no book update for {strikes * self.settings.stale_after_s:g}s")
        if await self._drop_stalled_ws((symbol, feed) if strikes >= 2 else None):
            self.hub.count_reconnect(self.id)
            self._ws_lost()  # our own drop: already counted

    async def _book_failed(self, symbol: str, feed: Feed, exc: Exception) -> bool:
        """React to a failed watch/poll; False when this symbol's loop must end."""
        kind = classify(exc)
        if kind == "symbol":
            self._skip(symbol, describe(exc))
            return False
        if kind == "capability" and self._streaming:
            self._streaming = False  # fall back to REST polling
            return True
        delay = feed.failed(exc)
        log.debug("%s %s book: %s; retry in %.2fs", self.id, symbol, describe(exc), delay)
        await asyncio.sleep(delay)
        return True

    async def _deliver(self, book: BookSnapshot | LiveBook, feed: Feed) -> None:
        """Hand a book to the hub, then wait the poll / minimum-interval spacing."""
        s = self.settings
        if isinstance(book, BookSnapshot):
            self.hub.set_book(book)
        else:
            self.hub.set_live_book(book)
        feed.ok()
        self._report_malformed()
        if not self._streaming:
            await asyncio.sleep(s.book_poll_s)
            return
        # Connections that delivered this book are known good; a later _ws_lost()
        # compares against them.
        self._ws_seen.update(self.venue.open_streams())
        if s.book_min_interval_s > 0:
            await asyncio.sleep(s.book_min_interval_s)

    def _report_malformed(self) -> None:
        """Mirror the venue's count of skipped undecodable frames into its health."""
        n = int(getattr(self.venue, "malformed_frames", 0) or 0)
        if n != self._malformed_seen:
            self._malformed_seen = n
            self.hub.set_health(self.id, malformed=n)

    def _ws_lost(self) -> bool:
        """True once for each stream connection that closed since the last call.

        Compares the venue's open stream connections with those seen last time;
        several book loops share a connection, and whichever notices first reports
        the loss, once.
        """
        current = dict(self.venue.open_streams())
        lost = any(current.get(name) != token for name, token in self._ws_seen.items())
        self._ws_seen = current
        return lost

    async def _drop_stalled_ws(self, force_for: tuple[str, Feed] | None = None) -> bool:
        """Drop stream connections that received nothing for stale_after_s.

        The venue re-subscribes (and resyncs books from a fresh snapshot) on the next
        watch.  Connections that still carry frames are left alone - a quiet book on
        a live connection is just quiet - unless ``force_for`` (symbol, feed) names a book silent for
        several watchdog periods (a server that answers pings but stopped streaming
        looks alive frame-wise): then the connection carrying that book is dropped,
        not its venue's others.  Debounced per venue, so the several books of one
        stalled connection drop it once, and a connection still opening (no frame
        yet) is not killed by its neighbours' watchdogs.
        """
        now = time.monotonic()
        if now - self._last_ws_drop < self.settings.stale_after_s:
            return False
        if force_for is not None:
            # Backoff per book: each forced drop that brought no book of it back
            # doubles the wait before the next (a venue slow to resync must not be
            # reconnected into a storm; a venue's other books delivering says
            # nothing about this one).
            feed = force_for[1]
            if now - feed.forced_at < self.settings.stale_after_s * 2 ** min(feed.forced_drops, 5):
                return False
        # Claimed before the await: the neighbours' watchdogs firing while this drop
        # closes the socket must not drop the fresh connection that replaces it.
        previous, self._last_ws_drop = self._last_ws_drop, now
        if force_for is None:
            dropped = await self.venue.drop_streams(self.settings.stale_after_s)
        else:
            dropped = await self.venue.drop_streams(None, symbol=force_for[0])
        self._last_ws_drop = time.monotonic() if dropped else previous
        if dropped and force_for is not None:
            force_for[1].forced_drops += 1
            force_for[1].forced_at = time.monotonic()
        return dropped

    # -------------------------------------------------------------- pollers
    async def _poll(
        self, name: str, every_s: float | None, once: Callable[[], Awaitable[None]]
    ) -> None:
        """Run ``once`` every ``every_s`` seconds, measured from when it finished.

        ``every_s`` None: until the first success only (retrying with backoff).
        """
        feed = Feed(self.hub, self.id, name, self.settings)
        timeout = self.settings.request_timeout_s
        if every_s is not None:
            timeout = max(timeout, every_s)
        while True:
            raise_if_cancelling()
            if not self.active:
                await asyncio.sleep(1.0 if every_s is None else min(every_s, 1.0))
                continue
            try:
                await asyncio.wait_for(once(), timeout=timeout)
            except asyncio.CancelledError as exc:
                if not cancelled_by_peer(exc):
                    raise
                await asyncio.sleep(feed.failed(exc))
            except Exception as exc:
                if classify(exc) == "capability":
                    feed.forget()
                    log.info("%s: %s not available (%s)", self.id, name, describe(exc))
                    return
                delay = feed.failed(exc)
                log.debug("%s %s: %s; retry in %.2fs", self.id, name, describe(exc), delay)
                await asyncio.sleep(max(delay, 0.0))
            else:
                feed.ok()
                if every_s is None:
                    return
                await asyncio.sleep(every_s)

    async def _per_symbol(
        self, fn: Callable[[str], Awaitable[Any]], store: Callable[[Any], None]
    ) -> None:
        """Call ``fn`` for each active symbol; unknown symbols are skipped, others raise."""
        first_error: BaseException | None = None
        successes = 0
        for sym in list(self.active):
            try:
                result = await fn(sym)
                successes += 1
                if sym in self.active:  # not removed while we waited
                    store(result)
            except Exception as exc:
                kind = classify(exc)
                if kind == "symbol":
                    self._skip(sym, describe(exc))
                elif kind == "capability":
                    raise
                elif first_error is None:
                    first_error = exc
        if first_error is not None and successes == 0:
            raise first_error

    async def _funding_once(self) -> None:
        symbols = list(self.active)
        if not symbols:
            return
        if self._fundings_bulk:
            # One request for all symbols where the venue allows it (binance
            # premiumIndex, bybit tickers); per-symbol otherwise.
            try:
                got = await self.venue.fetch_fundings(symbols)
            except CapabilityMissing:
                self._fundings_bulk = False
            else:
                for sym, f in got.items():
                    if sym in self.active:  # not removed while we waited
                        self._store_funding(f)
                return
        await self._per_symbol(self.venue.fetch_funding, self._store_funding)

    def _store_funding(self, f: FundingInfo) -> None:
        self.hub.set_funding(f)
        if self.on_funding is not None:
            self.on_funding(f)

    async def _pool_once(self) -> None:
        pools = await self.venue.fetch_pools(list(self.active))
        for sym, pool in pools.items():
            if sym in self.active:
                self.hub.set_pool(pool)

    async def _oi_once(self) -> None:
        await self._per_symbol(self.venue.fetch_open_interest, self.hub.set_open_interest)

    async def _ticker_once(self) -> None:
        await self._per_symbol(self.venue.fetch_ticker, self.hub.set_ticker)

    async def _ohlcv_once(self) -> None:
        s = self.settings
        tf = timeframe_ms(s.ohlcv_timeframe)
        now = int(time.time() * 1000)
        seeded = self._ohlcv_seeded

        async def fetch(sym: str) -> Any:
            # First time: the chart's full window; afterwards only the last few candles.
            back = s.ohlcv_candles if sym not in seeded else 3
            page = await self.venue.fetch_ohlcv_history(
                sym, s.ohlcv_timeframe, now - back * tf, now
            )
            seeded.add(sym)
            return page.rows

        await self._per_symbol(fetch, self.hub.add_candles)

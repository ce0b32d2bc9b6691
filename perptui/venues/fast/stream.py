"""The fast book path's websocket side: connections, subscriptions, watchers, failures.

`BookStream` owns the stream connections of one venue (aiohttp websockets, frames decoded
with orjson) and one `Feed` per watched symbol.  What a message means - which feed it is
for, whether it is a snapshot, whether its sequence number follows on - is the venue's,
in a subclass (binance.py, bybit.py, okx.py) that implements `subscribe`, `resubscribe`
and `on_message` and reports through `Feed`.

The contract it keeps for `Venue.watch_order_book` is ccxt.pro's:

- a watch returns the book after the *next* validated message (a fresh subscription's
  first book is its snapshot);
- a failed check (sequence gap, checksum, crossed or locked book) drops the book, rejects
  the pending watches with `BookOutOfSync` (the check's own error as ``__cause__``), or
  keeps the error for the next watch when none is pending; the next watch asks the
  venue for a fresh snapshot in the venue's own way.  A book that failed is never
  handed out: a watch that woke up before a failure but resumes after it raises too;
- a connection that closes (or that `drop` closes) fails its feeds' watches with
  `VenueUnreachable`; the next watch opens a new connection and subscribes again.

Nothing is sorted or converted per message beyond what the checks need (`WireBook`);
the `BookSnapshot` a watch returns is built when the watcher runs, at the engine's pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp
import orjson

from perptui.core.model import BookSnapshot, LiveBook, MarketInfo, vouched_limit
from perptui.core.wire_book import WireBook
from perptui.errors import BookOutOfSync, VenueUnreachable
from perptui.venues.fast.live import FeedBook

if TYPE_CHECKING:
    from perptui.venues.ccxt_venue import CcxtVenue

log = logging.getLogger(__name__)

LOG_FIRST = 3  # malformed frames logged at WARNING, then every LOG_EVERY-th
LOG_EVERY = 1000
# What a book message that is not in the venue's format raises while it is read.
UNREADABLE = (KeyError, TypeError, ValueError, IndexError)


class Feed:
    """One symbol's subscription and book on a stream connection."""

    __slots__ = (
        "book",
        "buffer",
        "chained",
        "conn",
        "error",
        "generation",
        "key",
        "live",
        "market",
        "resubscribe",
        "seen",
        "starting",
        "symbol",
        "topic",
        "version",
        "waiters",
    )

    def __init__(self, market: MarketInfo, key: str, topic: Any) -> None:
        self.market = market
        self.symbol = market.symbol
        self.key = key  # how the venue names the symbol in its messages
        self.topic = topic  # what the venue subscribes to
        self.book: WireBook | None = None
        self.live = False  # a snapshot was applied: updates apply
        self.buffer: list[Any] | None = None  # updates waiting for a REST snapshot
        self.chained = False  # an update followed on from the snapshot (binance's bridge)
        self.conn: Connection | None = None
        self.waiters: list[asyncio.Future[int]] = []
        self.error: BaseException | None = None  # a failure no watch has seen yet
        self.generation = 0  # bumped whenever the book is dropped
        self.resubscribe = False  # the next watch must ask for a fresh snapshot
        self.starting: asyncio.Task[None] | None = None  # connecting / (re)subscribing
        self.version = 0  # validated messages applied so far
        self.seen = 0  # the version the last watch returned

    def resolve(self) -> None:
        """Wake the watchers: the book passed every check after this message."""
        self.version += 1
        waiters = self.waiters
        if waiters:
            self.waiters = []
            generation = self.generation
            for w in waiters:
                if not w.done():
                    w.set_result(generation)


class Connection:
    """One websocket and the feeds subscribed over it."""

    def __init__(self, name: str, url: str, serial: int, send_gap_s: float = 0.0) -> None:
        self.name = name
        self.url = url
        self.serial = serial
        self.send_gap_s = send_gap_s  # the venue's message rate limit, as a spacing
        self._last_send: float | None = None  # loop time the last message went out
        self._sending = asyncio.Lock()  # FIFO: concurrent senders go out in order
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.feeds: dict[str, Feed] = {}  # by the venue's key
        self.reader: asyncio.Task[None] | None = None
        self.pinger: asyncio.Task[None] | None = None
        self.last_message_ms: float | None = None
        self.closed = False

    async def send(self, payload: Any) -> None:
        if self.ws is None or self.closed:
            raise VenueUnreachable(f"stream {self.name} is closed")
        data = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
        if self.send_gap_s:
            await self._spaced_send(data)
            return
        await self._send_now(data)

    async def _spaced_send(self, data: str) -> None:
        """Send ``data`` at least ``send_gap_s`` after the previous message went out.

        The gap is measured from when each message actually left, not from a slot
        booked in advance: booked slots bunch up when the event loop is busy for a
        second (every sleeper wakes at once), and a burst over binance's 10 messages
        a second gets the connection cut.
        """
        loop = asyncio.get_running_loop()
        async with self._sending:
            last = self._last_send
            if last is not None:
                wait = last + self.send_gap_s - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            if self.ws is None or self.closed:
                raise VenueUnreachable(f"stream {self.name} is closed")
            try:
                await self._send_now(data)
            finally:
                self._last_send = loop.time()

    async def _send_now(self, data: str) -> None:
        assert self.ws is not None
        try:
            await self.ws.send_str(data)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            raise VenueUnreachable(f"stream {self.name}: send failed: {exc}") from exc


class BookStream:
    """Streamed, validated books of one venue over its own websocket connections.

    Class data a venue subclass sets:

    - ``per_connection``: symbols subscribed over one connection at most;
    - ``ping_every_s`` / ``ping_payload``: the application-level keep-alive the venue
      asks clients for (None: the websocket's own ping frames suffice);
    - ``control_texts``: non-JSON text frames the venue sends (``"pong"``), not counted
      as malformed;
    - ``sends_per_s``: messages a connection may send a second (None: no limit known);
      subscribes, resubscribes and pings are spaced to stay within it.
    """

    per_connection: ClassVar[int] = 50
    ping_every_s: ClassVar[float | None] = None
    ping_payload: ClassVar[Any] = None
    control_texts: ClassVar[frozenset[str]] = frozenset()
    connect_timeout_s: ClassVar[float] = 10.0
    sends_per_s: ClassVar[float | None] = None

    def __init__(self, venue: CcxtVenue) -> None:
        self.venue = venue
        self.client = venue.client  # the venue's ccxt client: its URLs and REST calls
        self.feeds: dict[str, Feed] = {}  # by unified symbol
        self.connections: list[Connection] = []
        self.failures: dict[str, int] = {}
        self.malformed_frames = 0
        self.late_checks = 0  # checks `verify` made (caught up, or a book handed out)
        self._unverified: dict[int, Feed] = {}  # feeds whose latest state awaits `verify`
        self._catch_up: asyncio.Handle | None = None
        self._session: aiohttp.ClientSession | None = None
        self._serials = itertools.count(1)
        self._opening = asyncio.Lock()
        self._requests = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------ venue hooks

    def names(self, m: MarketInfo, limit: int | None) -> tuple[str, Any]:
        """(how the venue's messages name ``m``'s book, what to subscribe to)."""
        raise NotImplementedError

    async def url(self, feed: Feed, index: int) -> str:
        """The websocket URL of the ``index``-th connection (the ccxt client's URLs)."""
        raise NotImplementedError

    async def subscribe(self, conn: Connection, feed: Feed) -> None:
        raise NotImplementedError

    async def resubscribe(self, conn: Connection, feed: Feed) -> None:
        """Ask again for a snapshot after a failure (default: subscribe again)."""
        await self.subscribe(conn, feed)

    def on_message(self, conn: Connection, msg: Any) -> None:
        raise NotImplementedError

    def request_id(self) -> int:
        return next(self._requests)

    # ---------------------------------------------------------------- watching

    async def watch(self, m: MarketInfo, limit: int | None) -> BookSnapshot:
        feed, book = await self._next(m, limit)
        snapshot = self.snapshot(feed, book, limit)
        if snapshot is None:
            stored, feed.error = feed.error, None
            raise stored or BookOutOfSync(f"{self.venue.id} {m.symbol}: book dropped; resync")
        return snapshot

    def verify(self, feed: Feed, book: WireBook) -> bool:
        """The checks a venue makes on a book's latest state rather than inside each
        message (OKX's checksum); False when one failed and the feed was failed for it.

        `snapshot`, the one way a book leaves the stream (`watch`, `FeedBook`), calls
        it first, so no book is handed out whose latest check value was not compared;
        and `check_when_caught_up` runs it as soon as the readers have no frame
        waiting, so a stream that is not saturated is checked after every message.
        """
        return True

    def check_when_caught_up(self, feed: Feed) -> None:
        """``feed``'s latest state has a check value: `verify` it once the event loop
        next runs anything but the readers (each reader keeps the loop while frames are
        queued for it), or when the book is handed out, whichever is first."""
        self._unverified[id(feed)] = feed
        if self._catch_up is None:
            self._catch_up = asyncio.get_running_loop().call_soon(self._caught_up)

    def _caught_up(self) -> None:
        self._catch_up = None
        feeds, self._unverified = self._unverified, {}
        for feed in feeds.values():
            book = feed.book
            if book is not None and book.unverified is not None:
                self.verify(feed, book)

    async def watch_live(self, m: MarketInfo, limit: int | None) -> LiveBook:
        feed, book = await self._next(m, limit)
        return FeedBook(self, feed, book, limit)

    async def _next(self, m: MarketInfo, limit: int | None) -> tuple[Feed, WireBook]:
        """Wait for a validated update of ``m``'s book (or take one not yet seen)."""
        feed = self.feeds.get(m.symbol)
        if feed is None:
            key, topic = self.names(m, limit)
            feed = self.feeds[m.symbol] = Feed(m, key, topic)
        if feed.error is not None:
            error, feed.error = feed.error, None
            raise error
        conn = feed.conn
        if conn is None or conn.closed or feed.resubscribe or feed.starting is not None:
            # in a task of its own: a watch that times out (the engine's watchdog) must
            # not leave a subscription half made
            if feed.starting is None:
                feed.starting = self._spawn(self._start(feed))
            starting = feed.starting
            try:
                await asyncio.shield(starting)
            finally:
                if starting.done() and feed.starting is starting:
                    feed.starting = None
        if feed.book is not None and feed.version != feed.seen:
            # validated updates arrived since the last watch returned: the latest book
            # now (ccxt.pro would wait for one more message; a quiet book may not send it)
            feed.seen = feed.version
            return feed, feed.book
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        feed.waiters.append(waiter)
        try:
            generation = await waiter
        finally:
            if not waiter.done():
                waiter.cancel()
            with contextlib.suppress(ValueError):
                feed.waiters.remove(waiter)
        book = feed.book
        if book is None or generation != feed.generation:
            # the book failed after this watch was woken: its error is this watch's
            stored, feed.error = feed.error, None
            if stored is not None:
                raise stored
            raise BookOutOfSync(f"{self.venue.id} {m.symbol}: book dropped; resync")
        feed.seen = feed.version
        return feed, book

    async def _start(self, feed: Feed) -> None:
        """Subscribe ``feed`` (on a connection with room), or ask again for a snapshot."""
        conn = feed.conn
        feed.resubscribe = False
        if conn is None or conn.closed:
            conn = await self._connection_for(feed)
            feed.book, feed.live, feed.buffer, feed.chained = None, False, None, False
            await self.subscribe(conn, feed)
        else:
            await self.resubscribe(conn, feed)

    def snapshot(self, feed: Feed, book: WireBook, limit: int | None) -> BookSnapshot | None:
        """``book`` as a `BookSnapshot`, or None when a read-time check (`verify`)
        failed it: the feed is failed, counted and resynced, and nothing is handed out."""
        if not self.verify(feed, book):
            return None
        m = feed.market
        limit = vouched_limit(limit, book.verified_depth)
        band = None if limit else self.venue.book_band
        venue = self.venue
        return BookSnapshot(
            exchange=venue.id,
            symbol=m.symbol,
            timestamp=book.timestamp if book.timestamp is not None else venue.now_ms(),
            bids=venue.levels(m, book.bids.levels(limit, band), limit),
            asks=venue.levels(m, book.asks.levels(limit, band), limit),
            nonce=book.nonce,
        )

    def fail(self, feed: Feed, kind: str, cause: Exception) -> None:
        """Drop ``feed``'s book after a failed ``kind`` check ("gap", "checksum",
        "crossed", "snapshot"); its watchers (or the next watch) get `BookOutOfSync`."""
        self.failures[kind] = self.failures.get(kind, 0) + 1
        error = BookOutOfSync(f"{self.venue.id} {feed.symbol}: {cause}")
        error.__cause__ = cause
        self._drop(feed, error)
        feed.resubscribe = True

    def _drop(self, feed: Feed, error: BaseException) -> None:
        feed.book, feed.live, feed.buffer, feed.chained = None, False, None, False
        feed.generation += 1
        waiters, feed.waiters = feed.waiters, []
        pending = [w for w in waiters if not w.done()]
        for w in pending:
            w.set_exception(error)
        if not pending:
            feed.error = error

    def unreadable(self, feed: Feed, exc: Exception) -> None:
        """A book message that does not parse as the venue's format: resync."""
        self.fail(feed, "malformed", ValueError(f"unreadable book message ({exc!r}); resync"))

    def passed(self, feed: Feed, book: WireBook) -> bool:
        """After a message applied: wake the watchers unless the book is crossed."""
        if self.crossed(feed, book):
            return False
        feed.resolve()
        return True

    def crossed(self, feed: Feed, book: WireBook) -> bool:
        """Fail ``feed`` (and say so) when ``book`` is crossed or locked."""
        touch = book.crossed()
        if touch is None:
            return False
        from perptui.venues.book_guard import CrossedBook

        bid, ask = touch
        kind = "locked" if bid == ask else "crossed"
        cause = CrossedBook(f"{kind} book (bid {bid:g} >= ask {ask:g}); resync")
        self.fail(feed, "crossed", cause)
        return True

    # ------------------------------------------------------------- connections

    async def _connection_for(self, feed: Feed) -> Connection:
        async with self._opening:
            conn = next(
                (
                    c
                    for c in self.connections
                    if not c.closed and len(c.feeds) < self.per_connection
                ),
                None,
            )
            if conn is None:
                conn = await self._open(feed)
            conn.feeds[feed.key] = feed
            feed.conn = conn
            return conn

    async def _open(self, feed: Feed) -> Connection:
        index = len([c for c in self.connections if not c.closed])
        url = await self.url(feed, index)
        gap = 1.0 / self.sends_per_s if self.sends_per_s else 0.0
        serial = next(self._serials)
        # named by its serial, not its index: a replacement opened while an older
        # connection is still up must not take that one's name (`open_streams`)
        conn = Connection(f"{url}#{serial}", url, serial, gap)
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        try:
            conn.ws = await asyncio.wait_for(
                self._session.ws_connect(
                    url,
                    autoping=True,
                    heartbeat=None,
                    max_msg_size=0,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                ),
                timeout=self.connect_timeout_s,
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise VenueUnreachable(f"{self.venue.id}: stream {url}: {exc}") from exc
        self.connections = [c for c in self.connections if not c.closed] + [conn]
        conn.reader = self._spawn(self._read(conn))
        if self.ping_every_s:
            conn.pinger = self._spawn(self._ping(conn))
        return conn

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._settled)
        return task

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # reported to the watch that awaits it, if any; never "never retrieved"
            log.debug("%s: stream task ended: %r", self.venue.id, task.exception())

    async def _read(self, conn: Connection) -> None:
        ws = conn.ws
        assert ws is not None
        receive = ws.receive
        loads = orjson.loads
        on_message = self.on_message
        text, binary = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY
        controls = self.control_texts
        clock = time.time
        reason = "closed by the venue"
        try:
            while True:
                msg = await receive()
                kind = msg.type
                if kind is not text and kind is not binary:
                    if kind is aiohttp.WSMsgType.ERROR:
                        reason = f"error: {msg.data}"
                    break
                conn.last_message_ms = clock() * 1000.0
                data = msg.data
                try:
                    decoded = loads(data)
                except ValueError as exc:
                    if data not in controls:
                        self._malformed(data, exc)
                    continue
                on_message(conn, decoded)
        except asyncio.CancelledError:
            reason = "closed"
            raise
        except Exception as exc:  # a bug in a decoder must not leave watchers hanging
            log.exception("%s: stream %s reader failed", self.venue.id, conn.name)
            reason = f"reader failed: {type(exc).__name__}: {exc}"
        finally:
            self._lost(conn, reason)

    async def _ping(self, conn: Connection) -> None:
        assert self.ping_every_s is not None
        while not conn.closed:
            await asyncio.sleep(self.ping_every_s)
            payload = self.ping_payload
            if callable(payload):
                payload = payload()
            try:
                await conn.send(payload)
            except VenueUnreachable:
                return

    def _lost(self, conn: Connection, reason: str) -> None:
        if conn.closed and not conn.feeds:
            return
        conn.closed = True
        error = VenueUnreachable(f"{self.venue.id}: stream {conn.name} {reason}")
        for feed in conn.feeds.values():
            feed.conn = None
            self._drop(feed, error)
            feed.error = None  # a closed stream is reported to pending watches only
            feed.resubscribe = False
        conn.feeds = {}
        if conn.pinger is not None:
            conn.pinger.cancel()
        if conn.ws is not None and not conn.ws.closed:
            self._spawn(conn.ws.close())

    def _malformed(self, data: Any, exc: BaseException) -> None:
        self.malformed_frames += 1
        n = self.malformed_frames
        if n <= LOG_FIRST or n % LOG_EVERY == 0:
            head = data[:60] if isinstance(data, str | bytes) else type(data).__name__
            log.warning(
                "%s: skipped a malformed websocket frame (%d so far): %s; starts %r",
                self.venue.id,
                n,
                type(exc).__name__,
                head,
            )

    # ------------------------------------------------------ the Venue contract

    def open_streams(self) -> Mapping[str, int]:
        return {c.name: c.serial for c in self.connections if not c.closed}

    def syncing(self, symbol: str) -> bool:
        """``symbol``'s book is on its way: its subscription is still being made
        (a connection opening, or the subscribe queued behind the venue's message
        rate: 50 symbols at 5 a second take 10 s), or it is subscribed on an open
        connection and buffers its updates while the REST snapshot comes (binance's
        sync, paced by the venue's request weight)."""
        feed = self.feeds.get(symbol)
        if feed is None or feed.live:
            return False
        if feed.starting is not None and not feed.starting.done():
            return True
        if feed.buffer is None:
            return False
        conn = feed.conn
        return conn is not None and not conn.closed

    async def drop(self, idle_s: float | None = None, symbol: str | None = None) -> bool:
        now_ms = time.time() * 1000.0
        dropped = False
        only = None
        if symbol is not None:
            feed = self.feeds.get(symbol)
            only = None if feed is None else feed.conn
            if only is None:
                return False  # not on any connection now: nothing of its to drop
        for conn in list(self.connections):
            if conn.closed or (only is not None and conn is not only):
                continue
            if idle_s is not None:
                last = conn.last_message_ms
                if last is None or now_ms - last < idle_s * 1000.0:
                    continue
            await self._close(conn, "dropped (idle)" if idle_s is not None else "dropped")
            dropped = True
        return dropped

    async def _close(self, conn: Connection, reason: str) -> None:
        reader = conn.reader
        self._lost(conn, reason)
        if conn.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(), timeout=5)
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader

    async def close(self) -> None:
        for conn in list(self.connections):
            await self._close(conn, "closed")
        self.connections = []
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

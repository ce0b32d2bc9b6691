"""The generic Venue over any ccxt exchange with swap markets.

Everything venue-specific is a class attribute or a small hook that subclasses in
binance.py / bybit.py / okx.py override; this class must keep working for an exchange
id it has never heard of.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import contextvars
import difflib
import itertools
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any, ClassVar, TypeVar

from ccxt.base.decimal_to_precision import DECIMAL_PLACES, SIGNIFICANT_DIGITS

from perptui.core.funding import parse_interval
from perptui.core.metrics import DEPTH_BANDS
from perptui.core.model import (
    BoardFetch,
    BookSnapshot,
    Candle,
    FetchPage,
    FundingInfo,
    FundingRecord,
    Level,
    MarketInfo,
    MarketQuote,
    OpenInterest,
    Ticker,
)
from perptui.core.numbers import finite_float
from perptui.core.units import DAY_MS, HOUR_MS, timeframe_ms, utc_text
from perptui.errors import CapabilityMissing, UnknownSymbol, VenueError
from perptui.symbols import resolve_symbol
from perptui.venues.base import FUNDING, OHLCV, OnPage, Venue
from perptui.venues.ccxt_errors import CcxtError, is_throttle, is_transient, short, translate
from perptui.venues.frames import guard_frames
from perptui.venues.pacing import Pacer
from perptui.venues.paging import Pager

log = logging.getLogger(__name__)

T = TypeVar("T")

# Requests issued by the history fetch running in the current task, so FetchPage.requests
# stays exact while other tasks share the same venue.
_request_counter: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "perptui_venue_requests", default=None
)
# The pacer of the bulk job running in the current task (see `Venue.paced`); the engine's
# own loops run in other tasks and are not slowed by it.
_pacer: contextvars.ContextVar[Pacer | None] = contextvars.ContextVar(
    "perptui_venue_pacer", default=None
)

# Funding settles every 8 h on most venues; used only to size pages when the venue
# does not say (never reported as the market's interval).
FALLBACK_FUNDING_STEP_MS = 8 * HOUR_MS
# The band cut is measured from one side's best price while the depth bands are
# measured from the mid; this slack (far above float rounding, far below a tick of
# any band) keeps a level sitting exactly on the band edge.
_BAND_SLACK = 1e-6


def _price(level: Any) -> float:
    return level[0]


def _neg_price(level: Any) -> float:
    return -level[0]


class CcxtVenue(Venue):
    """A Venue backed by one ccxt (pro or async_support) client.

    Class attributes (override in subclasses, cryptofeed style):

    - ``venue_id`` / ``ccxt_class``: perptui's id and the ccxt class to instantiate.
    - ``pro_client_class``: the validating ccxt.pro subclass used for streaming.
    - ``ccxt_options``: merged into the client's ``options`` (market type, categories).
    - ``page_limits`` / ``history_caps_ms``: see `Venue`.
    - ``ascending_history``: history kinds for which the venue returns the *oldest* rows
      from `since` when a range holds more than a page (others get fixed windows).
    - ``perp_subtypes``: which perpetuals count ("linear", "inverse").
    - ``default_funding_interval_hours``: the venue's documented default, if any.
    - ``open_interest_params``: extra params for fetchOpenInterest.
    - ``max_retries`` / ``retry_base_s`` / ``retry_max_s``: transient-error backoff.
    """

    venue_id: ClassVar[str | None] = None
    ccxt_class: ClassVar[str | None] = None
    # The ccxt.pro subclass that validates this venue's streamed books (sequence,
    # checksum, crossed guard); None: the stock ccxt.pro class.
    pro_client_class: ClassVar[type | None] = None
    ccxt_options: ClassVar[dict[str, Any]] = {}
    ascending_history: ClassVar[frozenset[str]] = frozenset()
    perp_subtypes: ClassVar[frozenset[str]] = frozenset({"linear", "inverse"})
    default_funding_interval_hours: ClassVar[float | None] = None
    open_interest_params: ClassVar[dict[str, Any]] = {}
    max_retries: int = 5  # per instance too: make_venue(max_retries=0) for health checks
    retry_base_s: ClassVar[float] = 0.5
    retry_max_s: ClassVar[float] = 30.0
    retry_after_max_s: ClassVar[float] = 120.0
    # Levels converted per side when no explicit limit is asked for (streamed books):
    # those within `book_band` of the touch, at most `max_book_levels`.
    book_band: ClassVar[float] = max(DEPTH_BANDS)
    max_book_levels: ClassVar[int] = 1000
    # The funding board (fetch_board): which bulk endpoints a refresh asks, and how many
    # single-market requests run at once when the venue has no bulk funding endpoint
    # (ccxt's own rate limiter paces them further).
    board_tickers: ClassVar[bool] = True  # fetchTickers for volume / bid / ask
    board_open_interests: ClassVar[bool] = True  # fetchOpenInterests where ccxt has it
    board_fallback_concurrency: ClassVar[int] = 4  # OI requests at once (rotation)
    # Venues without bulk open interest: markets whose OI one refresh asks for, one
    # request each, rotating through the listing (the first refresh asks for all).
    board_oi_rotation: ClassVar[int] = 0

    def __init__(
        self, client: Any, *, venue_id: str | None = None, max_retries: int | None = None
    ) -> None:
        """Subclasses that add set-up take ``(client, **options)`` and pass options on."""
        self.client = client
        if max_retries is not None:
            self.max_retries = max_retries
        self.ccxt_id = str(client.id)
        self.id = venue_id or self.venue_id or self.ccxt_id
        self.requests_made = 0  # HTTP calls issued through this venue, retries included
        self._markets: dict[str, MarketInfo] | None = None
        self._closed = False
        self._serials = itertools.count(1)
        self._stream_serials: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._apply_options()
        if self.is_pro:
            # A garbled frame must cost that frame, not the connection (venues/frames.py).
            guard_frames(client)

    def __repr__(self) -> str:
        kind = "pro" if self.is_pro else "rest"
        return f"<{type(self).__name__} {self.id} (ccxt {self.ccxt_id}, {kind})>"

    # ------------------------------------------------------------------ setup

    def _apply_options(self) -> None:
        for key, value in self.ccxt_options.items():
            current = self.client.options.get(key)
            if isinstance(value, dict) and isinstance(current, dict):
                self.client.options[key] = {**current, **value}
            else:
                self.client.options[key] = value

    @property
    def is_pro(self) -> bool:
        # async_support clients have watch_* stubs too; only ccxt.pro classes stream
        return any(c.__module__.startswith("ccxt.pro.") for c in type(self.client).__mro__)

    @property
    def malformed_frames(self) -> int:
        return int(getattr(self.client, "malformed_frames", 0))

    @property
    def has(self) -> dict[str, Any]:
        return dict(self.client.has)

    def require(self, capability: str) -> None:
        """CapabilityMissing unless ccxt says this venue can do `capability`."""
        if not self.client.has.get(capability):
            raise CapabilityMissing(f"{self.id}: {capability} not supported by ccxt")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.client.close()

    def now_ms(self) -> int:
        """The clock history caps and default `until` are measured against."""
        return int(self.client.milliseconds())

    # --------------------------------------------------------------- calling

    async def call(self, what: str, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run one ccxt call, retrying transient failures with exponential backoff.

        Rate limits (429 / DDoSProtection), timeouts and connection errors are normal on
        public endpoints; they are retried `max_retries` times, waiting at least the
        venue's Retry-After. Anything else is not transient and is raised at once.
        Every ccxt error leaves as its perptui kind (`ccxt_errors.translate`).
        """
        attempt = 0
        pacer = _pacer.get()
        while True:
            self.requests_made += 1
            counter = _request_counter.get()
            if counter is not None:
                counter[0] += 1
            if pacer is not None:
                await pacer.wait()
            try:
                out = await fn(*args)
            except CcxtError as exc:
                if pacer is not None and is_throttle(exc):
                    pacer.on_throttled()
                if not is_transient(exc):
                    raise self._error(what, exc) from exc
                if attempt >= self.max_retries:
                    raise translate(
                        exc,
                        f"{self.id}: {what} failed after {attempt + 1} attempts "
                        f"({type(exc).__name__}: {short(exc)})",
                    ) from exc
                delay = self._retry_delay(attempt, exc)
                log.warning(
                    "%s: %s %s; retry %d/%d in %.2fs",
                    self.id,
                    what,
                    type(exc).__name__,
                    attempt + 1,
                    self.max_retries,
                    delay,
                )
                await asyncio.sleep(delay)
                attempt += 1
            else:
                if pacer is not None:
                    pacer.on_success()
                return out

    def _error(self, what: str, exc: Exception) -> Exception:
        """The perptui error for a ccxt error that is not worth retrying."""
        kind = type(translate(exc))
        if kind is CapabilityMissing:
            return CapabilityMissing(f"{self.id}: {what} not supported by ccxt")
        if kind is UnknownSymbol:
            return UnknownSymbol(f"{self.id}: {what}: {short(exc)}")
        return translate(exc, f"{self.id}: {what}: {type(exc).__name__}: {short(exc)}")

    @contextlib.contextmanager
    def paced(self, pacer: Pacer) -> Iterator[None]:
        """Requests made inside the block (this task and tasks it starts) obey `pacer`."""
        token = _pacer.set(pacer)
        try:
            yield
        finally:
            _pacer.reset(token)

    def _retry_delay(self, attempt: int, exc: Exception) -> float:
        backoff = min(self.retry_max_s, self.retry_base_s * (2**attempt))
        backoff *= random.uniform(0.75, 1.0)  # de-synchronise concurrent retriers
        # Retry-After comes with 429/503 answers; after a timeout the headers are stale
        if is_throttle(exc):
            retry_after = self._retry_after_s()
            if retry_after is not None:
                return min(self.retry_after_max_s, max(backoff, retry_after))
        return backoff

    def _retry_after_s(self) -> float | None:
        headers = getattr(self.client, "last_response_headers", None) or {}
        for key, value in headers.items():
            if str(key).lower() == "retry-after":
                seconds = finite_float(value)
                return seconds if seconds is not None and seconds >= 0 else None
        return None

    # --------------------------------------------------------------- markets

    async def load_markets(self, reload: bool = False) -> dict[str, MarketInfo]:
        if self._markets is not None and not reload:
            return self._markets
        raw = await self.call("loadMarkets", self.client.load_markets, reload)
        perps = {sym: self.market_info(m) for sym, m in raw.items() if self.is_perpetual(m)}
        if not perps and self.client.has.get("swap") is False:
            raise CapabilityMissing(f"{self.id}: ccxt lists no swap markets for this exchange")
        self._markets = perps
        await self.load_funding_intervals()
        return self._markets

    def is_perpetual(self, m: dict[str, Any]) -> bool:
        if not m.get("swap") or m.get("expiry") is not None or m.get("active") is False:
            return False
        subtype = "linear" if m.get("linear") else "inverse" if m.get("inverse") else None
        return subtype in self.perp_subtypes

    def market_info(self, m: dict[str, Any]) -> MarketInfo:
        contract_size = finite_float(m.get("contractSize")) or 1.0
        lot = self._precision(m, "amount")
        linear = bool(m.get("linear"))
        return MarketInfo(
            exchange=self.id,
            symbol=m["symbol"],
            id=str(m["id"]),
            base=m.get("base") or "",
            quote=m.get("quote") or "",
            settle=m.get("settle") or "",
            linear=linear,
            contract_size=contract_size,
            tick_size=self._precision(m, "price"),
            lot_size=_round(lot * contract_size) if lot is not None and linear else None,
            funding_interval_hours=self.market_funding_interval(m),
        )

    def _precision(self, m: dict[str, Any], key: str) -> float | None:
        value = finite_float((m.get("precision") or {}).get(key))
        if value is None:
            return None
        mode = getattr(self.client, "precisionMode", None)
        if mode == DECIMAL_PLACES:
            return 10.0 ** (-value)
        if mode == SIGNIFICANT_DIGITS:
            return None
        return value

    def market_funding_interval(self, m: dict[str, Any]) -> float | None:
        """Hours between settlements as the market definition states (hook)."""
        return self.default_funding_interval_hours

    async def load_funding_intervals(self) -> None:
        """Hook: venues that publish intervals separately fetch them here."""

    def set_funding_interval(self, symbol: str, hours: float) -> None:
        if self._markets is None:
            return
        m = self._markets.get(symbol)
        if m is not None and m.funding_interval_hours != hours:
            self._markets[symbol] = replace(m, funding_interval_hours=hours)

    def market(self, symbol: str) -> MarketInfo:
        if self._markets is None:
            raise RuntimeError(f"{self.id}: call load_markets() before market()")
        found = self._markets.get(symbol)
        if found is not None:
            return found
        if symbol not in (getattr(self.client, "markets", None) or {}):
            # not a market ccxt knows under this name (a known non-perpetual is reported
            # as such below): a venue-native id, or the base in another USD-stable quote
            try:
                return resolve_symbol(symbol, self._markets, self.id)
            except UnknownSymbol:
                pass
        raise UnknownSymbol(self._unknown_symbol_message(symbol))

    def _unknown_symbol_message(self, symbol: str) -> str:
        perps = sorted(self._markets or {})
        raw = (getattr(self.client, "markets", None) or {}).get(symbol)
        if raw is not None:
            kind = raw.get("type") or "non-perpetual"
            if raw.get("swap") and raw.get("active") is False:
                kind = "inactive swap"
            elif raw.get("swap") and not self.is_perpetual(raw):
                kind = "swap outside this venue's perpetual set"
            head = f"{self.id}: {symbol!r} is a {kind} market, not a perpetual swap"
        else:
            head = f"{self.id}: unknown symbol {symbol!r}"
        by_id = (getattr(self.client, "markets_by_id", None) or {}).get(symbol) or []
        suggestions = [m["symbol"] for m in by_id if m.get("symbol") in (self._markets or {})]
        suggestions += difflib.get_close_matches(symbol, perps, n=3, cutoff=0.6)
        suggestions += difflib.get_close_matches(symbol.upper(), perps, n=3, cutoff=0.6)
        unique = list(dict.fromkeys(suggestions))[:3]
        if unique:
            return f"{head}; did you mean {', '.join(unique)}?"
        return f"{head} ({len(perps)} perpetual markets loaded)"

    async def perp(self, symbol: str) -> MarketInfo:
        await self.load_markets()
        return self.market(symbol)

    # ------------------------------------------------------------------ books

    async def fetch_order_book(self, symbol: str, limit: int | None = None) -> BookSnapshot:
        m = await self.perp(symbol)
        self.require("fetchOrderBook")
        ob = await self.call(
            "fetchOrderBook", self.client.fetch_order_book, m.symbol, self.book_limit(limit)
        )
        return self.book_snapshot(m, ob, limit)

    async def watch_order_book(self, symbol: str, limit: int | None = None) -> BookSnapshot:
        m = await self.perp(symbol)
        if not self.is_pro or not self.client.has.get("watchOrderBook"):
            raise CapabilityMissing(
                f"{self.id}: watchOrderBook not supported by ccxt "
                f"({'no websocket support' if self.is_pro else 'client is not ccxt.pro'})"
            )
        # Not retried here: a websocket watch is a long-lived loop the engine owns; it
        # decides how to back off and when to resync.
        try:
            ob = await self.client.watch_order_book(m.symbol, self.watch_book_limit(limit))
        except CcxtError as exc:
            raise self._error("watchOrderBook", exc) from exc
        return self.book_snapshot(m, ob, limit)

    def open_streams(self) -> Mapping[str, int]:
        """url -> serial number of the open connection, for the ccxt.pro client's websockets.

        Serial numbers, not ``id()``: a new connection may reuse a closed one's address.
        """
        clients = getattr(self.client, "clients", None)
        if not isinstance(clients, dict):
            return {}
        current: dict[str, int] = {}
        for url, ws in clients.items():
            conn = getattr(ws, "connection", None)
            if conn is not None and not getattr(conn, "closed", False):
                current[url] = self._stream_serial(conn)
        return current

    def _stream_serial(self, conn: Any) -> int:
        try:
            serial = self._stream_serials.get(conn)
            if serial is None:
                serial = self._stream_serials[conn] = next(self._serials)
            return serial
        except TypeError:  # not weak-referenceable: fall back to its address
            return id(conn)

    async def drop_streams(self, idle_s: float | None = None) -> bool:
        """Close ccxt.pro websocket clients silent for ``idle_s`` (all when None).

        The client is removed from ccxt's table first, so the next watch opens a fresh
        connection and resubscribes (ccxt rebuilds the book from a new snapshot).
        """
        clients = getattr(self.client, "clients", None) or {}
        now_ms = time.time() * 1000
        dropped = False
        for url, ws in list(clients.items()):
            last = getattr(ws, "last_message_at", None)
            if idle_s is not None and (last is None or now_ms - last < idle_s * 1000):
                continue
            clients.pop(url, None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), timeout=5)
            dropped = True
        return dropped

    def book_limit(self, limit: int | None) -> int | None:
        """Hook: round a requested depth to one the venue accepts."""
        return limit

    def watch_book_limit(self, limit: int | None) -> int | None:
        """Hook: the depth to subscribe to (some venues offer fixed depth channels)."""
        return self.book_limit(limit)

    def book_snapshot(self, m: MarketInfo, ob: dict[str, Any], limit: int | None) -> BookSnapshot:
        bids = self.levels(m, ob.get("bids") or (), limit)
        asks = self.levels(m, ob.get("asks") or (), limit)
        ts = ob.get("timestamp")
        nonce = ob.get("nonce")
        return BookSnapshot(
            exchange=self.id,
            symbol=m.symbol,
            timestamp=int(ts) if ts is not None else self.now_ms(),
            bids=bids,
            asks=asks,
            nonce=int(nonce) if nonce is not None else None,
        )

    def levels(self, m: MarketInfo, side: Any, limit: int | None) -> tuple[Level, ...]:
        """One side of a ccxt book (best first) as (price, base amount) tuples.

        With an explicit `limit` the best `limit` levels are returned.  Without one
        (a streamed book at the venue's default depth, often 400-1000 levels) only
        the levels within `book_band` of the touch are converted, at most
        `max_book_levels`: nothing in perptui reads deeper (the ladder shows 25
        levels, the store keeps 20, the widest depth band is 5 %), and converting
        a whole book on every update was the engine's largest CPU cost.

        ccxt's sides are sorted lists of [price, amount, ...] floats, so the cut is
        a bisection and the conversion one list comprehension over the slice.  The cut
        is measured from the side's own best price, which keeps every level of a
        band measured from the mid (only a crossed book can lose a sliver).
        """
        n = len(side)
        if not n:
            return ()
        if limit:
            rows = side[:limit]
        else:
            rows = side[: min(self._band_end(side), self.max_book_levels)]
        first = rows[0][0] if rows else None
        if type(first) is not float or type(rows[0][1]) is not float:
            return self._levels_slow(m, rows)  # strings/ints/Decimals from an unusual parser
        cs = m.contract_size
        if m.linear:
            if cs == 1.0:
                return tuple([(r[0], r[1]) for r in rows])
            inverse = round(1.0 / cs)
            if inverse > 1 and inverse * cs == 1.0:
                # 0.01, 0.001 ...: dividing by the exact integer 1/cs is correctly rounded
                # (13807 / 100 -> 138.07), so no binary noise to strip afterwards.
                return tuple([(r[0], r[1] / inverse) for r in rows])
            return tuple([(r[0], _round(r[1] * cs)) for r in rows])
        # inverse: a contract is worth `cs` quote units, so base = contracts * cs / price
        return tuple([(r[0], r[1] * cs / r[0]) for r in rows if r[0] > 0])

    def _band_end(self, side: Any) -> int:
        """How many of `side`'s levels lie within `book_band` of its best price."""
        best = side[0][0]
        if type(best) is not float or best <= 0 or len(side) < 2:
            return len(side)
        # One level past the cut is kept (when there is one): it lies outside every
        # band, but it tells DepthMetrics.covers() that the book reaches the 5 % edge.
        if side[-1][0] < best:  # bids: descending prices
            floor = best * (1.0 - self.book_band) * (1.0 - _BAND_SLACK)
            end = bisect.bisect_right(side, -floor, key=_neg_price)
        else:
            cap = best * (1.0 + self.book_band) * (1.0 + _BAND_SLACK)
            end = bisect.bisect_right(side, cap, key=_price)
        return min(end + 1, len(side))

    def _levels_slow(self, m: MarketInfo, rows: Any) -> tuple[Level, ...]:
        cs = m.contract_size
        if m.linear and cs == 1.0:
            return tuple((float(p), float(a)) for p, a, *_ in rows)
        if m.linear:
            return tuple((float(p), _round(float(a) * cs)) for p, a, *_ in rows)
        return tuple((float(p), float(a) * cs / float(p)) for p, a, *_ in rows if float(p) > 0)

    def base_amount(self, m: MarketInfo, contracts: float | None) -> float | None:
        if contracts is None:
            return None
        return _round(contracts * m.contract_size) if m.linear else None

    # ---------------------------------------------------------------- funding

    async def fetch_funding(self, symbol: str) -> FundingInfo:
        m = await self.perp(symbol)
        self.require("fetchFundingRate")
        fr = await self.call("fetchFundingRate", self.client.fetch_funding_rate, m.symbol)
        return self.funding_info(m, fr)

    async def fetch_fundings(self, symbols: Iterable[str]) -> dict[str, FundingInfo]:
        wanted = [(await self.perp(s)) for s in dict.fromkeys(symbols)]
        if not wanted:
            return {}
        out: dict[str, FundingInfo] = {}
        if self.client.has.get("fetchFundingRates"):
            many = await self.call(
                "fetchFundingRates",
                self.client.fetch_funding_rates,
                [m.symbol for m in wanted],
            )
            for m in wanted:
                fr = (many or {}).get(m.symbol)
                if fr is not None:
                    out[m.symbol] = self.funding_info(m, fr)
        missing = [m for m in wanted if m.symbol not in out]
        if missing:
            self.require("fetchFundingRate")
            results = await asyncio.gather(
                *(self.fetch_funding(m.symbol) for m in missing), return_exceptions=True
            )
            errors = []
            for m, res in zip(missing, results, strict=True):
                if isinstance(res, BaseException):
                    errors.append(res)
                    log.warning("%s: funding for %s failed: %s", self.id, m.symbol, res)
                else:
                    out[m.symbol] = res
            if errors and not out:
                raise errors[0]
        return out

    def funding_info(self, m: MarketInfo, fr: dict[str, Any]) -> FundingInfo:
        hours = parse_interval(fr.get("interval"))
        if hours is not None:
            self.set_funding_interval(m.symbol, hours)
        else:
            hours = self.market(m.symbol).funding_interval_hours
        ts = fr.get("timestamp")
        next_time = fr.get("fundingTimestamp") or fr.get("nextFundingTimestamp")
        return FundingInfo(
            exchange=self.id,
            symbol=m.symbol,
            timestamp=int(ts) if ts is not None else self.now_ms(),
            funding_rate=finite_float(fr.get("fundingRate")),
            next_funding_time=int(next_time) if next_time is not None else None,
            interval_hours=hours,
            mark_price=finite_float(fr.get("markPrice")),
            index_price=finite_float(fr.get("indexPrice")),
            predicted_rate=finite_float(fr.get("nextFundingRate")),
        )

    # ------------------------------------------------------------------ board

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
            basis=self.board_basis(fr),
            bid=finite_float(book.get("bid")),
            ask=finite_float(book.get("ask")),
            open_interest_usd=self.board_oi_usd(m, oi, mark),
            volume_24h_usd=self.quote_volume(m, ticker) if ticker else None,
        )

    def board_basis(self, fr: dict[str, Any]) -> float | None:
        """Hook: a basis the venue states itself (else the board derives mark/index)."""
        return None

    def board_oi_usd(self, m: MarketInfo, oi: dict[str, Any], mark: float | None) -> float | None:
        value = finite_float(oi.get("openInterestValue"))
        if value is not None:
            return value
        amount = self.base_amount(m, finite_float(oi.get("openInterestAmount")))
        return amount * mark if amount is not None and mark is not None else None

    # ----------------------------------------------------------- open interest

    async def fetch_open_interest(self, symbol: str) -> OpenInterest:
        m = await self.perp(symbol)
        self.require("fetchOpenInterest")
        oi = await self.call(
            "fetchOpenInterest",
            self.client.fetch_open_interest,
            m.symbol,
            dict(self.open_interest_params),
        )
        ts = oi.get("timestamp")
        return OpenInterest(
            exchange=self.id,
            symbol=m.symbol,
            timestamp=int(ts) if ts is not None else self.now_ms(),
            amount=self.base_amount(m, finite_float(oi.get("openInterestAmount"))),
            value=finite_float(oi.get("openInterestValue")),
        )

    async def fetch_ticker(self, symbol: str) -> Ticker:
        m = await self.perp(symbol)
        self.require("fetchTicker")
        t = await self.call("fetchTicker", self.client.fetch_ticker, m.symbol)
        ts = t.get("timestamp")
        return Ticker(
            exchange=self.id,
            symbol=m.symbol,
            timestamp=int(ts) if ts is not None else self.now_ms(),
            last=finite_float(t.get("last")),
            percentage=finite_float(t.get("percentage")),
            quote_volume=self.quote_volume(m, t),
        )

    def quote_volume(self, m: MarketInfo, t: dict[str, Any]) -> float | None:
        """Hook: 24 h volume in quote currency from a ccxt ticker."""
        return finite_float(t.get("quoteVolume"))

    # ---------------------------------------------------------------- history

    async def fetch_funding_history(
        self,
        symbol: str,
        since: int,
        until: int | None = None,
        on_page: OnPage | None = None,
    ) -> FetchPage:
        m = await self.perp(symbol)
        self.require("fetchFundingRateHistory")
        hours = m.funding_interval_hours
        step = int(hours * HOUR_MS) if hours else FALLBACK_FUNDING_STEP_MS

        async def fetch(lo: int, hi: int, limit: int) -> list[FundingRecord]:
            raw = await self.call(
                "fetchFundingRateHistory",
                self.client.fetch_funding_rate_history,
                m.symbol,
                lo,
                limit,
                self.funding_history_params(lo, hi, limit),
            )
            return [r for r in (self.funding_record(m, x) for x in raw or ()) if r is not None]

        return await self._history(FUNDING, fetch, step, since, until, on_page, self.listed_at(m))

    def listed_at(self, m: MarketInfo) -> int | None:
        """Listing time from the ccxt market (`created`), when the venue publishes it."""
        raw = (getattr(self.client, "markets", None) or {}).get(m.symbol) or {}
        created = raw.get("created")
        return int(created) if isinstance(created, int | float) and created > 0 else None

    def funding_history_params(self, lo: int, hi: int, limit: int) -> dict[str, Any]:
        """Hook: how this venue's ccxt method bounds a range (`until` is inclusive)."""
        return {"until": hi}

    def funding_record(self, m: MarketInfo, x: dict[str, Any]) -> FundingRecord | None:
        rate = finite_float(x.get("fundingRate"))
        ts = x.get("timestamp")
        if rate is None or ts is None:
            return None
        return FundingRecord(self.id, m.symbol, int(ts), rate)

    async def fetch_ohlcv_history(
        self,
        symbol: str,
        timeframe: str,
        since: int,
        until: int | None = None,
        on_page: OnPage | None = None,
    ) -> FetchPage:
        m = await self.perp(symbol)
        self.require("fetchOHLCV")
        timeframes = getattr(self.client, "timeframes", None) or {}
        if timeframes and timeframe not in timeframes:
            raise CapabilityMissing(
                f"{self.id}: timeframe {timeframe!r} not offered "
                f"(choose from {', '.join(timeframes)})"
            )
        step = timeframe_ms(timeframe)
        since = -(-since // step) * step  # first candle opening at or after `since`

        async def fetch(lo: int, hi: int, limit: int) -> list[Candle]:
            raw = await self.ohlcv_page(m, timeframe, lo, hi, limit)
            return [c for c in (self.candle(m, timeframe, x) for x in raw or ()) if c is not None]

        return await self._history(OHLCV, fetch, step, since, until, on_page, self.listed_at(m))

    async def ohlcv_page(
        self, m: MarketInfo, timeframe: str, lo: int, hi: int, limit: int
    ) -> list[list[Any]]:
        """Hook: one page of raw ccxt candles opening in [lo, hi]."""
        return await self.call(
            "fetchOHLCV",
            self.client.fetch_ohlcv,
            m.symbol,
            timeframe,
            lo,
            limit,
            self.ohlcv_params(lo, hi, limit),
        )

    def ohlcv_params(self, lo: int, hi: int, limit: int) -> dict[str, Any]:
        return {"until": hi}

    def candle(self, m: MarketInfo, timeframe: str, x: list[Any]) -> Candle | None:
        if len(x) < 6 or x[0] is None:
            return None
        o, h, lo, c = (finite_float(v) for v in x[1:5])
        if o is None or h is None or lo is None or c is None:
            return None
        return Candle(
            exchange=self.id,
            symbol=m.symbol,
            timeframe=timeframe,
            timestamp=int(x[0]),
            open=o,
            high=h,
            low=lo,
            close=c,
            volume=finite_float(x[5]) or 0.0,
        )

    async def _history(
        self,
        kind: str,
        fetch: Callable[[int, int, int], Awaitable[list[Any]]],
        step: int,
        since: int,
        until: int | None,
        on_page: OnPage | None,
        listed: int | None = None,
    ) -> FetchPage:
        now = self.now_ms()
        until = now if until is None else min(int(until), now)
        since = int(since)
        notes: list[str] = []
        earliest = self.history_cap_start(kind, since)
        reached_cap = earliest is not None
        if earliest is not None:
            days = self.history_caps_ms[kind] / DAY_MS
            notes.append(
                f"{self.id} serves {kind} history only for the last {days:g} days: "
                f"start moved from {utc_text(since, zone=True)} to {utc_text(earliest, zone=True)}"
            )
            since = earliest
        expect_from = earliest if reached_cap else listed
        counter = [0]
        token = _request_counter.set(counter)
        rows: list[Any] = []
        try:
            rows = await self._page_through(
                kind, fetch, step, since, until, on_page, notes, expect_from
            )
        finally:
            _request_counter.reset(token)
        requests = counter[0]
        if requests > 0 and rows and rows[0].timestamp - since >= step and not reached_cap:
            notes.append(f"no {kind} data before {utc_text(rows[0].timestamp, zone=True)}")
        return FetchPage(
            rows=tuple(rows), requests=requests, reached_cap=reached_cap, note="; ".join(notes)
        )

    async def _page_through(
        self,
        kind: str,
        fetch: Callable[[int, int, int], Awaitable[list[Any]]],
        step: int,
        since: int,
        until: int,
        on_page: OnPage | None,
        notes: list[str],
        expect_from: int | None,
    ) -> list[Any]:
        rows: list[Any] = []
        if since <= until:
            pager = Pager(
                fetch,
                limit=self.page_limits.get(kind, Venue.page_limits[kind]),
                step_ms=step,
                ascending=kind in self.ascending_history,
                on_page=on_page,
            )
            rows = await pager.run(since, until, expect_from=expect_from)
            if pager.limit < self.page_limits.get(kind, pager.limit):
                notes.append(f"venue served at most {pager.limit} rows per page")
        return rows


def _round(x: float) -> float:
    """Drop binary noise from contracts x contract size (13807 x 0.01 -> 138.07)."""
    return float(f"{x:.12g}")

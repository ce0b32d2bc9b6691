"""GMX v2 (Arbitrum) over its public REST API, behind the same `Venue` contract.

ccxt has no GMX. The oracle-keeper REST API (``https://arbitrum-api.gmxinfra.io``) serves
``/tokens`` (decimals), ``/markets`` (catalogue), ``/prices/tickers`` (oracle min/max),
``/markets/info`` (open interest, liquidity, funding and borrowing per side) and
``/prices/candles`` (OHLC, no volume, the latest ``limit`` only). Every request goes
through an injected `GmxTransport`; tests and the emulator replace only that.

Scales: see `perptui.core.pool` (10^30 fixed point; prices per smallest token unit).
The period of the ``/markets/info`` rates is class data, `rates_period_s`: GMX's own code
only ever computes a period's rate as per-second factor x seconds (gmx-interface
sdk/src/utils/fees/index.ts), and no GMX-authored text names the period of this endpoint.
It is taken as a year (31,536,000 s): tradingstrategy-ai/web3-ethereum-defi
eth_defi/gmx/market_depth.py documents the fields as "annualised (REST fundingRateLong /
10^30)", and the magnitudes observed (10^28..10^29, i.e. 1-10 %) are plausible only as
yearly rates (per hour they would be 1-10 % an hour). Changing one constant re-scales.

GMX has no order book: `fetch_order_book` raises CapabilityMissing and `fetch_pool` gives
what GMX has instead (liquidity and OI caps per side, price impact of a few sizes).
Funding is continuous and GMX's REST API keeps no funding history; `collect` stores each
observed rate so history builds up locally (`fetch_funding_history` says so and raises).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, TypeVar

from perptui.core.model import (
    BookSnapshot,
    Candle,
    FetchPage,
    FundingInfo,
    MarketInfo,
    OpenInterest,
    Ticker,
)
from perptui.core.pool import (
    SECONDS_PER_YEAR,
    PoolState,
    factor,
    impact_quotes,
    per_hour,
    receiving_rate,
    token_price_usd,
    usd,
)
from perptui.core.units import timeframe_ms
from perptui.errors import (
    CapabilityMissing,
    RateLimited,
    UnknownSymbol,
    VenueError,
    VenueUnreachable,
)
from perptui.symbols import resolve_symbol
from perptui.venues.base import OnPage, Venue

T = TypeVar("T")
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
# The candle periods the GMX API serves.
CANDLE_PERIODS_MS: dict[str, int] = {
    tf: timeframe_ms(tf) for tf in ("1m", "5m", "15m", "1h", "4h", "1d")
}


class GmxTransport(Protocol):
    """GET `path` with `params` on the GMX API; JSON out, VenueUnreachable on failure."""

    id: str
    enableRateLimit: bool

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any: ...
    def milliseconds(self) -> int: ...
    async def close(self) -> None: ...


class HttpTransport:
    """aiohttp against a base URL (the live API, or the emulator on 127.0.0.1)."""

    id = "gmx"

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.enableRateLimit = True
        self._session: Any = None

    def milliseconds(self) -> int:
        return int(time.time() * 1000)

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s)
            )
        url = self.base_url + path
        try:
            async with self._session.get(url, params=params or None) as resp:
                body = await resp.json(content_type=None)
                if resp.status >= 400:
                    message = body.get("message") if isinstance(body, dict) else body
                    raise GmxHttpError(resp.status, str(message))
                return body
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise GmxNetworkError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class GmxNetworkError(Exception):
    """Transient: connection, timeout, unparsable body."""


class GmxHttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class GmxVenue(Venue):
    venue_id: ClassVar[str] = "gmx"
    base_url: ClassVar[str] = "https://arbitrum-api.gmxinfra.io"
    # See the module docstring for why a year.
    rates_period_s: ClassVar[int] = SECONDS_PER_YEAR
    # trade sizes (USD) whose price impact the pool panel shows
    impact_sizes: ClassVar[tuple[float, ...]] = (10_000.0, 100_000.0, 1_000_000.0)
    # /prices/candles serves the latest `limit` candles only
    max_candles: ClassVar[int] = 10_000
    max_retries: int = 4
    retry_base_s: ClassVar[float] = 0.5
    quote_stable: ClassVar[str] = "USDC"  # the pool whose short token this is keeps B/USD:USD

    def __init__(self, client: GmxTransport | None = None) -> None:
        self.client: Any = client if client is not None else HttpTransport(self.base_url)
        self.id = self.venue_id
        self.ccxt_id = "gmx"  # no ccxt class; kept for callers that print it
        self.requests_made = 0
        self._markets: dict[str, MarketInfo] | None = None
        self._raw: dict[str, dict[str, Any]] = {}  # symbol -> /markets entry
        self._decimals: dict[str, int] = {}  # token address (lower) -> decimals
        self._symbols: dict[str, str] = {}  # token address (lower) -> symbol
        self._closed = False

    @property
    def has(self) -> dict[str, Any]:
        return {
            "swap": True,
            "fetchOrderBook": False,
            "watchOrderBook": False,
            "fetchFundingRate": True,
            "fetchFundingRates": True,
            "fetchFundingRateHistory": False,
            "fetchOpenInterest": True,
            "fetchOHLCV": True,
            "fetchTicker": True,
            "fetchPool": True,
        }

    def now_ms(self) -> int:
        return int(self.client.milliseconds())

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self.client.close()

    # ---------------------------------------------------------------- calling

    async def call(self, what: str, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        attempt = 0
        while True:
            self.requests_made += 1
            try:
                return await fn(*args)
            except GmxNetworkError as exc:
                retry = True
                err: Exception = exc
            except GmxHttpError as exc:
                retry = exc.status == 429 or exc.status >= 500
                err = exc
                if not retry:  # the venue answered: a bad request, not an outage
                    raise VenueError(f"{self.id}: {what}: {exc}") from exc
            if attempt >= self.max_retries:
                kind = (
                    RateLimited
                    if isinstance(err, GmxHttpError) and err.status == 429
                    else VenueUnreachable
                )
                raise kind(
                    f"{self.id}: {what} failed after {attempt + 1} attempts ({err})"
                ) from err
            await asyncio.sleep(self.retry_base_s * 2**attempt)
            attempt += 1

    async def get(self, what: str, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self.call(what, self.client.get, path, params)

    # ---------------------------------------------------------------- markets

    async def load_markets(self, reload: bool = False) -> dict[str, MarketInfo]:
        if self._markets is not None and not reload:
            return self._markets
        tokens = await self.get("tokens", "/tokens")
        for t in tokens.get("tokens") or ():
            addr = str(t.get("address", "")).lower()
            self._decimals[addr] = int(t.get("decimals", 18))
            self._symbols[addr] = str(t.get("symbol", ""))
        listing = await self.get("markets", "/markets")
        entries = [
            m
            for m in listing.get("markets") or ()
            if m.get("isListed", True) and str(m.get("indexToken", ZERO_ADDRESS)) != ZERO_ADDRESS
        ]
        markets: dict[str, MarketInfo] = {}
        raw: dict[str, dict[str, Any]] = {}
        for m in sorted(entries, key=self._main_pool_first):
            index = self._symbols.get(str(m["indexToken"]).lower()) or m["name"].split("/")[0]
            base = index.upper()
            symbol = f"{base}/USD:USD"
            if symbol in markets:  # a second pool on the same index token
                symbol = f"{base}/USD:USD [{m['name'].split('[', 1)[-1].rstrip(']')}]"
            markets[symbol] = MarketInfo(
                exchange=self.id,
                symbol=symbol,
                id=str(m["marketToken"]),
                base=base,
                quote="USD",
                settle="USD",
                linear=True,
                contract_size=1.0,
                tick_size=None,
                lot_size=None,
                funding_interval_hours=1.0,  # continuous; rates are shown per hour
            )
            raw[symbol] = m
        self._markets, self._raw = markets, raw
        return markets

    def _main_pool_first(self, m: dict[str, Any]) -> tuple[int, str, str]:
        """BTC/USD:USD is the USDC-short pool listed first; others get their pool suffix."""
        short = self._symbols.get(str(m.get("shortToken", "")).lower(), "")
        return (0 if short == self.quote_stable else 1, str(m.get("listingDate", "")), m["name"])

    def market(self, symbol: str) -> MarketInfo:
        if self._markets is None:
            raise RuntimeError(f"{self.id}: call load_markets() before market()")
        return resolve_symbol(symbol, self._markets, self.id)

    async def perp(self, symbol: str) -> MarketInfo:
        await self.load_markets()
        return self.market(symbol)

    # ------------------------------------------------------------------ pools

    async def markets_info(self) -> dict[str, dict[str, Any]]:
        """/markets/info entries keyed by market token address (lower case)."""
        body = await self.get("marketsInfo", "/markets/info")
        return {str(m.get("marketToken", "")).lower(): m for m in body.get("markets") or ()}

    def pool_state(self, m: MarketInfo, e: dict[str, Any], at: int) -> PoolState:
        period = self.rates_period_s

        def rate(key: str) -> float | None:
            return per_hour(factor(e[key]), period) if e.get(key) not in (None, "") else None

        def amount(key: str) -> float | None:
            return usd(e[key]) if e.get(key) not in (None, "") else None

        oi_l, oi_s = amount("openInterestLong"), amount("openInterestShort")
        f_l, f_s = rate("fundingRateLong"), rate("fundingRateShort")
        # one side given: the other follows from the OI ratio (GMX's own formula)
        if f_s is None and f_l is not None and f_l < 0 and oi_l and oi_s:
            f_s = receiving_rate(-f_l, oi_l, oi_s)
        if f_l is None and f_s is not None and f_s < 0 and oi_l and oi_s:
            f_l = receiving_rate(-f_s, oi_s, oi_l)
        impacts: tuple[Any, ...] = ()
        keys = ("positionImpactFactorPositive", "positionImpactFactorNegative")
        exp_key = "positionImpactExponentFactor"
        if oi_l is not None and oi_s is not None and all(e.get(k) for k in (*keys, exp_key)):
            impacts = impact_quotes(
                oi_l,
                oi_s,
                self.impact_sizes,
                factor(e[keys[0]]),
                factor(e[keys[1]]),
                factor(e[exp_key]),
            )
        return PoolState(
            exchange=self.id,
            symbol=m.symbol,
            timestamp=at,
            funding_long_h=f_l,
            funding_short_h=f_s,
            borrowing_long_h=rate("borrowingRateLong"),
            borrowing_short_h=rate("borrowingRateShort"),
            oi_long_usd=oi_l,
            oi_short_usd=oi_s,
            available_long_usd=amount("availableLiquidityLong"),
            available_short_usd=amount("availableLiquidityShort"),
            impacts=impacts,
        )

    async def fetch_pools(self, symbols: Iterable[str]) -> dict[str, PoolState]:
        wanted = [(await self.perp(s)) for s in dict.fromkeys(symbols)]
        info = await self.markets_info()
        at = self.now_ms()
        out = {}
        for m in wanted:
            e = info.get(m.id.lower())
            if e is not None:
                out[m.symbol] = self.pool_state(m, e, at)
        return out

    async def fetch_pool(self, symbol: str) -> PoolState:
        m = await self.perp(symbol)
        got = await self.fetch_pools([m.symbol])
        if m.symbol not in got:
            raise UnknownSymbol(f"{self.id}: /markets/info has no entry for {m.symbol}")
        return got[m.symbol]

    # ---------------------------------------------------------------- funding

    def funding_from(self, pool: PoolState, mid: float | None) -> FundingInfo:
        # perptui's convention: positive = longs pay. GMX's: positive = that side receives.
        rate = None if pool.funding_long_h is None else -pool.funding_long_h
        return FundingInfo(
            exchange=self.id,
            symbol=pool.symbol,
            timestamp=pool.timestamp,
            funding_rate=rate,
            next_funding_time=None,  # continuous: no settlement instants
            interval_hours=1.0,
            mark_price=mid,
            index_price=mid,
            predicted_rate=None,
        )

    async def fetch_fundings(self, symbols: Iterable[str]) -> dict[str, FundingInfo]:
        pools = await self.fetch_pools(symbols)
        prices = await self.prices() if pools else {}
        return {s: self.funding_from(p, prices.get(s)) for s, p in pools.items()}

    async def fetch_funding(self, symbol: str) -> FundingInfo:
        m = await self.perp(symbol)
        got = await self.fetch_fundings([m.symbol])
        if m.symbol not in got:
            raise UnknownSymbol(f"{self.id}: /markets/info has no entry for {m.symbol}")
        return got[m.symbol]

    async def fetch_funding_history(
        self, symbol: str, since: int, until: int | None = None, on_page: OnPage | None = None
    ) -> FetchPage:
        raise CapabilityMissing(
            f"{self.id}: GMX's REST API keeps no funding history (funding is continuous); "
            "perptui collect stores every rate it observes, so history builds up locally"
        )

    # ------------------------------------------------------- prices, OI, ticker

    async def prices(self) -> dict[str, float]:
        """Oracle mid price (USD per whole index token) of every loaded market."""
        tickers = await self.get("tickers", "/prices/tickers")
        by_token = {str(t.get("tokenAddress", "")).lower(): t for t in tickers or ()}
        out: dict[str, float] = {}
        for symbol, m in self._raw.items():
            addr = str(m["indexToken"]).lower()
            t = by_token.get(addr)
            dec = self._decimals.get(addr)
            if t is None or dec is None:
                continue
            lo, hi = token_price_usd(t["minPrice"], dec), token_price_usd(t["maxPrice"], dec)
            out[symbol] = (lo + hi) / 2
        return out

    async def fetch_ticker(self, symbol: str) -> Ticker:
        m = await self.perp(symbol)
        mid = (await self.prices()).get(m.symbol)
        return Ticker(self.id, m.symbol, self.now_ms(), mid, None, None)

    async def fetch_open_interest(self, symbol: str) -> OpenInterest:
        pool = await self.fetch_pool(symbol)
        value = None
        if pool.oi_long_usd is not None and pool.oi_short_usd is not None:
            value = pool.oi_long_usd + pool.oi_short_usd
        mid = (await self.prices()).get(pool.symbol)
        amount = value / mid if value is not None and mid else None
        return OpenInterest(self.id, pool.symbol, pool.timestamp, amount, value)

    # ------------------------------------------------------------------ books

    async def fetch_order_book(self, symbol: str, limit: int | None = None) -> BookSnapshot:
        raise CapabilityMissing(
            f"{self.id}: GMX has no order book (trades fill against a pool); "
            "see its pool liquidity, OI caps and price impact instead"
        )

    async def watch_order_book(self, symbol: str, limit: int | None = None) -> BookSnapshot:
        return await self.fetch_order_book(symbol, limit)

    # ---------------------------------------------------------------- candles

    async def fetch_ohlcv_history(
        self,
        symbol: str,
        timeframe: str,
        since: int,
        until: int | None = None,
        on_page: OnPage | None = None,
    ) -> FetchPage:
        m = await self.perp(symbol)
        step = CANDLE_PERIODS_MS.get(timeframe)
        if step is None:
            raise CapabilityMissing(
                f"{self.id}: timeframe {timeframe!r} not offered "
                f"(choose from {', '.join(CANDLE_PERIODS_MS)})"
            )
        now = self.now_ms()
        until = now if until is None else min(int(until), now)
        wanted = max(1, (now - int(since)) // step + 1)
        limit = min(wanted, self.max_candles)
        token = self._symbols.get(str(self._raw[m.symbol]["indexToken"]).lower(), m.base)
        body = await self.get(
            "fetchOHLCV",
            "/prices/candles",
            {"tokenSymbol": token, "period": timeframe, "limit": limit},
        )
        rows = []
        for c in body.get("candles") or ():
            ts = int(c[0]) * 1000  # seconds on the wire
            if since <= ts <= until:
                o, h, lo, cl = (float(x) for x in c[1:5])
                rows.append(Candle(self.id, m.symbol, timeframe, ts, o, h, lo, cl, 0.0))
        rows.sort(key=lambda c: c.timestamp)
        note = ""
        if wanted > self.max_candles:
            first = datetime.fromtimestamp((now - (limit - 1) * step) / 1000, tz=UTC)
            note = (
                f"{self.id} serves only the latest {self.max_candles} {timeframe} candles: "
                f"nothing before {first:%Y-%m-%d %H:%M} UTC; GMX candles carry no volume"
            )
        if on_page is not None and rows:
            result = on_page(rows)
            if asyncio.iscoroutine(result):
                await result
        return FetchPage(rows=tuple(rows), requests=1, reached_cap=wanted > limit, note=note)

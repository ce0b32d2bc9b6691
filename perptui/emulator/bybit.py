"""Bybit v5 (category ``linear``) wire format: REST ``/v5/market/*`` and the public WS.

Field names, nesting and string-typed numbers follow the recorded payloads (ccxt's bybit
recordings, Bybit's own ``orderbook.500`` dump, the v5 docs' ``tickers`` push); numbers the
recorder stored as strings but the live API sends as numbers (``retCode``, ``time``, the
order book's ``ts``/``u``/``seq``) are numbers here, as live.

Order-book streams (``orderbook.{1,50,200,1000}.SYMBOL`` and the older 500) send a
snapshot on subscribe, then deltas carrying ``u`` (+1 per message of that topic) and ``seq``
(the book-wide sequence); level 1 is pushed as snapshots only.
Bybit gives a client no way to recover from a lost delta except the snapshot it pushes
"when there is a problem on Bybit's side", so the ``gap`` fault skips one delta and then,
``snapshot_after`` messages later (default 3; 0 = never), pushes a fresh snapshot on that
connection. ccxt.pro 4.5.90 ignores ``u``/``seq`` and resets its book on any snapshot.

Why one file of ~710 lines: it is the whole of one venue's wire format (REST, WS topics,
the two book sequences and their faults), checked against one set of recordings; a split
would scatter one protocol over several modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS
from perptui.emulator.book_stream import (
    ChannelFanout,
    DepthChannel,
    DepthChannels,
    DepthUpdate,
    Levels,
)
from perptui.emulator.catalog import LISTING_MS, VenueMarket
from perptui.emulator.venue_base import (
    ClientConfig,
    VenueWire,
    WireError,
    WsSession,
    dumps,
    int_param,
)

KLINE_INTERVALS_MS: dict[str, int] = {
    "1": MINUTE_MS,
    "3": 3 * MINUTE_MS,
    "5": 5 * MINUTE_MS,
    "15": 15 * MINUTE_MS,
    "30": 30 * MINUTE_MS,
    "60": HOUR_MS,
    "120": 2 * HOUR_MS,
    "240": 4 * HOUR_MS,
    "360": 6 * HOUR_MS,
    "720": 12 * HOUR_MS,
    "D": DAY_MS,
    "W": 7 * DAY_MS,  # epoch-aligned (Thursdays); bybit aligns weeks to Mondays
}
OI_INTERVALS_MS: dict[str, int] = {
    "5min": 5 * MINUTE_MS,
    "15min": 15 * MINUTE_MS,
    "30min": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "4h": 4 * HOUR_MS,
    "1d": DAY_MS,
}
# linear depths and how many simulator steps (20 ms) each push aggregates: 1 and 50 every
# 20 ms (bybit: 10 ms / 20 ms), 200 every 100 ms, 1000 every 200 ms; 500 is the depth
# bybit offered until 2025 (the recorded session), kept at its 100 ms
BOOK_DEPTHS: dict[int, int] = {1: 1, 50: 1, 200: 5, 500: 5, 1000: 10}
REST_BOOK_MAX = 500
KLINE_MAX = 1000
FUNDING_HISTORY_MAX = 200
OI_MAX = 200
INSTRUMENTS_MAX = 1000
TICKER_PUSH_MS = 1000  # bybit pushes linear tickers every 100 ms; 1 s keeps the emulator light
BAD_SYMBOL_MSG = "Not supported symbols"  # the retMsg ccxt maps to BadSymbol


class BybitError(WireError):
    pass


def _params_error(text: str) -> BybitError:
    return BybitError(10001, f"params error: {text}")


def _int(q: Any, name: str, default: int | None = None) -> int | None:
    return int_param(q, name, default, lambda n: _params_error(f"{n} invalid"))


def fmt_rate(rate: float) -> str:
    """Funding rates as bybit prints them: up to 8 decimals, no trailing zeros."""
    text = f"{rate:.8f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def fmt_px(m: VenueMarket, price: float) -> str:
    """A float price on the market's tick, with the tick's decimals (bybit keeps zeros)."""
    return m.fmt_float_price(price)


def fmt_qty(m: VenueMarket, amount: float) -> str:
    return m.fmt_qty(max(0, round(amount / float(m.lot))))


def fmt_oi(m: VenueMarket, amount: float) -> str:
    """Open interest: on the lot grid, printed with 8 decimals like the live API."""
    return f"{Decimal(fmt_qty(m, amount)):.8f}"


def _dec_str(value: Decimal, decimals: int) -> str:
    return f"{value:.{decimals}f}"


@dataclass
class _Conn:
    session: WsSession
    conn_id: str
    books: dict[str, _Topic] = field(default_factory=dict)
    snapshot_due: dict[str, int] = field(default_factory=dict)  # topic -> msgs to post-gap snapshot
    tickers: dict[str, VenueMarket] = field(default_factory=dict)
    ticker_task: asyncio.Task[None] | None = None
    ticker_last: dict[str, dict[str, str]] = field(default_factory=dict)


class _Topic(ChannelFanout["_Conn"]):
    """One ``orderbook.N.SYMBOL`` topic: its ``u`` counter and the connections on it.

    ``u`` belongs to the topic, not to a connection (a late subscriber's snapshot carries
    the current ``u``); each delta is serialised once and the same text goes to everyone.
    """

    def __init__(self, wire: BybitWire, name: str, channel: DepthChannel) -> None:
        super().__init__(channel)
        self.wire = wire
        self.name = name
        self.u = 1 + channel.seq % 97_000
        self.last_ts = channel.ts  # ts of the last delta published (tests match on it)

    def snapshot_frame(self) -> dict[str, Any]:
        ch = self.channel
        bids, asks = ch.snapshot()
        self.last_ts = ch.ts
        return self.wire.book_frame(
            self.name, "snapshot", ch.market, ch.ts, bids, asks, self.u, ch.seq
        )

    def on_update(self, upd: DepthUpdate) -> None:
        self.u += 1
        self.last_ts = upd.ts
        if self.channel.depth == 1:  # level 1 is pushed as snapshots only
            bids, asks = self.channel.snapshot()
            frame = self.wire.book_frame(
                self.name, "snapshot", self.channel.market, upd.ts, bids, asks, self.u, upd.seq
            )
        else:
            frame = self.wire.book_frame(
                self.name, "delta", self.channel.market, upd.ts, upd.bids, upd.asks, self.u, upd.seq
            )
        text = dumps(frame)
        for conn in list(self.conns.values()):
            self.wire.deliver(conn, self, text)


class BybitWire(VenueWire):
    name = "bybit"
    book_cadence_ms = 20  # orderbook.50 on linear pushes every 20 ms

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.channels = DepthChannels(self.book_for)
        self._topics: dict[str, _Topic] = {}

    # ------------------------------------------------------------------ protocol
    def client_config(self) -> ClientConfig:
        # Only the linear instruments are listed; ccxt's default would also page through
        # spot, inverse and three option families at load_markets.
        return ClientConfig(
            "bybit",
            {
                "defaultType": "swap",
                "defaultSubType": "linear",
                "fetchMarkets": {"types": ["linear"]},
            },
        )

    def error_body(self, kind: str, message: str) -> tuple[int, Any]:
        if kind == "bad_symbol":
            return 200, self._envelope_error(10001, BAD_SYMBOL_MSG)
        if kind == "bad_param":
            return 200, self._envelope_error(10001, f"params error: {message}")
        if kind == "rate_limit":
            # bybit answers IP-level floods with HTTP 429/403; retCode 10006 maps to
            # RateLimitExceeded in ccxt whichever status comes with it
            return 429, self._envelope_error(10006, "Too many visits!")
        if kind == "ban":
            return 403, self._envelope_error(
                10018, "Your IP has been restricted due to too many requests."
            )
        if kind == "not_found":
            # bybit's gateway answers unknown paths with a bare 404, not an envelope
            return 404, "404 page not found"
        return 200, self._envelope_error(10016, "Internal system error.")

    def add_routes(self, router: web.UrlDispatcher, prefix: str) -> None:
        routes: dict[str, Callable[[Any], Any]] = {
            "/v5/market/time": self.time,
            "/v5/market/instruments-info": self.instruments_info,
            "/v5/market/orderbook": self.orderbook,
            "/v5/market/tickers": self.tickers,
            "/v5/market/kline": self.kline,
            "/v5/market/mark-price-kline": self.mark_kline,
            "/v5/market/index-price-kline": self.index_kline,
            "/v5/market/funding/history": self.funding_history,
            "/v5/market/open-interest": self.open_interest,
        }
        self.add_get_routes(router, prefix, routes)

    rest_error = BybitError

    def rest_body(self, result: Any) -> dict[str, Any]:
        return self._envelope(result)

    def rest_error_body(self, e: WireError) -> dict[str, Any]:
        return self._envelope_error(e.code, e.msg)

    # ------------------------------------------------------------------ helpers
    def _envelope(self, result: Any) -> dict[str, Any]:
        return {
            "retCode": 0,
            "retMsg": "OK",
            "result": result,
            "retExtInfo": {},
            "time": self.now_ms(),
        }

    def _envelope_error(self, code: int, msg: str) -> dict[str, Any]:
        return {
            "retCode": code,
            "retMsg": msg,
            "result": {},
            "retExtInfo": {},
            "time": self.now_ms(),
        }

    def _category(self, q: Any) -> str:
        category = q.get("category")
        if category not in ("linear", "inverse", "spot", "option"):
            raise _params_error("category invalid" if category else "category is required")
        return category

    def _market(self, q: Any, required: bool = True) -> VenueMarket | None:
        self._require_linear(q)
        sym = q.get("symbol")
        if not sym:
            if required:
                raise _params_error("symbol invalid")
            return None
        m = self.sim.market_by_id(self.name, sym.upper())
        if m is None:
            raise BybitError(10001, BAD_SYMBOL_MSG)
        return m

    def _require_linear(self, q: Any) -> None:
        if self._category(q) != "linear":
            # only USDT linear perpetuals are emulated; other categories list nothing
            raise BybitError(10001, BAD_SYMBOL_MSG)

    # ------------------------------------------------------------------ REST
    def time(self, q: Any) -> Any:
        now = self.now_ms()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def instrument_entry(self, m: VenueMarket) -> dict[str, Any]:
        """One ``instruments-info`` row (field set of the recorded ccxt market ``info``)."""
        pd, qd = m.price_decimals, m.qty_decimals
        max_price = (Decimal(str(m.asset.price)) * 30 / m.tick).to_integral_value() * m.tick
        return {
            "symbol": m.venue_id,
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": m.base,
            "quoteCoin": m.quote,
            "launchTime": str(LISTING_MS),
            "deliveryTime": "0",
            "deliveryFeeRate": "",
            "priceScale": str(pd),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {
                "minPrice": _dec_str(m.tick, pd),
                "maxPrice": _dec_str(max_price, pd),
                "tickSize": _dec_str(m.tick, pd),
            },
            "lotSizeFilter": {
                "maxOrderQty": _dec_str(m.max_qty, qd),
                "minOrderQty": _dec_str(m.min_qty, qd),
                "qtyStep": _dec_str(m.lot, qd),
                "postOnlyMaxOrderQty": _dec_str(m.max_qty, qd),
                "maxMktOrderQty": _dec_str(m.max_qty / 10, qd),
                "minNotionalValue": "5",
            },
            "unifiedMarginTrade": True,
            "fundingInterval": str(m.funding_interval_h * 60),
            "settleCoin": m.quote,
            "copyTrading": "both",
            "upperFundingRate": "0.005",
            "lowerFundingRate": "-0.005",
            "isPreListing": False,
            "preListingInfo": None,
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            "displayName": "",
        }

    def instruments_info(self, q: Any) -> Any:
        category = self._category(q)
        limit = min(max(_int(q, "limit", 500) or 500, 1), INSTRUMENTS_MAX)
        rows: list[VenueMarket] = []
        # PreLaunch / other categories: nothing listed (ccxt asks for both at load_markets)
        if category == "linear" and q.get("status", "Trading") == "Trading":
            rows = sorted(self.sim.markets(self.name), key=lambda m: m.venue_id)
            if q.get("symbol"):
                rows = [m for m in rows if m.venue_id == q["symbol"].upper()]
            if q.get("baseCoin"):
                rows = [m for m in rows if m.base == q["baseCoin"].upper()]
        start = 0
        cursor = q.get("cursor")
        if cursor:
            try:
                start = int(cursor.rsplit("=", 1)[-1])
            except ValueError:
                raise _params_error("cursor invalid") from None
        page = rows[start : start + limit]
        nxt = f"next={start + limit}" if start + limit < len(rows) else ""
        return {
            "category": category,
            "list": [self.instrument_entry(m) for m in page],
            "nextPageCursor": nxt,
        }

    def orderbook(self, q: Any) -> Any:
        m = self._market(q)
        assert m is not None
        limit = min(max(_int(q, "limit", 25) or 25, 1), REST_BOOK_MAX)
        book = self.sim.book(self.name, m.symbol)
        book.refresh(self.now_ms())
        return {
            "s": m.venue_id,
            "b": book.wire_levels("bids", limit),
            "a": book.wire_levels("asks", limit),
            "ts": book.ts,
            "u": book.seq,
            "seq": book.last_id,
        }

    def ticker_row(self, m: VenueMarket, now: int) -> dict[str, Any]:
        """One ``/v5/market/tickers`` row (field set of the recorded fetchFundingRate)."""
        sim = self.sim
        t24 = sim.ticker_24h(self.name, m.symbol, now)
        fnow = sim.funding_now(self.name, m.symbol, now)
        top = sim.top_of_book(self.name, m.symbol, now)
        bid = (m.fmt_price(top.bid), m.fmt_qty(top.bid_lots))
        ask = (m.fmt_price(top.ask), m.fmt_qty(top.ask_lots))
        oi = sim.open_interest(self.name, m.symbol, now)
        change = t24.last / t24.open - 1 if t24.open else 0.0
        return {
            "symbol": m.venue_id,
            "lastPrice": fmt_px(m, t24.last),
            "indexPrice": fmt_px(m, fnow.index),
            "markPrice": fmt_px(m, fnow.mark),
            "prevPrice24h": fmt_px(m, t24.open),
            "price24hPcnt": f"{change:.6f}",
            "highPrice24h": fmt_px(m, t24.high),
            "lowPrice24h": fmt_px(m, t24.low),
            "prevPrice1h": fmt_px(m, sim.mark_price(self.name, m.symbol, now - HOUR_MS)),
            "openInterest": fmt_qty(m, oi),
            "openInterestValue": f"{oi * fnow.mark:.2f}",
            "turnover24h": f"{t24.quote_volume:.4f}",
            "volume24h": fmt_qty(m, t24.volume),
            "fundingRate": fmt_rate(fnow.rate),
            "nextFundingTime": str(fnow.next_time),
            # live v5 tickers carry the market's current interval (the recordings predate it)
            "fundingIntervalHour": str(m.funding_interval_h),
            "fundingCap": "0.005" if m.funding_interval_h >= 8 else "0.02",
            "predictedDeliveryPrice": "",
            "basisRate": "",
            "deliveryFeeRate": "",
            "deliveryTime": "0",
            "ask1Size": ask[1],
            "bid1Price": bid[0],
            "ask1Price": ask[0],
            "bid1Size": bid[1],
            "basis": "",
            "preOpenPrice": "",
            "preQty": "",
            "curPreListingPhase": "",
        }

    def tickers(self, q: Any) -> Any:
        category = self._category(q)
        if category != "linear":
            if q.get("symbol"):
                raise BybitError(10001, BAD_SYMBOL_MSG)
            return {"category": category, "list": []}
        m = self._market(q, required=False)
        markets = (
            [m] if m is not None else sorted(self.sim.markets(self.name), key=lambda x: x.venue_id)
        )
        now = self.now_ms()
        return {"category": "linear", "list": [self.ticker_row(x, now) for x in markets]}

    def _klines(self, q: Any, price: str) -> Any:
        m = self._market(q)
        assert m is not None
        interval = q.get("interval")
        tf = KLINE_INTERVALS_MS.get(interval or "")
        if tf is None:
            raise _params_error("interval invalid")
        limit = min(max(_int(q, "limit", 200) or 200, 1), KLINE_MAX)
        now = self.now_ms()
        start = _int(q, "start")
        end = _int(q, "end", now)
        assert end is not None
        if start is not None:
            # with a start, bybit returns the first `limit` candles from it (see recording)
            rows = self.sim.candles(self.name, m.symbol, tf, start, min(end, start + limit * tf))
            rows = rows[:limit]
        else:
            rows = self.sim.candles(self.name, m.symbol, tf, end - (limit - 1) * tf - tf + 1, end)
            rows = rows[-limit:]
        out = []
        for r in rows[::-1]:  # newest first
            row = [str(int(r[0])), *(fmt_px(m, float(x)) for x in r[1:5])]
            if price == "last":
                row += [fmt_qty(m, float(r[5])), f"{float(r[6]):.4f}"]
            out.append(row)
        return {"symbol": m.venue_id, "category": "linear", "list": out}

    def kline(self, q: Any) -> Any:
        return self._klines(q, "last")

    def mark_kline(self, q: Any) -> Any:
        return self._klines(q, "mark")

    def index_kline(self, q: Any) -> Any:
        return self._klines(q, "index")

    def funding_history(self, q: Any) -> Any:
        m = self._market(q)
        assert m is not None
        limit = min(max(_int(q, "limit", FUNDING_HISTORY_MAX) or 200, 1), FUNDING_HISTORY_MAX)
        start = _int(q, "startTime")
        end = _int(q, "endTime")
        if start is not None and end is None:
            raise _params_error("startTime and endTime must be passed together")
        end = self.now_ms() if end is None else end
        if start is not None and start > end:
            raise _params_error("startTime must be less than endTime")
        interval = m.funding_interval_h * HOUR_MS
        lo = start if start is not None else end - limit * interval
        rows = self.sim.funding_history(self.name, m.symbol, max(lo, LISTING_MS), end)
        rows = rows[-limit:][::-1]  # the latest `limit` in range, newest first
        return {
            "category": "linear",
            "list": [
                {
                    "symbol": m.venue_id,
                    "fundingRate": fmt_rate(rate),
                    "fundingRateTimestamp": str(t),
                }
                for t, rate in rows
            ],
        }

    def open_interest(self, q: Any) -> Any:
        m = self._market(q)
        assert m is not None
        iv = OI_INTERVALS_MS.get(q.get("intervalTime") or "")
        if iv is None:
            raise _params_error("intervalTime invalid")
        limit = min(max(_int(q, "limit", 50) or 50, 1), OI_MAX)
        now = self.now_ms()
        end = min(_int(q, "endTime", now) or now, now)
        start = _int(q, "startTime", LISTING_MS) or LISTING_MS
        skip = 0
        if q.get("cursor"):
            try:
                skip = int(q["cursor"].rsplit("=", 1)[-1])
            except ValueError:
                raise _params_error("cursor invalid") from None
        last = end // iv * iv - skip * iv
        times = [t for t in range(last, last - limit * iv, -iv) if t >= max(start, LISTING_MS)]
        more = bool(times) and times[-1] - iv >= max(start, LISTING_MS)
        return {
            "symbol": m.venue_id,
            "category": "linear",
            "list": [
                {
                    "openInterest": fmt_oi(m, self.sim.open_interest(self.name, m.symbol, t)),
                    "timestamp": str(t),
                }
                for t in times
            ],
            "nextPageCursor": f"cursor={skip + len(times)}" if more else "",
        }

    # ------------------------------------------------------------------ WS
    async def ws_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        session = WsSession(self, request, ws)
        conn = _Conn(session=session, conn_id=str(uuid.uuid4()))
        public_linear = request.path.rstrip("/").endswith("/v5/public/linear")
        session.on_close(lambda: self._drop_conn(conn))
        await session.run(lambda text: self._on_text(conn, text, public_linear))
        return ws

    def _drop_conn(self, conn: _Conn) -> None:
        for topic in conn.books.values():
            topic.remove(conn)
        conn.books.clear()
        conn.tickers.clear()
        if conn.ticker_task is not None:
            conn.ticker_task.cancel()

    def _reply(self, conn: _Conn, op: str, req_id: Any, success: bool, ret_msg: str) -> None:
        msg: dict[str, Any] = {
            "success": success,
            "ret_msg": ret_msg,
            "conn_id": conn.conn_id,
        }
        if req_id is not None:
            msg["req_id"] = str(req_id)
        msg["op"] = op
        conn.session.send(msg)

    def _on_text(self, conn: _Conn, text: str, public_linear: bool) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            self._reply(conn, "", None, False, "error:request not json")
            return
        if not isinstance(msg, dict):
            self._reply(conn, "", None, False, "error:invalid op")
            return
        op = msg.get("op")
        req_id = msg.get("req_id")
        if op == "ping":
            self._reply(conn, "ping", req_id, True, "pong")
            return
        args = msg.get("args") or []
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list):
            self._reply(conn, str(op or ""), req_id, False, f"error:invalid op:{op}")
            return
        bad: list[str] = []
        done: list[str] = []
        for topic in args:
            if not (public_linear and isinstance(topic, str)):
                bad.append(str(topic))
            elif op == "subscribe" and self._subscribe(conn, topic):
                done.append(topic)
            elif op == "unsubscribe" and self._unsubscribe(conn, topic):
                done.append(topic)
            else:
                bad.append(topic)
        if bad:
            self._reply(conn, op, req_id, False, f"Invalid symbol :[{','.join(bad)}]")
        else:
            self._reply(conn, op, req_id, True, "")
        if op == "subscribe":  # snapshots follow the ack, as on the live stream
            for topic in done:
                if topic in conn.books:
                    conn.session.send(conn.books[topic].snapshot_frame())
                elif topic in conn.tickers:
                    self._push_ticker(conn, topic, snapshot=True)

    def _parse_topic(self, topic: str) -> tuple[str, int | None, VenueMarket] | None:
        parts = topic.split(".")
        if len(parts) == 3 and parts[0] == "orderbook":
            try:
                depth = int(parts[1])
            except ValueError:
                return None
            m = self.sim.market_by_id(self.name, parts[2])
            if depth not in BOOK_DEPTHS or m is None:
                return None
            return "orderbook", depth, m
        if len(parts) == 2 and parts[0] == "tickers":
            m = self.sim.market_by_id(self.name, parts[1])
            return None if m is None else ("tickers", None, m)
        return None

    def _subscribe(self, conn: _Conn, topic: str) -> bool:
        """Register ``topic``; a repeated subscribe just gets a fresh snapshot."""
        parsed = self._parse_topic(topic)
        if parsed is None:
            return False
        kind, depth, m = parsed
        if kind == "tickers":
            conn.tickers[topic] = m
            if conn.ticker_task is None or conn.ticker_task.done():
                conn.ticker_task = asyncio.create_task(self._ticker_loop(conn))
            return True
        assert depth is not None
        if topic not in conn.books:
            t = self._topics.get(topic)
            if t is None:
                channel = self.channels.get(m.symbol, depth, BOOK_DEPTHS[depth])
                t = self._topics[topic] = _Topic(self, topic, channel)
            t.add(conn)
            conn.books[topic] = t
        conn.snapshot_due.pop(topic, None)
        return True

    def _unsubscribe(self, conn: _Conn, topic: str) -> bool:
        t = conn.books.pop(topic, None)
        if t is not None:
            t.remove(conn)
            conn.snapshot_due.pop(topic, None)
            return True
        if conn.tickers.pop(topic, None) is not None:
            conn.ticker_last.pop(topic, None)
            return True
        return False

    # --- book frames
    def book_frame(
        self,
        topic: str,
        kind: str,
        m: VenueMarket,
        ts: int,
        bids: Levels,
        asks: Levels,
        u: int,
        seq: int,
    ) -> dict[str, Any]:
        return {
            "topic": topic,
            "type": kind,
            "ts": ts,
            "data": {
                "s": m.venue_id,
                "b": [[m.fmt_price(p), m.fmt_qty(q)] for p, q in bids],
                "a": [[m.fmt_price(p), m.fmt_qty(q)] for p, q in asks],
                "u": u,
                "seq": seq,
            },
            "cts": ts - 1,  # matching-engine time, a moment before the push
        }

    def deliver(self, conn: _Conn, topic: _Topic, text: str) -> None:
        """Send one delta to one connection, applying the gap fault."""
        due = conn.snapshot_due.get(topic.name)
        if due is not None:
            if due > 1:
                conn.snapshot_due[topic.name] = due - 1
            else:
                # bybit's remedy for a publishing problem: a fresh snapshot mid-stream
                del conn.snapshot_due[topic.name]
                conn.session.send(topic.snapshot_frame())
                return
        if self.faults.active(self.name, "gap"):
            f = self.faults.check(self.name, "gap", conn.session.key)
            if f is not None:
                after = int(f.params.get("snapshot_after", 3))
                if after > 0:
                    conn.snapshot_due[topic.name] = after
                return  # this delta is lost
        if self.faults.active(self.name, "withhold") and self.faults.check(
            self.name, "withhold", conn.session.key
        ):
            return  # lost for good: no snapshot follows, the client's book stays wrong
        conn.session.send(text)

    # --- tickers
    def ticker_push_data(self, m: VenueMarket, now: int) -> dict[str, str]:
        """Fields of a ``tickers.SYMBOL`` push (the v5 docs' linear example)."""
        row = self.ticker_row(m, now)
        keys = (
            "symbol price24hPcnt lastPrice prevPrice24h highPrice24h lowPrice24h prevPrice1h "
            "markPrice indexPrice openInterest openInterestValue turnover24h volume24h "
            "nextFundingTime fundingRate bid1Price bid1Size ask1Price ask1Size"
        ).split()
        data = {k: row[k] for k in keys}
        data = {"symbol": data.pop("symbol"), "tickDirection": "PlusTick", **data}
        return data

    def _push_ticker(self, conn: _Conn, topic: str, snapshot: bool) -> None:
        m = conn.tickers.get(topic)
        if m is None:
            return
        now = self.now_ms()
        data = self.ticker_push_data(m, now)
        last = conn.ticker_last.get(topic)
        kind = "snapshot"
        if not snapshot and last is not None:
            kind = "delta"
            changed = {k: v for k, v in data.items() if last.get(k) != v}
            changed["symbol"] = data["symbol"]
            payload = changed
        else:
            payload = data
        conn.ticker_last[topic] = data
        conn.session.send({"topic": topic, "type": kind, "data": payload, "cs": now, "ts": now})

    async def _ticker_loop(self, conn: _Conn) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while not conn.session.closed and conn.tickers:
                await asyncio.sleep(TICKER_PUSH_MS / 1000)
                for topic in list(conn.tickers):
                    self._push_ticker(conn, topic, snapshot=topic not in conn.ticker_last)


WIRE = BybitWire

"""Binance USDⓈ-M futures wire format (REST ``/fapi``, WS market streams).

Field names, nesting and string-vs-number types follow the recorded payloads (the
cryptofeed SUSHIUSDT depth session, ccxt's recorded klines/depth) and binance's docs where
nothing was recorded. Depth streams follow binance's futures sync rules: each
``depthUpdate`` carries ``U`` (first id), ``u`` (last id) and ``pu`` (the previous event's
``u``); a REST snapshot's ``lastUpdateId`` is the ``u`` of the last event it includes.

Why one file of ~650 lines: it is the whole of one venue's wire format — every REST
endpoint, the stream framing and the depth sync rules are read against the same recorded
payloads and binance docs, and a split would scatter one protocol over several modules.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS
from perptui.emulator.catalog import LISTING_MS, VenueMarket
from perptui.emulator.sim_book import BookDiff, SimBook
from perptui.emulator.venue_base import (
    ClientConfig,
    VenueWire,
    WireError,
    WsSession,
    dumps,
    int_param,
)

INTERVALS_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
}
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
DAILY_CUT_MS = DAY_MS  # binance closes every stream connection after 24 h


class BinanceError(WireError):
    default_status = 400


def _bad_param(name: str) -> BinanceError:
    return BinanceError(-1130, f"Data sent for parameter '{name}' is not valid.")


def _illegal_chars(name: str) -> BinanceError:
    return BinanceError(
        -1100,
        f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
    )


def _int_param(q: Any, name: str, default: int | None = None) -> int | None:
    return int_param(q, name, default, _illegal_chars)


def _f8(x: float) -> str:
    return f"{x:.8f}"


@dataclass
class _DepthSub:
    """One depth stream on one connection (rate in ms; diffs merged between sends)."""

    stream: str
    book: SimBook
    rate_ms: int
    cadence_ms: int
    acc_ms: int = 0
    first_id: int | None = None
    prev_id: int = 0
    last_id: int = 0
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    listener: Any = None


class BinanceWire(VenueWire):
    name = "binance"
    book_cadence_ms = 100
    incoming_per_s = 10  # USDⓈ-M websocket limits: 10 incoming messages a second

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._weight: tuple[int, int] = (0, 0)  # (minute, used weight)

    # ------------------------------------------------------------------ protocol
    def client_config(self) -> ClientConfig:
        # binanceusdm already restricts fetchMarkets to the linear (fapi) exchangeInfo;
        # spelled out so load_markets never calls spot/inverse/margin endpoints.
        return ClientConfig(
            "binanceusdm",
            {
                "fetchMarkets": {"types": ["linear"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
            },
        )

    def error_body(self, kind: str, message: str) -> tuple[int, Any]:
        if kind == "bad_symbol":
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        if kind == "bad_param":
            return 400, {"code": -1130, "msg": message}
        if kind == "rate_limit":
            return 429, {
                "code": -1003,
                "msg": "Too many requests; current limit of IP(127.0.0.1) is 2400 requests per minute. Please use the websocket for live updates to avoid polling the API.",
            }
        if kind == "ban":
            until = self.now_ms() + 120_000
            return 418, {
                "code": -1003,
                "msg": f"Way too many requests; IP(127.0.0.1) banned until {until}. Please use the websocket for live updates to avoid bans.",
            }
        if kind == "not_found":
            return 404, {"code": -5000, "msg": "Path not found"}
        return 503, {
            "code": -1001,
            "msg": "Internal error; unable to process your request. Please try again.",
        }

    def add_routes(self, router: web.UrlDispatcher, prefix: str) -> None:
        routes = {
            "/fapi/v1/ping": self.ping,
            "/fapi/v1/time": self.time,
            "/fapi/v1/exchangeInfo": self.exchange_info,
            "/fapi/v1/depth": self.depth,
            "/fapi/v1/premiumIndex": self.premium_index,
            "/fapi/v1/fundingRate": self.funding_rate,
            "/fapi/v1/fundingInfo": self.funding_info,
            "/fapi/v1/klines": self.klines,
            "/fapi/v1/markPriceKlines": self.mark_klines,
            "/fapi/v1/indexPriceKlines": self.index_klines,
            "/fapi/v1/openInterest": self.open_interest,
            "/fapi/v1/ticker/24hr": self.ticker_24h,
            "/fapi/v1/ticker/price": self.ticker_price,
            "/fapi/v1/ticker/bookTicker": self.book_ticker,
            "/futures/data/openInterestHist": self.open_interest_hist,
        }
        self.add_get_routes(router, prefix, routes)

    rest_error = BinanceError

    def rest_headers(self) -> dict[str, str]:
        minute = self.now_ms() // MINUTE_MS
        used = self._weight[1] + 1 if self._weight[0] == minute else 1
        self._weight = (minute, used)
        return {"X-MBX-USED-WEIGHT-1M": str(used)}

    # ------------------------------------------------------------------ helpers
    def _market(self, q: Any, required: bool = True) -> VenueMarket | None:
        sym = q.get("symbol")
        if not sym:
            if required:
                raise BinanceError(
                    -1102,
                    "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
                )
            return None
        m = self.sim.market_by_id(self.name, sym.upper())
        if m is None:
            raise BinanceError(-1121, "Invalid symbol.")
        return m

    def _one_or_all(self, q: Any, entry: Callable[[VenueMarket, int], Any]) -> Any:
        """Binance's ticker-style endpoints: one object for ``?symbol=``, else a list of all."""
        now = self.now_ms()
        m = self._market(q, required=False)
        if m is not None:
            return entry(m, now)
        return [entry(x, now) for x in self.sim.markets(self.name)]

    def _qty(self, m: VenueMarket, amount: float) -> str:
        lots = max(0, round(amount / float(m.lot)))
        return m.fmt_qty(lots)

    # ------------------------------------------------------------------ REST
    def ping(self, q: Any) -> Any:
        return {}

    def time(self, q: Any) -> Any:
        return {"serverTime": self.now_ms()}

    def _symbol_entry(self, m: VenueMarket) -> dict[str, Any]:
        price = m.asset.price
        tick = m.tick
        min_price = max(tick, tick * math.floor(price * 0.008 / float(tick)))
        return {
            "symbol": m.venue_id,
            "pair": m.venue_id,
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": LISTING_MS,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": m.base,
            "quoteAsset": m.quote,
            "marginAsset": m.quote,
            "pricePrecision": m.price_decimals,
            "quantityPrecision": m.qty_decimals,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": ["PoW"] if m.base in ("BTC", "LTC") else ["Layer-1"],
            "settlePlan": 0,
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "filters": [
                {
                    "minPrice": f"{min_price:f}",
                    "maxPrice": str(int(price * 60)),
                    "filterType": "PRICE_FILTER",
                    "tickSize": f"{tick:f}",
                },
                {
                    "stepSize": f"{m.lot:f}",
                    "filterType": "LOT_SIZE",
                    "maxQty": f"{m.max_qty:f}",
                    "minQty": f"{m.min_qty:f}",
                },
                {
                    "stepSize": f"{m.lot:f}",
                    "filterType": "MARKET_LOT_SIZE",
                    "maxQty": f"{m.max_qty / 10:f}",
                    "minQty": f"{m.min_qty:f}",
                },
                {"limit": 200, "filterType": "MAX_NUM_ORDERS"},
                {"limit": 10, "filterType": "MAX_NUM_ALGO_ORDERS"},
                {"notional": "5", "filterType": "MIN_NOTIONAL"},
                {
                    "multiplierDown": "0.9500",
                    "multiplierUp": "1.0500",
                    "multiplierDecimal": "4",
                    "filterType": "PERCENT_PRICE",
                },
            ],
            "orderTypes": [
                "LIMIT",
                "MARKET",
                "STOP",
                "STOP_MARKET",
                "TAKE_PROFIT",
                "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET",
            ],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        }

    def exchange_info(self, q: Any) -> Any:
        return {
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 2400,
                },
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
            ],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [self._symbol_entry(m) for m in self.sim.markets(self.name)],
        }

    def depth(self, q: Any) -> Any:
        m = self._market(q)
        assert m is not None
        limit = _int_param(q, "limit", 500)
        if limit not in DEPTH_LIMITS:
            raise _bad_param("limit")
        book = self.sim.book(self.name, m.symbol)
        now = self.now_ms()
        book.refresh(now)
        return {
            "lastUpdateId": book.last_id,
            "E": now,
            "T": max(book.ts, now - 3),
            "bids": book.wire_levels("bids", limit),
            "asks": book.wire_levels("asks", limit),
        }

    def _premium_entry(self, m: VenueMarket, now: int) -> dict[str, Any]:
        f = self.sim.funding_now(self.name, m.symbol, now)
        return {
            "symbol": m.venue_id,
            "markPrice": _f8(f.mark),
            "indexPrice": _f8(f.index),
            "estimatedSettlePrice": _f8(f.index * (1 + 0.3 * (f.mark / f.index - 1))),
            "lastFundingRate": _f8(f.rate),
            "nextFundingTime": f.next_time,
            "interestRate": _f8(f.interest),
            "time": now,
        }

    def premium_index(self, q: Any) -> Any:
        return self._one_or_all(q, self._premium_entry)

    def funding_rate(self, q: Any) -> Any:
        limit = _int_param(q, "limit", 100)
        assert limit is not None
        if not 1 <= limit <= 1000:
            raise _bad_param("limit")
        start = _int_param(q, "startTime")
        end = _int_param(q, "endTime")
        now = self.now_ms()
        m = self._market(q, required=False)
        markets = [m] if m is not None else self.sim.markets(self.name)
        rows: list[tuple[int, str, float]] = []
        for mk in markets:
            hours = mk.funding_interval_h * HOUR_MS
            if start is not None:
                lo, hi = start, min(end if end is not None else now, start + (limit + 1) * hours)
            else:
                hi = end if end is not None else now
                lo = hi - (limit + 1) * hours
            for t, r in self.sim.funding_history(self.name, mk.symbol, lo, hi):
                rows.append((t, mk.venue_id, r))
        rows.sort()
        # with startTime the oldest `limit` rows are returned, otherwise the most recent
        rows = rows[:limit] if start is not None else rows[-limit:]
        return [{"symbol": s, "fundingRate": _f8(r), "fundingTime": t} for t, s, r in rows]

    def funding_info(self, q: Any) -> Any:
        return [
            {
                "symbol": m.venue_id,
                "adjustedFundingRateCap": "0.02000000"
                if m.funding_interval_h >= 8
                else "0.03000000",
                "adjustedFundingRateFloor": "-0.02000000"
                if m.funding_interval_h >= 8
                else "-0.03000000",
                "fundingIntervalHours": m.funding_interval_h,
                "disclaimer": False,
            }
            for m in self.sim.markets(self.name)
        ]

    def _klines(self, q: Any, price: str, symbol_key: str = "symbol") -> Any:
        if symbol_key == "pair":
            q = {**q, "symbol": q.get("pair") or q.get("symbol")}
        m = self._market(q)
        assert m is not None
        tf = INTERVALS_MS.get(q.get("interval", ""))
        if tf is None:
            raise BinanceError(-1120, "Invalid interval.")
        limit = _int_param(q, "limit", 500)
        assert limit is not None
        if not 1 <= limit <= 1500:
            raise _bad_param("limit")
        start = _int_param(q, "startTime")
        end = _int_param(q, "endTime")
        now = self.now_ms()
        if start is not None:
            lo = start
            hi = min(end if end is not None else now, start + limit * tf)
        else:
            hi = end if end is not None else now
            lo = (hi // tf - limit + 1) * tf
        rows = self.sim.candles(self.name, m.symbol, tf, lo, hi, price=price)
        rows = rows[:limit] if start is not None else rows[-limit:]
        tick = float(m.tick)
        pd, qd = m.price_decimals, m.qty_decimals
        lot = float(m.lot)
        out = []
        for r in rows:
            o, h, lw, c = (round(x / tick) * tick for x in r[1:5])
            h = max(h, o, c)
            lw = min(lw, o, c)
            vol = round(r[5] / lot) * lot if price == "last" else 0.0
            quote = vol * (o + c) / 2
            buy = round(vol * 0.5 / lot) * lot
            out.append(
                [
                    int(r[0]),
                    f"{o:.{pd}f}",
                    f"{h:.{pd}f}",
                    f"{lw:.{pd}f}",
                    f"{c:.{pd}f}",
                    f"{vol:.{qd}f}",
                    int(r[0]) + tf - 1,
                    f"{quote:.{pd + qd}f}",
                    int(r[7]) if price == "last" else 0,
                    f"{buy:.{qd}f}",
                    f"{buy * (o + c) / 2:.{pd + qd}f}",
                    "0",
                ]
            )
        return out

    def klines(self, q: Any) -> Any:
        return self._klines(q, "last")

    def mark_klines(self, q: Any) -> Any:
        return self._klines(q, "mark")

    def index_klines(self, q: Any) -> Any:
        return self._klines(q, "index", symbol_key="pair")

    def open_interest(self, q: Any) -> Any:
        m = self._market(q)
        assert m is not None
        now = self.now_ms()
        oi = self.sim.open_interest(self.name, m.symbol, now)
        return {"openInterest": self._qty(m, oi), "symbol": m.venue_id, "time": now}

    def open_interest_hist(self, q: Any) -> Any:
        m = self._market(q)
        assert m is not None
        periods = {
            k: v
            for k, v in INTERVALS_MS.items()
            if k in ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
        }
        tf = periods.get(q.get("period", ""))
        if tf is None:
            raise _bad_param("period")
        limit = _int_param(q, "limit", 30)
        assert limit is not None
        if not 1 <= limit <= 500:
            raise _bad_param("limit")
        now = self.now_ms()
        earliest = now - 30 * DAY_MS  # binance keeps only the last month
        start = max(_int_param(q, "startTime") or 0, earliest)
        end = min(_int_param(q, "endTime") or now, now)
        k1 = end // tf
        k0 = max(-(-start // tf), k1 - limit + 1)
        out = []
        for k in range(k0, k1 + 1):
            t = k * tf
            oi = self.sim.open_interest(self.name, m.symbol, t)
            mark = self.sim.mark_price(self.name, m.symbol, t)
            out.append(
                {
                    "symbol": m.venue_id,
                    "sumOpenInterest": f"{oi:.8f}",
                    "sumOpenInterestValue": f"{oi * mark:.8f}",
                    "timestamp": t,
                }
            )
        return out

    def _ticker(self, m: VenueMarket, now: int) -> dict[str, Any]:
        t = self.sim.ticker_24h(self.name, m.symbol, now)
        pd = m.price_decimals
        last = round(t.last / float(m.tick)) * float(m.tick)
        first_id = 1_000_000_000 + (now // 1000) * 7 % 1_000_000_000
        return {
            "symbol": m.venue_id,
            "priceChange": f"{last - t.open:.{pd}f}",
            "priceChangePercent": f"{(last / t.open - 1) * 100:.3f}",
            "weightedAvgPrice": f"{t.quote_volume / t.volume if t.volume else last:.{pd}f}",
            "lastPrice": f"{last:.{pd}f}",
            "lastQty": m.fmt_qty(1 + now % 97),
            "openPrice": f"{t.open:.{pd}f}",
            "highPrice": f"{max(t.high, last):.{pd}f}",
            "lowPrice": f"{min(t.low, last):.{pd}f}",
            "volume": self._qty(m, t.volume),
            "quoteVolume": f"{t.quote_volume:.2f}",
            "openTime": t.open_time,
            "closeTime": t.close_time,
            "firstId": first_id,
            "lastId": first_id + t.trades - 1,
            "count": t.trades,
        }

    def ticker_24h(self, q: Any) -> Any:
        return self._one_or_all(q, self._ticker)

    def ticker_price(self, q: Any) -> Any:
        return self._one_or_all(q, self._price_entry)

    def _price_entry(self, m: VenueMarket, now: int) -> dict[str, Any]:
        return {
            "symbol": m.venue_id,
            "price": m.fmt_float_price(self.sim.mark_price(self.name, m.symbol, now)),
            "time": now,
        }

    def book_ticker(self, q: Any) -> Any:
        return self._one_or_all(q, self._book_ticker_entry)

    def _book_ticker_entry(self, m: VenueMarket, now: int) -> dict[str, Any]:
        top = self.sim.top_of_book(self.name, m.symbol, now)
        book = self.sim.live_book(self.name, m.symbol)
        return {
            "symbol": m.venue_id,
            "bidPrice": m.fmt_price(top.bid),
            "bidQty": m.fmt_qty(top.bid_lots),
            "askPrice": m.fmt_price(top.ask),
            "askQty": m.fmt_qty(top.ask_lots),
            "time": now,
            "lastUpdateId": book.last_id if book is not None else 1_000_000 + now // 1000,
        }

    # ------------------------------------------------------------------ WebSocket
    async def ws_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, max_msg_size=1 << 20)
        await ws.prepare(request)
        session = WsSession(self, request, ws)
        # /stream?streams=a/b  -> combined ({"stream","data"}); /ws[/name] -> raw payloads
        combined = "/stream" in request.path
        subs: dict[str, Any] = {}
        session.on_close(lambda: self._unsubscribe_all(subs))
        initial: list[str] = []
        if combined and request.query.get("streams"):
            initial = request.query["streams"].split("/")
        else:
            tail = request.path.rsplit("/", 1)[-1]
            if "@" in tail:
                initial = [tail]
        for name in initial:
            self._subscribe(session, subs, name, combined)

        async def on_text(text: str) -> None:
            self._check_daily_cut(session)
            try:
                msg = json.loads(text)
                method = msg.get("method")
                req_id = msg.get("id")
                params = msg.get("params") or []
            except (ValueError, AttributeError):
                session.send({"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"})
                return
            if method == "SUBSCRIBE":
                for name in params:
                    self._subscribe(session, subs, str(name), combined)
                session.send({"result": None, "id": req_id})
            elif method == "UNSUBSCRIBE":
                for name in params:
                    self._unsubscribe(subs, str(name))
                session.send({"result": None, "id": req_id})
            elif method == "LIST_SUBSCRIPTIONS":
                session.send({"result": list(subs), "id": req_id})
            elif method in ("SET_PROPERTY", "GET_PROPERTY"):
                session.send({"result": None if method == "SET_PROPERTY" else False, "id": req_id})
            else:
                session.send(
                    {
                        "error": {"code": 2, "msg": f"Invalid request: unknown variant `{method}`"},
                        "id": req_id,
                    }
                )

        await session.run(on_text)
        return ws

    def _check_daily_cut(self, session: WsSession) -> None:
        if self.now_ms() - session.opened_ms >= DAILY_CUT_MS:
            session.close_soon()

    def _subscribe(
        self, session: WsSession, subs: dict[str, Any], name: str, combined: bool
    ) -> None:
        if name in subs:
            return  # binance ignores a repeated SUBSCRIBE of an active stream
        parts = name.split("@")
        m = self.sim.market_by_id(self.name, parts[0].upper())
        if m is None or len(parts) < 2:
            subs[name] = None  # accepted, never sends (as binance does for unknown streams)
            return
        kind = parts[1]
        if kind == "depth":
            rate = 250
            if len(parts) > 2 and parts[2].endswith("ms") and parts[2][:-2].isdigit():
                rate = int(parts[2][:-2])
            sub = _DepthSub(name, self.sim.book(self.name, m.symbol), rate, self.book_cadence_ms)
            sub.listener = lambda diff, s=sub: self._on_diff(session, s, diff, combined)
            sub.book.listeners.append(sub.listener)
            subs[name] = sub
        else:
            subs[name] = None  # other streams: accepted, silent (not emulated yet)

    def _unsubscribe(self, subs: dict[str, Any], name: str) -> None:
        sub = subs.pop(name, None)
        if isinstance(sub, _DepthSub) and sub.listener in sub.book.listeners:
            sub.book.listeners.remove(sub.listener)

    def _unsubscribe_all(self, subs: dict[str, Any]) -> None:
        for name in list(subs):
            self._unsubscribe(subs, name)

    def _on_diff(self, session: WsSession, sub: _DepthSub, diff: BookDiff, combined: bool) -> None:
        if session.closed:
            return
        if self.now_ms() - session.opened_ms >= DAILY_CUT_MS:
            session.close_soon()
            return
        if self.faults.check(self.name, "gap", session.key) or self.faults.check(
            self.name, "withhold", session.key
        ):
            # lost event: the next one's pu will not match the client's last u
            sub.first_id = None
            sub.bids.clear()
            sub.asks.clear()
            sub.acc_ms = 0
            return
        if sub.first_id is None:
            sub.first_id = diff.first_id
            sub.prev_id = diff.prev_id
        sub.last_id = diff.last_id
        sub.bids.update(diff.bids)
        sub.asks.update(diff.asks)
        sub.acc_ms += sub.cadence_ms
        if sub.acc_ms < sub.rate_ms:
            return
        sub.acc_ms -= sub.rate_ms
        m = sub.book.market
        payload = {
            "e": "depthUpdate",
            "E": diff.ts,
            "T": diff.ts - 2,
            "s": m.venue_id,
            "U": sub.first_id,
            "u": sub.last_id,
            "pu": sub.prev_id,
            "b": [
                [m.fmt_price(p), m.fmt_qty(q)] for p, q in sorted(sub.bids.items(), reverse=True)
            ],
            "a": [[m.fmt_price(p), m.fmt_qty(q)] for p, q in sorted(sub.asks.items())],
        }
        sub.first_id = None
        sub.bids.clear()
        sub.asks.clear()
        session.send(dumps({"stream": sub.stream, "data": payload} if combined else payload))


WIRE = BinanceWire

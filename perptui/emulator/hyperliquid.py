"""Hyperliquid wire format: ``POST /info`` by body ``type`` and the public WS ``l2Book``.

Shapes follow the recorded payloads in README_dex.md (the hyperliquid-python-sdk VCR
cassettes for ``meta``/``fundingHistory``/``candleSnapshot``, the testnet
``metaAndAssetCtxs`` and ``l2Book`` bodies, order_book_server's WS frames): numbers are
strings except times, ``n`` (orders per level, trades per candle) and ``szDecimals``.

- ``metaAndAssetCtxs``: ``[{"universe": [...]}, [ctx per coin, same order]]``; a coin's
  position in ``universe`` is what ccxt uses as its market id.
- ``l2Book``: 20 levels a side, ``{"px","sz","n"}``; on the WS every push is a complete
  snapshot (the emulator pushes one per book step, every 500 ms, like a block's worth).
- ``fundingHistory``: hourly rows in [startTime, endTime], oldest first, 500 at most.
- ``candleSnapshot``: oldest first, 5000 at most, and only the latest 5000 candles of an
  interval exist at all.
- ``predictedFundings`` (not recorded; the documented shape): ``[[coin, [[venue, {
  "fundingRate", "nextFundingTime", "fundingIntervalHours"}], ...]], ...]`` with
  ``HlPerp`` (this venue) and, for the coins those emulated venues list, ``BinPerp`` /
  ``BybitPerp`` (their own running rate and settlement). ``HlPerp``'s prediction is the
  hour's premium average so far extended by the premium now for the rest of the hour,
  while ``metaAndAssetCtxs`` shows the average so far: the two differ as they do live.

Errors in Hyperliquid's own style: a body it cannot read is HTTP 422 with a plain-text
"Failed to deserialize the JSON body into the target type"; an unknown coin is ``null``;
a flood is HTTP 429 (empty JSON ``null``); a fault is HTTP 500 ``null``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS
from perptui.emulator.catalog import LISTING_MS, VenueMarket
from perptui.emulator.sim_book import BookDiff
from perptui.emulator.venue_base import ClientConfig, VenueWire, WsSession, dumps

INTERVALS_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
}
BOOK_LEVELS = 20
FUNDING_HISTORY_MAX = 500
CANDLES_MAX = 5000
DESERIALIZE = "Failed to deserialize the JSON body into the target type"


class BadBody(Exception):
    """A request body Hyperliquid would not deserialize (HTTP 422, plain text)."""


@dataclass
class _Conn:
    session: WsSession
    books: dict[str, VenueMarket] = field(default_factory=dict)  # coin -> market


class HyperliquidWire(VenueWire):
    name = "hyperliquid"
    book_cadence_ms = 500

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._subs: dict[str, dict[int, _Conn]] = {}  # coin -> connections
        self._listeners: dict[str, Callable[[BookDiff], None]] = {}

    # ------------------------------------------------------------------ protocol
    def client_config(self) -> ClientConfig:
        return ClientConfig("hyperliquid", {"fetchMarkets": {"types": ["swap"]}})

    def error_body(self, kind: str, message: str) -> tuple[int, Any]:
        if kind == "bad_param":
            return 422, f"{DESERIALIZE}: {message}"
        if kind in ("rate_limit", "ban"):
            return 429, None
        if kind == "not_found":
            return 404, None
        if kind == "bad_symbol":
            return 200, None
        return 500, None

    def add_routes(self, router: web.UrlDispatcher, prefix: str) -> None:
        router.add_post(prefix + "/info", self._info)

    async def _info(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.text())
            if not isinstance(body, dict) or not isinstance(body.get("type"), str):
                raise BadBody("missing field `type`")
            handler = self._handlers().get(body["type"])
            if handler is None:
                raise BadBody(f"unknown variant `{body['type']}`")
            result = handler(body)
        except (ValueError, BadBody, KeyError, TypeError) as exc:
            return web.Response(status=422, text=f"{DESERIALIZE}: {exc}")
        return web.Response(text=dumps(result), content_type="application/json")

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "meta": lambda b: self.meta(),
            "spotMeta": lambda b: {"universe": [], "tokens": []},
            "metaAndAssetCtxs": lambda b: [self.meta(), self.asset_ctxs()],
            "l2Book": self.l2_book,
            "fundingHistory": self.funding_history,
            "candleSnapshot": self.candle_snapshot,
            "predictedFundings": lambda b: self.predicted_fundings(),
        }

    # ------------------------------------------------------------------ REST
    def markets_in_order(self) -> list[VenueMarket]:
        return sorted(self.sim.markets(self.name), key=lambda m: (m.base != "BTC", m.base))

    def meta(self) -> dict[str, Any]:
        return {
            "universe": [
                {"szDecimals": m.qty_decimals, "name": m.venue_id, "maxLeverage": 50}
                for m in self.markets_in_order()
            ]
        }

    def asset_ctx(self, m: VenueMarket, now: int) -> dict[str, Any]:
        sim = self.sim
        f = sim.funding_now(self.name, m.symbol, now)
        t24 = sim.ticker_24h(self.name, m.symbol, now)
        # the live book where one is streamed, else a synthetic top: metaAndAssetCtxs lists
        # every coin, and building a book per coin made a cold answer take seconds
        top = sim.top_of_book(self.name, m.symbol, now)
        bid, ask = top.bid, top.ask
        mid = (bid + ask) / 2 * float(m.tick)
        return {
            "funding": f"{f.rate:.8f}",
            "openInterest": m.fmt_qty(
                round(sim.open_interest(self.name, m.symbol, now) / float(m.lot))
            ),
            "prevDayPx": m.fmt_float_price(t24.open),
            "dayNtlVlm": f"{t24.quote_volume:.4f}",
            "premium": f"{sim.premium(self.name, m.symbol, now):.8f}",
            "oraclePx": m.fmt_float_price(f.index),
            "markPx": m.fmt_float_price(f.mark),
            "midPx": m.fmt_float_price(mid),
            "impactPxs": [m.fmt_price(bid), m.fmt_price(ask)],
            "dayBaseVlm": m.fmt_qty(round(t24.volume / float(m.lot))),
        }

    def asset_ctxs(self) -> list[dict[str, Any]]:
        now = self.now_ms()
        return [self.asset_ctx(m, now) for m in self.markets_in_order()]

    def predicted_fundings(self) -> list[Any]:
        now = self.now_ms()
        others = [(v, name) for v, name in (("binance", "BinPerp"), ("bybit", "BybitPerp"))
                  if v in self.sim.venues]  # fmt: skip
        out: list[Any] = []
        for m in self.markets_in_order():
            rate = self.sim.projected_rate(self.name, m.symbol, now)
            nxt = self.sim.funding_now(self.name, m.symbol, now).next_time
            entries: list[Any] = []
            for venue, name in others:
                peer = next((x for x in self.sim.markets(venue) if x.base == m.base), None)
                if peer is None:
                    continue
                pf = self.sim.funding_now(venue, peer.symbol, now)
                entries.append([name, self._prediction(pf.rate, pf.next_time, pf.interval_h)])
            entries.insert(min(1, len(entries)), ["HlPerp", self._prediction(rate, nxt, 1)])
            out.append([m.venue_id, entries])
        return out

    @staticmethod
    def _prediction(rate: float, next_time: int, hours: int) -> dict[str, Any]:
        return {
            "fundingRate": f"{rate:.8f}".rstrip("0").rstrip(".") or "0",
            "nextFundingTime": next_time,
            "fundingIntervalHours": hours,
        }

    def _coin(self, body: dict[str, Any], key: str = "coin") -> VenueMarket | None:
        coin = body.get(key)
        if not isinstance(coin, str):
            raise BadBody(f"missing field `{key}`")
        return self.sim.market_by_id(self.name, coin)

    def book_body(self, m: VenueMarket, ts: int) -> dict[str, Any]:
        book = self.sim.book(self.name, m.symbol)
        sides = []
        for side in ("bids", "asks"):
            sides.append(
                [
                    {"px": m.fmt_price(p), "sz": m.fmt_qty(q), "n": 1 + q % 7}
                    for p, q in book.levels(side, BOOK_LEVELS)
                ]
            )
        return {"coin": m.venue_id, "time": ts, "levels": sides}

    def l2_book(self, body: dict[str, Any]) -> Any:
        m = self._coin(body)
        if m is None:
            return None
        now = self.now_ms()
        self.sim.book(self.name, m.symbol).refresh(now)
        return self.book_body(m, now)

    def _window(self, body: dict[str, Any]) -> tuple[int, int]:
        start = body.get("startTime")
        if not isinstance(start, int):
            raise BadBody("missing field `startTime`")
        end = body.get("endTime")
        end = self.now_ms() if end is None else end
        if not isinstance(end, int):
            raise BadBody("invalid type for `endTime`")
        return start, end

    def funding_history(self, body: dict[str, Any]) -> Any:
        m = self._coin(body)
        start, end = self._window(body)
        if m is None:
            return []
        rows = self.sim.funding_history(self.name, m.symbol, max(start, LISTING_MS), end)
        out = []
        for t, rate in rows[:FUNDING_HISTORY_MAX]:
            premium = self.sim.premium(self.name, m.symbol, t)
            out.append(
                {
                    "coin": m.venue_id,
                    "fundingRate": f"{rate:.8f}",
                    "premium": f"{premium:.8f}",
                    "time": t,
                }
            )
        return out

    def candle_snapshot(self, body: dict[str, Any]) -> Any:
        req = body.get("req")
        if not isinstance(req, dict):
            raise BadBody("missing field `req`")
        m = self._coin(req)
        tf = INTERVALS_MS.get(str(req.get("interval")))
        if tf is None:
            raise BadBody(f"unknown variant `{req.get('interval')}`")
        start, end = self._window(req)
        if m is None:
            return []
        now = self.now_ms()
        start = max(start, now // tf * tf - (CANDLES_MAX - 1) * tf)  # only the latest 5000
        rows = self.sim.candles(self.name, m.symbol, tf, start, end)[:CANDLES_MAX]
        return [
            {
                "t": int(r[0]),
                "T": int(r[0]) + tf - 1,
                "s": m.venue_id,
                "i": req["interval"],
                "o": m.fmt_float_price(float(r[1])),
                "c": m.fmt_float_price(float(r[4])),
                "h": m.fmt_float_price(float(r[2])),
                "l": m.fmt_float_price(float(r[3])),
                "v": m.fmt_qty(round(float(r[5]) / float(m.lot))),
                "n": int(r[7]),
            }
            for r in rows
        ]

    # ------------------------------------------------------------------ WS
    async def ws_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Conn(WsSession(self, request, ws))
        conn.session.on_close(lambda: self._drop(conn))
        await conn.session.run(lambda text: self._on_text(conn, text))
        return ws

    def _drop(self, conn: _Conn) -> None:
        for coin in list(conn.books):
            self._unsubscribe(conn, coin)

    def _on_text(self, conn: _Conn, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            conn.session.send(
                {
                    "channel": "error",
                    "data": f"Error parsing JSON into valid websocket request: {text}",
                }
            )
            return
        method = msg.get("method") if isinstance(msg, dict) else None
        if method == "ping":
            conn.session.send({"channel": "pong"})
            return
        sub = msg.get("subscription") if isinstance(msg, dict) else None
        if method not in ("subscribe", "unsubscribe") or not isinstance(sub, dict):
            conn.session.send(
                {
                    "channel": "error",
                    "data": f"Error parsing JSON into valid websocket request: {text}",
                }
            )
            return
        coin = sub.get("coin")
        m = self.sim.market_by_id(self.name, coin) if isinstance(coin, str) else None
        if sub.get("type") != "l2Book" or m is None:
            conn.session.send({"channel": "error", "data": f"Invalid subscription {dumps(sub)}"})
            return
        echo = {
            "type": "l2Book",
            "coin": coin,
            "nSigFigs": sub.get("nSigFigs"),
            "mantissa": sub.get("mantissa"),
        }
        conn.session.send(
            {"channel": "subscriptionResponse", "data": {"method": method, "subscription": echo}}
        )
        if method == "subscribe":
            self._subscribe(conn, m)
            now = self.now_ms()
            self.sim.book(self.name, m.symbol).refresh(now)
            conn.session.send({"channel": "l2Book", "data": self.book_body(m, now)})
        else:
            self._unsubscribe(conn, m.venue_id)

    def _subscribe(self, conn: _Conn, m: VenueMarket) -> None:
        conn.books[m.venue_id] = m
        subs = self._subs.setdefault(m.venue_id, {})
        subs[id(conn)] = conn
        if m.venue_id not in self._listeners:
            listener = self._make_listener(m)
            self._listeners[m.venue_id] = listener
            self.sim.book(self.name, m.symbol).listeners.append(listener)

    def _unsubscribe(self, conn: _Conn, coin: str) -> None:
        m = conn.books.pop(coin, None)
        subs = self._subs.get(coin, {})
        subs.pop(id(conn), None)
        if m is not None and not subs:
            listener = self._listeners.pop(coin, None)
            book = self.sim.book(self.name, m.symbol)
            if listener is not None and listener in book.listeners:
                book.listeners.remove(listener)

    def _make_listener(self, m: VenueMarket) -> Callable[[BookDiff], None]:
        def on_step(diff: BookDiff) -> None:
            text = dumps({"channel": "l2Book", "data": self.book_body(m, diff.ts)})
            for conn in list(self._subs.get(m.venue_id, {}).values()):
                if self.faults.active(self.name, "gap") and self.faults.check(
                    self.name, "gap", conn.session.key
                ):
                    continue  # a lost push: the next full snapshot repairs it
                conn.session.send(text)

        return on_step


WIRE = HyperliquidWire

"""dYdX v4 indexer wire format: REST ``/v4/*`` and the WS ``v4_orderbook`` channel.

Shapes follow the recorded payloads in README_dex.md (nautilus' mainnet indexer bodies,
ccxt's static responses, the ETH-USD ``subscribed`` / ``channel_batch_data`` frames).
Numbers are strings except ``trades24H``, ``atomicResolution``,
``quantumConversionExponent``, ``stepBaseQuantums``, ``subticksPerTick`` and ids.

Indexer behaviour the venue adapter depends on, emulated as documented:

- candles read ``fromISO`` / ``toISO`` (unknown parameters such as ccxt's ``fromIso`` are
  ignored), return the newest ``limit`` (at most 100 by default, 1000 max) first;
- historical funding pages backwards from ``effectiveBeforeOrAt``, newest first;
- the WS sends ``connected``, then per subscription a ``subscribed`` snapshot (every
  level, ``{price, size}`` objects) and ``channel_data`` deltas (``[price, size]``
  arrays), or ``channel_batch_data`` lists of them with ``batched: true``; ``message_id``
  counts messages per connection; there is no sequence or checksum per book, so the
  ``gap`` fault silently loses a delta, as a real dropped message would.

Errors are the indexer's express-validator shape ``{"errors": [{"msg", "param", ...}]}``
with HTTP 400 / 404 / 429, and the geo-block answer (403) for the ``ban`` fault.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS, iso_ms
from perptui.emulator.book_stream import ChannelFanout, DepthChannels, DepthUpdate
from perptui.emulator.catalog import LISTING_MS, VenueMarket
from perptui.emulator.venue_base import ClientConfig, VenueWire, WireError, WsSession

RESOLUTIONS_MS: dict[str, int] = {
    "1MIN": MINUTE_MS,
    "5MINS": 5 * MINUTE_MS,
    "15MINS": 15 * MINUTE_MS,
    "30MINS": 30 * MINUTE_MS,
    "1HOUR": HOUR_MS,
    "4HOURS": 4 * HOUR_MS,
    "1DAY": DAY_MS,
}
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
BOOK_DEPTH = 100  # levels a side the emulated stream publishes
BATCH_STEPS = 5  # simulator steps (100 ms) per channel_batch_data message
GEOBLOCKED = (
    "Because you appear to be a resident of, or using this application from, a jurisdiction "
    "that violates our terms of use, or have engaged in activity that violates our terms of "
    "use, you have been blocked from this application."
)


class DydxError(WireError):
    default_status = 400


def parse_iso(text: str, name: str) -> int:
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise DydxError(400, f"{name} must be a valid ISO 8601 string") from None


def _limit(q: Any) -> int:
    raw = q.get("limit")
    if raw in (None, ""):
        return DEFAULT_LIMIT
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_LIMIT:
        raise DydxError(
            400, f"limit must be a positive integer that is not greater than max: {MAX_LIMIT}"
        )
    return n


@dataclass
class _Conn:
    session: WsSession
    conn_id: str
    message_id: int = 0
    books: dict[str, _Book] = field(default_factory=dict)
    batched: dict[str, bool] = field(default_factory=dict)
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pending_steps: dict[str, int] = field(default_factory=dict)  # updates held per ticker


class _Book(ChannelFanout["_Conn"]):
    """One ticker's published book and the connections subscribed to it."""

    def __init__(self, wire: DydxWire, m: VenueMarket, channels: DepthChannels) -> None:
        super().__init__(channels.get(m.symbol, BOOK_DEPTH))
        self.wire, self.m = wire, m

    def on_update(self, upd: DepthUpdate) -> None:
        m = self.m
        part: dict[str, Any] = {}
        if upd.bids:
            part["bids"] = [[m.fmt_price(p), m.fmt_qty(q)] for p, q in upd.bids]
        if upd.asks:
            part["asks"] = [[m.fmt_price(p), m.fmt_qty(q)] for p, q in upd.asks]
        for conn in list(self.conns.values()):
            self.wire.deliver(conn, self, part)


class DydxWire(VenueWire):
    name = "dydx"
    book_cadence_ms = 100

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.channels = DepthChannels(self.book_for)
        self._books: dict[str, _Book] = {}
        self._conns: dict[int, _Conn] = {}

    # ------------------------------------------------------------------ protocol
    def client_config(self) -> ClientConfig:
        return ClientConfig("dydx", {})

    rest_error = DydxError

    def rest_error_body(self, e: WireError) -> Any:
        return {"errors": [{"msg": e.msg}]}

    def error_body(self, kind: str, message: str) -> tuple[int, Any]:
        status = {"bad_symbol": 404, "bad_param": 400, "rate_limit": 429, "not_found": 404}
        if kind == "ban":
            return 403, {"errors": [{"msg": GEOBLOCKED, "code": "GEOBLOCKED"}]}
        if kind == "server_error":
            return 500, {"errors": [{"msg": "Internal Server Error"}]}
        return status.get(kind, 400), {"errors": [{"msg": message}]}

    def add_routes(self, router: web.UrlDispatcher, prefix: str) -> None:
        self.add_get_routes(
            router,
            prefix + "/v4",
            {"/perpetualMarkets": self.perpetual_markets, "/time": self.time},
        )
        for path, handler in (
            ("/v4/orderbooks/perpetualMarket/{market}", self.orderbook),
            ("/v4/candles/perpetualMarkets/{market}", self.candles),
            ("/v4/historicalFunding/{market}", self.historical_funding),
        ):
            router.add_get(prefix + path, self._with_market(handler))

    def _with_market(self, handler: Any) -> Any:
        async def run(request: web.Request) -> web.Response:
            from perptui.emulator.venue_base import json_response

            try:
                m = self._market(request.match_info["market"])
                result = handler(m, request.query)
            except DydxError as e:
                return json_response(self.rest_error_body(e), e.status)
            return json_response(result)

        return run

    def _market(self, ticker: str) -> VenueMarket:
        m = self.sim.market_by_id(self.name, ticker)
        if m is None:
            raise DydxError(404, f"{ticker} not found in markets of type PerpetualMarket", 404)
        return m

    # ------------------------------------------------------------------ REST
    def time(self, q: Any) -> Any:
        now = self.now_ms()
        return {"iso": iso_ms(now), "epoch": now / 1000}

    def market_entry(self, m: VenueMarket, now: int, index: int) -> dict[str, Any]:
        sim = self.sim
        f = sim.funding_now(self.name, m.symbol, now)
        t24 = sim.ticker_24h(self.name, m.symbol, now)
        oi = sim.open_interest(self.name, m.symbol, now)
        return {
            "clobPairId": str(index),
            "ticker": m.venue_id,
            "status": "ACTIVE",
            "oraclePrice": m.fmt_float_price(f.index),
            "priceChange24H": f"{f.index - t24.open:.5f}",
            "volume24H": f"{t24.quote_volume:.4f}",
            "trades24H": t24.trades,
            "nextFundingRate": f"{f.rate:.20f}".rstrip("0").rstrip(".") or "0",
            "initialMarginFraction": "0.02",
            "maintenanceMarginFraction": "0.012",
            "openInterest": m.fmt_qty(round(oi / float(m.lot))),
            "atomicResolution": -10,
            "quantumConversionExponent": -9,
            "tickSize": str(m.tick),
            "stepSize": str(m.lot),
            "stepBaseQuantums": 1_000_000,
            "subticksPerTick": 100_000,
            "marketType": "CROSS",
            "openInterestLowerCap": "0",
            "openInterestUpperCap": "0",
            "baseOpenInterest": m.fmt_qty(round(oi * 2 / float(m.lot))),
            "defaultFundingRate1H": "0",
        }

    def perpetual_markets(self, q: Any) -> Any:
        now = self.now_ms()
        ms = sorted(self.sim.markets(self.name), key=lambda m: (m.base != "BTC", m.base))
        ticker = q.get("ticker")
        if ticker:
            ms = [m for m in ms if m.venue_id == ticker]
        limit = _limit(q) if q.get("limit") else len(ms)
        return {
            "markets": {m.venue_id: self.market_entry(m, now, i) for i, m in enumerate(ms[:limit])}
        }

    def orderbook(self, m: VenueMarket, q: Any) -> Any:
        book = self.sim.book(self.name, m.symbol)
        book.refresh(self.now_ms())
        return {
            side: [{"price": p, "size": s} for p, s in book.wire_levels(side, BOOK_DEPTH)]
            for side in ("bids", "asks")
        }

    def candles(self, m: VenueMarket, q: Any) -> Any:
        tf = RESOLUTIONS_MS.get(q.get("resolution", ""))
        if tf is None:
            raise DydxError(400, f"resolution must be one of {', '.join(RESOLUTIONS_MS)}")
        limit = _limit(q)
        now = self.now_ms()
        hi = parse_iso(q["toISO"], "toISO") if q.get("toISO") else now
        lo = parse_iso(q["fromISO"], "fromISO") if q.get("fromISO") else hi - limit * tf
        rows = self.sim.candles(self.name, m.symbol, tf, lo, hi)[::-1][:limit]  # newest first
        oi = self.sim.open_interest(self.name, m.symbol, now)
        return {
            "candles": [
                {
                    "startedAt": iso_ms(int(r[0])),
                    "ticker": m.venue_id,
                    "resolution": q["resolution"],
                    "low": m.fmt_float_price(float(r[3])),
                    "high": m.fmt_float_price(float(r[2])),
                    "open": m.fmt_float_price(float(r[1])),
                    "close": m.fmt_float_price(float(r[4])),
                    "baseTokenVolume": m.fmt_qty(round(float(r[5]) / float(m.lot))),
                    "usdVolume": f"{float(r[6]):.4f}",
                    "trades": int(r[7]),
                    "startingOpenInterest": m.fmt_qty(round(oi / float(m.lot))),
                    "orderbookMidPriceOpen": m.fmt_float_price(float(r[1])),
                    "orderbookMidPriceClose": m.fmt_float_price(float(r[4])),
                }
                for r in rows
            ]
        }

    def historical_funding(self, m: VenueMarket, q: Any) -> Any:
        limit = _limit(q)
        now = self.now_ms()
        hi = (
            parse_iso(q["effectiveBeforeOrAt"], "effectiveBeforeOrAt")
            if q.get("effectiveBeforeOrAt")
            else now
        )
        lo = max(LISTING_MS, hi - (limit + 1) * HOUR_MS)
        rows = self.sim.funding_history(self.name, m.symbol, lo, hi)[::-1][:limit]
        height0 = 40_000_000
        return {
            "historicalFunding": [
                {
                    "ticker": m.venue_id,
                    "rate": f"{rate:.12f}".rstrip("0").rstrip(".") or "0",
                    "price": m.fmt_float_price(self.sim.index_price(self.name, m.symbol, t)),
                    "effectiveAtHeight": str(height0 + (t - LISTING_MS) // 1000),
                    "effectiveAt": iso_ms(t),
                }
                for t, rate in rows
            ]
        }

    # ------------------------------------------------------------------ WS
    async def ws_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Conn(WsSession(self, request, ws), str(uuid.uuid4()))
        self._conns[id(conn)] = conn
        conn.session.on_close(lambda: self._drop(conn))
        self._send(conn, {"type": "connected"})
        await conn.session.run(lambda text: self._on_text(conn, text))
        return ws

    def _send(self, conn: _Conn, msg: dict[str, Any]) -> None:
        out = {
            "type": msg.pop("type"),
            "connection_id": conn.conn_id,
            "message_id": conn.message_id,
        }
        out.update(msg)
        conn.message_id += 1
        conn.session.send(out)

    def held_updates(self) -> int:
        """Book updates waiting in partial batches (sent once a batch fills)."""
        return sum(n for c in self._conns.values() for n in c.pending_steps.values())

    def _drop(self, conn: _Conn) -> None:
        self._conns.pop(id(conn), None)
        for book in conn.books.values():
            book.remove(conn)
        conn.books.clear()

    def _on_text(self, conn: _Conn, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            self._send(
                conn, {"type": "error", "message": f"Invalid message: could not parse {text}"}
            )
            return
        kind = msg.get("type") if isinstance(msg, dict) else None
        channel, ticker = (
            (msg.get("channel"), msg.get("id")) if isinstance(msg, dict) else (None, None)
        )
        if kind not in ("subscribe", "unsubscribe") or channel != "v4_orderbook":
            self._send(conn, {"type": "error", "message": f"Invalid subscribe message: {text}"})
            return
        m = self.sim.market_by_id(self.name, ticker) if isinstance(ticker, str) else None
        if m is None:
            self._send(
                conn,
                {
                    "type": "error",
                    "message": f"Invalid subscription id for channel: ({channel}-{ticker})",
                },
            )
            return
        if kind == "unsubscribe":
            book = conn.books.pop(m.venue_id, None)
            if book is not None:
                book.remove(conn)
            self._send(conn, {"type": "unsubscribed", "channel": channel, "id": ticker})
            return
        book = self._books.get(m.venue_id)
        if book is None:
            book = self._books[m.venue_id] = _Book(self, m, self.channels)
        if m.venue_id not in conn.books:
            book.add(conn)
            conn.books[m.venue_id] = book
        conn.batched[m.venue_id] = bool(msg.get("batched"))
        conn.pending[m.venue_id], conn.pending_steps[m.venue_id] = [], 0
        bids, asks = book.channel.snapshot()
        contents = {
            "bids": [{"price": m.fmt_price(p), "size": m.fmt_qty(q)} for p, q in bids],
            "asks": [{"price": m.fmt_price(p), "size": m.fmt_qty(q)} for p, q in asks],
        }
        self._send(
            conn, {"type": "subscribed", "channel": channel, "id": ticker, "contents": contents}
        )

    def deliver(self, conn: _Conn, book: _Book, part: dict[str, Any]) -> None:
        if self.faults.active(self.name, "gap") and self.faults.check(
            self.name, "gap", conn.session.key
        ):
            return  # lost: dYdX gives no sequence to notice it by
        tid = book.m.venue_id
        base = {"channel": "v4_orderbook", "id": tid, "version": "1.0.0"}
        if not conn.batched.get(tid):
            self._send(conn, {"type": "channel_data", **base, "contents": part})
            return
        pending = conn.pending.setdefault(tid, [])
        # batched contents are one side per element, as the recorded batch shows
        pending.extend({side: rows} for side, rows in part.items())
        conn.pending_steps[tid] = conn.pending_steps.get(tid, 0) + 1
        if conn.pending_steps[tid] >= BATCH_STEPS:
            conn.pending[tid], conn.pending_steps[tid] = [], 0
            self._send(conn, {"type": "channel_batch_data", **base, "contents": pending})


WIRE = DydxWire

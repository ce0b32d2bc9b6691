"""OKX v5 (``instType=SWAP``, USDT-margined) wire format: REST ``/api/v5/*`` and public WS.

Field names, nesting and string-typed numbers follow the recorded payloads (ccxt's okx
recordings, cryptofeed's 2022 ``books`` session, nautilus' funding fixtures) and OKX's v5
docs where nothing is recorded. Every number OKX sends is a string except the book's
``checksum`` / ``seqId`` / ``prevSeqId``; decimals are printed without trailing zeros.

Amounts are **contracts**: a BTC-USDT-SWAP contract is ``ctVal`` = 0.01 BTC, so a book size
"13807" is 138.07 BTC. The simulator already keeps okx sizes in lots of contracts (its
market's ``contract_size`` is ``ctVal``), so books pass through unchanged; base-unit figures
from the simulator (open interest, candle volume) are divided by ``ctVal``.

The ``books`` channel (400 levels) sends a snapshot on subscribe, then updates with
``seqId`` / ``prevSeqId`` (``prevSeqId`` of a snapshot is -1) and the CRC-32 ``checksum`` of
the top 25 levels (:mod:`perptui.core.okx_checksum`). ccxt.pro 4.5.90 checks the
seqId chain (InvalidNonce, then resubscribes on the next watch) but not the checksum.

Why one file of ~700 lines: it is the whole of one venue's wire format (REST, WS framing,
books with checksums, the contract-size conversion); those pieces are checked against the
same recordings together, and a split would scatter one protocol over several modules.
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

from perptui.core.okx_checksum import CHECKSUM_DEPTH, okx_checksum
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

BARS_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1H": HOUR_MS,
    "2H": 2 * HOUR_MS,
    "4H": 4 * HOUR_MS,
    # longer bars exist in Hong Kong time (6H, 1D...) and UTC (6Hutc...); ccxt asks for UTC
    "6Hutc": 6 * HOUR_MS,
    "12Hutc": 12 * HOUR_MS,
    "1Dutc": DAY_MS,
    "2Dutc": 2 * DAY_MS,
    "3Dutc": 3 * DAY_MS,
    "1Wutc": 7 * DAY_MS,  # epoch-aligned (Thursdays); okx aligns weeks to Mondays
}
CANDLES_MAX = 300  # /market/candles: "The maximum is 300"
HISTORY_CANDLES_MAX = 300  # /market/history-candles: same cap (ccxt asks for 300 by default)
CANDLES_RECENT_BARS = 1440  # /market/candles only serves the latest 1440 bars
FUNDING_HISTORY_MAX = 400  # public/funding-rate-history: "The maximum is 400", default 400
FUNDING_HISTORY_CAP_MS = 90 * DAY_MS  # okx serves funding history of the last 3 months only
BOOKS_REST_MAX = 400
BOOKS_FULL_MAX = 5000
# public book channels: depth and how many simulator steps (100 ms) one push covers
BOOK_CHANNELS: dict[str, tuple[int, int]] = {"books": (400, 1), "books5": (5, 2)}
FUNDING_PUSH_MS = 30_000  # okx pushes funding-rate every 30 to 90 s
MAX_FUNDING_RATE = "0.00375"


class OkxError(WireError):
    pass


def _empty(name: str) -> OkxError:
    return OkxError("50014", f"Parameter {name} can not be empty.", 400)


def _bad(name: str) -> OkxError:
    return OkxError("51000", f"Parameter {name} error", 400)


def _bad_inst() -> OkxError:
    return OkxError("51001", "Instrument ID does not exist")


def _int(q: Any, name: str, default: int | None = None) -> int | None:
    return int_param(q, name, default, _bad)


def num(value: Decimal | float | int) -> str:
    """OKX's number strings: plain decimal, no exponent, no trailing zeros."""
    d = value if isinstance(value, Decimal) else Decimal(repr(value))
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "") else text


def fmt_px(m: VenueMarket, price: float) -> str:
    return num(Decimal(round(price / float(m.tick))) * m.tick)


def px_ticks(m: VenueMarket, ticks: int) -> str:
    return num(Decimal(ticks) * m.tick)


def sz_lots(m: VenueMarket, lots: int) -> str:
    return num(Decimal(lots) * m.lot)


def contracts(m: VenueMarket, base_amount: float) -> Decimal:
    """Base units -> contracts on the lot grid."""
    lots = round(base_amount / float(m.contract_size) / float(m.lot))
    return Decimal(lots) * m.lot


def fmt_rate(rate: float, decimals: int = 10) -> str:
    return num(Decimal(f"{rate:.{decimals}f}"))


def inst_family(m: VenueMarket) -> str:
    return f"{m.base}-{m.quote}"


@dataclass
class _Conn:
    session: WsSession
    conn_id: str
    books: dict[tuple[str, str], _Channel] = field(default_factory=dict)
    funding: dict[str, VenueMarket] = field(default_factory=dict)
    funding_task: asyncio.Task[None] | None = None


class _Channel(ChannelFanout["_Conn"]):
    """One (channel, instId) book stream: seqId chain, checksum and its connections."""

    def __init__(self, wire: OkxWire, name: str, channel: DepthChannel) -> None:
        super().__init__(channel)
        self.wire = wire
        self.name = name
        self.market = channel.market
        self.arg = {"channel": name, "instId": channel.market.venue_id}
        self.last_seq = channel.seq  # seqId of the last message published on this stream

    def on_attach(self) -> None:
        # Listening again after an idle spell: the chain restarts at the book's current id.
        self.last_seq = self.channel.seq

    def _rows(self, levels: Levels) -> list[list[str]]:
        m = self.market
        return [
            [px_ticks(m, p), sz_lots(m, q), "0", str(1 + q % 9) if q else "0"] for p, q in levels
        ]

    def checksum(self) -> int:
        bids, asks = self.channel.snapshot()
        m = self.market
        b = [(px_ticks(m, p), sz_lots(m, q)) for p, q in bids[:CHECKSUM_DEPTH]]
        a = [(px_ticks(m, p), sz_lots(m, q)) for p, q in asks[:CHECKSUM_DEPTH]]
        return okx_checksum(b, a)

    def frame(
        self, action: str | None, ts: int, bids: Levels, asks: Levels, seq: int, prev: int
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"asks": self._rows(asks), "bids": self._rows(bids), "ts": str(ts)}
        if self.name == "books5":  # every push is a full top 5, no action/checksum
            data = {**data, "instId": self.market.venue_id, "seqId": seq}
            return {"arg": self.arg, "data": [data]}
        data["checksum"] = self.checksum()
        if self.wire.send_seq_ids:
            data["prevSeqId"] = prev
            data["seqId"] = seq
        return {"arg": self.arg, "action": action, "data": [data]}

    def snapshot_frame(self) -> dict[str, Any]:
        bids, asks = self.channel.snapshot()
        return self.frame("snapshot", self.channel.ts, bids, asks, self.last_seq, -1)

    def on_update(self, upd: DepthUpdate) -> None:
        if self.name == "books5":
            bids, asks = self.channel.snapshot()
            frame = self.frame(None, upd.ts, bids, asks, upd.seq, self.last_seq)
        else:
            frame = self.frame("update", upd.ts, upd.bids, upd.asks, upd.seq, self.last_seq)
        self.last_seq = upd.seq
        text = dumps(frame)
        for conn in list(self.conns.values()):
            self.wire.deliver(conn, self, frame, text)


class OkxWire(VenueWire):
    name = "okx"
    book_cadence_ms = 100  # the public `books` channel pushes every 100 ms
    # False: `books` pushes carry only the checksum, as OKX's feed did before seqId
    # existed, so a client's checksum verification is the only thing that can notice a
    # lost update (set per instance: ``emu.server.wires["okx"].send_seq_ids = False``).
    send_seq_ids: bool = True

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.channels = DepthChannels(self.book_for)
        self._streams: dict[tuple[str, str], _Channel] = {}

    # ------------------------------------------------------------------ protocol
    def client_config(self) -> ClientConfig:
        # only swaps are listed; ccxt's default would also load spot, futures and options
        return ClientConfig("okx", {"defaultType": "swap", "fetchMarkets": {"types": ["swap"]}})

    def error_body(self, kind: str, message: str) -> tuple[int, Any]:
        if kind == "bad_symbol":
            return 200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
        if kind == "bad_param":
            return 400, {"code": "51000", "msg": f"Parameter {message} error", "data": []}
        if kind in ("rate_limit", "ban"):
            # okx has no 418: floods get 429 / 50011 (ccxt: RateLimitExceeded)
            return 429, {"msg": "Too Many Requests", "code": "50011"}
        if kind == "not_found":
            return 404, "Not Found"
        return 503, {
            "code": "50001",
            "msg": "Service temporarily unavailable. Please try again later.",
            "data": [],
        }

    def add_routes(self, router: web.UrlDispatcher, prefix: str) -> None:
        routes: dict[str, Callable[[Any], Any]] = {
            "/api/v5/public/time": self.time,
            "/api/v5/public/instruments": self.instruments,
            "/api/v5/market/books": self.books,
            "/api/v5/market/books-full": self.books_full,
            "/api/v5/market/ticker": self.ticker,
            "/api/v5/market/tickers": self.tickers,
            "/api/v5/market/candles": self.candles,
            "/api/v5/market/history-candles": self.history_candles,
            "/api/v5/market/mark-price-candles": self.mark_candles,
            "/api/v5/market/history-mark-price-candles": self.history_mark_candles,
            "/api/v5/market/index-candles": self.index_candles,
            "/api/v5/market/history-index-candles": self.history_index_candles,
            "/api/v5/market/index-tickers": self.index_tickers,
            "/api/v5/public/funding-rate": self.funding_rate,
            "/api/v5/public/funding-rate-history": self.funding_rate_history,
            "/api/v5/public/open-interest": self.open_interest,
            "/api/v5/public/mark-price": self.mark_price,
        }
        self.add_get_routes(router, prefix, routes)

    rest_error = OkxError

    def rest_body(self, result: Any) -> dict[str, Any]:
        return {"code": "0", "msg": "", "data": result}

    def rest_error_body(self, e: WireError) -> dict[str, Any]:
        return {"code": e.code, "msg": e.msg, "data": []}

    # ------------------------------------------------------------------ helpers
    def _market(self, q: Any, key: str = "instId") -> VenueMarket:
        inst = q.get(key)
        if not inst:
            raise _empty(key)
        m = self.sim.market_by_id(self.name, inst)
        if m is None:
            raise _bad_inst()
        return m

    def _swap_markets(self, q: Any) -> list[VenueMarket] | None:
        """Markets of an ``instType`` listing (None if the type is not SWAP)."""
        inst_type = q.get("instType")
        if not inst_type:
            raise _empty("instType")
        if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            raise _bad("instType")
        if inst_type != "SWAP":
            return None
        rows = sorted(self.sim.markets(self.name), key=lambda m: m.venue_id)
        fam = q.get("instFamily") or q.get("uly")
        if fam:
            rows = [m for m in rows if inst_family(m) == fam]
        if q.get("instId"):
            rows = [m for m in rows if m.venue_id == q["instId"]]
            if not rows:
                raise _bad_inst()
        return rows

    # ------------------------------------------------------------------ REST
    def time(self, q: Any) -> Any:
        return [{"ts": str(self.now_ms())}]

    def instrument_entry(self, m: VenueMarket) -> dict[str, Any]:
        """One ``public/instruments`` row (field set of the recorded ccxt market ``info``)."""
        big = "100000000.0000000000000000"
        return {
            "alias": "",
            "baseCcy": "",
            "category": "1",
            "ctMult": "1",
            "ctType": "linear",
            "ctVal": num(m.contract_size),
            "ctValCcy": m.base,
            "expTime": "",
            "instFamily": inst_family(m),
            "instId": m.venue_id,
            "instType": "SWAP",
            "lever": "100" if m.base in ("BTC", "ETH") else "50",
            "listTime": str(LISTING_MS),
            "lotSz": num(m.lot),
            "maxIcebergSz": big,
            "maxLmtAmt": "20000000",
            "maxLmtSz": num(m.max_qty * 100),
            "maxMktAmt": "",
            "maxMktSz": num(m.max_qty),
            "maxStopSz": num(m.max_qty),
            "maxTriggerSz": big,
            "maxTwapSz": big,
            "minSz": num(m.min_qty),
            "optType": "",
            "quoteCcy": "",
            "ruleType": "normal",
            "settleCcy": m.quote,
            "state": "live",
            "stk": "",
            "tickSz": num(m.tick),
            "uly": inst_family(m),
        }

    def instruments(self, q: Any) -> Any:
        rows = self._swap_markets(q)
        return [] if rows is None else [self.instrument_entry(m) for m in rows]

    def _books(self, q: Any, max_sz: int) -> Any:
        m = self._market(q)
        sz = min(max(_int(q, "sz", 1) or 1, 1), max_sz)
        book = self.sim.book(self.name, m.symbol)
        book.refresh(self.now_ms())

        def rows(side: str) -> list[list[str]]:
            return [
                [px_ticks(m, p), sz_lots(m, lots), "0", str(1 + lots % 9)]
                for p, lots in book.levels(side, sz)
            ]

        return [{"asks": rows("asks"), "bids": rows("bids"), "ts": str(book.ts)}]

    def books(self, q: Any) -> Any:
        return self._books(q, BOOKS_REST_MAX)

    def books_full(self, q: Any) -> Any:
        return self._books(q, BOOKS_FULL_MAX)

    def _sod(self, m: VenueMarket, now: int, offset_h: int) -> str:
        """Open price of the current day starting at UTC+offset."""
        off = offset_h * HOUR_MS
        start = (now + off) // DAY_MS * DAY_MS - off
        return fmt_px(m, self.sim.mark_price(self.name, m.symbol, start))

    def ticker_entry(self, m: VenueMarket, now: int) -> dict[str, Any]:
        """One ``market/ticker(s)`` row (field set of the recorded ticker; swap units)."""
        t24 = self.sim.ticker_24h(self.name, m.symbol, now)
        top = self.sim.top_of_book(self.name, m.symbol, now)
        bid = [(top.bid, top.bid_lots)]
        ask = [(top.ask, top.ask_lots)]
        return {
            "instType": "SWAP",
            "instId": m.venue_id,
            "last": fmt_px(m, t24.last),
            "lastSz": num(m.lot),
            "askPx": px_ticks(m, ask[0][0]) if ask else "",
            "askSz": sz_lots(m, ask[0][1]) if ask else "",
            "bidPx": px_ticks(m, bid[0][0]) if bid else "",
            "bidSz": sz_lots(m, bid[0][1]) if bid else "",
            "open24h": fmt_px(m, t24.open),
            "high24h": fmt_px(m, t24.high),
            "low24h": fmt_px(m, t24.low),
            # swaps: volCcy24h in base currency, vol24h in contracts
            "volCcy24h": num(contracts(m, t24.volume) * m.contract_size),
            "vol24h": num(contracts(m, t24.volume)),
            "ts": str(now),
            "sodUtc0": self._sod(m, now, 0),
            "sodUtc8": self._sod(m, now, 8),
        }

    def ticker(self, q: Any) -> Any:
        return [self.ticker_entry(self._market(q), self.now_ms())]

    def tickers(self, q: Any) -> Any:
        rows = self._swap_markets(q)
        now = self.now_ms()
        return [] if rows is None else [self.ticker_entry(m, now) for m in rows]

    def _candle_rows(self, q: Any, *, history: bool, price: str) -> Any:
        if price == "index":
            fam = q.get("instId")
            if not fam:
                raise _empty("instId")
            m_opt = self.sim.market_by_id(self.name, f"{fam}-SWAP")
            if m_opt is None:
                raise _bad_inst()
            m = m_opt
        else:
            m = self._market(q)
        tf = BARS_MS.get(q.get("bar") or "1m")
        if tf is None:
            raise _bad("bar")
        cap = HISTORY_CANDLES_MAX if history else CANDLES_MAX
        limit = min(max(_int(q, "limit", 100) or 100, 1), cap)
        now = self.now_ms()
        after = _int(q, "after")  # records earlier than this ts
        before = _int(q, "before")  # records newer than this ts
        end = now if after is None else min(after - 1, now)
        lo = LISTING_MS if before is None else before + 1
        if not history:
            lo = max(lo, now // tf * tf - (CANDLES_RECENT_BARS - 1) * tf)
        last_open = end // tf * tf
        lo = max(lo, last_open - (limit - 1) * tf)
        rows = self.sim.candles(
            self.name, m.symbol, tf, lo, end, "index" if price == "index" else "last"
        )
        out = []
        for r in rows[::-1][:limit]:  # newest first
            t = int(r[0])
            confirm = "1" if t + tf <= now else "0"
            row = [str(t), *(fmt_px(m, float(x)) for x in r[1:5])]
            if price == "last":
                vol = contracts(m, float(r[5]))
                row += [num(vol), num(vol * m.contract_size), f"{float(r[6]):.2f}", confirm]
            else:
                row.append(confirm)
            out.append(row)
        return out

    def candles(self, q: Any) -> Any:
        return self._candle_rows(q, history=False, price="last")

    def history_candles(self, q: Any) -> Any:
        return self._candle_rows(q, history=True, price="last")

    def mark_candles(self, q: Any) -> Any:
        return self._candle_rows(q, history=False, price="mark")

    def history_mark_candles(self, q: Any) -> Any:
        return self._candle_rows(q, history=True, price="mark")

    def index_candles(self, q: Any) -> Any:
        return self._candle_rows(q, history=False, price="index")

    def history_index_candles(self, q: Any) -> Any:
        return self._candle_rows(q, history=True, price="index")

    def index_tickers(self, q: Any) -> Any:
        fam = q.get("instId")
        if fam:
            m_opt = self.sim.market_by_id(self.name, f"{fam}-SWAP")
            if m_opt is None:
                raise _bad_inst()
            markets = [m_opt]
        elif q.get("quoteCcy"):
            markets = sorted(self.sim.markets(self.name), key=lambda m: m.venue_id)
        else:
            raise _empty("instId")
        now = self.now_ms()
        out = []
        for m in markets:
            rows = self.sim.candles(self.name, m.symbol, 5 * MINUTE_MS, now - DAY_MS, now, "index")
            idx = self.sim.index_price(self.name, m.symbol, now)
            out.append(
                {
                    "instId": inst_family(m),
                    "idxPx": fmt_px(m, idx),
                    "high24h": fmt_px(m, max([idx, *rows[:, 2]])),
                    "sodUtc0": self._sod(m, now, 0),
                    "open24h": fmt_px(m, float(rows[0, 1]) if len(rows) else idx),
                    "low24h": fmt_px(m, min([idx, *rows[:, 3]])),
                    "sodUtc8": self._sod(m, now, 8),
                    "ts": str(now),
                }
            )
        return out

    def funding_entry(self, m: VenueMarket, now: int) -> dict[str, Any]:
        """Current funding of one swap (``public/funding-rate`` row, docs' field set)."""
        f = self.sim.funding_now(self.name, m.symbol, now)
        interval = m.funding_interval_h * HOUR_MS
        settled = self.sim.funding_history(self.name, m.symbol, f.next_time - interval, now)
        sett_rate = settled[-1][1] if settled else f.rate
        premium = self.sim.premium(self.name, m.symbol, now)
        return {
            "formulaType": "withRate",
            "fundingRate": fmt_rate(f.rate),
            "fundingTime": str(f.next_time),
            "impactValue": "",
            "instId": m.venue_id,
            "instType": "SWAP",
            "interestRate": fmt_rate(f.interest),
            "maxFundingRate": MAX_FUNDING_RATE,
            "method": "current_period",
            "minFundingRate": "-" + MAX_FUNDING_RATE,
            "nextFundingRate": "",
            "nextFundingTime": str(f.next_time + interval),
            "premium": fmt_rate(premium),
            "settFundingRate": fmt_rate(sett_rate),
            "settState": "settled",
            "ts": str(now),
        }

    def funding_rate(self, q: Any) -> Any:
        inst = q.get("instId")
        now = self.now_ms()
        if inst == "ANY":
            markets = sorted(self.sim.markets(self.name), key=lambda m: m.venue_id)
            return [self.funding_entry(m, now) for m in markets]
        return [self.funding_entry(self._market(q), now)]

    def funding_rate_history(self, q: Any) -> Any:
        m = self._market(q)
        limit = min(max(_int(q, "limit", FUNDING_HISTORY_MAX) or 1, 1), FUNDING_HISTORY_MAX)
        now = self.now_ms()
        after = _int(q, "after")  # settlements earlier than this
        before = _int(q, "before")  # settlements later than this
        end = now if after is None else min(after - 1, now)
        lo = now - FUNDING_HISTORY_CAP_MS
        if before is not None:
            lo = max(lo, before + 1)
        interval = m.funding_interval_h * HOUR_MS
        lo = max(lo, end - limit * interval)  # only the newest `limit` can be returned
        rows = self.sim.funding_history(self.name, m.symbol, lo, end)[-limit:][::-1]
        return [
            {
                "instType": "SWAP",
                "instId": m.venue_id,
                "fundingRate": fmt_rate(rate),
                "realizedRate": fmt_rate(rate, 8),
                "fundingTime": str(t),
            }
            for t, rate in rows
        ]

    def oi_entry(self, m: VenueMarket, now: int) -> dict[str, Any]:
        base = self.sim.open_interest(self.name, m.symbol, now)
        cts = contracts(m, base)
        ccy = cts * m.contract_size
        mark = self.sim.mark_price(self.name, m.symbol, now)
        return {
            "instId": m.venue_id,
            "instType": "SWAP",
            "oi": num(cts),
            "oiCcy": num(ccy),
            "oiUsd": f"{float(ccy) * mark:.2f}",
            "ts": str(now),
        }

    def open_interest(self, q: Any) -> Any:
        rows = self._swap_markets(q)
        now = self.now_ms()
        return [] if rows is None else [self.oi_entry(m, now) for m in rows]

    def mark_price(self, q: Any) -> Any:
        if not q.get("instType") and q.get("instId"):
            # ccxt's fetchMarkPrice sends only instId, which the live endpoint accepts
            q = {**q, "instType": "SWAP"}
        rows = self._swap_markets(q)
        now = self.now_ms()
        return (
            []
            if rows is None
            else [
                {
                    "instType": "SWAP",
                    "instId": m.venue_id,
                    "markPx": fmt_px(m, self.sim.mark_price(self.name, m.symbol, now)),
                    "ts": str(now),
                }
                for m in rows
            ]
        )

    # ------------------------------------------------------------------ WS
    async def ws_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        session = WsSession(self, request, ws)
        conn = _Conn(session=session, conn_id=uuid.uuid4().hex[:8])
        public = request.path.rstrip("/").endswith("/ws/v5/public")
        session.on_close(lambda: self._drop_conn(conn))
        await session.run(lambda text: self._on_text(conn, text, public))
        return ws

    def _drop_conn(self, conn: _Conn) -> None:
        for ch in conn.books.values():
            ch.remove(conn)
        conn.books.clear()
        conn.funding.clear()
        if conn.funding_task is not None:
            conn.funding_task.cancel()

    def _error(self, conn: _Conn, code: str, msg: str) -> None:
        conn.session.send({"event": "error", "code": code, "msg": msg, "connId": conn.conn_id})

    def _on_text(self, conn: _Conn, text: str, public: bool) -> None:
        if text == "ping":
            conn.session.send("pong")
            return
        try:
            msg = json.loads(text)
        except ValueError:
            self._error(conn, "60012", f"Invalid request: {text}")
            return
        op = msg.get("op") if isinstance(msg, dict) else None
        args = msg.get("args") if isinstance(msg, dict) else None
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list):
            self._error(conn, "60012", f"Invalid request: {text}")
            return
        for arg in args:
            if not isinstance(arg, dict):
                self._error(conn, "60012", f"Invalid request: {text}")
                continue
            channel = str(arg.get("channel", ""))
            inst = str(arg.get("instId", ""))
            m = self.sim.market_by_id(self.name, inst)
            known = channel in BOOK_CHANNELS or channel == "funding-rate"
            if not public or not known or m is None:
                self._error(
                    conn,
                    "60018",
                    f"Wrong URL or channel:{channel},instId:{inst} doesn't exist. Please use "
                    "the correct URL, channel and parameters referring to API document.",
                )
                continue
            reply_arg = {"channel": channel, "instId": inst}
            if op == "subscribe":
                conn.session.send({"event": "subscribe", "arg": reply_arg})
                self._subscribe(conn, channel, m)
            else:
                self._unsubscribe(conn, channel, m)
                conn.session.send({"event": "unsubscribe", "arg": reply_arg})

    def _subscribe(self, conn: _Conn, channel: str, m: VenueMarket) -> None:
        if channel == "funding-rate":
            conn.funding[m.venue_id] = m
            conn.session.send(self.funding_push(m))
            if conn.funding_task is None or conn.funding_task.done():
                conn.funding_task = asyncio.create_task(self._funding_loop(conn))
            return
        key = (channel, m.venue_id)
        stream = self._streams.get(key)
        if stream is None:
            depth, every = BOOK_CHANNELS[channel]
            stream = self._streams[key] = _Channel(
                self, channel, self.channels.get(m.symbol, depth, every)
            )
        if key not in conn.books:
            stream.add(conn)
            conn.books[key] = stream
        # a (re)subscribe always starts with a snapshot
        conn.session.send(stream.snapshot_frame())

    def _unsubscribe(self, conn: _Conn, channel: str, m: VenueMarket) -> None:
        if channel == "funding-rate":
            conn.funding.pop(m.venue_id, None)
            return
        stream = conn.books.pop((channel, m.venue_id), None)
        if stream is not None:
            stream.remove(conn)

    def deliver(self, conn: _Conn, stream: _Channel, frame: dict[str, Any], text: str) -> None:
        """Send one book push to one connection, applying gap and checksum faults."""
        faults = self.faults
        key = conn.session.key
        for kind in ("gap", "withhold"):
            if faults.active(self.name, kind) and faults.check(self.name, kind, key):
                # lost: the next push's prevSeqId will not match the client's seqId (or,
                # without seqIds, its checksum will not match the client's book)
                return
        if stream.name == "books" and faults.active(self.name, "checksum"):
            if faults.check(self.name, "checksum", key):
                data = dict(frame["data"][0])
                data["checksum"] = -data["checksum"] - 1 if data["checksum"] else 1
                conn.session.send({**frame, "data": [data]})
                return
        conn.session.send(text)

    # --- funding-rate channel
    def funding_push(self, m: VenueMarket) -> dict[str, Any]:
        entry = self.funding_entry(m, self.now_ms())
        return {"arg": {"channel": "funding-rate", "instId": m.venue_id}, "data": [entry]}

    async def _funding_loop(self, conn: _Conn) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while not conn.session.closed and conn.funding:
                await asyncio.sleep(FUNDING_PUSH_MS / 1000)
                for m in list(conn.funding.values()):
                    conn.session.send(self.funding_push(m))


WIRE = OkxWire

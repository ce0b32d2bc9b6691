"""The venue plug-in protocol of the emulator.

A venue module (``perptui/emulator/<venue>.py``) defines a :class:`VenueWire` subclass and
exposes it as the module attribute ``WIRE``. The server builds one instance per venue with a
:class:`WireContext` and then:

* calls :meth:`VenueWire.add_routes` so the venue registers its REST routes under
  ``/<venue>`` (e.g. ``/binance/fapi/v1/depth``);
* routes every WebSocket upgrade under ``/<venue>/...`` to :meth:`VenueWire.ws_handler`;
* steps the venue's subscribed books every ``book_cadence_ms`` (divided by the emulator's
  speed factor) — each step calls the listeners that the wire attached to
  ``SimBook.listeners`` with a :class:`~perptui.emulator.sim_book.BookDiff`;
* answers REST faults (latency, 429, 418, 5xx) for the venue *before* its handlers run,
  using :meth:`VenueWire.error_response` so the error has the venue's own shape.

WS faults (drop, disconnect, stall, malformed, latency) are applied by :class:`WsSession`,
which every wire should use for its connections; book-level faults (gap, checksum) are
checked by the wire itself with ``ctx.faults.check(self.name, "gap", key)``.

:meth:`VenueWire.client_config` tells :meth:`Emulator.connect` which ccxt class to build and
which options keep ``load_markets`` on the endpoints the emulator serves.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import WSMsgType, web

from perptui.emulator.catalog import VenueMarket
from perptui.emulator.clock import Clock
from perptui.emulator.faults import FaultPlan
from perptui.emulator.market import MarketSim
from perptui.emulator.sim_book import SimBook

# Error kinds a wire must be able to express in its venue's shape.
ERROR_KINDS = ("bad_symbol", "bad_param", "rate_limit", "ban", "server_error", "not_found")


@dataclass
class WireContext:
    sim: MarketSim
    faults: FaultPlan
    clock: Clock
    stats: dict[str, int] = field(default_factory=lambda: {"ws_messages": 0, "rest_requests": 0})
    # REST requests served per (venue, path below the venue prefix), e.g.
    # ("binance", "fapi/v1/premiumIndex"): what a client really asked, for request budgets
    request_log: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass(frozen=True)
class ClientConfig:
    """How :meth:`Emulator.connect` builds a ccxt client for this venue."""

    ccxt_id: str  # class name in ccxt / ccxt.pro, e.g. "binanceusdm"
    options: dict[str, Any] = field(default_factory=dict)


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=dumps(obj), status=status, content_type="application/json", headers=headers
    )


class WireError(Exception):
    """A venue's REST error: its own code and message, answered with HTTP ``status``."""

    default_status: ClassVar[int] = 200

    def __init__(self, code: Any, msg: str, status: int | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg
        self.status = self.default_status if status is None else status


def int_param(
    q: Any, name: str, default: int | None, invalid: Callable[[str], Exception]
) -> int | None:
    """Query parameter ``name`` as an int; missing or empty -> ``default``.

    A value that is not an integer raises ``invalid(name)`` (the venue's own error).
    """
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid(name) from None


def rewrite_urls(value: Any, http_base: str, ws_base: str) -> Any:
    """Return ``value`` (a ccxt ``urls['api']`` tree) with every URL's scheme+host replaced.

    ``https://fapi.binance.com/fapi/v1`` -> ``http://127.0.0.1:PORT/binance/fapi/v1`` and
    ``wss://fstream.binance.com/ws`` -> ``ws://127.0.0.1:PORT/binance/ws``; paths are kept.
    """
    if isinstance(value, dict):
        return {k: rewrite_urls(v, http_base, ws_base) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite_urls(v, http_base, ws_base) for v in value]
    if isinstance(value, str):
        m = re.match(r"^(https?|wss?)://[^/]+", value)
        if m:
            base = ws_base if m.group(1).startswith("ws") else http_base
            return base + value[m.end() :]
    return value


class VenueWire(ABC):
    """Wire format of one venue: REST routes, WS handler, error shapes, client config."""

    name: ClassVar[str]
    book_cadence_ms: ClassVar[int] = 100
    # Client messages a connection may send per second; beyond it the venue cuts the
    # connection (binance USDⓈ-M: "a limit of 10 incoming messages per second").
    incoming_per_s: ClassVar[int | None] = None

    def __init__(self, ctx: WireContext) -> None:
        self.ctx = ctx
        self.sim = ctx.sim
        self.faults = ctx.faults
        self.clock = ctx.clock
        self.sessions: set[WsSession] = set()
        self.sessions_opened = 0  # websocket sessions served so far (reconnect storms show)
        self.cut_for_rate = 0  # sessions cut for sending faster than incoming_per_s

    # --- required
    @abstractmethod
    def add_routes(self, router: web.UrlDispatcher, prefix: str) -> None:
        """Register REST routes, each path starting with ``prefix`` (``/<venue>``)."""

    @abstractmethod
    async def ws_handler(self, request: web.Request) -> web.StreamResponse:
        """Serve one WebSocket connection (any path under the venue prefix)."""

    @abstractmethod
    def error_body(self, kind: str, message: str) -> tuple[int, Any]:
        """(HTTP status, JSON body) of an error of ``kind`` (see ERROR_KINDS) in venue shape."""

    @abstractmethod
    def client_config(self) -> ClientConfig:
        """ccxt class and options that keep the client on emulated endpoints."""

    # --- REST plumbing: a wire sets ``rest_error`` and the two envelope hooks
    rest_error: ClassVar[type[WireError]] = WireError

    def rest_body(self, result: Any) -> Any:
        """JSON body of a successful REST answer carrying ``result``."""
        return result

    def rest_error_body(self, e: WireError) -> Any:
        """JSON body of a REST answer for the venue error ``e``."""
        return {"code": e.code, "msg": e.msg}

    def rest_headers(self) -> dict[str, str] | None:
        """Headers for the next REST answer (called once per request, before the handler)."""
        return None

    def add_get_routes(
        self, router: web.UrlDispatcher, prefix: str, routes: Mapping[str, Callable[[Any], Any]]
    ) -> None:
        """Register each ``path -> handler(query)`` as a GET route under ``prefix``."""
        for path, handler in routes.items():
            router.add_get(prefix + path, self._rest(handler))

    def _rest(self, handler: Callable[[Any], Any]) -> Any:
        async def run(request: web.Request) -> web.Response:
            headers = self.rest_headers()
            try:
                result = handler(request.query)
            except self.rest_error as e:
                return json_response(self.rest_error_body(e), e.status, headers)
            return json_response(self.rest_body(result), headers=headers)

        return run

    # --- helpers
    def book_for(self, symbol: str) -> tuple[VenueMarket, SimBook]:
        return self.sim.market(self.name, symbol), self.sim.book(self.name, symbol)

    def error_response(
        self, kind: str, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        status, body = self.error_body(kind, message)
        return json_response(body, status=status, headers=headers)

    def now_ms(self) -> int:
        return self.clock.now_ms()

    async def close_all(self) -> None:
        for s in list(self.sessions):
            await s.close()


_conn_ids = itertools.count(1)


class WsSession:
    """One client WebSocket with a non-blocking outbound queue and the WS faults applied.

    Producers (book listeners, subscription handlers) call :meth:`send`; a sender task
    drains the queue. ``run`` reads client frames and hands text to ``on_text``.
    """

    MAX_QUEUE = 20_000  # a client this far behind is cut off, as real venues do

    def __init__(self, wire: VenueWire, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.wire = wire
        self.request = request
        self.ws = ws
        self.key = f"{wire.name}#{next(_conn_ids)}"
        self.opened_ms = wire.clock.now_ms()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._closers: list[Callable[[], None]] = []
        self._stalled_until: float | None = None
        self.closed = False

    def close_soon(self) -> None:
        """Close cleanly after the frames already queued (e.g. binance's 24 h cut)."""
        if not self.closed:
            self._queue.put_nowait(None)
            self.closed = True

    def on_close(self, cb: Callable[[], None]) -> None:
        self._closers.append(cb)

    def send(self, payload: Any) -> None:
        if self.closed:
            return
        if self._queue.qsize() >= self.MAX_QUEUE:
            self._queue.put_nowait(None)  # sentinel: close, the client is hopelessly behind
            self.closed = True
            return
        self._queue.put_nowait(payload if isinstance(payload, str) else dumps(payload))

    async def _sender(self) -> None:
        faults = self.wire.faults
        venue = self.wire.name
        loop = asyncio.get_running_loop()
        while True:
            text = await self._queue.get()
            if text is None or self.ws.closed:
                await self.close()
                return
            if faults.check(venue, "drop", self.key):
                self.abort()
                return
            if faults.check(venue, "disconnect", self.key):
                await self.close(code=1001, message=b"server closing connection")
                return
            stall = faults.check(venue, "stall", self.key)
            if stall is not None:
                duration = float(stall.params.get("duration", 0))
                self._stalled_until = (
                    float("inf") if duration <= 0 else loop.time() + duration / 1000
                )
            if self._stalled_until is not None:
                if loop.time() < self._stalled_until:
                    continue  # socket open, nothing sent: the messages are lost
                self._stalled_until = None
            delay = faults.latency_s(venue, self.key, where="ws")
            if delay:
                await asyncio.sleep(delay)
            if faults.check(venue, "malformed", self.key):
                text = text[: max(1, len(text) // 2)]
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                await self.close()
                return
            self.wire.ctx.stats["ws_messages"] += 1

    def abort(self) -> None:
        """Drop the TCP connection without a close handshake."""
        self.closed = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        self._finish()

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=message)
        self._finish()

    def _finish(self) -> None:
        closers, self._closers = self._closers, []
        for cb in closers:
            with contextlib.suppress(Exception):
                cb()
        self.wire.sessions.discard(self)
        self.wire.faults.forget(self.key)

    async def run(self, on_text: Callable[[str], Awaitable[None] | None]) -> None:
        """Serve until either side closes."""
        self.wire.sessions.add(self)
        self.wire.sessions_opened += 1
        sender = asyncio.create_task(self._sender())
        limit = self.wire.incoming_per_s
        recent: collections.deque[float] = collections.deque()
        loop = asyncio.get_running_loop()
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.TEXT:
                    if limit is not None:
                        now = loop.time()
                        recent.append(now)
                        while recent and now - recent[0] >= 1.0:
                            recent.popleft()
                        if len(recent) > limit:
                            self.wire.cut_for_rate += 1
                            self.abort()
                            break
                    result = on_text(msg.data)
                    if asyncio.iscoroutine(result):
                        await result
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
                if sender.done():
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.closed = True
            if not sender.done():
                self._queue.put_nowait(None)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sender, 1.0)
                sender.cancel()
            self._finish()

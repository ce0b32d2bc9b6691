"""One aiohttp server on 127.0.0.1 serving every emulated venue under ``/<venue>/...``.

REST and WebSocket share the prefix: ``http://127.0.0.1:PORT/binance/fapi/v1/depth`` and
``ws://127.0.0.1:PORT/binance/public/ws/0``. A small control API lives under ``/_emulator``
(``GET /_emulator/health``, ``GET|POST|DELETE /_emulator/faults``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import ipaddress
import logging
import time
from typing import Any

from aiohttp import web

from perptui.emulator.faults import REST_KINDS, Fault, FaultPlan, parse_spec
from perptui.emulator.venue_base import VenueWire, WireContext, json_response

log = logging.getLogger(__name__)

WIRE_MODULES: dict[str, str] = {
    "binance": "perptui.emulator.binance",
    "bybit": "perptui.emulator.bybit",
    "okx": "perptui.emulator.okx",
    "hyperliquid": "perptui.emulator.hyperliquid",
    "dydx": "perptui.emulator.dydx",
    "gmx": "perptui.emulator.gmx",
}


def available_venues() -> tuple[str, ...]:
    """The venues the emulator serves (each has a wire module)."""
    return tuple(WIRE_MODULES)


def load_wire(venue: str, ctx: WireContext) -> VenueWire:
    module_name = WIRE_MODULES.get(venue)
    if module_name is None:
        raise KeyError(f"unknown emulator venue {venue!r}; known: {', '.join(WIRE_MODULES)}")
    module = importlib.import_module(module_name)
    wire_cls: type[VenueWire] = module.WIRE
    return wire_cls(ctx)


def check_loopback(host: str) -> None:
    """The emulator must never listen beyond this machine."""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"emulator binds to loopback only (127.0.0.1), not {host!r}")


class EmulatorServer:
    """The aiohttp app, the venue wires and the ticker tasks that step subscribed books."""

    def __init__(
        self,
        ctx: WireContext,
        venues: tuple[str, ...],
        host: str = "127.0.0.1",
        speed: float = 1.0,
    ) -> None:
        check_loopback(host)
        self.ctx = ctx
        self.host = host
        self.speed = float(speed)
        self.paused = False
        self.wires: dict[str, VenueWire] = {v: load_wire(v, ctx) for v in venues}
        self.app = web.Application(middlewares=[self._fault_middleware])
        for venue, wire in self.wires.items():
            prefix = f"/{venue}"
            wire.add_routes(self.app.router, prefix)
            # every other GET under the prefix is a WS upgrade (or a 404 in the venue's shape)
            self.app.router.add_get(prefix + "/{tail:.*}", self._make_fallback(wire))
        self.app.router.add_get("/_emulator/health", self._health)
        self.app.router.add_get("/_emulator/faults", self._faults_get)
        self.app.router.add_post("/_emulator/faults", self._faults_post)
        self.app.router.add_delete("/_emulator/faults", self._faults_delete)
        self._runner: web.AppRunner | None = None
        self._tickers: list[asyncio.Task[None]] = []
        self.port: int | None = None

    # --- lifecycle
    async def start(self, port: int = 0) -> int:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port, reuse_address=True)
        await site.start()
        sockets = getattr(site._server, "sockets", None)  # aiohttp keeps the asyncio.Server
        assert sockets
        self.port = int(sockets[0].getsockname()[1])
        for wire in self.wires.values():
            self._tickers.append(asyncio.create_task(self._ticker(wire)))
        return self.port

    async def stop(self) -> None:
        for t in self._tickers:
            t.cancel()
        for t in self._tickers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tickers.clear()
        for wire in self.wires.values():
            await wire.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- book stepping
    def step_venue(self, wire: VenueWire) -> int:
        """Step every subscribed book of ``wire`` once; returns how many were stepped."""
        now = self.ctx.clock.now_ms()
        books = self.ctx.sim.active_books(wire.name)
        for book in books:
            book.step(now)
        return len(books)

    async def _ticker(self, wire: VenueWire) -> None:
        period = wire.book_cadence_ms / 1000 / self.speed
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += period
            delay = next_at - loop.time()
            if delay < 0:  # fell behind (busy loop): skip the missed beats, never burst
                next_at = loop.time()
                delay = 0
            await asyncio.sleep(delay)
            if self.paused:
                continue
            try:
                self.step_venue(wire)
            except Exception:  # a bug in one venue must not stop the others
                log.exception("emulator: stepping %s books failed", wire.name)

    # --- routing
    def _make_fallback(self, wire: VenueWire) -> Any:
        async def fallback(request: web.Request) -> web.StreamResponse:
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return await wire.ws_handler(request)
            return wire.error_response("not_found", f"unknown endpoint {request.path}")

        return fallback

    def _wire_for(self, path: str) -> VenueWire | None:
        first = path.lstrip("/").split("/", 1)[0]
        return self.wires.get(first)

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        wire = self._wire_for(request.path)
        if wire is None or request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        self.ctx.stats["rest_requests"] += 1
        self.ctx.request_log[(wire.name, request.path.split("/", 2)[-1])] += 1
        faults = self.ctx.faults
        venue = wire.name
        delay = faults.latency_s(venue, where="rest")
        if delay:
            await asyncio.sleep(delay)
        f = faults.check(venue, "418")
        if f is not None:
            retry = str(f.params.get("retry_after", 120))
            return wire.error_response("ban", "IP banned by the emulator", {"Retry-After": retry})
        f = faults.check(venue, "429")
        if f is not None:
            retry = str(f.params.get("retry_after", 1))
            return wire.error_response(
                "rate_limit", "Too many requests (emulated)", {"Retry-After": retry}
            )
        f = faults.check(venue, "5xx")
        if f is not None:
            status = int(f.params.get("status", 503))
            return web.Response(status=status, text="Service Unavailable (emulated)")
        return await handler(request)

    # --- control API
    async def _health(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "ok": True,
                "venues": list(self.wires),
                "now": self.ctx.clock.now_ms(),
                "stats": self.ctx.stats,
                "requests": {f"{v} /{p}": n for (v, p), n in sorted(self.ctx.request_log.items())},
                "paused": self.paused,
                # Websocket sessions per venue: opened so far, open now, and cut for
                # sending faster than the venue allows (a client's rate bug shows here)
                "sessions": {
                    v: {
                        "opened": w.sessions_opened,
                        "open": len(w.sessions),
                        "cut_for_rate": w.cut_for_rate,
                    }
                    for v, w in self.wires.items()
                },
                # CPU seconds of the serving process, for benchmarks run out of process
                "cpu_s": time.process_time(),
            }
        )

    async def _faults_get(self, request: web.Request) -> web.Response:
        return json_response([f.to_json() for f in self.ctx.faults.list()])

    async def _faults_post(self, request: web.Request) -> web.Response:
        """Body: {"spec": "binance/429:0.05"} or {"venue":..., "kind":..., "prob":..., ...}."""
        try:
            body = await request.json()
            if "spec" in body:
                fault: Fault = self.ctx.faults.add(parse_spec(str(body["spec"])))
            else:
                body = dict(body)
                venue = body.pop("venue", None)
                kind = body.pop("kind")
                fault = self.ctx.faults.inject(venue, kind, **body)
        except (ValueError, KeyError, TypeError) as exc:
            return json_response({"error": str(exc)}, status=400)
        return json_response(fault.to_json())

    async def _faults_delete(self, request: web.Request) -> web.Response:
        self.ctx.faults.clear(request.query.get("venue"), request.query.get("kind"))
        return json_response({"ok": True})


__all__ = ["REST_KINDS", "EmulatorServer", "FaultPlan", "check_loopback", "load_wire"]

"""Loopback emulator of the binance USDⓈ-M, bybit v5 linear, okx v5 swap, Hyperliquid,
dYdX v4 indexer and GMX v2 market-data APIs.

    emu = Emulator(seed=0)
    port = await emu.start()            # one aiohttp server on 127.0.0.1
    client = emu.connect("binance")     # a real ccxt.pro binanceusdm pointed at it
    book = await client.watch_order_book("BTC/USDT:USDT")
    emu.truth_book("binance", "BTC/USDT:USDT")   # what the client should have converged to
    emu.faults.inject("binance", "429", prob=0.1)
    await client.close(); await emu.stop()

``connect`` is the single switch: the returned client is a stock ccxt / ccxt.pro instance
whose ``urls['api']`` point at the emulator; nothing else needs to know.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from perptui.emulator.clock import Clock
from perptui.emulator.faults import FaultPlan
from perptui.emulator.market import MarketSim
from perptui.emulator.server import EmulatorServer, available_venues
from perptui.emulator.venue_base import WireContext, rewrite_urls


@dataclass(frozen=True)
class TruthBook:
    """The emulator's own book: levels as a client parses them (floats of the wire strings,
    amounts in the venue's native unit — contracts on okx), best first."""

    venue: str
    symbol: str
    nonce: int  # binance-style last update id
    seq: int  # event count (one per diff)
    timestamp: int
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]


class Emulator:
    """Market simulator + server + fault plan; see the module docstring."""

    def __init__(
        self,
        seed: int = 0,
        venues: Iterable[str] | None = None,
        symbols: Iterable[str] | None = None,
        *,
        clock: Clock | None = None,
        speed: float = 1.0,
        host: str = "127.0.0.1",
    ) -> None:
        # default: every venue whose wire module is present (binance, bybit, okx)
        self.venues = tuple(venues) if venues is not None else available_venues()
        self.clock = clock or Clock()
        self.sim = MarketSim(seed, self.venues, symbols, self.clock)
        self.faults = FaultPlan(seed, self.clock)
        self.ctx = WireContext(self.sim, self.faults, self.clock)
        self.server = EmulatorServer(self.ctx, self.venues, host=host, speed=speed)
        self.port: int | None = None
        self._clients: list[Any] = []

    # --- lifecycle
    async def start(self, port: int = 0) -> int:
        self.port = await self.server.start(port)
        return self.port

    async def stop(self) -> None:
        for c in self._clients:
            try:
                await c.close()
            except Exception:  # already closed by its owner
                pass
        self._clients.clear()
        await self.server.stop()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- urls
    def http_base(self, venue: str) -> str:
        return f"http://127.0.0.1:{self._port()}/{venue}"

    def ws_base(self, venue: str) -> str:
        return f"ws://127.0.0.1:{self._port()}/{venue}"

    def _port(self) -> int:
        if self.port is None:
            raise RuntimeError("emulator not started; await emu.start() first")
        return self.port

    # --- the one switch
    def connect(self, venue: str, pro: bool = True, **config: Any) -> Any:
        """A real ccxt(.pro) client for ``venue`` with every API url rewritten to us.

        The caller owns the client and must ``await client.close()``; ``stop()`` closes any
        left open. Extra ``config`` is merged into the ccxt constructor config."""
        if venue not in self.server.wires:
            raise KeyError(f"venue {venue!r} not emulated here; have {', '.join(self.venues)}")
        cfg = self.server.wires[venue].client_config()
        if cfg.ccxt_id == "gmx":  # not in ccxt: perptui's own REST transport, same switch
            from perptui.venues.gmx import HttpTransport

            transport = HttpTransport(
                self.http_base(venue), float(config.get("timeout", 10_000)) / 1000
            )
            self._clients.append(transport)
            return transport
        if pro:
            import ccxt.pro as ccxt_mod
        else:
            import ccxt.async_support as ccxt_mod
        cls = getattr(ccxt_mod, cfg.ccxt_id)
        options = dict(cfg.options)
        options.update(config.pop("options", {}))
        client = cls({"enableRateLimit": True, "options": options, **config})
        client.urls["api"] = rewrite_urls(
            client.urls["api"], self.http_base(venue), self.ws_base(venue)
        )
        self._clients.append(client)
        return client

    # --- truth & control
    def truth_book(self, venue: str, symbol: str, limit: int | None = None) -> TruthBook:
        book = self.sim.book(venue, symbol)
        return TruthBook(
            venue=venue,
            symbol=symbol,
            nonce=book.last_id,
            seq=book.seq,
            timestamp=book.ts,
            bids=tuple(book.float_levels("bids", limit)),
            asks=tuple(book.float_levels("asks", limit)),
        )

    def keep_truth(self, depth: int = 50, seconds: float = 30.0) -> None:
        """Have every book remember its best ``depth`` levels for the last ``seconds``.

        Needed by :meth:`truth_at`, which a checker uses to compare a book a client
        published (some time after the emulator sent it) with the emulator's book at that
        book's own sequence.  Bounded per book; off unless asked for.
        """
        cadence = min(w.book_cadence_ms for w in self.server.wires.values()) / self.server.speed
        self.sim.keep_truth(depth, max(1, int(seconds * 1000 / max(cadence, 1e-3))))

    def truth_at(
        self, venue: str, symbol: str, *, nonce: int | None = None, ts: int | None = None
    ) -> list[TruthBook]:
        """The remembered states a client book with this nonce (else timestamp) can be.

        Empty when the state is no longer (or was never) remembered.  Levels are as a
        client parses them (native units: contracts on okx), best first.
        """
        book = self.sim.book(venue, symbol)
        m = book.market

        def floats(levels: list[tuple[int, int]]) -> tuple[tuple[float, float], ...]:
            return tuple((float(m.fmt_price(p)), float(m.fmt_qty(q))) for p, q in levels)

        return [
            TruthBook(venue, symbol, e.last_id, e.seq, e.ts, floats(e.bids), floats(e.asks))
            for e in book.truth_at(last_id=nonce, ts=ts)
        ]

    def pause(self) -> None:
        """Stop stepping books (queued frames still go out); tests compare books here."""
        self.server.paused = True

    def resume(self) -> None:
        self.server.paused = False

    def step(self, venue: str | None = None) -> int:
        """Step the subscribed books now (all venues, or one); returns books stepped."""
        wires = [self.server.wires[venue]] if venue else list(self.server.wires.values())
        return sum(self.server.step_venue(w) for w in wires)

    @property
    def stats(self) -> dict[str, int]:
        return self.ctx.stats

    def requests(self, venue: str | None = None) -> dict[str, int]:
        """REST requests served so far by path (``"binance /fapi/v1/premiumIndex"``)."""
        return {
            f"{v} /{p}": n
            for (v, p), n in sorted(self.ctx.request_log.items())
            if venue is None or v == venue
        }


__all__ = ["Clock", "Emulator", "FaultPlan", "MarketSim", "TruthBook"]

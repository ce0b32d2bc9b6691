"""Ingest capacity per core: depth frames/s through perptui's engine path vs bare ccxt.pro.

A frame server (this module with ``--serve``, a subprocess, so its CPU is not counted)
pushes pre-built depth frames in each streamed venue's wire format (bench/ingest_frames:
binance diffs, bybit deltas, okx books with seqId and checksum) over a loopback websocket
as fast as the socket takes them, and serves binance's REST snapshot. In this process,
one asyncio loop on one core consumes the same frames twice per venue:

- **perptui fast**: ``make_venue(book_path="fast")`` (perptui.venues.fast: its own
  websocket reader, orjson, books kept as wire strings) under a real ``VenueWorker``
  publishing into a ``Hub``: frame -> validated book -> hub, every check on (sequence,
  checksum, crossed guard). okx's checksum is compared with each book's latest state
  when the reader has caught up with the socket and before a book is handed out; the
  hub is read at the monitor's clock meanwhile, so those checks are in the figure, and
  the output also states the figure with one check per message (many books, each
  frame alone of its book in the reader's queue);
- **perptui ccxt**: the same with ``book_path="ccxt"`` (the validating ccxt.pro
  subclass);
- **bare ccxt.pro**: the stock ccxt.pro class in a ``watch_order_book`` loop.

Capacity per core is frames / CPU seconds of this process while it consumes them
(``time.process_time``), so the figure does not depend on how fast the server sends; the
wall-clock rate is printed too. Both paths must end on the generator's final book
(top 25 levels), or the figure is refused. The demand figure is binance's ~5,000 depth
messages/s across its perpetuals at 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

DEMAND_MSGS_PER_S = 5_000
UI_HZ = 5.0  # the monitor's default clock (settings: ui_hz), the hub's read rate
VENUES = ("binance", "bybit", "okx")
SYMBOL = "BTC/USDT:USDT"
TAIL = 12  # frames sent at a live pace after the burst


# ------------------------------------------------------------------ frame server


async def serve(venue: str, count: int, seed: int) -> None:
    from aiohttp import WSMsgType, web

    from bench.ingest_frames import make_frames

    fs = make_frames(venue, count, seed)
    encoded = [json.dumps(f, separators=(",", ":")) for f in fs.frames]
    first = json.dumps(fs.snapshot, separators=(",", ":"))
    snapshot_served = asyncio.Event()

    async def depth(request: web.Request) -> web.Response:
        snapshot_served.set()
        return web.Response(text=first, content_type="application/json")

    async def empty(request: web.Request) -> web.Response:
        return web.Response(text="[]", content_type="application/json")

    async def stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            if msg.data == "ping":
                await ws.send_str("pong")
                continue
            req = json.loads(msg.data)
            op = req.get("op") or req.get("method")
            if op == "ping":
                await ws.send_json({"op": "pong", "success": True, "req_id": req.get("req_id")})
                continue
            if venue == "binance":
                await ws.send_json({"result": None, "id": req.get("id")})
                await snapshot_served.wait()
            elif venue == "bybit":
                await ws.send_json({"success": True, "op": op, "req_id": req.get("req_id")})
                await ws.send_str(first)
            else:
                await ws.send_json({"event": "subscribe", "arg": req["args"][0]})
                await ws.send_str(first)
            await asyncio.sleep(0.3)  # the client settles on its first book
            for text in encoded[:-TAIL]:
                await ws.send_str(text)
            # The engine takes a book from ccxt at most every 0.2 s, and a watch only
            # returns on a frame that arrives while it waits: the last frames come at a
            # live stream's pace (50 ms), so the final book reaches the hub.
            for text in encoded[-TAIL:]:
                await asyncio.sleep(0.05)
                await ws.send_str(text)
        return ws

    app = web.Application()
    app.router.add_get("/fapi/v1/depth", depth)
    app.router.add_get("/fapi/v1/fundingInfo", empty)
    app.router.add_get("/{tail:.*}", stream)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"PORT {port}", flush=True)
    await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def frame_server(venue: str, count: int, seed: int) -> Any:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_ingest",
        "--serve",
        venue,
        "--frames",
        str(count),
        "--seed",
        str(seed),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
        yield f"127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 10)


# ------------------------------------------------------------------ consumers


@dataclass(frozen=True)
class Figure:
    venue: str
    path: str
    frames: int
    cpu_s: float
    wall_s: float
    hub_final: bool = True  # the hub published the final book within 2 s
    late_checks: int = 0  # deferred checks made (okx checksum), inside cpu_s
    check_us: float = 0.0  # CPU of one such check

    def per_core_at(self, checks_per_msg: float) -> float:
        """msg/s per core with ``checks_per_msg`` deferred checks per message instead
        of the run's (many books rather than one busy one)."""
        us = self.us_per_msg + self.check_us * (checks_per_msg - self.late_checks / self.frames)
        return 1e6 / us

    @property
    def per_core(self) -> float:
        return self.frames / self.cpu_s if self.cpu_s > 0 else float("inf")

    @property
    def us_per_msg(self) -> float:
        return self.cpu_s / self.frames * 1e6


def _markets(venue: str) -> list[dict[str, Any]]:
    """The venue's BTC perpetual as ccxt parses the emulator's market listing."""
    return _MARKETS[venue]


_MARKETS: dict[str, list[dict[str, Any]]] = {}


async def _load_markets() -> None:
    """Market definitions in each venue's own format, from the loopback emulator."""
    if _MARKETS:
        return
    from perptui.emulator import Clock, Emulator

    emu = Emulator(seed=1, venues=VENUES, symbols=[SYMBOL], clock=Clock(T0_MS))
    await emu.start()
    try:
        for venue in VENUES:
            client = emu.connect(venue)
            try:
                markets = await client.load_markets()
                _MARKETS[venue] = [markets[SYMBOL]]
            finally:
                await client.close()
    finally:
        await emu.stop()


T0_MS = 1_733_011_200_000


def _client(venue: str, stock: bool, host: str) -> Any:
    import ccxt.pro

    from perptui.emulator.venue_base import rewrite_urls
    from perptui.venues.registry import VENUE_CLASSES

    cls = VENUE_CLASSES[venue]
    klass = getattr(ccxt.pro, cls.ccxt_class or venue)
    if not stock and cls.pro_client_class is not None:
        klass = cls.pro_client_class
    client = klass({"enableRateLimit": False, "options": dict(cls.ccxt_options)})
    client.urls["api"] = rewrite_urls(client.urls["api"], f"http://{host}", f"ws://{host}")
    client.set_markets(_markets(venue))
    return client


def _top(ob: Any, scale: float) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    return (
        [(float(p), round(float(a) / scale, 9)) for p, a, *_ in ob["bids"][:25]],
        [(float(p), round(float(a) / scale, 9)) for p, a, *_ in ob["asks"][:25]],
    )


async def _bare(venue: str, count: int, seed: int, final: Any) -> Figure:
    async with frame_server(venue, count, seed) as host:
        client = _client(venue, stock=True, host=host)
        try:
            ob = await client.watch_order_book(SYMBOL)
            cpu0, t0 = time.process_time(), time.perf_counter()
            while ob["timestamp"] != final.final_ts:
                ob = await client.watch_order_book(SYMBOL)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
            got = _top(client.orderbooks[SYMBOL], 1.0)
        finally:
            await client.close()
    if got != (final.final_bids, final.final_asks):
        raise AssertionError(f"bare ccxt.pro {venue}: final book differs from the frames")
    return Figure(venue, "bare ccxt.pro", count, cpu, wall)


def _applied(venue_obj: Any) -> tuple[int | None, Any]:
    """(timestamp, top-25 sides) of the book the venue holds now, on either path."""
    books = getattr(venue_obj, "books", None)
    if books is not None:  # the fast path: a WireBook per feed
        feed = books.feeds.get(SYMBOL)
        book = feed.book if feed is not None else None
        if book is None:
            return None, None
        sides = tuple(
            [(float(p), round(float(a), 9)) for p, a in zip(*side.top(25), strict=True)]
            for side in (book.bids, book.asks)
        )
        return book.timestamp, sides
    ob = venue_obj.client.orderbooks.get(SYMBOL) or {}
    return ob.get("timestamp"), (_top(ob, 1.0) if ob else None)


async def _perptui(venue: str, count: int, seed: int, final: Any, book_path: str) -> Figure:
    from perptui.engine.hub import Hub
    from perptui.engine.workers import VenueWorker, WorkerSettings
    from perptui.venues import make_venue

    quiet = 1e6  # pollers (funding, OI, tickers, candles) out of the way: books only
    settings = WorkerSettings(
        funding_poll_s=quiet,
        oi_poll_s=quiet,
        ticker_poll_s=quiet,
        ohlcv_poll_s=quiet,
        stale_after_s=30.0,
        request_timeout_s=1.0,
    )
    async with frame_server(venue, count, seed) as host:
        client = _client(venue, stock=False, host=host)
        venue_obj = make_venue(venue, client=client, book_path=book_path)
        hub = Hub([SYMBOL], [venue])
        worker = VenueWorker(venue_obj, hub, [SYMBOL], settings)
        worker.start()
        reader: asyncio.Task[None] | None = None
        try:
            while _hub_ts(hub, venue) is None:
                await asyncio.sleep(0.01)
            books = getattr(venue_obj, "books", None)
            checks0 = books.late_checks if books is not None else 0
            cpu0, t0 = time.process_time(), time.perf_counter()
            # the hub is read as the monitor reads it (copies + their checks charged)
            reader = asyncio.get_running_loop().create_task(_read_hub(hub, venue))
            deadline = t0 + 120
            # every frame applied and validated in the client's book
            while _applied_ts(venue_obj) != final.final_ts:
                if time.perf_counter() > deadline:
                    raise AssertionError(f"perptui {venue}: frames not all applied in 120 s")
                await asyncio.sleep(0.01)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
            reader.cancel()
            late_checks = (books.late_checks if books is not None else 0) - checks0
            got = _applied(venue_obj)[1]
            check_us = _check_us(venue_obj)
            for _ in range(200):  # the hub takes a book every 0.2 s
                if _hub_ts(hub, venue) == final.final_ts:
                    break
                await asyncio.sleep(0.01)
            hub_final = _hub_ts(hub, venue) == final.final_ts
            health = hub.sample().health[venue]
        finally:
            if reader is not None:
                reader.cancel()
            await worker.stop()
    if got != (final.final_bids, final.final_asks):
        raise AssertionError(f"perptui {book_path} {venue}: final book differs from the frames")
    if health.resyncs:
        raise AssertionError(f"perptui {venue}: {health.resyncs} resyncs on a clean stream")
    return Figure(venue, f"perptui {book_path}", count, cpu, wall, hub_final, late_checks, check_us)


def _check_us(venue_obj: Any) -> float:
    """CPU µs of one deferred check (okx: the checksum of the final book), 0 without."""
    from perptui.venues.fast.okx import OkxBookStream, wire_checksum

    books = getattr(venue_obj, "books", None)
    feed = books.feeds.get(SYMBOL) if isinstance(books, OkxBookStream) else None
    if feed is None or feed.book is None:
        return 0.0
    n, t0 = 500, time.process_time()
    for _ in range(n):
        wire_checksum(feed.book)
    return (time.process_time() - t0) / n * 1e6


def _applied_ts(venue_obj: Any) -> int | None:
    """The time of the last message the venue applied (cheap: polled every 10 ms)."""
    books = getattr(venue_obj, "books", None)
    if books is not None:
        feed = books.feeds.get(SYMBOL)
        book = feed.book if feed is not None else None
        return None if book is None else book.timestamp
    return (venue_obj.client.orderbooks.get(SYMBOL) or {}).get("timestamp")


async def _read_hub(hub: Any, venue: str) -> None:
    """Read the book from the hub at the monitor's default clock (``ui_hz``), as the UI
    does: each read copies the newest live book, with the checks the venue defers to
    it (okx's checksum), inside the measured CPU."""
    period = 1.0 / UI_HZ
    while True:
        await asyncio.sleep(period)
        hub.latest_book(venue, SYMBOL)


def _hub_ts(hub: Any, venue: str) -> int | None:
    book = hub.latest_book(venue, SYMBOL)
    return None if book is None else book.timestamp


async def measure(count: int, seed: int = 7) -> list[tuple[Figure, Figure, Figure]]:
    from bench.ingest_frames import make_frames

    logging.getLogger("perptui").setLevel(logging.ERROR)
    await _load_markets()
    out = []
    for venue in VENUES:
        final = Final.of(make_frames(venue, count, seed))
        # the frames themselves stay in the server: the generator's ~40 objects a frame
        # would otherwise sit in this heap, and each full garbage collection during a
        # measurement would walk them (tens of ms, a fifth of a fast run's window)
        gc.collect()
        bare = await _bare(venue, count, seed, final)
        gc.collect()
        fast = await _perptui(venue, count, seed, final, "fast")
        gc.collect()
        ccxt_path = await _perptui(venue, count, seed, final, "ccxt")
        out.append((fast, ccxt_path, bare))
    return out


@dataclass(frozen=True)
class Final:
    """What both paths must end on: the generator's book after the last frame."""

    final_ts: int
    final_bids: list[tuple[float, float]]
    final_asks: list[tuple[float, float]]

    @classmethod
    def of(cls, fs: Any) -> Final:
        return cls(fs.final_ts, fs.final_bids, fs.final_asks)


def _load() -> str:
    with contextlib.suppress(OSError):
        return "load avg " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    return "load unknown"


def run(quick: bool) -> list[str]:
    count = 3_000 if quick else 20_000
    results = asyncio.run(measure(count))
    lines = [
        f"{count} frames per venue and path, one core (this process; frame server in a "
        f"subprocess), {os.cpu_count()} cpus, {_load()}; demand {DEMAND_MSGS_PER_S:,} msg/s"
    ]
    for fast, ccxt_path, bare in results:
        figures = " | ".join(
            f"{f.path} {f.per_core:8,.0f} msg/s/core ({f.us_per_msg:6.1f} µs/msg, "
            f"wall {f.frames / f.wall_s:7,.0f})"
            for f in (fast, ccxt_path, bare)
        )
        missed = [f.path for f in (fast, ccxt_path) if not f.hub_final]
        lines.append(
            f"{fast.venue:8s} {figures} | fast/bare {fast.per_core / bare.per_core:5.2f}x"
            f" | ccxt/bare {ccxt_path.per_core / bare.per_core:4.2f}x"
            f" | fast {fast.per_core / DEMAND_MSGS_PER_S:4.1f}x demand"
            + (f" | hub missed the final book ({', '.join(missed)})" if missed else "")
        )
        if fast.check_us:
            # deferred checks pay off on a busy book; spread over many books each frame
            # is the only one of its book in the reader's queue and is checked alone
            alone = fast.per_core_at(1.0)
            lines.append(
                f"{'':8s} fast: {fast.late_checks} checksums compared with the latest state "
                f"(reader caught up, or the hub's {UI_HZ:g} Hz reads), inside the figure; "
                f"one costs {fast.check_us:.1f} µs. Many books, each frame checked alone "
                f"(one check per message): {alone:,.0f} msg/s/core, "
                f"fast/bare {alone / bare.per_core:4.2f}x"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ingest")
    parser.add_argument("--serve", choices=VENUES)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.frames, args.seed))
        return
    for line in run(args.quick):
        print(line)


if __name__ == "__main__":
    main()

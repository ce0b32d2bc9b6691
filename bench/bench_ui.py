"""Monitor cost: CPU of the running app and key-press-to-repaint latency.

3 venues x 10 symbols on the emulator.  The emulator runs in a child process so
its CPU is reported separately from the app's (UI + engine + ccxt parsing, all
on the one asyncio loop Textual runs).  The app runs headless under Pilot at
120x40; the compositor still renders every frame, only the terminal write is
skipped.

    python -m bench.run --only ui [--quick]      (quick: 10 s window, else 60 s)

Three ratios from one run (machines differ, ratios travel): the UI's share of the
engine's CPU (app minus UI-paused, over UI-paused; goal <= 30 %), the engine
against a bare ccxt.pro client watching the same books in the same process
afterwards (goal <= 1.2x), and key-press-to-repaint p99 (goal <= 100 ms).  The
absolute figures are printed with the machine they came from.  Live and
UI-paused phases alternate in rounds within one app run, so drift in the
machine's load or the emulated market lands on both sides of the ratio.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

WANTED_VENUES = ("binance", "bybit", "okx")


def _emulated() -> tuple[str, ...]:
    """The wanted venues the emulator has wires for (PERPTUI_BENCH_VENUES overrides)."""
    if os.environ.get("PERPTUI_BENCH_VENUES"):
        return tuple(os.environ["PERPTUI_BENCH_VENUES"].split(","))
    from perptui.emulator.server import available_venues

    have = set(available_venues())
    return tuple(v for v in WANTED_VENUES if v in have)


VENUES = _emulated()
N_SYMBOLS = 10
SEED = 11


def pick_symbols(n: int = N_SYMBOLS) -> list[str]:
    """n perpetuals listed on every emulated venue (majors first)."""
    from perptui.emulator.catalog import venue_markets

    sets = [[m.symbol for m in venue_markets(v)] for v in VENUES]
    common = [s for s in sets[0] if all(s in other for other in sets[1:])]
    return common[:n]


def _emulator_child(seed: int, symbols: list[str], conn) -> None:
    from perptui.emulator import Emulator

    async def main() -> None:
        emu = Emulator(seed=seed, venues=VENUES, symbols=symbols)
        port = await emu.start()
        conn.send(port)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # parent says stop
        await emu.stop()

    asyncio.run(main())


def proc_cpu_s(pid: int) -> float | None:
    """utime+stime of a process in seconds (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def _timed(fn: Callable[[], None], spent: list[float]) -> Callable[[], None]:
    """``fn`` with its CPU time added to ``spent[0]``."""

    def timed() -> None:
        t = time.process_time()
        fn()
        spent[0] += time.process_time() - t

    return timed


async def _measure(window_s: float, presses: int, port: int, symbols: list[str], db: str):
    from perptui.config import Config
    from perptui.emulator import Emulator
    from perptui.ui.app import MonitorApp
    from perptui.ui.backend import EngineBackend

    # A local, never-started Emulator only builds ccxt clients pointed at the child.
    emu = Emulator(seed=SEED, venues=VENUES, symbols=symbols)
    emu.port = port
    config = Config(venues=VENUES, symbols=tuple(symbols), db_path=Path(db), demo=True)
    backend = EngineBackend(config, emulator=emu)
    app = MonitorApp(backend, hz=config.ui_hz)

    tick_cpu = [0.0]
    app.tick = _timed(app.tick, tick_cpu)  # type: ignore[method-assign]
    paints: list[float] = []
    inner_display = app._display

    def spy(screen, renderable) -> None:
        inner_display(screen, renderable)
        if renderable is not None:
            paints.append(time.perf_counter())

    app._display = spy  # type: ignore[method-assign]

    # Books the engine took from the venues (live books are counted as they are
    # handed over, copies as they are made: copies happen only when the hub reads).
    books = [0]
    copies = [0]
    hub = backend.hub
    inner_live, inner_set, inner_published = hub.set_live_book, hub.set_book, hub.published

    def counted_live(live) -> None:
        books[0] += 1
        inner_live(live)

    def counted_set(book) -> None:
        books[0] += 1
        inner_set(book)

    def counted_published(book) -> None:
        copies[0] += 1
        inner_published(book)

    hub.set_live_book = counted_live  # type: ignore[method-assign]
    hub.set_book = counted_set  # type: ignore[method-assign]
    hub.published = counted_published  # type: ignore[method-assign]

    out: dict[str, float] = {}
    paint_cpu = [0.0]
    async with app.run_test(size=(120, 40)) as pilot:
        # Compositor paints (the rows the panels asked for, cut and written out),
        # timed like the clock ticks: together the UI's own work, measured directly.
        screen = app.screen
        screen._compositor_refresh = _timed(screen._compositor_refresh, paint_cpu)  # type: ignore[method-assign]
        # Warm up: markets loaded, books streaming for every key.
        deadline = time.monotonic() + 30
        want = len(VENUES) * len(symbols)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            view = app.last_view
            if view is not None and sum(1 for m in view.markets.values() if m.bids) >= want:
                break
        await asyncio.sleep(2)
        view = app.last_view
        out["keys_live"] = 0 if view is None else sum(1 for m in view.markets.values() if m.bids)
        msgs0 = sum(h.msgs_per_s for h in view.health.values()) if view else 0.0

        # Live and UI-paused phases interleaved (rounds of each, summed): the load of
        # a shared machine and the emulator's regimes drift over a minute, and one
        # long phase of each turned that drift into the UI's share.
        rounds = 3 if window_s <= 10 else 6
        phase = max(3.0, window_s / rounds)
        live_cpu = live_wall = paused_cpu = paused_wall = 0.0
        live_books = live_copies = 0
        tick_cpu[0] = paint_cpu[0] = 0.0
        live_paint = 0.0
        for _ in range(rounds):
            b0, k0, c0, w0 = books[0], copies[0], time.process_time(), time.perf_counter()
            p0 = paint_cpu[0]
            await asyncio.sleep(phase)
            live_paint += paint_cpu[0] - p0
            live_books += books[0] - b0
            live_copies += copies[0] - k0
            live_cpu += time.process_time() - c0
            live_wall += time.perf_counter() - w0
            await pilot.press("p")  # pause: no sampling, no painting
            await asyncio.sleep(0.3)
            c0, w0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(phase)
            paused_cpu += time.process_time() - c0
            paused_wall += time.perf_counter() - w0
            await pilot.press("p")
            await asyncio.sleep(0.3)
        out["app_cpu_pct"] = 100 * live_cpu / live_wall
        out["paused_cpu_pct"] = 100 * paused_cpu / paused_wall
        out["books_per_s"] = live_books / live_wall
        out["copies_per_s"] = live_copies / live_wall
        out["tick_cpu_pct"] = 100 * tick_cpu[0] / live_wall
        out["paint_cpu_pct"] = 100 * live_paint / live_wall
        out["rounds"] = float(rounds)
        out["hz"] = app.hz
        view = app.last_view
        out["msgs_per_s"] = sum(h.msgs_per_s for h in view.health.values()) if view else msgs0
        out["rows_written"] = float((backend.db_stats() or (0, 0))[0])

        lat: list[float] = []
        # Keys that always move the focus (a no-op key would time the next clock tick).
        keys = ["j", "j", "k", "k"]
        if len(VENUES) > 1:
            keys += ["right_square_bracket", "left_square_bracket"]
        for i in range(presses):
            before = len(paints)
            t0 = time.perf_counter()
            await pilot.press(keys[i % len(keys)])
            end = time.perf_counter() + 0.5
            while len(paints) == before and time.perf_counter() < end:
                await asyncio.sleep(0.002)
            if len(paints) > before:
                lat.append((paints[before] - t0) * 1000)
            await asyncio.sleep(0.08)
        out["lat_p50_ms"] = pct(lat, 0.5)
        out["lat_p99_ms"] = pct(lat, 0.99)
        out["lat_p90_ms"] = pct(lat, 0.90)
        out["lat_mean_ms"] = statistics.fmean(lat) if lat else float("nan")
        out["presses"] = float(len(lat))
        await pilot.press("q")
        await pilot.pause(0.5)
    if not backend.stopped:
        await backend.stop()
    return out


async def _bare_ccxt(window_s: float, port: int, symbols: list[str]) -> dict[str, float]:
    """CPU of plain ccxt.pro clients watching the same books (the baseline)."""
    from perptui.emulator import Emulator
    from perptui.venues import make_venue

    emu = Emulator(seed=SEED, venues=VENUES, symbols=symbols)
    emu.port = port
    clients = {v: emu.connect(v) for v in VENUES}
    # The depth each venue adapter asks for, so both sides stream the same books.
    limits = {v: make_venue(v, client=emu.connect(v)).watch_book_limit(None) for v in VENUES}
    counts = [0]

    async def watch(client, symbol: str, limit) -> None:
        while True:
            try:
                await client.watch_order_book(symbol, limit)
                counts[0] += 1
            except asyncio.CancelledError:
                raise
            except Exception:  # a resync or drop: carry on, as any client would
                await asyncio.sleep(0.1)

    tasks = [asyncio.create_task(watch(clients[v], s, limits[v])) for v in VENUES for s in symbols]
    try:
        await asyncio.sleep(5.0)  # connect, snapshot, settle
        n0, c0, w0 = counts[0], time.process_time(), time.perf_counter()
        await asyncio.sleep(window_s)
        n1, c1, w1 = counts[0], time.process_time(), time.perf_counter()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in clients.values():
            await c.close()
    return {"bare_cpu_pct": 100 * (c1 - c0) / (w1 - w0), "bare_msgs_per_s": (n1 - n0) / (w1 - w0)}


def machine() -> str:
    import platform

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = f" load avg {os.getloadavg()[0]:.2f}"
    return f"{platform.machine()} {cpu or platform.processor()}, {os.cpu_count()} cpus,{load}"


def run(quick: bool) -> list[str]:
    window = 10.0 if quick else 60.0
    presses = 40 if quick else 120
    symbols = pick_symbols()
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_emulator_child, args=(SEED, symbols, child), daemon=True)
    proc.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("emulator child did not start")
        port = parent.recv()
        with tempfile.TemporaryDirectory() as tmp:
            e0, w0 = proc_cpu_s(proc.pid), time.perf_counter()
            res = asyncio.run(_measure(window, presses, port, symbols, f"{tmp}/bench.db"))
            e1, w1 = proc_cpu_s(proc.pid), time.perf_counter()
            res.update(asyncio.run(_bare_ccxt(max(5.0, window / 2), port, symbols)))
    finally:
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
    emu_pct = (
        f"{100 * (e1 - e0) / (w1 - w0):.1f} % of one core (whole run, incl. warm-up)"
        if e0 is not None and e1 is not None
        else "n/a (no /proc)"
    )
    ui_share = (res["app_cpu_pct"] - res["paused_cpu_pct"]) / res["paused_cpu_pct"]
    vs_bare = res["paused_cpu_pct"] / res["bare_cpu_pct"] if res["bare_cpu_pct"] else float("inf")
    ok_share = "OK" if ui_share <= 0.30 else "OVER GOAL"
    ok_bare = "OK" if vs_bare <= 1.2 else "OVER GOAL"
    ok_lat = "OK" if res["lat_p99_ms"] <= 100 else "OVER GOAL"
    return [
        f"ui: machine {machine()}",
        f"ui: {len(VENUES)} venues x {len(symbols)} symbols on the emulator, 120x40 headless,"
        f" {res['hz']:g} Hz UI clock, {window:.0f} s live + {window:.0f} s paused in"
        f" {int(res['rounds'])} interleaved rounds, {int(res['keys_live'])} live books",
        f"ui: app CPU (UI + engine + ccxt on one loop) {res['app_cpu_pct']:.1f} % of one core",
        f"ui: same process with the UI paused (engine + ccxt + writer)"
        f" {res['paused_cpu_pct']:.1f} %",
        f"ui: the UI's own work measured directly while live: clock ticks"
        f" {res['tick_cpu_pct']:.1f} % + compositor paints {res['paint_cpu_pct']:.1f} %"
        f" = {res['tick_cpu_pct'] + res['paint_cpu_pct']:.1f} % of one core"
        f" ({100 * (res['tick_cpu_pct'] + res['paint_cpu_pct']) / res['paused_cpu_pct']:.0f} %"
        f" of the engine's; the rest of app minus paused is Textual's event loop work, GC"
        f" and the engine's own drift between phases)",
        f"ui: bare ccxt.pro clients on the same books {res['bare_cpu_pct']:.1f} %"
        f" ({res['bare_msgs_per_s']:.0f} books/s; the engine took {res['books_per_s']:.0f} books/s"
        f" and copied {res['copies_per_s']:.0f}/s for the hub)",
        f"ui: RATIO UI share of engine CPU {ui_share * 100:.0f} %  [goal <= 30 %: {ok_share}]",
        f"ui: RATIO engine / bare ccxt.pro {vs_bare:.2f}x  [goal <= 1.2x: {ok_bare}]",
        f"ui: key-press-to-repaint p50 {res['lat_p50_ms']:.1f} ms, p90 {res['lat_p90_ms']:.1f} ms,"
        f" p99 {res['lat_p99_ms']:.1f} ms"
        f" over {int(res['presses'])} presses  [goal p99 <= 100 ms: {ok_lat}]",
        f"ui: emulator child process {emu_pct}; DB rows written {res['rows_written']:.0f}",
    ]


if __name__ == "__main__":
    import sys

    for line in run("--quick" in sys.argv):
        print(line)

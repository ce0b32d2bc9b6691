"""Backfill cost (time, requests vs the minimum) and collect's steady-state CPU and memory.

1. Backfill: 365 days of settled funding and 1 h candles for 3 venues x 10 symbols from
   the in-process emulator into a fresh SQLite file (quick: 90 days x 3 symbols).
   Requests are counted at the emulator (every REST request it served, market loading
   included, listed apart) and compared with the minimum: per series ceil(rows / page),
   page being what the venue serves at most.
2. Collect: ``perptui collect --emulator-port P`` in a child process against a
   ``perptui emulator`` in another child, 3 venues x 10 symbols, 1 s snapshots; CPU
   (utime + stime of the collector from /proc) and RSS sampled over 10 minutes
   (quick: 30 s), the first minute's RSS against the last to show it stays flat.

    python -m bench.run --only backfill [--quick]
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
WANTED = ("binance", "bybit", "okx")
SYMBOLS = tuple(
    f"{b}/USDT:USDT"
    for b in ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "ADA", "AVAX", "LINK", "LTC")
)
DAY = 86_400_000


def _venues() -> tuple[str, ...]:
    from perptui.emulator.server import available_venues

    have = set(available_venues())
    return tuple(v for v in WANTED if v in have)


async def _backfill(days: int, symbols: tuple[str, ...], db: Path) -> list[str]:
    from aiohttp import web

    from perptui.emulator import Emulator
    from perptui.jobs.backfill import Backfill, BackfillSettings, pacer_for
    from perptui.store.writer import Writer
    from perptui.venues import make_venue

    venues_ids = _venues()
    emu = Emulator(seed=1, venues=venues_ids)
    served: dict[str, int] = {}

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        venue = request.path.strip("/").split("/", 1)[0]
        served[venue] = served.get(venue, 0) + 1
        return await handler(request)

    emu.server.app.middlewares.insert(0, count)
    await emu.start()
    venues = [make_venue(v, client=emu.connect(v, pro=False)) for v in venues_ids]
    writer = await Writer(db, batch_rows=1000).start()
    try:
        for v in venues:
            await v.load_markets()
        markets_requests = sum(served.values())
        now = int(time.time() * 1000)
        settings = BackfillSettings(
            since=now - days * DAY, until=now, symbols=symbols, timeframe="1h"
        )
        t0 = time.perf_counter()
        reports = await Backfill(venues, writer, settings).run()
        await writer.flush()
        seconds = time.perf_counter() - t0
        throttled = sum(pacer_for(v).throttled for v in venues)
    finally:
        await writer.close()
        for v in venues:
            await v.close()
        await emu.stop()
    total = sum(served.values()) - markets_requests
    rows = sum(r.stored_rows for r in reports)
    by_venue: dict[str, tuple[int, int]] = {}
    for r in reports:
        v = next(x for x in venues if x.id == r.key.venue)
        page = v.page_limits[r.key.what]
        learned = _served_page(r.notes)
        minimum = math.ceil(r.rows_fetched / min(page, learned or page))
        req, mn = by_venue.get(r.key.venue, (0, 0))
        by_venue[r.key.venue] = (req + r.requests, mn + minimum)
    minimum_all = sum(mn for _, mn in by_venue.values())
    lines = [
        f"backfill {days} d x {len(symbols)} symbols x {len(venues_ids)} venues "
        f"({', '.join(venues_ids)}): {len(reports)} series, {rows:,} rows in {seconds:.1f} s "
        f"({rows / seconds:,.0f} rows/s)",
        f"backfill requests: {total} served by the emulator vs minimum {minimum_all} "
        f"(ratio {total / max(1, minimum_all):.2f}); market loading {markets_requests}; "
        f"429s {throttled}",
    ]
    for vid, (req, mn) in sorted(by_venue.items()):
        lines.append(f"  {vid}: {req} requests, minimum {mn}")
    partial = [r for r in reports if r.status != "ok"]
    if partial:
        lines.append(
            f"  {len(partial)} series partial (history caps): "
            + ", ".join(sorted({r.key.venue + " " + r.key.what for r in partial}))
        )
    return lines


def _served_page(notes: list[str]) -> int | None:
    import re

    for note in notes:
        m = re.search(r"served at most (\d+) rows per page", note)
        if m:
            return int(m.group(1))
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def _proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _collect(seconds: float, tmp: Path) -> list[str]:
    venues = ",".join(_venues())
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPTUI_")}
    env.update(HOME=str(tmp), XDG_CONFIG_HOME=str(tmp / "cfg"))
    py = sys.executable
    emu = subprocess.Popen(
        [py, "-m", "perptui", "emulator", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
    )  # fmt: skip
    col = None
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        db = tmp / "collect.db"
        col = subprocess.Popen(
            [py, "-m", "perptui", "--db", str(db), "--venues", venues,
             "--symbols", ",".join(s.split("/")[0] for s in SYMBOLS),
             "--log-file", str(tmp / "collect.log"), "collect", "--emulator-port", str(port),
             "--snapshot-every", "1", "--catchup-hours", "24"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )  # fmt: skip
        warmup = min(15.0, seconds / 3)
        time.sleep(warmup)  # start-up: imports, markets, first catch-up
        cpu0, t0 = _proc_cpu_s(col.pid), time.monotonic()
        rss: list[tuple[float, float]] = []
        while time.monotonic() - t0 < seconds:
            time.sleep(min(5.0, seconds / 10))
            rss.append((time.monotonic() - t0, _proc_rss_mb(col.pid)))
        cpu1, t1 = _proc_cpu_s(col.pid), time.monotonic()
        emu_cpu = _proc_cpu_s(emu.pid)
        col.send_signal(signal.SIGTERM)
        _, err = col.communicate(timeout=60)
        rc = col.returncode
    finally:
        for p in (col, emu):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
    import sqlite3

    conn = sqlite3.connect(db)
    snaps = conn.execute("SELECT COUNT(*) FROM order_book_snapshots").fetchone()[0]
    conn.close()
    cpu_pct = (cpu1 - cpu0) / (t1 - t0) * 100
    window = max(1, len(rss) // 5)
    early = sum(r for _, r in rss[:window]) / window
    late = sum(r for _, r in rss[-window:]) / window
    return [
        f"collect steady state ({venues}, {len(SYMBOLS)} symbols, 1 s snapshots, "
        f"{t1 - t0:.0f} s after {warmup:.0f} s warm-up): CPU {cpu_pct:.1f} % of one core, "
        f"RSS {early:.0f} MB -> {late:.0f} MB (max {max(r for _, r in rss):.0f} MB); "
        f"{snaps:,} snapshots; SIGTERM exit {rc}",
        f"  emulator child CPU total {emu_cpu:.1f} s; collector stderr tail: "
        f"{(err or '').strip().splitlines()[-1][:160] if err else '-'}",
    ]


def run(quick: bool) -> list[str]:
    days, symbols = (90, SYMBOLS[:3]) if quick else (365, SYMBOLS)
    with tempfile.TemporaryDirectory(prefix="perptui-bench-") as d:
        tmp = Path(d)
        lines = asyncio.run(_backfill(days, symbols, tmp / "backfill.db"))
        lines += _collect(30.0 if quick else 600.0, tmp)
    return lines


if __name__ == "__main__":
    for line in run("--quick" in sys.argv):
        print(line)

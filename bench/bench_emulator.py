"""Emulator throughput: depth messages/s served to one ccxt.pro client, and CPU per 1,000.

The emulator runs in a subprocess (``perptui emulator``) so its CPU (read from its
``/_emulator/health``) is not mixed with the client's (``time.process_time`` here). One
ccxt.pro ``binanceusdm`` client watches several books; the emulator's speed factor raises
the book cadence above binance's real 100 ms so the emulator, not the venue clock, is the
limit being measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from typing import Any

import aiohttp

SYMBOLS = ("BTC", "ETH", "SOL", "XRP", "DOGE")


async def _start_server(speed: float) -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "perptui",
        "emulator",
        "--venues",
        "binance",
        "--port",
        "0",
        "--speed",
        str(speed),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    port = int(line.split("127.0.0.1:")[1].split()[0])
    return proc, port


async def _health(http: aiohttp.ClientSession, port: int) -> dict[str, Any]:
    async with http.get(f"http://127.0.0.1:{port}/_emulator/health") as r:
        return await r.json()


async def _measure(speed: float, seconds: float) -> dict[str, float]:
    import ccxt.pro

    from perptui.emulator.venue_base import rewrite_urls

    proc, port = await _start_server(speed)
    client = ccxt.pro.binanceusdm({"enableRateLimit": True})
    client.urls["api"] = rewrite_urls(
        client.urls["api"], f"http://127.0.0.1:{port}/binance", f"ws://127.0.0.1:{port}/binance"
    )
    counts = dict.fromkeys(SYMBOLS, 0)
    stop = asyncio.Event()

    async def watch(base: str) -> None:
        sym = f"{base}/USDT:USDT"
        while not stop.is_set():
            try:
                await client.watch_order_book(sym)
                counts[base] += 1
            except Exception:  # resync like the app; not expected here
                await asyncio.sleep(0.01)

    try:
        async with aiohttp.ClientSession() as http:
            await client.load_markets()
            tasks = [asyncio.create_task(watch(b)) for b in SYMBOLS]
            await asyncio.sleep(1.0)  # warm-up: snapshots fetched, streams running
            h0 = await _health(http, port)
            c0 = dict(counts)
            cpu0 = time.process_time()
            t0 = time.perf_counter()
            await asyncio.sleep(seconds)
            elapsed = time.perf_counter() - t0
            cpu_client = time.process_time() - cpu0
            h1 = await _health(http, port)
            got = sum(counts.values()) - sum(c0.values())
            stop.set()
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(BaseException):
                    await t
        sent = h1["stats"]["ws_messages"] - h0["stats"]["ws_messages"]
        cpu_server = h1["cpu_s"] - h0["cpu_s"]
        return {
            "target": len(SYMBOLS) * 10 * speed,
            "sent_per_s": sent / elapsed,
            "applied_per_s": got / elapsed,
            "server_cpu_per_1k": cpu_server / max(sent, 1) * 1000,
            "client_cpu_per_1k": cpu_client / max(got, 1) * 1000,
            "server_cpu_frac": cpu_server / elapsed,
            "client_cpu_frac": cpu_client / elapsed,
        }
    finally:
        await client.close()
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def run(quick: bool) -> list[str]:
    seconds = 2.0 if quick else 6.0
    lines = []
    for speed in (1.0, 20.0) if quick else (1.0, 20.0, 60.0):
        r = asyncio.run(_measure(speed, seconds))
        lines.append(
            f"emulator binance depth, {len(SYMBOLS)} books @ {100 / speed:g} ms "
            f"(target {r['target']:.0f} msg/s): served {r['sent_per_s']:.0f} msg/s, "
            f"client applied {r['applied_per_s']:.0f} msg/s; "
            f"server CPU {r['server_cpu_per_1k'] * 1000:.1f} ms/1k msgs "
            f"({r['server_cpu_frac'] * 100:.0f}% of a core), "
            f"ccxt.pro client CPU {r['client_cpu_per_1k'] * 1000:.1f} ms/1k msgs "
            f"({r['client_cpu_frac'] * 100:.0f}% of a core)"
        )
    return lines


if __name__ == "__main__":
    for line in run(quick="--quick" in sys.argv):
        print(line)

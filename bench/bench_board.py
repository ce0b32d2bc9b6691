"""Funding board refresh over the emulator's whole market (~560 rows, 3 venues).

Two figures, from one run:

* the CPU of one board refresh, split into parse (ccxt parsing the venues' bulk payloads
  into quotes, the transport replaced by the recorded bodies so no network or emulator
  time is counted), derive (rows + carry pairs), sort, and render (formatting every
  cell and filling the Textual DataTable of the board screen), next to the UI clock
  budget (one frame at 5 Hz = 200 ms, stricter than the default 4 Hz; a refresh happens once per venue per
  60 s, so it must fit well inside one frame to keep the screen responsive);
* requests per refresh per venue, counted by the emulator's request log, next to the
  minimum the venue's API allows for the funding columns and for every column.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from typing import Any

VENUES = ("binance", "bybit", "okx")
UI_BUDGET_MS = 1000 / 5.0
# Fewest requests a refresh could make: (funding columns only, every column).  binance
# needs premiumIndex + fundingInfo for rates and intervals, plus ticker/24hr and
# bookTicker for volume and bid/ask, and has no bulk open interest (one request per
# market: the board rotates 25 a refresh instead); bybit's tickers carry everything;
# okx: funding-rate?instId=ANY, plus tickers, open-interest and mark-price.
MINIMUM = {"binance": (2, "4 + 1 per market for OI"), "bybit": (1, "1"), "okx": (1, "4")}


async def _record(emu: Any) -> tuple[dict[str, Any], dict[str, dict[str, int]], list[Any]]:
    """One real refresh per venue against the emulator: the request counts, and every
    response body by URL (for the replayed parse)."""
    from perptui.venues import make_venue

    bodies: dict[str, Any] = {}
    counts: dict[str, dict[str, int]] = {}
    venues = []
    for vid in VENUES:
        client = emu.connect(vid, pro=False, enableRateLimit=False)
        venue = make_venue(vid, client=client)
        await venue.load_markets()
        original = client.fetch

        async def fetch(url, method="GET", headers=None, body=None, _o=original):
            out = await _o(url, method, headers, body)
            bodies[url] = out
            return out

        client.fetch = fetch
        before = dict(emu.requests(vid))
        await venue.fetch_board()
        after = emu.requests(vid)
        counts[vid] = {k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)}
        venues.append(venue)
    return bodies, counts, venues


async def _replayed_refresh(venues: list[Any], bodies: dict[str, Any]) -> list[Any]:
    # the OI rotation asks other markets each refresh: answer them with a recorded body
    oi = next((b for u, b in bodies.items() if "/openInterest?" in u), None)
    for v in venues:

        async def fetch(url, method="GET", headers=None, body=None):
            return bodies[url] if url in bodies or oi is None else oi

        v.client.fetch = fetch
    return [await v.fetch_board() for v in venues]


def _best(samples: list[float]) -> tuple[float, float]:
    return min(samples) * 1000, statistics.median(samples) * 1000


async def _render_ms(rows: list[Any], repeats: int) -> tuple[float, float]:
    """Fill the board screen's DataTable with every row, in a headless Textual app."""
    from textual.app import App
    from textual.widgets import DataTable

    from perptui.ui.screens.board import ROW_COLUMNS, row_cells

    now = int(time.time() * 1000)
    samples: list[float] = []

    class Bench(App[None]):
        def compose(self):
            yield DataTable()

    app = Bench()
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.query_one(DataTable)
        for _ in range(repeats):
            t = time.perf_counter()
            table.clear(columns=True)
            for key, header in ROW_COLUMNS:
                table.add_column(header, key=key)
            table.add_rows([row_cells(r, now) for r in rows])
            samples.append(time.perf_counter() - t)
            await pilot.pause()
    return _best(samples)


async def _measure(quick: bool) -> list[str]:
    from perptui.core.board import board_rows, carry_pairs, sort_rows
    from perptui.emulator import Emulator

    repeats = 3 if quick else 10
    emu = Emulator(seed=1, venues=VENUES)
    await emu.start()
    try:
        bodies, counts, venues = await _record(emu)
        parse, derive, sort = [], [], []
        rows: list[Any] = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fetched = await _replayed_refresh(venues, bodies)
            t1 = time.perf_counter()
            rows = board_rows(q for f in fetched for q in f.quotes)
            carry_pairs(rows)
            t2 = time.perf_counter()
            sort_rows(rows, "apr")
            t3 = time.perf_counter()
            parse.append(t1 - t0)
            derive.append(t2 - t1)
            sort.append(t3 - t2)
        render = await _render_ms(rows, repeats)
        for v in venues:
            await v.close()
    finally:
        await emu.stop()
    p, d, s = _best(parse), _best(derive), _best(sort)
    total = p[1] + d[1] + s[1] + render[1]
    lines = [
        f"board refresh, {len(rows)} rows ({', '.join(f'{v} {n}' for v, n in _per_venue(rows))}):"
        f" parse {p[1]:.1f} ms, derive {d[1]:.1f} ms, sort {s[1]:.2f} ms,"
        f" render {render[1]:.1f} ms (medians of {repeats}; best {p[0]:.1f}/{d[0]:.1f}/"
        f"{s[0]:.2f}/{render[0]:.1f}) = {total:.1f} ms = {total / UI_BUDGET_MS:.2f}x"
        f" one UI frame at 5 Hz ({UI_BUDGET_MS:.0f} ms)",
    ]
    for vid in VENUES:
        c = counts[vid]
        singles = sum(n for k, n in c.items() if k.endswith("/openInterest"))
        bulk = sum(c.values()) - singles
        funding_min, all_min = MINIMUM[vid]
        paths = ", ".join(f"{k.split(' ', 1)[1]} x{n}" for k, n in sorted(c.items()))
        lines.append(
            f"requests per refresh, {vid}: {bulk} bulk + {singles} per-market ({paths});"
            f" minimum {funding_min} for funding, {all_min} for every column"
        )
    return lines


def _per_venue(rows: list[Any]) -> list[tuple[str, int]]:
    out: dict[str, int] = {}
    for r in rows:
        out[r.venue] = out.get(r.venue, 0) + 1
    return sorted(out.items())


def run(quick: bool) -> list[str]:
    return asyncio.run(_measure(quick))


if __name__ == "__main__":
    for line in run(quick="--quick" in sys.argv):
        print(line)

"""``perptui funding`` headless against an emulator on a loopback port, with the emulator's
clock frozen so two runs see the same market and the carry can be checked by hand."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest

from perptui.emulator import Clock, Emulator

ROW_KEYS = {
    "venue",
    "symbol",
    "funding_rate",
    "interval_hours",
    "rate_8h",
    "apr",
    "predicted_rate",
    "next_funding_time",
    "basis",
    "open_interest_usd",
    "volume_24h_usd",
}
PAIR_KEYS = {"base", "long_venue", "short_venue", "long_apr", "short_apr", "apr_spread", "net_apr"}
T_FROZEN = 1_780_000_000_000  # 2026-05-28


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    emu = Emulator(seed=5, clock=Clock(frozen_ms=T_FROZEN))
    await emu.start()
    yield emu
    await emu.stop()


async def perptui(*argv: str) -> tuple[int, str, str]:
    env = {**os.environ, "PERPTUI_CONFIG": os.devnull}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "perptui", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_funding_json_and_pairs_confirmed_by_hand(emulator: Emulator) -> None:
    port = str(emulator.port)
    (code, out, err), (pcode, pout, perr) = await asyncio.gather(
        perptui("funding", "--emulator-port", port, "--json"),
        perptui("funding", "--emulator-port", port, "--pairs", "--json", "--fee-bps", "4",
                "--holding-hours", "72"),
    )  # fmt: skip
    assert code == 0, err
    assert pcode == 0, perr
    rows = json.loads(out)
    assert ROW_KEYS <= set(rows[0])
    per_venue = defaultdict(int)
    for r in rows:
        per_venue[r["venue"]] += 1
    assert set(per_venue) == {"binance", "bybit", "okx"} and sum(per_venue.values()) >= 450
    assert [r["apr"] for r in rows if r["apr"] is not None] == sorted(
        (r["apr"] for r in rows if r["apr"] is not None), reverse=True
    )
    # by hand: per-hour rate of every venue, long the lowest, short the highest
    by_base: dict[str, dict[str, float]] = defaultdict(dict)
    for r in rows:
        if r["funding_rate"] is not None:
            by_base[r["symbol"].split("/")[0]][r["venue"]] = (
                r["funding_rate"] / r["interval_hours"] * 8760
            )
    expected = {}
    for base, aprs in by_base.items():
        if len(aprs) < 2:
            continue
        (lo_v, lo), (hi_v, hi) = (
            min(aprs.items(), key=lambda x: (x[1], x[0])),
            max(aprs.items(), key=lambda x: (x[1], x[0])),
        )
        cost_apr = 2 * (0.0004 + 0.0004) * 8760 / 72
        expected[base] = (lo_v, hi_v, lo, hi, hi - lo, hi - lo - cost_apr)
    pairs = json.loads(pout)
    assert PAIR_KEYS <= set(pairs[0])
    assert {p["base"] for p in pairs} == set(expected)
    for p in pairs:
        lo_v, hi_v, lo, hi, spread, net = expected[p["base"]]
        assert (p["long_venue"], p["short_venue"]) == (lo_v, hi_v)
        assert p["long_apr"] == pytest.approx(lo) and p["short_apr"] == pytest.approx(hi)
        assert p["apr_spread"] == pytest.approx(spread) and p["net_apr"] == pytest.approx(net)
    assert [p["net_apr"] for p in pairs] == sorted((p["net_apr"] for p in pairs), reverse=True)
    assert pairs[0]["net_apr"] > 0.0005 * 3 * 365  # a real opportunity beyond 0.05 % per 8 h


async def test_funding_filters_sort_top_and_csv(emulator: Emulator) -> None:
    port = str(emulator.port)
    (code, out, err), (ccode, cout, _), (bcode, _, berr) = await asyncio.gather(
        perptui("funding", "--emulator-port", port, "--json", "--venues", "bybit",
                "--min-oi", "5e7", "--sort", "open_interest_usd", "--top", "5"),
        perptui("funding", "--emulator-port", port, "--csv", "--venues", "okx", "--top", "3"),
        perptui("funding", "--emulator-port", port, "--sort", "nope"),
    )  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 5 and {r["venue"] for r in rows} == {"bybit"}
    oi = [r["open_interest_usd"] for r in rows]
    assert oi == sorted(oi, reverse=True) and min(oi) >= 5e7
    assert ccode == 0
    lines = cout.strip().splitlines()
    assert lines[0].startswith("venue,symbol,base,funding_rate") and len(lines) == 4
    assert bcode == 2 and "unknown column 'nope'" in berr and "Traceback" not in berr
    assert len(berr.strip().splitlines()) == 1

"""Many collectors, one PostgreSQL: `collect --shard K/N` processes against the emulator.

Two shard processes write into one database while one unsharded process writes into
another, all three against the same emulator with its clock frozen (so every process
sees the same candles, settlements and funding observations).  The two databases
must hold the same rows, and the shards must have split the markets between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path

import journalled_collect
import pytest
from pg_helpers import fetch, fresh_database_async

from perptui.core.shard import Shard, owned
from perptui.emulator import Emulator
from perptui.emulator.catalog import MAJOR_SYMBOLS
from perptui.emulator.server import available_venues

HOUR = 3_600_000
VENUES = tuple(v for v in ("binance", "bybit", "okx") if v in available_venues())


def test_shard_split_is_stable_disjoint_and_complete() -> None:
    symbols = [f"C{i}/USDT:USDT" for i in range(300)]
    parts = [owned(Shard(k, 3), "okx", symbols) for k in (1, 2, 3)]
    assert sorted(s for p in parts for s in p) == sorted(symbols)  # every market exactly once
    assert all(60 < len(p) < 140 for p in parts)  # and spread out
    # crc32, not hash(): the same in every process (this value never changes)
    assert Shard(1, 2).owns("binance", "BTC/USDT:USDT") is Shard.parse("1/2").owns(
        "binance", "BTC/USDT:USDT"
    )
    assert owned(None, "okx", symbols) == symbols
    for bad in ("0/2", "3/2", "1/0", "x", "1-2"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


async def _collect(port: int, url: str, tmp: Path, name: str, shard: str | None):
    log, journal = tmp / f"{name}.log", tmp / f"{name}.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPTUI_")}
    env.update(HOME=str(tmp), XDG_CONFIG_HOME=str(tmp / "cfg"))
    cmd, env = journalled_collect.command(
        journal, "--db", url, "--log-file", str(log),
        "--venues", ",".join(VENUES), "--symbols", "BTC,ETH,SOL",
        "collect", "--emulator-port", str(port), "--all", "--catchup-hours", "3",
        "--snapshot-every", "0.5", "--no-signals", *(["--shard", shard] if shard else []),
        env=env,
    )  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *cmd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    return proc, log, journal


def _observed(journal: Path) -> list[dict]:
    if not journal.exists():
        return []
    return [json.loads(x) for x in journal.read_text().splitlines() if x.endswith("}")]


def _ready(log: Path, journal: Path) -> bool:
    """The catch-up has run and every watched book has been snapshotted."""
    if not log.exists() or "collect: catch-up ohlcv,funding" not in log.read_text():
        return False
    return any(k["t"] == "snapshots" for k in _observed(journal))


async def _rows(url: str, cut: int) -> dict[str, set]:
    return {
        "ohlcv": set(
            await fetch(
                url,
                "SELECT exchange, symbol, timeframe, timestamp, open, high, low, close, volume "
                "FROM ohlcv WHERE timestamp >= $1",
                cut,
            )
        ),
        "settled": set(
            await fetch(
                url,
                "SELECT exchange, symbol, timestamp, funding_rate FROM funding_rates "
                "WHERE kind = 'settled' AND timestamp >= $1",
                cut,
            )
        ),
        "live": set(
            await fetch(
                url,
                # observation times are the venues' clocks: compare which markets
                "SELECT DISTINCT exchange, symbol FROM funding_rates WHERE kind = 'live'",
            )
        ),
        "books": set(
            await fetch(url, "SELECT DISTINCT exchange, symbol FROM order_book_snapshots")
        ),
    }


@pytest.mark.timeout(240)
async def test_two_shards_write_exactly_what_one_collector_writes(
    pg_server: str, tmp_path: Path
) -> None:
    wall = int(time.time() * 1000)
    frozen = wall // HOUR * HOUR - 30 * 60_000  # mid-hour: candles are settled, not forming
    # the majors only: `--all` over the whole emulated market (~560 perpetuals) is the
    # board's job, not this one's; the split is the same at any size
    emu = Emulator(seed=7, venues=VENUES, symbols=MAJOR_SYMBOLS)
    emu.clock.freeze(frozen)
    port = await emu.start()
    async with contextlib.AsyncExitStack() as stack:
        sharded = await stack.enter_async_context(fresh_database_async(pg_server))
        single = await stack.enter_async_context(fresh_database_async(pg_server))
        runs = [
            await _collect(port, sharded, tmp_path, "s1", "1/2"),
            await _collect(port, sharded, tmp_path, "s2", "2/2"),
            await _collect(port, single, tmp_path, "one", None),
        ]
        try:
            deadline = time.monotonic() + 90
            while not all(_ready(log, j) for _p, log, j in runs):
                assert time.monotonic() < deadline, "collectors did not get going in time"
                assert all(p.returncode is None for p, _l, _j in runs)
                await asyncio.sleep(0.25)
            outs = []
            for proc, _log, _journal in runs:
                proc.send_signal(signal.SIGTERM)
            for proc, log, _journal in runs:
                try:
                    _out, err = await asyncio.wait_for(proc.communicate(), 60)
                except TimeoutError:
                    pytest.fail(
                        f"a collector ignored SIGTERM for 60 s; log: {log.read_text()[-2000:]}"
                    )
                outs.append(err.decode())
                assert proc.returncode == 0, err.decode()
        finally:
            for proc, _log, _journal in runs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            await emu.stop()

        assert "shard 1/2 rows" in outs[0] and "shard 2/2 rows" in outs[1]
        assert "shard" not in outs[2].split("stopped after")[1]
        assert all("dropped 0" in e and "Traceback" not in e for e in outs)

        # Each market was collected by exactly one shard.
        def markets(journal: Path) -> set[tuple[str, str]]:
            return {(k["x"], k["s"]) for k in _observed(journal)}

        m1, m2, m_one = (markets(j) for _p, _l, j in runs)
        assert m1 and m2 and not (m1 & m2)
        assert m1 | m2 == m_one

        # The rows: those the catch-up windows of all three share (they start a few
        # seconds apart) are identical; so are the markets with live funding and books.
        cut = (wall - 3 * HOUR) // HOUR * HOUR + HOUR
        got, want = await _rows(sharded, cut), await _rows(single, cut)
        assert want["ohlcv"] and want["settled"] and want["live"] and want["books"]
        for what in ("ohlcv", "settled", "live", "books"):
            assert got[what] == want[what], what

        # Nothing twice, nothing lost: the shards' distinct snapshot keys are disjoint
        # and add up to what the database holds.
        def snaps(journal: Path) -> set[tuple]:
            return {(k["x"], k["s"], k["ts"]) for k in _observed(journal) if k["t"] == "snapshots"}

        s1, s2 = snaps(runs[0][2]), snaps(runs[1][2])
        assert not (s1 & s2)
        held = await fetch(sharded, "SELECT count(*) FROM order_book_snapshots")
        assert held == [(len(s1) + len(s2),)]

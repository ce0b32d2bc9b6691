"""`perptui migrate --from FILE.db --to postgresql://...` against a real server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pg_helpers import fetch
from pg_helpers import write_all as write

from perptui.core.model import BookSnapshot, Candle, FundingInfo, FundingRecord, Signal
from perptui.jobs.migrate import migrate_sqlite
from perptui.store import load_funding, load_ohlcv, load_signals, load_snapshots

SYM = "BTC/USDT:USDT"
T0 = 1_704_067_200_000
HOUR = 3_600_000


def history() -> list:
    out: list = [
        Candle("binance", SYM, "1h", T0 + h * HOUR, 1, 2, 0.5, 1.5 + h, 3) for h in range(40)
    ]
    out += [FundingRecord("okx", SYM, T0 + k * 8 * HOUR, 0.0001 * k) for k in range(12)]
    out += [
        FundingInfo("okx", SYM, T0 + m * 60_000, 0.0003, T0 + 8 * HOUR, 8.0, 100, 99)
        for m in range(7)
    ]
    out += [
        BookSnapshot("bybit", SYM, T0 + s * 1000, ((100.0, 1.0),), ((100.2, 2.0),))
        for s in range(30)
    ]
    out += [Signal("funding_arb", "okx", SYM, T0 + HOUR, "short", 0.0012, 0.001, {"r": 1})]
    return out  # fmt: skip


def run_migrate(*args, **kwargs):
    return asyncio.run(migrate_sqlite(*args, **kwargs))


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal frames apart from the surrogate id (each database numbers its own rows)."""
    pd.testing.assert_frame_equal(
        a.drop(columns="id").reset_index(drop=True), b.drop(columns="id").reset_index(drop=True)
    )


def test_migrate_copies_everything_resumes_and_never_doubles(tmp_path: Path, pg_url: str) -> None:
    src = tmp_path / "old.db"
    write(src, history())
    # Interrupted after two chunks of 10 rows...
    first = run_migrate(src, pg_url, chunk_rows=10, max_chunks=2)
    assert sum(r.copied for r in first) == 1 + 10  # all signals, then 10 funding rows
    # ...then run to the end: it picks up after the last recorded rowid.
    second = run_migrate(src, pg_url, chunk_rows=10)
    by = {r.table: r for r in second}
    assert by["signals"].resumed_from == 1 and by["signals"].copied == 0  # done in run 1
    assert by["funding_rates"].resumed_from == 10  # run 1's second chunk
    assert sum(r.copied for r in first + second) == sum(r.total for r in second)
    for load in (load_funding, load_ohlcv, load_signals, load_snapshots):
        same(load(pg_url), load(src))
    # created_at is carried over, not reset to the copy time.
    assert asyncio.run(fetch(pg_url, "SELECT min(created_at) FROM ohlcv")) == [
        (int(load_ohlcv(src)["created_at"].min()),)
    ]
    # A third run finds nothing new; rows added to the source since are copied.
    assert sum(r.copied for r in run_migrate(src, pg_url)) == 0
    write(src, [Candle("binance", SYM, "1h", T0 + 99 * HOUR, 1, 1, 1, 1, 1)])
    third = {r.table: r for r in run_migrate(src, pg_url)}
    assert third["ohlcv"].copied == third["ohlcv"].inserted == 1
    same(load_ohlcv(pg_url), load_ohlcv(src))


def test_migrate_command_and_its_bad_input(tmp_path: Path, pg_url: str) -> None:
    src = tmp_path / "old.db"
    write(src, history()[:50])

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "perptui", "migrate", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    ok = run("--from", str(src), "--to", pg_url)
    assert ok.returncode == 0, ok.stderr
    assert "ohlcv: 40 rows copied (40 new)" in ok.stderr
    assert "funding_rates: 10 rows copied" in ok.stderr
    password = pg_url.split(":")[2].split("@")[0]
    assert password not in ok.stderr

    before = src.read_bytes()
    for args, message in [
        (("--from", str(tmp_path / "absent.db"), "--to", pg_url), "no database at"),
        (("--from", str(src), "--to", str(tmp_path / "x.db")), "--to must be a postgresql:// URL"),
        (
            ("--from", str(src), "--to", "postgresql://u:pw@127.0.0.1:1/x"),
            "cannot reach PostgreSQL",
        ),
    ]:
        bad = run(*args)
        assert bad.returncode == 2, bad.stderr
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in bad.stderr
        assert "pw@" not in bad.stderr
    assert src.read_bytes() == before  # a failed migration leaves the source as it was


@pytest.mark.parametrize(
    "command",
    [["export", "--table", "funding"], ["signals"], ["--demo", "collect", "--duration", "1"]],
)
def test_commands_on_an_unusable_postgresql_url_exit_2_in_one_line(
    command: list[str], pg_url: str
) -> None:
    from pg_helpers import with_login

    for url, message in [
        ("postgresql://u:pw@127.0.0.1:1/x", "cannot reach PostgreSQL"),
        (with_login(pg_url, "perptui_ci", "wrong-pw"), "refused the login"),
    ]:
        got = subprocess.run(
            [sys.executable, "-m", "perptui", "--db", url, *command],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert got.returncode == 2, got.stderr
        lines = got.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], got.stderr
        assert "pw" not in got.stderr.replace("password", "")

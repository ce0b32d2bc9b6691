"""Failures that take time must take a bounded time: a locked database, an unreachable venue.

Both used to retry forever (backfill) or drop rows (collect).  They now end in one
final ``perptui: ...`` line, exit 2, within a bound, and leave the data intact.
"""

from __future__ import annotations

import io
import sqlite3
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from cli_helpers import closed_loopback_port

from perptui import cli


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, err.getvalue()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))


def final_line(err: str) -> str:
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


@pytest.mark.timeout(120)
def test_backfill_on_a_database_locked_by_another_writer_fails_in_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perptui.commands import backfill as backfill_cmd
    from perptui.store import db as store_db
    from perptui.store.db import connect_sync

    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr(backfill_cmd, "DB_STALL_S", 1.0)
    db = tmp_path / "held.db"
    connect_sync(db).close()  # a perptui database in WAL mode
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing, and not letting go
    started = time.monotonic()
    try:
        code, err = run(
            ["--db", str(db), "backfill", "--demo", "--venues", "binance", "--symbols", "BTC",
             "--days", "3", "--no-progress"]
        )  # fmt: skip
    finally:
        other.execute("ROLLBACK")
        other.close()
    elapsed = time.monotonic() - started
    line = final_line(err)
    assert code == 2, err[-2000:]
    assert line.startswith("perptui: ") and "locked" in line, line
    assert elapsed < 60, f"took {elapsed:.0f}s"


@pytest.mark.timeout(150)
def test_backfill_against_an_unreachable_port_gives_up(tmp_path: Path) -> None:
    port = closed_loopback_port()
    started = time.monotonic()
    code, err = run(
        ["--db", str(tmp_path / "x.db"), "backfill", "--emulator-port", str(port), "--days", "1",
         "--venues", "binance,okx", "--symbols", "BTC", "--no-progress"]
    )  # fmt: skip
    elapsed = time.monotonic() - started
    line = final_line(err)
    assert code == 2, err[-2000:]
    assert line.startswith("perptui: backfill: no venue could be used"), line
    assert "binance" in line and "okx" in line
    assert elapsed < 90, f"took {elapsed:.0f}s"
    # nothing was written: the database was never even created
    assert not (tmp_path / "x.db").exists()

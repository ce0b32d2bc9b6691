"""`collect` and a database another writer locks, at start and in the middle of a run.

At start (tests/cli/test_bad_input_table.py, ``db-write-locked-*``): refused in one line,
exit 2, file unchanged.  Here, mid-run: another process (this test) takes the write lock
for longer than SQLite's busy timeout while the collector streams on the emulator.  The
writer must keep retrying (bounded backoff, rows kept in its queue) and, once the lock is
gone, commit every row it was handed: nothing dropped, nothing lost, exit 0.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

TABLES = ("funding_rates", "order_book_snapshots", "ohlcv", "signals")


def _rows(db: Path) -> int:
    con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        return sum(con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES)
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    finally:
        con.close()


def _wait(cond, timeout: float, what: str, proc: subprocess.Popen, err: Path) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        tail = err.read_text(errors="replace")[-1500:]
        assert proc.poll() is None, f"collect ended early ({what}): {tail}"
        assert time.monotonic() < deadline, f"{what}: {tail}"
        time.sleep(0.1)


@pytest.mark.timeout(180)
def test_a_lock_met_mid_run_is_waited_out_without_losing_rows(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    log = tmp_path / "collect.log"
    err_path = tmp_path / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPTUI_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    cmd = [
        sys.executable, "-m", "perptui", "--demo", "--db", str(db), "--log-file", str(log),
        "--venues", "binance", "--symbols", "BTC,ETH", "collect", "--snapshot-every", "0.5",
    ]  # fmt: skip
    with err_path.open("w") as err_fh:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err_fh, text=True)
    holder = None
    try:
        _wait(lambda: db.exists() and _rows(db) > 0, 90, "no rows before the lock", proc, err_path)
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another writer, holding on
        locked_at = _rows(db)
        # the collector's commits now fail after SQLite's 5 s busy wait and are retried
        _wait(
            lambda: "database is locked" in err_path.read_text(errors="replace"),
            60,
            "the collector never met the lock",
            proc,
            err_path,
        )
        assert _rows(db) == locked_at  # nothing got past the lock
        holder.execute("ROLLBACK")
        holder.close()
        holder = None
        # the queued rows go in once the lock is gone, while the run goes on
        _wait(
            lambda: _rows(db) > locked_at,
            30,
            "rows did not resume after the lock",
            proc,
            err_path,
        )
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err_path.read_text(errors="replace")
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    m = re.search(r"(\d+) rows written \((\d+) observed\); rows \d+ queue (\d+) dropped (\d+)", err)
    assert m, err[-2000:]
    written, observed, queued, dropped = map(int, m.groups())
    assert (queued, dropped) == (0, 0)
    assert written == observed  # every row the collector was handed was committed
    assert _rows(db) >= written > locked_at

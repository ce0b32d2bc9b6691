"""``collect --board``: the headless collector logs every perpetual's funding and the
market-wide signals, against the in-process emulator (``--demo``)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _board_state(db: Path) -> tuple[dict[str, int], set[str], set[float]]:
    """(live-funding symbols per venue, signal kinds, funding intervals) logged so far."""
    if not db.exists():
        return {}, set(), set()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
        try:
            per_venue = dict(
                con.execute(
                    "SELECT exchange, COUNT(DISTINCT symbol) FROM funding_rates "
                    "WHERE kind = 'live' GROUP BY exchange"
                ).fetchall()
            )
            kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM signals")}
            intervals = {
                h for (h,) in con.execute("SELECT DISTINCT interval_hours FROM funding_rates")
            }
        except sqlite3.OperationalError:  # the schema is not there yet
            return {}, set(), set()
    return per_venue, kinds, intervals


def _complete(state: tuple[dict[str, int], set[str], set[float]]) -> bool:
    per_venue, kinds, intervals = state
    return (
        set(per_venue) == {"binance", "bybit", "okx"}
        and min(per_venue.values()) >= 150
        and sum(per_venue.values()) >= 450
        and {1.0, 4.0, 8.0} <= intervals
        and {"funding_arb", "divergence"} <= kinds
    )


def test_collect_board_logs_the_whole_market(tmp_path: Path) -> None:
    db = tmp_path / "board.db"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PERPTUI_CONFIG": os.devnull}
    cmd = [sys.executable, "-m", "perptui", "--demo", "--db", str(db), "--symbols", "BTC",
           "collect", "--board", "--funding-every", "3600"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # until every venue's whole market and the market-wide signals are logged
        deadline = time.monotonic() + 120
        while not _complete(_board_state(db)) and proc.poll() is None:
            assert time.monotonic() < deadline, _board_state(db)
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    state = _board_state(db)
    assert _complete(state), state  # still there after the collector stopped
    per_venue, kinds, _ = state
    assert min(per_venue.values()) >= 150 and sum(per_venue.values()) >= 450
    assert {"funding_arb", "divergence"} <= kinds  # evaluated on every perpetual, logged

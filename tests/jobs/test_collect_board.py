"""``collect --board``: the headless collector logs every perpetual's funding and the
market-wide signals, against the in-process emulator (``--demo``)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_collect_board_logs_the_whole_market(tmp_path: Path) -> None:
    db = tmp_path / "board.db"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PERPTUI_CONFIG": os.devnull}
    cmd = [sys.executable, "-m", "perptui", "--demo", "--db", str(db), "--symbols", "BTC",
           "collect", "--board", "--duration", "45", "--funding-every", "3600"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(db) as con:
        per_venue = dict(
            con.execute(
                "SELECT exchange, COUNT(DISTINCT symbol) FROM funding_rates "
                "WHERE kind = 'live' GROUP BY exchange"
            ).fetchall()
        )
        kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM signals")}
        intervals = {h for (h,) in con.execute("SELECT DISTINCT interval_hours FROM funding_rates")}
    assert set(per_venue) == {"binance", "bybit", "okx"}, per_venue
    assert min(per_venue.values()) >= 150 and sum(per_venue.values()) >= 450
    assert {1.0, 4.0, 8.0} <= intervals
    assert {"funding_arb", "divergence"} <= kinds  # evaluated on every perpetual, logged

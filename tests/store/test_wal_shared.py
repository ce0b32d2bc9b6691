"""A process that reads its own database beside its writer keeps the writer's locks.

POSIX drops every fcntl lock a process holds on a file when any descriptor of that file
is closed.  The store used to read a database's header with a plain open/close on every
read connection (the monitor's history, collect's catch-up), beside the writer's open
connection: the writer's lock went with it, and the next *other* process to close its
last connection (an export, a sqlite3 shell, a test's count) checkpointed and deleted
the WAL the writer was still appending to.  Rows written after that were visible to no
other reader and would be lost to a crash.  Real SQLite file, real writer, and a second
process for the outside reader.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perptui.core.model import FundingInfo
from perptui.store.db import connect_sync
from perptui.store.writer import Writer

COUNT = (
    "import sqlite3, sys\n"
    "c = sqlite3.connect(sys.argv[1], timeout=10)\n"
    "print(c.execute('SELECT COUNT(*) FROM funding_rates').fetchone()[0])\n"
    "c.close()\n"
)


def _outside_count(db: Path) -> int:
    """Rows another process sees; its connection is its last one, closed at once."""
    out = subprocess.run(
        [sys.executable, "-c", COUNT, str(db)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


def _funding(i: int) -> FundingInfo:
    return FundingInfo(
        exchange="binance",
        symbol="BTC/USDT:USDT",
        timestamp=1_700_000_000_000 + i * 1000,
        funding_rate=0.0001,
        next_funding_time=1_700_000_000_000 + 8 * 3_600_000,
        interval_hours=8.0,
    )


async def _write(w: Writer, lo: int, hi: int) -> None:
    for i in range(lo, hi):
        w.submit(_funding(i))
    deadline = time.monotonic() + 20
    while w.rows_written < hi:
        assert time.monotonic() < deadline, "rows not committed"
        await asyncio.sleep(0.02)


@pytest.mark.timeout(90)
async def test_reading_beside_the_writer_does_not_hand_its_wal_to_others(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    w = Writer(db, flush_interval=0.02)
    await w.start()
    try:
        await _write(w, 0, 10)
        assert _outside_count(db) == 10
        # the read path the monitor and collect's catch-up use, in the writer's process
        for _ in range(3):
            connect_sync(db, readonly=True).close()
        # another process opens and closes its only connection: it must not take the WAL
        assert _outside_count(db) == 10
        wal = db.with_name(db.name + "-wal")
        assert wal.exists(), "the writer's WAL was checkpointed and deleted under it"
        await _write(w, 10, 25)
        assert _outside_count(db) == 25, "rows written since are invisible to others"
    finally:
        await w.close()
    assert _outside_count(db) == 25

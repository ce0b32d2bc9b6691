"""SIGKILL a process running the real Writer mid-stream; the database must survive intact.

The child streams groups of three records (a candle, a settled funding rate and a
book snapshot, all with timestamp i) through `Writer`, and after each committed
transaction appends "first_i last_i" to a side file and fsyncs it.  Batches are a
multiple of three rows and each group is submitted without yielding to the
event loop, so every transaction holds whole groups.  After the kill:

* `PRAGMA integrity_check` is ok;
* every group reported committed is present in all three tables;
* each table holds exactly the groups 0..N-1 for the same N: a transaction that
  was only partly visible would leave one table ahead of another or a hole.

The stream is resumed from N by a fresh child, killed again, three times over,
so later rounds also start from a database with a hot WAL left by the kill.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

BATCH_ROWS = 300  # a multiple of the group size (3)
ROUNDS = 3

CHILD = r"""
import asyncio, os, sys
from perptui.core.model import BookSnapshot, Candle, FundingRecord
from perptui.store.writer import Writer

db, side, start, batch_rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fd = os.open(side, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
SYM = "BTC/USDT:USDT"

def on_commit(info):
    ids = [r.timestamp for r in info.records if isinstance(r, Candle)]
    os.write(fd, f"{ids[0]} {ids[-1]} {len(info.records)}\n".encode())
    os.fsync(fd)

async def main():
    w = Writer(db, batch_rows=batch_rows, flush_interval=0.05, on_commit=on_commit)
    await w.start()
    i = start
    while True:
        # Keep the writer saturated (so the kill lands mid-transaction) without ever
        # filling the queue: a dropped record would be a hole the test can't tell
        # from a lost one.
        if w.queue_depth > 6000:
            await asyncio.sleep(0.001)
            continue
        for _ in range(20):
            w.submit(Candle("binance", SYM, "1m", i, 1.0, 2.0, 0.5, 1.5, float(i)))
            w.submit(FundingRecord("binance", SYM, i, 1e-4))
            w.submit(BookSnapshot("okx", SYM, i, ((100.0, 1.0), (99.9, 2.0)), ((100.1, 3.0),)))
            i += 1
        if w.dropped:
            os.write(2, b"dropped records: the test is pacing too fast\n")
            os._exit(3)
        await asyncio.sleep(0)

asyncio.run(main())
"""


def committed_batches(side: Path) -> list[tuple[int, int, int]]:
    if not side.exists():
        return []
    out = []
    for line in side.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:  # a line cut short by the kill is ignored
            out.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return out


def stored(conn: sqlite3.Connection, table: str) -> list[int]:
    return [r[0] for r in conn.execute(f"SELECT timestamp FROM {table} ORDER BY timestamp")]


def run_and_kill(db: Path, side: Path, start: int, rng: random.Random) -> None:
    before = len(committed_batches(side))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(side), str(start), str(BATCH_ROWS)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while len(committed_batches(side)) < before + 5:
            if proc.poll() is not None:
                pytest.fail(f"writer child exited early: {proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("writer child committed nothing in 30 s")
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))  # land somewhere in the stream
        assert proc.poll() is None, proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_mid_stream_keeps_every_committed_batch(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    side = tmp_path / "committed.txt"
    rng = random.Random(7)
    start = 0
    for round_ in range(ROUNDS):
        reported_before = len(committed_batches(side))
        run_and_kill(db, side, start, rng)

        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            candles = stored(conn, "ohlcv")
            funding = stored(conn, "funding_rates")
            books = stored(conn, "order_book_snapshots")
        finally:
            conn.close()

        n = len(candles)
        # Whole groups only, in every table, with no holes: no partial transaction.
        assert candles == list(range(n)), f"round {round_}: hole in ohlcv"
        assert funding == candles, f"round {round_}: funding_rates differs from ohlcv"
        assert books == candles, f"round {round_}: snapshots differ from ohlcv"

        batches = committed_batches(side)
        assert batches, "nothing reported committed"
        for first, last, size in batches:
            assert size == 3 * (last - first + 1)  # whole groups per transaction
            assert size <= BATCH_ROWS
            assert last < n, f"round {round_}: batch {first}..{last} reported but missing"
        # This round's reports are contiguous from where it resumed.
        this_round = batches[reported_before:]
        assert this_round[0][0] == start
        for (_, prev_last, _), (first, _, _) in itertools.pairwise(this_round):
            assert first == prev_last + 1
        # At most the one batch in flight at the kill is committed but unreported.
        assert n - 1 - batches[-1][1] <= BATCH_ROWS // 3
        print(
            f"round {round_}: {n} groups stored, {len(batches)} batches reported, last {batches[-1]}"
        )
        start = n
    assert start > 0

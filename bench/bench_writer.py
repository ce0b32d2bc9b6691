"""Store writer throughput: the real Writer at batch 1 / 100 / 1000 vs row-per-transaction.

Every figure is rows/s into a fresh SQLite file in a temp directory, measured in
this run.  The baseline is plain sqlite3 with the same PRAGMAs (WAL,
synchronous=NORMAL) and the same INSERT statement, committing after every row:
what a naive logger does.  Writer figures time `put` of every record through to
`close()` returning, i.e. until the last row is committed.  Records are 1m
candles (conversion is trivial, so this measures the queue + transaction path);
one extra line shows book snapshots, whose depth metrics and JSON are computed
in the writer.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from perptui.core.model import BookSnapshot, Candle
from perptui.store.db import connect_sync
from perptui.store.rows import INSERT_SQL, to_row
from perptui.store.writer import Writer

SYM = "BTC/USDT:USDT"


def candles(n: int) -> list[Candle]:
    return [
        Candle("binance", SYM, "1m", i * 60_000, 100.0, 101.0, 99.0, 100.5, 12.5) for i in range(n)
    ]


def books(n: int, levels: int = 50) -> list[BookSnapshot]:
    bids = tuple((65_000.0 - 0.1 * (k + 1), 0.5 + k % 7) for k in range(levels))
    asks = tuple((65_000.0 + 0.1 * (k + 1), 0.4 + k % 5) for k in range(levels))
    return [BookSnapshot("binance", SYM, i * 1000, bids, asks) for i in range(n)]


def _commit_per_row(conn: sqlite3.Connection, records: list) -> float:
    """Rows/s inserting ``records`` one transaction each on an autocommit connection."""
    t = time.perf_counter()
    for r in records:
        table, row = to_row(r)
        conn.execute("BEGIN")
        conn.execute(INSERT_SQL[table], row)
        conn.execute("COMMIT")
    took = time.perf_counter() - t
    return len(records) / took


def baseline_rows_per_s(path: Path, records: list) -> float:
    conn = connect_sync(path)  # WAL + synchronous=NORMAL + schema, autocommit mode
    try:
        return _commit_per_row(conn, records)
    finally:
        conn.close()


def seed_style_rows_per_s(path: Path, records: list) -> float:
    """Commit per row with SQLite's defaults (rollback journal, synchronous=FULL)."""
    from perptui.store.migrations import schema_sql, split_statements

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for stmt in split_statements(schema_sql()):
            conn.execute(stmt)
        return _commit_per_row(conn, records)
    finally:
        conn.close()


def writer_rows_per_s(path: Path, records: list, batch_rows: int) -> float:
    async def go() -> float:
        w = Writer(path, batch_rows=batch_rows, flush_interval=0.25)
        await w.start()
        t = time.perf_counter()
        for r in records:
            await w.put(r)
        await w.close()
        took = time.perf_counter() - t
        assert w.rows_written == len(records), (w.rows_written, len(records))
        return len(records) / took

    return asyncio.run(go())


def run(quick: bool) -> list[str]:
    sizes = (
        {1: 1_000, 100: 20_000, 1000: 50_000} if quick else {1: 4_000, 100: 100_000, 1000: 200_000}
    )
    base_n = 1_000 if quick else 4_000
    repeats = 1 if quick else 2
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="perptui-bench-") as tmp:
        d = Path(tmp)
        counter = 0

        def fresh() -> Path:
            nonlocal counter
            counter += 1
            return d / f"w{counter}.db"

        base = max(baseline_rows_per_s(fresh(), candles(base_n)) for _ in range(repeats))
        lines.append(
            f"writer baseline, sqlite3 commit per row (WAL, sync=NORMAL): {base:>10,.0f} rows/s"
        )
        seed = seed_style_rows_per_s(fresh(), candles(200 if quick else 1_000))
        lines.append(
            f"writer (context) commit per row, SQLite defaults (rollback journal, sync=FULL): "
            f"{seed:,.0f} rows/s"
        )
        results: dict[int, float] = {}
        for batch, n in sizes.items():
            rate = max(writer_rows_per_s(fresh(), candles(n), batch) for _ in range(repeats))
            results[batch] = rate
            lines.append(
                f"writer Writer batch_rows={batch:<4} ({n:>7,} candles):    {rate:>10,.0f} rows/s"
                f"  = {rate / base:6.1f}x baseline"
            )
        lines.append(
            f"writer batch 100 vs batch 1: {results[100] / results[1]:.1f}x; "
            f"batch 1000 vs batch 1: {results[1000] / results[1]:.1f}x; "
            f"batch 100 vs SQLite-defaults commit per row: {results[100] / seed:.0f}x"
        )
        n_books = 5_000 if quick else 20_000
        rate = writer_rows_per_s(fresh(), books(n_books), 100)
        lines.append(
            f"writer Writer batch_rows=100  ({n_books:>7,} 50-level books, metrics+JSON): "
            f"{rate:>8,.0f} rows/s"
        )
    return lines


if __name__ == "__main__":
    import sys

    for line in run("--quick" in sys.argv):
        print(line)

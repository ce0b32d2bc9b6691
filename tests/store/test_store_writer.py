"""The batched writer against real SQLite files: thresholds, idempotency, shutdown, faults."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest
from pg_helpers import wait_for

from perptui.core import metrics
from perptui.core.model import BookSnapshot, Candle, FundingInfo, FundingRecord, Signal
from perptui.errors import StoreError
from perptui.store import db as store_db
from perptui.store import rows as store_rows
from perptui.store.writer import CommitInfo, Writer

SYM = "BTC/USDT:USDT"


def candle(i: int, close: float = 1.5, exchange: str = "binance", tf: str = "1m") -> Candle:
    return Candle(exchange, SYM, tf, i * 60_000, 1.0, 2.0, 0.5, close, 10.0 + i)


def count(path: Path | str, table: str = "ohlcv") -> int:
    return rows(path, f"SELECT COUNT(*) FROM {table}")[0][0]


def rows(path: Path | str, sql: str) -> list[tuple]:
    """Query either backend (a SQLite path or a PostgreSQL URL) through the store's connection."""
    conn = store_db.connect_sync(path)
    try:
        return [tuple(r) for r in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def book(ts: int, levels: int = 50, mid: float = 100.0) -> BookSnapshot:
    bids = tuple((mid - 0.05 - 0.1 * i, 1.0 + i) for i in range(levels))
    asks = tuple((mid + 0.05 + 0.1 * i, 2.0 + i) for i in range(levels))
    return BookSnapshot("okx", SYM, ts, bids, asks)


# -- batching ----------------------------------------------------------------------------


async def test_flushes_when_batch_rows_reached(db_location) -> None:
    path = db_location
    w = Writer(path, batch_rows=10, flush_interval=30.0)
    await w.start()
    for i in range(25):
        assert w.submit(candle(i))
    await wait_for(lambda: w.batches_written == 2)
    # The writer has taken the last 5 into a third batch and waits on its 30 s timer
    # (nothing left in its queue): they must stay uncommitted until then.
    await wait_for(lambda: w._queue.empty() and w.queue_depth == 5)
    assert w.batches_written == 2
    assert w.rows_written == 20
    assert count(path) == 20
    assert w.queue_depth == 5
    await w.close()
    assert count(path) == 25
    assert w.batches_written == 3
    assert w.queue_depth == 0


async def test_flushes_on_timer_below_batch_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    commits: list[float] = []
    w = Writer(
        path,
        batch_rows=1000,
        flush_interval=0.3,
        on_commit=lambda info: commits.append(time.monotonic()),
    )
    await w.start()
    t0 = time.monotonic()
    for i in range(5):
        w.submit(candle(i))
    await asyncio.sleep(0.1)
    assert count(path) == 0  # neither threshold reached yet
    await wait_for(lambda: commits, timeout=5)
    waited = commits[0] - t0
    assert 0.25 <= waited < 1.5, waited
    assert count(path) == 5
    assert w.batches_written == 1
    await w.close()


async def test_each_batch_is_one_transaction_across_tables(db_location) -> None:
    path = db_location
    infos: list[CommitInfo] = []
    w = Writer(path, batch_rows=4, flush_interval=30.0, on_commit=infos.append)
    await w.start()
    w.submit(candle(0))
    w.submit(FundingRecord("binance", SYM, 28_800_000, 0.0001))
    w.submit(book(1))
    w.submit(Signal("imbalance", "okx", SYM, 1, "long", 0.4, 0.3, {"seconds": 12}))
    await wait_for(lambda: infos)
    info = infos[0]
    assert info.rows_by_table == {
        "ohlcv": 1,
        "funding_rates": 1,
        "order_book_snapshots": 1,
        "signals": 1,
    }
    assert [type(r).__name__ for r in info.records] == [
        "Candle",
        "FundingRecord",
        "BookSnapshot",
        "Signal",
    ]
    assert info.changes == 4
    await w.close()


# -- what lands in the rows ------------------------------------------------------------


async def test_record_conversion(db_location) -> None:
    path = db_location
    snap = book(2_000, levels=50)
    async with Writer(path) as w:
        w.submit(
            FundingInfo(
                "bybit",
                SYM,
                1_000,
                0.0004,
                next_funding_time=3_600_000,
                interval_hours=4.0,
                mark_price=101.0,
                index_price=100.0,
                predicted_rate=0.0003,
            )
        )
        w.submit(FundingInfo("okx", SYM, 1_000, 0.0001, None, None))
        w.submit(FundingRecord("bybit", SYM, 28_800_000, -0.0002))
        w.submit(snap)
        w.submit(candle(3, close=1.25))
        w.submit(
            Signal(
                "funding_arb",
                "binance|okx",
                SYM,
                5,
                "long okx / short binance",
                0.0012,
                0.0005,
                {"a": 1.5, "venues": ("binance", "okx")},
            )
        )

    live = rows(
        path,
        "SELECT exchange, timestamp, funding_rate, funding_time, next_funding_time, "
        "interval_hours, mark_price, index_price, predicted_rate, annualized_rate, kind "
        "FROM funding_rates WHERE kind='live' ORDER BY exchange",
    )
    assert live[0][:9] == ("bybit", 1_000, 0.0004, 3_600_000, 3_600_000, 4.0, 101.0, 100.0, 0.0003)
    assert live[0][9] == pytest.approx(0.0004 * 6 * 365)  # real 4 h interval, not x3
    assert live[0][10] == "live"
    assert live[1][0] == "okx"
    assert live[1][9] is None  # interval unknown: no annualized figure is invented
    settled = rows(
        path,
        "SELECT timestamp, funding_time, funding_rate, kind FROM funding_rates WHERE kind='settled'",
    )
    assert settled == [(28_800_000, 28_800_000, -0.0002, "settled")]

    m = metrics.depth_metrics(snap.bids, snap.asks)
    (got,) = rows(
        path,
        "SELECT best_bid, best_ask, mid_price, spread_bps, bid_depth_1pct, ask_depth_1pct, "
        "imbalance, bid_depth_01pct, ask_depth_01pct, bid_depth_05pct, ask_depth_05pct, "
        "bid_depth_5pct, ask_depth_5pct, book_flag, raw_data FROM order_book_snapshots",
    )
    expected = (
        m.best_bid,
        m.best_ask,
        m.mid,
        m.spread_bps,
        m.bid_depth_1pct,
        m.ask_depth_1pct,
        m.imbalance,
        m.bid_depth[0.001],
        m.ask_depth[0.001],
        m.bid_depth[0.005],
        m.ask_depth[0.005],
        m.bid_depth[0.05],
        m.ask_depth[0.05],
    )
    assert got[:13] == pytest.approx(expected)
    assert got[13] == "ok"
    raw = json.loads(got[14])
    assert raw["bids"] == [list(level) for level in snap.bids[: store_rows.RAW_LEVELS]]
    assert raw["asks"] == [list(level) for level in snap.asks[: store_rows.RAW_LEVELS]]

    assert rows(path, "SELECT timeframe, timestamp, open, high, low, close, volume FROM ohlcv") == [
        ("1m", 180_000, 1.0, 2.0, 0.5, 1.25, 13.0)
    ]
    (sig,) = rows(path, "SELECT kind, exchange, direction, value, threshold, inputs FROM signals")
    assert sig[:5] == ("funding_arb", "binance|okx", "long okx / short binance", 0.0012, 0.0005)
    assert json.loads(sig[5]) == {"a": 1.5, "venues": ["binance", "okx"]}


async def test_degenerate_books_store_nulls_not_nan(db_location) -> None:
    path = db_location
    async with Writer(path) as w:
        w.submit(BookSnapshot("okx", SYM, 1, (), ()))
        w.submit(BookSnapshot("okx", SYM, 2, ((100.0, 1.0),), ()))
    got = rows(
        path,
        "SELECT timestamp, mid_price, spread_bps, imbalance, book_flag FROM order_book_snapshots ORDER BY timestamp",
    )
    assert got == [(1, None, None, 0.0, "empty"), (2, None, None, 1.0, "one_sided")]


# -- idempotency ----------------------------------------------------------------------


async def test_reinsert_is_idempotent_and_candles_upsert(db_location) -> None:
    path = db_location
    batch = (
        [candle(i) for i in range(50)]
        + [FundingRecord("okx", SYM, i * 28_800_000, 0.0001 * i) for i in range(10)]
        + [book(i) for i in range(5)]
        + [
            FundingInfo("okx", SYM, 7, 0.0001, 28_800_000, 8.0),
            Signal("imbalance", "okx", SYM, 7, "long", 0.4, 0.3),
        ]
    )
    for _ in range(2):  # two separate runs over the same data (a re-run backfill)
        async with Writer(path, batch_rows=17) as w:
            for r in batch:
                w.submit(r)
            for r in batch:  # and duplicates within one run
                w.submit(r)
    assert count(path, "ohlcv") == 50
    assert count(path, "funding_rates") == 11
    assert count(path, "order_book_snapshots") == 5
    assert count(path, "signals") == 1
    assert w.rows_written == 2 * len(batch)
    assert w.rows_inserted == 0  # second run: everything already there

    # The newest candle is re-fetched when final: the upsert replaces it.
    async with Writer(path) as w:
        w.submit(candle(49, close=9.0))
        w.submit(FundingInfo("okx", SYM, 7, 0.5, 28_800_000, 8.0))  # same key: first wins
    assert rows(path, "SELECT close FROM ohlcv WHERE timestamp = 49 * 60000") == [(9.0,)]
    assert w.rows_inserted == 1
    assert rows(path, "SELECT funding_rate FROM funding_rates WHERE kind='live'") == [(0.0001,)]


# -- shutdown, flush, backpressure ----------------------------------------------------


async def test_close_flushes_everything(db_location) -> None:
    path = db_location
    w = Writer(path, batch_rows=1000, flush_interval=60.0)
    await w.start()
    for i in range(2_500):
        w.submit(candle(i))
    assert count(path) < 2_500
    await w.close()
    assert count(path) == 2_500
    assert w.rows_written == 2_500
    assert not w.running
    assert w.submit(candle(9_999)) is False  # after close: refused and counted
    assert w.dropped == 1


async def test_flush_waits_for_commit(db_location) -> None:
    path = db_location
    async with Writer(path, batch_rows=1000, flush_interval=60.0) as w:
        for i in range(10):
            w.submit(candle(i))
        await w.flush()
        assert count(path) == 10
        w.submit(candle(10))
        await w.flush()
        assert count(path) == 11
        assert w.batches_written == 2


async def test_full_queue_drops_newest_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "full.db"
    w = Writer(path, max_queue=5)
    accepted = [w.submit(candle(i)) for i in range(8)]  # writer not started: nothing drains
    assert accepted == [True] * 5 + [False] * 3
    assert w.dropped == 3
    assert w.queue_depth == 5
    await w.start()
    await w.close()
    assert rows(path, "SELECT timestamp / 60000 FROM ohlcv ORDER BY timestamp") == [
        (i,) for i in range(5)
    ]


async def test_put_waits_for_room_and_loses_nothing(db_location) -> None:
    path = db_location
    async with Writer(path, batch_rows=7, max_queue=3) as w:
        for i in range(200):
            await w.put(candle(i))
            assert w.queue_depth <= 3 + 7
    assert count(path) == 200
    assert w.dropped == 0


async def test_records_submitted_before_start_are_written_on_close(tmp_path: Path) -> None:
    path = tmp_path / "early.db"
    w = Writer(path)
    w.submit(candle(1))
    await w.close()
    assert count(path) == 1


# -- faults ---------------------------------------------------------------------------


async def test_bad_rows_are_rejected_and_the_rest_committed(db_location) -> None:
    path = db_location
    infos: list[CommitInfo] = []
    async with Writer(path, batch_rows=5, flush_interval=30.0, on_commit=infos.append) as w:
        w.submit(candle(0))
        w.submit(Candle(None, SYM, "1m", 60_000, 1, 1, 1, 1, 1))  # type: ignore[arg-type]
        w.submit(FundingInfo("okx", SYM, None, 0.1, None, None))  # type: ignore[arg-type]
        w.submit(candle(2))
        w.submit(candle(3))
        await w.flush()
        assert w.rejected == 2
        assert w.last_error
        assert w.running
        w.submit(candle(4))  # the writer carries on
    assert rows(path, "SELECT timestamp / 60000 FROM ohlcv ORDER BY timestamp") == [
        (0,),
        (2,),
        (3,),
        (4,),
    ]
    assert count(path, "funding_rates") == 0
    assert [len(i.records) for i in infos] == [3, 1]


async def test_locked_database_is_retried_not_lost(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "locked.db"
    w = Writer(path, batch_rows=10, flush_interval=0.05, retry_delays=(0.05,))
    await w.start()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    for i in range(30):
        w.submit(candle(i))
    await wait_for(lambda: w.failed_attempts >= 2)
    assert "locked" in (w.last_error or "")
    assert w.running
    assert w.rows_written == 0
    other.execute("COMMIT")
    other.close()
    await wait_for(lambda: w.rows_written == 30)
    await w.close()
    assert count(path) == 30


async def test_close_reports_rows_it_could_not_write(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 20)
    path = tmp_path / "stuck.db"
    w = Writer(path, batch_rows=10, flush_interval=0.02, retry_delays=(0.01,), close_wait_s=0.2)
    await w.start()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        for i in range(25):
            w.submit(candle(i))
        with pytest.raises(StoreError, match=r"could not write 25 rows to .*stuck\.db: .*locked"):
            await asyncio.wait_for(w.close(), timeout=10)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert count(path) == 0
    assert not w.running


async def test_start_on_bad_path_raises_store_error(tmp_path: Path) -> None:
    w = Writer(tmp_path / "missing" / "x.db")
    with pytest.raises(StoreError, match="directory does not exist"):
        await w.start()


def test_unsupported_record_is_a_type_error(tmp_path: Path) -> None:
    w = Writer(tmp_path / "x.db")
    with pytest.raises(TypeError, match="cannot write dict"):
        w.submit({"exchange": "binance"})


def test_invalid_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Writer(tmp_path / "x.db", batch_rows=0)
    with pytest.raises(ValueError):
        Writer(tmp_path / "x.db", flush_interval=0)


async def test_a_cancelled_writer_task_makes_submit_refuse(tmp_path: Path) -> None:
    w = Writer(tmp_path / "c.db")
    await w.start()
    assert w._task is not None
    w._task.cancel()
    await asyncio.sleep(0.05)
    assert not w.running
    assert w.submit(candle(1)) is False
    assert w.dropped == 1
    await w.close()


async def test_close_waits_out_a_lock_instead_of_dropping_rows(tmp_path: Path, monkeypatch) -> None:
    """A lock another process holds across the stop (a long query, a backup) costs no row."""
    import threading

    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "held.db"
    w = Writer(path, batch_rows=10, flush_interval=0.02, retry_delays=(0.02,), close_wait_s=20)
    await w.start()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    for i in range(48):
        w.submit(candle(i))
    await wait_for(lambda: w.failed_attempts >= 3)  # well past CLOSE_ATTEMPTS' worth
    released = threading.Event()

    def release_later() -> None:
        time.sleep(1.0)
        other.execute("COMMIT")
        other.close()
        released.set()

    threading.Thread(target=release_later, daemon=True).start()
    await asyncio.wait_for(w.close(), timeout=15)
    assert released.is_set()
    assert w.unwritten == 0 and w.dropped == 0
    assert count(path) == 48


async def test_stall_timeout_bounds_a_bulk_job(tmp_path: Path, monkeypatch) -> None:
    """stall_timeout_s: a lock held for good fails `put` in one line, in bounded time."""
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 20)
    path = tmp_path / "held.db"
    w = Writer(
        path, batch_rows=5, flush_interval=0.02, max_queue=10, retry_delays=(0.02,),
        stall_timeout_s=0.5, close_wait_s=0.1,
    )  # fmt: skip
    await w.start()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    try:
        with pytest.raises(StoreError, match="locked"):
            for i in range(10_000):
                await asyncio.wait_for(w.put(candle(i)), timeout=10)
        assert time.monotonic() - started < 10
        with pytest.raises(StoreError, match="could not write"):
            await w.close()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert count(path) == 0

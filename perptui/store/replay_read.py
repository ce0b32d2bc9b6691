"""Point-in-time reads of a logged database, for replay.

Replay asks "what did market M look like at time T" many times a second and
after every seek, so each read here is one seek on an index the schema already
has: order_book_snapshots (exchange, symbol, timestamp), funding_rates
(exchange, symbol, kind, timestamp), ohlcv (exchange, symbol, timeframe,
timestamp), signals (exchange, symbol, timestamp).  Nothing scans a table, so
seeking in a day of snapshots costs the same as in a minute of them.

Blocking reads on a read-only connection: call from one worker thread, never on
the event loop.  A SQLite file is opened with mode=ro and never written; a
postgresql:// URL goes through the store's sqlite3-shaped PostgreSQL connection
(same SQL, ``?`` placeholders), so a replay works on either backend.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perptui.core.units import timeframe_ms
from perptui.errors import StoreError
from perptui.store.backend import is_postgres, redact
from perptui.store.db import connect_sync

Market = tuple[str, str]  # (exchange, symbol)


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    exchange: str
    symbol: str
    timestamp: int
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class FundingRow:
    exchange: str
    symbol: str
    timestamp: int
    funding_rate: float | None
    next_funding_time: int | None
    interval_hours: float | None
    mark_price: float | None
    index_price: float | None
    predicted_rate: float | None


@dataclass(frozen=True, slots=True)
class CandleRow:
    exchange: str
    symbol: str
    timeframe: str
    timestamp: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class SignalRow:
    kind: str
    exchange: str
    symbol: str
    timestamp: int
    direction: str | None
    value: float | None
    threshold: float | None
    inputs: dict


def _levels(raw: object) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for lvl in raw:
        if isinstance(lvl, list | tuple) and len(lvl) >= 2:
            out.append((float(lvl[0]), float(lvl[1])))
    return tuple(out)


class ReplayReader:
    """Index-backed point reads of one perptui SQLite database (read-only)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        # connect_sync(readonly=True) refuses what is not an intact perptui DB with
        # a StoreError (one line, exit 2).  The connection is shared by the replay's
        # worker thread and the UI's step key, one at a time under the lock.
        self._lock = threading.Lock()
        if is_postgres(self.path):
            self._conn: Any = connect_sync(self.path, readonly=True)
            return
        connect_sync(self.path, readonly=True).close()
        uri = f"{Path(self.path).resolve().as_uri()}?mode=ro"
        try:
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database at {redact(self.path)}: {exc}") from exc

    def close(self) -> None:
        self._conn.close()

    def _all(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def _one(self, sql: str, args: tuple = ()) -> tuple | None:
        with self._lock:
            return self._conn.execute(sql, args).fetchone()

    # ----------------------------------------------------------------- shape
    def markets(self) -> list[Market]:
        """Every (exchange, symbol) with snapshots: a skip-scan, one seek per market."""
        out: list[Market] = []
        row = self._one(
            "SELECT exchange, symbol FROM order_book_snapshots ORDER BY exchange, symbol LIMIT 1"
        )
        while row is not None:
            out.append((row[0], row[1]))
            row = self._one(
                "SELECT exchange, symbol FROM order_book_snapshots "
                "WHERE (exchange, symbol) > (?, ?) ORDER BY exchange, symbol LIMIT 1",
                (row[0], row[1]),
            )
        return out

    def bounds(self, markets: list[Market]) -> tuple[int, int] | None:
        """(first, last) snapshot time over the given markets, or None when empty."""
        firsts, lasts = [], []
        for ex, sym in markets:
            r = self._one(
                "SELECT MIN(timestamp), MAX(timestamp) FROM order_book_snapshots "
                "WHERE exchange = ? AND symbol = ?",
                (ex, sym),
            )
            if r and r[0] is not None:
                firsts.append(int(r[0]))
                lasts.append(int(r[1]))
        if not firsts:
            return None
        return min(firsts), max(lasts)

    # ----------------------------------------------------------------- books
    def snapshot_at(self, market: Market, t: int) -> SnapshotRow | None:
        """The market's latest snapshot at or before t."""
        r = self._one(
            "SELECT timestamp, raw_data FROM order_book_snapshots "
            "WHERE exchange = ? AND symbol = ? AND timestamp <= ? "
            "ORDER BY timestamp DESC LIMIT 1",
            (*market, t),
        )
        return None if r is None else self._snapshot(market, r)

    def snapshots_between(self, market: Market, t0: int, t1: int, limit: int) -> list[SnapshotRow]:
        """Snapshots in (t0, t1], oldest first, at most `limit` (the newest ones)."""
        rows = self._all(
            "SELECT timestamp, raw_data FROM order_book_snapshots "
            "WHERE exchange = ? AND symbol = ? AND timestamp > ? AND timestamp <= ? "
            "ORDER BY timestamp DESC LIMIT ?",
            (*market, t0, t1, limit),
        )
        return [self._snapshot(market, r) for r in reversed(rows)]

    def neighbour_time(self, markets: list[Market], t: int, forward: bool) -> int | None:
        """The nearest snapshot time after (or before) t over all markets."""
        op, agg, order = (">", min, "ASC") if forward else ("<", max, "DESC")
        found = []
        for ex, sym in markets:
            r = self._one(
                f"SELECT timestamp FROM order_book_snapshots WHERE exchange = ? AND symbol = ? "
                f"AND timestamp {op} ? ORDER BY timestamp {order} LIMIT 1",
                (ex, sym, t),
            )
            if r is not None:
                found.append(int(r[0]))
        return agg(found) if found else None

    @staticmethod
    def _snapshot(market: Market, r: tuple) -> SnapshotRow:
        try:
            raw = json.loads(r[1]) if r[1] else {}
        except ValueError:
            raw = {}
        if not isinstance(raw, dict):
            raw = {}
        return SnapshotRow(
            market[0], market[1], int(r[0]), _levels(raw.get("bids")), _levels(raw.get("asks"))
        )

    # --------------------------------------------------------------- funding
    def funding_at(self, market: Market, t: int) -> FundingRow | None:
        """The latest live funding observation at or before t."""
        r = self._one(
            "SELECT timestamp, funding_rate, next_funding_time, interval_hours, mark_price, "
            "index_price, predicted_rate FROM funding_rates "
            "WHERE exchange = ? AND symbol = ? AND kind = 'live' AND timestamp <= ? "
            "ORDER BY timestamp DESC LIMIT 1",
            (*market, t),
        )
        if r is None:
            return None
        return FundingRow(market[0], market[1], int(r[0]), *r[1:])

    # ---------------------------------------------------------------- candles
    def candles_before(self, market: Market, t: int, n: int) -> list[CandleRow]:
        """The last n candles opened at or before t, of the finest timeframe stored."""
        tfs = [
            r[0]
            for r in self._all(
                "SELECT DISTINCT timeframe FROM ohlcv WHERE exchange = ? AND symbol = ?", market
            )
        ]
        if not tfs:
            return []
        tf = min(tfs, key=_timeframe_order)
        rows = self._all(
            "SELECT timestamp, open, high, low, close, volume FROM ohlcv "
            "WHERE exchange = ? AND symbol = ? AND timeframe = ? AND timestamp <= ? "
            "ORDER BY timestamp DESC LIMIT ?",
            (*market, tf, t, n),
        )
        return [
            CandleRow(market[0], market[1], tf, int(r[0]), *(float(x or 0.0) for x in r[1:]))
            for r in reversed(rows)
        ]

    # ---------------------------------------------------------------- signals
    def signals_between(self, t0: int, t1: int, limit: int = 200) -> list[SignalRow]:
        """Signals that fired in (t0, t1], oldest first (the signals table is small)."""
        rows = self._all(
            "SELECT kind, exchange, symbol, timestamp, direction, value, threshold, inputs "
            "FROM signals WHERE timestamp > ? AND timestamp <= ? ORDER BY timestamp DESC LIMIT ?",
            (t0, t1, limit),
        )
        out = []
        for r in reversed(rows):
            try:
                inputs = json.loads(r[7]) if r[7] else {}
            except ValueError:
                inputs = {}
            out.append(SignalRow(r[0], r[1], r[2], int(r[3]), r[4], r[5], r[6], inputs))
        return out


def _timeframe_order(tf: str) -> float:
    """Sort key: the timeframe's length (an unknown one sorts last)."""
    try:
        return float(timeframe_ms(tf))
    except ValueError:
        return float("inf")

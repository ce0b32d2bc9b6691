"""Reading the store: pandas loaders, coverage/gaps, resume bounds, streaming export.

All functions are blocking (pandas) and take `db` as a location (a SQLite path or
a ``postgresql://`` URL) or an open blocking connection (`sqlite3.Connection`, or
the `PgSyncConnection` that `connect_sync` returns for a URL); a location is opened
read-only (migrated first if it is an older schema version and writable) and closed
again.  The SQL here is written once, in the subset both backends share.  Time filters are half-open,
``since <= timestamp < until``, and accept epoch ms, datetimes (naive = UTC),
pandas Timestamps or ISO strings.  Every frame carries the ms ``timestamp`` and a
``datetime`` column (UTC, datetime64) right after it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from perptui.core.units import timeframe_ms
from perptui.errors import StoreError
from perptui.store.backend import DB_ERRORS
from perptui.store.db import connect_sync
from perptui.store.migrations import table_columns

DB = str | os.PathLike[str] | sqlite3.Connection | Any  # Any: a PgSyncConnection
TimeLike: TypeAlias = int | float | str | dt.datetime | dt.date | pd.Timestamp | None

TABLE_ALIASES = {
    "funding": "funding_rates",
    "funding_rates": "funding_rates",
    "snapshots": "order_book_snapshots",
    "order_book_snapshots": "order_book_snapshots",
    "books": "order_book_snapshots",
    "ohlcv": "ohlcv",
    "candles": "ohlcv",
    "signals": "signals",
}
# Columns that split a table into series beyond (exchange, symbol).
SERIES_KEY = {
    "funding_rates": "kind",
    "order_book_snapshots": None,
    "ohlcv": "timeframe",
    "signals": "kind",
}
_FILTERS = ("exchange", "symbol", "kind", "timeframe", "since", "until")
GAP_FACTOR = 1.5  # a step longer than this many expected spacings is a gap


def table_name(table: str) -> str:
    try:
        return TABLE_ALIASES[table]
    except KeyError:
        raise StoreError(
            f"unknown table {table!r}; choose from {', '.join(sorted(set(TABLE_ALIASES)))}"
        ) from None


# Epoch ms of 9999-12-31 (and its mirror): beyond it a "time" is a typo that would
# overflow SQLite's 64-bit integers or pandas' nanosecond timestamps.
MAX_TIME_MS = 253_402_300_799_999


def to_ms(value: TimeLike) -> int | None:
    """Epoch ms from ms ints, datetimes / Timestamps (naive = UTC) or ISO strings."""
    ms = _to_ms(value)
    if ms is not None and not -MAX_TIME_MS <= ms <= MAX_TIME_MS:
        raise ValueError(f"not a time: {value!r} is out of range (years 1-9999)")
    return ms


def _to_ms(value: TimeLike) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a time must not be a bool")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            raise ValueError(f"not a time: {value!r}")
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        try:
            ts = pd.Timestamp(text)
        except ValueError as exc:
            raise ValueError(f"not a time: {value!r} (use ISO 8601 or epoch ms)") from exc
    elif isinstance(value, dt.datetime | pd.Timestamp):
        ts = pd.Timestamp(value)
    elif isinstance(value, dt.date):
        ts = pd.Timestamp(value.isoformat())
    else:
        raise TypeError(f"not a time: {value!r}")
    if ts is pd.NaT:
        raise ValueError(f"not a time: {value!r}")
    try:
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return int(ts.value // 1_000_000)
    except (OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
        raise ValueError(f"not a time: {value!r} (out of range)") from exc


@contextlib.contextmanager
def _opened(db: DB) -> Iterator[Any]:
    if not isinstance(db, str | os.PathLike):
        yield db
        return
    conn = connect_sync(db, readonly=True)
    try:
        yield conn
    finally:
        conn.close()


def _where(table: str, filters: Mapping[str, Any]) -> tuple[str, list[Any]]:
    unknown = set(filters) - set(_FILTERS)
    if unknown:
        raise TypeError(f"unknown filter(s): {', '.join(sorted(unknown))}")
    clauses: list[str] = []
    params: list[Any] = []
    for col in ("exchange", "symbol", "kind", "timeframe"):
        value = filters.get(col)
        if value is None:
            continue
        if col == "timeframe" and table != "ohlcv":
            raise TypeError(f"{table} has no timeframe")
        if col == "kind" and table not in ("funding_rates", "signals"):
            raise TypeError(f"{table} has no kind")
        if isinstance(value, list | tuple | set | frozenset):
            values = list(value)
            clauses.append(f"{col} IN ({', '.join('?' * len(values))})")
            params.extend(values)
        else:
            clauses.append(f"{col} = ?")
            params.append(value)
    since, until = to_ms(filters.get("since")), to_ms(filters.get("until"))
    if since is not None:
        clauses.append("timestamp >= ?")
        params.append(since)
    if until is not None:
        clauses.append("timestamp < ?")
        params.append(until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _order(table: str) -> str:
    key = SERIES_KEY[table]
    if table == "signals":
        return " ORDER BY timestamp, kind, exchange, symbol"
    # Index order: a read of one series streams off the index without a sort.
    return " ORDER BY exchange, symbol, " + (f"{key}, " if key else "") + "timestamp"


def _dtypes(conn: Any, table: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for _cid, name, ctype, notnull, _default, pk in table_columns(conn, table).values():
        ctype = (ctype or "").upper()
        if "INT" in ctype:
            out[name] = "int64" if (notnull or pk) else "Int64"
        elif "REAL" in ctype or "FLOA" in ctype or "DOUB" in ctype:
            out[name] = "float64"
    return out


def _frame(rows: list[tuple], columns: list[str], dtypes: Mapping[str, str]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(rows, columns=columns)
    for col in columns:
        kind = dtypes.get(col)
        if kind is None:
            continue
        try:
            df[col] = df[col].astype(kind)
        except (TypeError, ValueError):
            # A legacy (seed) row holding an odd type: keep it as stored.
            pass
    if "timestamp" in df.columns:
        at = df.columns.get_loc("timestamp") + 1
        ms = pd.to_numeric(df["timestamp"], errors="coerce")
        df.insert(at, "datetime", pd.to_datetime(ms, unit="ms", utc=True))
    return df


def _query_frames(
    conn: Any,
    table: str,
    filters: Mapping[str, Any],
    chunksize: int | None,
) -> Iterator[pd.DataFrame]:
    where, params = _where(table, filters)
    sql = f"SELECT * FROM {table}{where}{_order(table)}"
    dtypes = _dtypes(conn, table)
    try:
        cur = conn.execute(sql, params)
        columns = [d[0] for d in cur.description]
        if chunksize is None:
            yield _frame(cur.fetchall(), columns, dtypes)
            return
        while True:
            rows = cur.fetchmany(chunksize)
            if not rows:
                return
            yield _frame(rows, columns, dtypes)
    except DB_ERRORS as exc:
        raise StoreError(f"cannot read {table}: {exc}") from exc


def _load(
    db: DB,
    table: str,
    exchange: str | None,
    symbol: str | None,
    since: TimeLike,
    until: TimeLike,
    **series: str | None,
) -> pd.DataFrame:
    """One whole table read; `series` holds the table's own key filter (kind/timeframe)."""
    filters = {"exchange": exchange, "symbol": symbol, "since": since, "until": until, **series}
    with _opened(db) as conn:
        return next(_query_frames(conn, table, filters, None))


def _parse_json(values: pd.Series) -> list[Any]:
    # Stored JSON text becomes dicts; anything else (NULL, already parsed) passes through.
    return [json.loads(x) if isinstance(x, str) else x for x in values]


def load_funding(
    db: DB,
    exchange: str | None = None,
    symbol: str | None = None,
    since: TimeLike = None,
    until: TimeLike = None,
    kind: str | None = None,
) -> pd.DataFrame:
    """funding_rates rows; kind='live' (polled) or 'settled' (history), default both."""
    return _load(db, "funding_rates", exchange, symbol, since, until, kind=kind)


def load_snapshots(
    db: DB,
    exchange: str | None = None,
    symbol: str | None = None,
    since: TimeLike = None,
    until: TimeLike = None,
    parse_raw: bool = False,
) -> pd.DataFrame:
    """order_book_snapshots rows; parse_raw=True turns raw_data JSON into dicts."""
    df = _load(db, "order_book_snapshots", exchange, symbol, since, until)
    if parse_raw:
        df["raw_data"] = _parse_json(df["raw_data"])
    return df


def load_ohlcv(
    db: DB,
    exchange: str | None = None,
    symbol: str | None = None,
    since: TimeLike = None,
    until: TimeLike = None,
    timeframe: str | None = None,
) -> pd.DataFrame:
    """ohlcv rows (timestamp = candle open)."""
    return _load(db, "ohlcv", exchange, symbol, since, until, timeframe=timeframe)


def load_signals(
    db: DB,
    exchange: str | None = None,
    symbol: str | None = None,
    since: TimeLike = None,
    until: TimeLike = None,
    kind: str | None = None,
) -> pd.DataFrame:
    """signals rows, oldest first; `inputs` parsed from JSON into dicts."""
    df = _load(db, "signals", exchange, symbol, since, until, kind=kind)
    df["inputs"] = _parse_json(df["inputs"])
    return df


def iter_rows(
    db: DB,
    table: str,
    filters: Mapping[str, Any] | None = None,
    chunksize: int = 50_000,
) -> Iterator[pd.DataFrame]:
    """Stream a table as DataFrames of at most `chunksize` rows (for export).

    `table` may be an alias (funding, snapshots, ohlcv, signals); `filters` takes
    exchange, symbol, kind, timeframe (a value or a list of values), since, until.
    Only one chunk is in memory at a time; the connection closes when the
    iterator is exhausted or closed.
    """
    name = table_name(table)
    clean = {k: v for k, v in (filters or {}).items() if v is not None}
    if chunksize < 1:
        raise ValueError("chunksize must be >= 1")
    with _opened(db) as conn:
        yield from _query_frames(conn, name, clean, chunksize)


def series_bounds(
    db: DB,
    table: str,
    exchange: str,
    symbol: str,
    timeframe: str | None = None,
    kind: str | None = None,
) -> tuple[int, int, int] | None:
    """(first_ms, last_ms, row count) of one stored series, or None if it has no rows.

    For backfill resume: funding history is `table="funding", kind="settled"`,
    candles `table="ohlcv", timeframe="1h"`.  Answered from the index.
    """
    name = table_name(table)
    filters = {"exchange": exchange, "symbol": symbol, "timeframe": timeframe, "kind": kind}
    where, params = _where(name, {k: v for k, v in filters.items() if v is not None})
    sql = f"SELECT MIN(timestamp), MAX(timestamp), COUNT(*) FROM {name}{where}"
    with _opened(db) as conn:
        try:
            first, last, count = conn.execute(sql, params).fetchone()
        except DB_ERRORS as exc:
            raise StoreError(f"cannot read {name}: {exc}") from exc
    if not count:
        return None
    return int(first), int(last), int(count)


COVERAGE_COLUMNS = (
    "table",
    "exchange",
    "symbol",
    "kind",
    "timeframe",
    "rows",
    "first_ms",
    "last_ms",
    "first",
    "last",
    "spacing_ms",
    "missing",
    "gaps",
    "gap_list",
)


def series_gaps(
    timestamps: np.ndarray, spacing_ms: float | None
) -> tuple[list[tuple[int, int]], int]:
    """Gaps in a sorted series: [(last present ms, next present ms)], est. missing rows."""
    if spacing_ms is None or spacing_ms <= 0 or len(timestamps) < 2:
        return [], 0
    steps = np.diff(timestamps)
    where = np.nonzero(steps > GAP_FACTOR * spacing_ms)[0]
    gaps = [(int(timestamps[i]), int(timestamps[i + 1])) for i in where]
    missing = int(np.sum(np.maximum(np.rint(steps[where] / spacing_ms) - 1, 0)))
    return gaps, missing


def coverage(
    db: DB,
    table: str | None = None,
    exchange: str | None = None,
    symbol: str | None = None,
) -> pd.DataFrame:
    """One row per stored series: rows, first/last, expected spacing and gaps.

    Series are (exchange, symbol) plus kind for funding ('live' / 'settled') and
    timeframe for candles.  The expected spacing is the timeframe for candles and
    the median step for the rest (a venue's funding interval, the snapshot
    cadence).  A gap is a step longer than 1.5 spacings; `gap_list` holds
    (last ms before, first ms after) per gap and `missing` estimates the rows
    that would fill them.  Signals are events, not series, and are not listed.
    """
    tables = [table_name(table)] if table else ["funding_rates", "order_book_snapshots", "ohlcv"]
    out: list[dict[str, Any]] = []
    with _opened(db) as conn:
        try:
            for name in tables:
                key = SERIES_KEY[name]
                where, params = _where(
                    name, {k: v for k, v in (("exchange", exchange), ("symbol", symbol)) if v}
                )
                group = "exchange, symbol" + (f", {key}" if key else "")
                sql = (
                    f"SELECT {group}, COUNT(*), MIN(timestamp), MAX(timestamp) "
                    f"FROM {name}{where} GROUP BY {group} ORDER BY {group}"
                )
                for row in conn.execute(sql, params).fetchall():
                    out.append(_series_coverage(conn, name, key, row))
        except DB_ERRORS as exc:
            raise StoreError(f"cannot read coverage: {exc}") from exc
    df = pd.DataFrame(out, columns=list(COVERAGE_COLUMNS))
    for col in ("kind", "timeframe"):
        # None, not NaN, where the column does not apply (pandas infers NaN for str).
        df[col] = pd.Series([v if isinstance(v, str) else None for v in df[col]], dtype=object)
    for col in ("first", "last"):
        df[col] = pd.to_datetime(df[col + "_ms"].astype("Int64"), unit="ms", utc=True)
    return df


def _series_coverage(conn: Any, table: str, key: str | None, row: tuple) -> dict[str, Any]:
    exchange, symbol = row[0], row[1]
    key_value = row[2] if key else None
    count, first, last = row[-3], row[-2], row[-1]
    sql = f"SELECT timestamp FROM {table} WHERE exchange = ? AND symbol = ?"
    params: list[Any] = [exchange, symbol]
    if key:
        sql += f" AND {key} = ?"
        params.append(key_value)
    cur = conn.execute(sql + " ORDER BY timestamp", params)
    ts = np.fromiter((r[0] for r in cur), dtype=np.int64, count=int(count))
    spacing: float | None = None
    if key == "timeframe":
        try:
            spacing = float(timeframe_ms(str(key_value)))
        except ValueError:
            spacing = None
    if spacing is None and len(ts) >= 2:
        steps = np.diff(ts)
        steps = steps[steps > 0]
        spacing = float(np.median(steps)) if len(steps) else None
    gaps, missing = series_gaps(ts, spacing)
    return {
        "table": table,
        "exchange": exchange,
        "symbol": symbol,
        "kind": key_value if key == "kind" else None,
        "timeframe": key_value if key == "timeframe" else None,
        "rows": int(count),
        "first_ms": int(first),
        "last_ms": int(last),
        "first": None,
        "last": None,
        "spacing_ms": spacing,
        "missing": missing,
        "gaps": len(gaps),
        "gap_list": gaps,
    }

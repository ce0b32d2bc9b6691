"""Model records -> table rows, and the SQL that writes them.

Kept apart from the writer so the conversion (which computes book metrics and
JSON) is a plain function that can run off the event loop and be tested alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from perptui.core.bands import DEPTH_BANDS, ONE_PCT, band_suffix
from perptui.core.funding import annualized
from perptui.core.model import (
    BookRecord,
    BookSnapshot,
    Candle,
    FundingInfo,
    FundingRecord,
    Signal,
)
from perptui.core.numbers import finite_float

RAW_LEVELS = 25  # levels per side kept in raw_data when a bare BookSnapshot is written

# depth_basis: what a row's depth, imbalance and band figures were computed from.
DEPTH_FROM_BOOK = "book"  # the hub's metrics of the whole book it held (BookRecord)
DEPTH_FROM_LEVELS = "levels"  # the levels of the record written (a bare BookSnapshot)
DEPTH_FROM_TOP20 = "top20"  # rows written before the fix: 20 levels a side (migration 2)

FUNDING_COLUMNS = (
    "exchange",
    "symbol",
    "timestamp",
    "funding_rate",
    "funding_time",
    "next_funding_time",
    "interval_hours",
    "mark_price",
    "index_price",
    "predicted_rate",
    "annualized_rate",
    "kind",
)
SNAPSHOT_COLUMNS = (
    "exchange",
    "symbol",
    "timestamp",
    "best_bid",
    "best_ask",
    "mid_price",
    "spread_bps",
    "bid_depth_1pct",
    "ask_depth_1pct",
    "imbalance",
    "bid_depth_01pct",
    "ask_depth_01pct",
    "bid_depth_05pct",
    "ask_depth_05pct",
    "bid_depth_5pct",
    "ask_depth_5pct",
    "book_flag",
    "raw_data",
    # Added by migration 2: per-band imbalance and "reached" flags for every band of
    # DEPTH_BANDS (1 % keeps the historical `imbalance`), how far each side reached,
    # how many levels the figures came from, and what they were computed from.
    *(f"imbalance_{band_suffix(b)}" for b in DEPTH_BANDS if b != ONE_PCT),
    *(f"reached_{band_suffix(b)}" for b in DEPTH_BANDS),
    "bid_reach",
    "ask_reach",
    "bid_levels",
    "ask_levels",
    "depth_basis",
)
OHLCV_COLUMNS = (
    "exchange",
    "symbol",
    "timeframe",
    "timestamp",
    "open",
    "high",
    "low",
    "close",
    "volume",
)
SIGNAL_COLUMNS = (
    "kind",
    "exchange",
    "symbol",
    "timestamp",
    "direction",
    "value",
    "threshold",
    "inputs",
)

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "funding_rates": FUNDING_COLUMNS,
    "order_book_snapshots": SNAPSHOT_COLUMNS,
    "ohlcv": OHLCV_COLUMNS,
    "signals": SIGNAL_COLUMNS,
}


def _insert_ignore(table: str) -> str:
    cols = TABLE_COLUMNS[table]
    marks = ", ".join("?" * len(cols))
    return f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES ({marks})"


def _ohlcv_upsert() -> str:
    cols = OHLCV_COLUMNS
    marks = ", ".join("?" * len(cols))
    values = ("open", "high", "low", "close", "volume")
    sets = ", ".join(f"{c} = excluded.{c}" for c in values)
    changed = " OR ".join(f"{c} IS NOT excluded.{c}" for c in values)
    # The newest candle is still forming when fetched: a later fetch of the same
    # candle replaces it.  The WHERE keeps an identical re-insert a no-op.
    return (
        f"INSERT INTO ohlcv ({', '.join(cols)}) VALUES ({marks}) "
        f"ON CONFLICT (exchange, symbol, timeframe, timestamp) DO UPDATE SET {sets} "
        f"WHERE {changed}"
    )


# Funding observations, snapshots and signals are facts about a moment: the
# first write wins and a re-insert is ignored.  Candles are upserted (above).
INSERT_SQL: dict[str, str] = {
    "funding_rates": _insert_ignore("funding_rates"),
    "order_book_snapshots": _insert_ignore("order_book_snapshots"),
    "ohlcv": _ohlcv_upsert(),
    "signals": _insert_ignore("signals"),
}


def annualized_rate(rate: float | None, interval_hours: float | None) -> float | None:
    """rate x (24 h / interval) x 365, or None when either input is unknown."""
    if rate is None or interval_hours is None or not interval_hours > 0:
        return None
    return finite_float(annualized(rate, interval_hours))


def funding_info_row(r: FundingInfo) -> tuple:
    return (
        r.exchange,
        r.symbol,
        int(r.timestamp),
        finite_float(r.funding_rate),
        # A live rate is paid at the next settlement: that is its funding_time.
        r.next_funding_time,
        r.next_funding_time,
        finite_float(r.interval_hours),
        finite_float(r.mark_price),
        finite_float(r.index_price),
        finite_float(r.predicted_rate),
        annualized_rate(finite_float(r.funding_rate), finite_float(r.interval_hours)),
        "live",
    )


def funding_record_row(r: FundingRecord) -> tuple:
    # History gives no interval, so annualized_rate stays NULL; readers can derive
    # the interval from consecutive settlements of the series.
    ts = int(r.timestamp)
    return (
        r.exchange,
        r.symbol,
        ts,
        finite_float(r.funding_rate),
        ts,
        None,
        None,
        None,
        None,
        None,
        None,
        "settled",
    )


def _levels_json(bids: Sequence[Any], asks: Sequence[Any], limit: int | None = None) -> str:
    def top(side: Sequence[Any]) -> list[list[float]]:
        rows = side if limit is None else side[:limit]
        return [[float(p), float(a)] for p, a, *_ in rows]

    return json.dumps({"bids": top(bids), "asks": top(asks)}, separators=(",", ":"))


def _metrics_columns(m: Any, basis: str) -> dict[str, Any]:
    """The snapshot columns a DepthMetrics fills (bands it lacks stay NULL)."""
    bd, ad, imb = m.bid_depth, m.ask_depth, m.imbalance_by_band
    out: dict[str, Any] = {
        "best_bid": finite_float(m.best_bid),
        "best_ask": finite_float(m.best_ask),
        "mid_price": finite_float(m.mid),
        "spread_bps": finite_float(m.spread_bps),
        "imbalance": finite_float(m.imbalance),
        "book_flag": m.flag,
        "bid_reach": finite_float(m.bid_reach),
        "ask_reach": finite_float(m.ask_reach),
        "bid_levels": int(m.bid_levels),
        "ask_levels": int(m.ask_levels),
        "depth_basis": basis,
    }
    for b in DEPTH_BANDS:
        sfx = band_suffix(b)
        out[f"bid_depth_{sfx}"] = finite_float(bd.get(b))
        out[f"ask_depth_{sfx}"] = finite_float(ad.get(b))
        if b != ONE_PCT:
            out[f"imbalance_{sfx}"] = finite_float(imb.get(b))
        if b in bd:
            bid_ok, ask_ok = m.covers(b)
            out[f"reached_{sfx}"] = int(bid_ok and ask_ok)
    if ONE_PCT not in bd:  # always computed by depth_metrics; keep the 1 % columns filled
        out["bid_depth_1pct"] = finite_float(m.bid_depth_1pct)
        out["ask_depth_1pct"] = finite_float(m.ask_depth_1pct)
    return out


def _snapshot_values(book: BookSnapshot, cols: dict[str, Any], raw: str) -> tuple:
    cols["exchange"] = book.exchange
    cols["symbol"] = book.symbol
    cols["timestamp"] = int(book.timestamp)
    cols["raw_data"] = raw
    return tuple(cols.get(c) for c in SNAPSHOT_COLUMNS)


def book_record_row(r: BookRecord) -> tuple:
    """A logged book: its figures are the hub's metrics of the whole book, as shown.

    Nothing is recomputed here: ``r.book`` holds only the top levels (``raw_data``).
    """
    cols = _metrics_columns(r.metrics, DEPTH_FROM_BOOK)
    return _snapshot_values(r.book, cols, _levels_json(r.book.bids, r.book.asks))


def snapshot_row(r: BookSnapshot) -> tuple:
    """A bare book: figures from exactly the levels it holds, raw_data its top RAW_LEVELS."""
    from perptui.core.metrics import depth_metrics  # numpy import only when books are written

    cols = _metrics_columns(depth_metrics(r.bids, r.asks), DEPTH_FROM_LEVELS)
    return _snapshot_values(r, cols, _levels_json(r.bids, r.asks, RAW_LEVELS))


def candle_row(r: Candle) -> tuple:
    return (
        r.exchange,
        r.symbol,
        r.timeframe,
        int(r.timestamp),
        finite_float(r.open),
        finite_float(r.high),
        finite_float(r.low),
        finite_float(r.close),
        finite_float(r.volume),
    )


def _jsonable(obj: Any) -> Any:
    """json.dumps fallback for what signal inputs tend to hold."""
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return obj.item()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return str(obj)


def signal_row(r: Signal) -> tuple:
    return (
        r.kind,
        r.exchange,
        r.symbol,
        int(r.timestamp),
        r.direction,
        finite_float(r.value),
        finite_float(r.threshold),
        json.dumps(r.inputs, default=_jsonable, separators=(",", ":"), sort_keys=True),
    )


_CONVERTERS: dict[type, tuple[str, Callable[[Any], tuple]]] = {
    FundingInfo: ("funding_rates", funding_info_row),
    FundingRecord: ("funding_rates", funding_record_row),
    BookSnapshot: ("order_book_snapshots", snapshot_row),
    BookRecord: ("order_book_snapshots", book_record_row),
    Candle: ("ohlcv", candle_row),
    Signal: ("signals", signal_row),
}
SUPPORTED_TYPES: tuple[type, ...] = tuple(_CONVERTERS)


def to_row(record: Any) -> tuple[str, tuple]:
    """(table, row values in TABLE_COLUMNS[table] order) for one model record.

    TypeError for anything that is not a supported model record.
    """
    try:
        table, convert = _CONVERTERS[type(record)]
    except KeyError:
        raise TypeError(f"the store cannot write {type(record).__name__}") from None
    return table, convert(record)

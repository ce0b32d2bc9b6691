"""The SQLite store: schema and connections (db), the batched writer, pandas readers.

Readers are re-exported here for analysts (``from perptui.store import load_funding``).
They are resolved lazily so that importing the writer does not pull in pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "connect": "perptui.store.db",
    "connect_sync": "perptui.store.db",
    "LATEST_VERSION": "perptui.store.db",
    "Writer": "perptui.store.writer",
    "WriterStats": "perptui.store.writer",
    "CommitInfo": "perptui.store.writer",
    "load_funding": "perptui.store.read",
    "load_snapshots": "perptui.store.read",
    "load_ohlcv": "perptui.store.read",
    "load_signals": "perptui.store.read",
    "coverage": "perptui.store.read",
    "series_bounds": "perptui.store.read",
    "iter_rows": "perptui.store.read",
    "to_ms": "perptui.store.read",
}

__all__ = [  # noqa: RUF022 - grouped by module, like _EXPORTS
    "connect",
    "connect_sync",
    "LATEST_VERSION",
    "Writer",
    "WriterStats",
    "CommitInfo",
    "load_funding",
    "load_snapshots",
    "load_ohlcv",
    "load_signals",
    "coverage",
    "series_bounds",
    "iter_rows",
    "to_ms",
]

if TYPE_CHECKING:
    from perptui.store.db import connect, connect_sync
    from perptui.store.migrations import LATEST_VERSION
    from perptui.store.read import (
        coverage,
        iter_rows,
        load_funding,
        load_ohlcv,
        load_signals,
        load_snapshots,
        series_bounds,
        to_ms,
    )
    from perptui.store.writer import CommitInfo, Writer, WriterStats


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'perptui.store' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value

"""Stream a table out of the store as CSV or Parquet, one chunk in memory at a time.

Rows come from ``perptui.store.read.iter_rows`` (a cursor read in chunks, index order);
CSV chunks are appended under one header, Parquet chunks become row groups of one
``pyarrow.parquet.ParquetWriter`` whose schema is fixed from the table's declared
column types (so a chunk whose optional column happens to be all NULL still fits).
The output is written to a temporary file beside the target and renamed into place,
so an interrupted export never leaves a truncated file under the requested name.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from perptui.errors import ConfigError, StoreError
from perptui.store.backend import DB_ERRORS
from perptui.store.db import connect_sync, require_database
from perptui.store.migrations import table_columns
from perptui.store.read import iter_rows, table_name

FORMATS = ("csv", "parquet")
TABLES = ("funding", "snapshots", "ohlcv", "signals")
DEFAULT_CHUNK = 50_000


@dataclass(frozen=True, slots=True)
class ExportResult:
    table: str
    format: str
    path: str | None  # None: stdout
    rows: int
    chunks: int


def _columns(db: str | os.PathLike[str], table: str) -> list[tuple[str, str]]:
    # The one full check of an export: a damaged file fails here with a clear
    # line instead of yielding a silently short (or empty) output file.
    conn = connect_sync(db, readonly=True, verify=True)
    try:
        return [(name, (r[2] or "").upper()) for name, r in table_columns(conn, table).items()]
    except DB_ERRORS as exc:
        raise StoreError(f"cannot read {table}: {exc}") from exc
    finally:
        conn.close()


def arrow_schema(columns: list[tuple[str, str]]) -> Any:
    """The Parquet schema of a table: declared SQLite types, plus the UTC datetime column."""
    import pyarrow as pa

    fields = []
    for name, ctype in columns:
        if "INT" in ctype:
            typ = pa.int64()
        elif any(k in ctype for k in ("REAL", "FLOA", "DOUB")):
            typ = pa.float64()
        else:
            typ = pa.string()
        fields.append(pa.field(name, typ))
        if name == "timestamp":
            fields.append(pa.field("datetime", pa.timestamp("ms", tz="UTC")))
    return pa.schema(fields)


def empty_frame(columns: list[tuple[str, str]]) -> pd.DataFrame:
    names: list[str] = []
    for name, _ in columns:
        names.append(name)
        if name == "timestamp":
            names.append("datetime")
    return pd.DataFrame(columns=names)


def chunks(
    db: str | os.PathLike[str],
    table: str,
    *,
    since: Any = None,
    until: Any = None,
    venue: str | None = None,
    symbol: str | None = None,
    chunksize: int = DEFAULT_CHUNK,
) -> Iterator[pd.DataFrame]:
    filters = {"exchange": venue, "symbol": symbol, "since": since, "until": until}
    yield from iter_rows(db, table, filters, chunksize=chunksize)


def export(
    db: str | os.PathLike[str],
    table: str,
    fmt: str,
    out: str | os.PathLike[str] | None = None,
    *,
    since: Any = None,
    until: Any = None,
    venue: str | None = None,
    symbol: str | None = None,
    chunksize: int = DEFAULT_CHUNK,
    stdout: IO[str] | None = None,
) -> ExportResult:
    """Write `table` (funding, snapshots, ohlcv, signals) filtered by time/venue/symbol.

    `out=None` writes CSV to stdout (Parquet needs a file). Returns rows written.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"--format: choose from {', '.join(FORMATS)}, not {fmt!r}")
    name = table_name(table)
    require_database(db, "run `perptui backfill` or `collect`")
    if out is None and fmt == "parquet":
        raise ConfigError("parquet export needs -o FILE")
    target = None if out is None else check_output(out, db)
    columns = _columns(db, name)
    source = chunks(
        db, name, since=since, until=until, venue=venue, symbol=symbol, chunksize=chunksize
    )
    if out is None:
        rows, n = _write_csv(source, stdout or sys.stdout, columns)
        return ExportResult(name, fmt, None, rows, n)
    assert target is not None
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        if fmt == "csv":
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                rows, n = _write_csv(source, fh, columns)
        else:
            rows, n = _write_parquet(source, tmp, columns)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return ExportResult(name, fmt, str(target), rows, n)


def check_output(out: str | os.PathLike[str], db: str | os.PathLike[str]) -> Path:
    """The export's target, refused when writing it would destroy data or guess a path.

    Refused: the database itself or its -wal / -shm / -journal (by any spelling:
    relative, symlinked, hard-linked), a directory, a missing parent directory
    (no tree is created for a typo).
    """
    target = Path(os.path.expanduser(os.fspath(out)))
    if not target.parent.is_dir():
        raise ConfigError(f"-o {target}: directory {target.parent} does not exist")
    if target.is_dir():
        raise ConfigError(f"-o {target}: is a directory")
    if isinstance(db, str) and "://" in db:
        return target
    dbp = Path(db)
    protected = [dbp, *(dbp.with_name(dbp.name + sfx) for sfx in ("-wal", "-shm", "-journal"))]
    real = os.path.realpath(target)
    for p in protected:
        same = os.path.realpath(p) == real
        if not same and target.exists() and p.exists():
            with contextlib.suppress(OSError):
                same = os.path.samefile(p, target)
        if same:
            raise ConfigError(f"-o {target}: that is the database ({p}); choose another file")
    return target


def _write_csv(
    source: Iterator[pd.DataFrame], fh: IO[str], columns: list[tuple[str, str]]
) -> tuple[int, int]:
    rows = n = 0
    for df in source:
        df.to_csv(fh, header=(n == 0), index=False)
        rows += len(df)
        n += 1
    if n == 0:
        empty_frame(columns).to_csv(fh, header=True, index=False)
    fh.flush()
    return rows, n


def _write_parquet(
    source: Iterator[pd.DataFrame], path: str, columns: list[tuple[str, str]]
) -> tuple[int, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(columns)
    rows = n = 0
    with pq.ParquetWriter(path, schema) as writer:
        for df in source:
            table = pa.Table.from_pandas(
                _for_arrow(df, schema), schema=schema, preserve_index=False
            )
            writer.write_table(table)
            rows += len(df)
            n += 1
    return rows, n


def _for_arrow(df: pd.DataFrame, schema: Any) -> pd.DataFrame:
    """Columns in schema order; text columns as Python objects (None for NULL)."""
    import pyarrow as pa

    out = {}
    for f in schema:
        col = df[f.name] if f.name in df.columns else pd.Series([None] * len(df))
        if pa.types.is_string(f.type):
            col = col.astype(object).where(col.notna(), None)
        out[f.name] = col
    return pd.DataFrame(out)


__all__ = ["FORMATS", "TABLES", "ExportResult", "arrow_schema", "export"]

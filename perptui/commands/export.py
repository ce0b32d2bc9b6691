"""``perptui export``: a table to CSV or Parquet, streamed in chunks."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from perptui.config.values import Number
from perptui.errors import ConfigError

CHUNK_ROWS = Number(1, 10_000_000, integer=True)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from perptui.jobs.export import DEFAULT_CHUNK, FORMATS, TABLES

    p = subparsers.add_parser(
        "export",
        help="export a table to CSV or Parquet",
        description="Export a table of the database, streaming it in chunks (never the whole "
        "table in memory). Times are epoch ms or ISO 8601 (UTC); --since is inclusive, "
        "--until exclusive. Without -o, CSV goes to stdout.",
    )
    p.add_argument("--table", required=True, choices=TABLES)
    p.add_argument("--format", dest="fmt", default=None, choices=FORMATS)
    p.add_argument("--since", default=None, help="start time (ISO 8601 or epoch ms)")
    p.add_argument("--until", default=None, help="end time, exclusive")
    p.add_argument("--venue", default=None, help="only this venue (exchange id)")
    p.add_argument("--symbol", default=None, help="only this symbol (BTC, BTCUSDT or unified)")
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="output file")
    p.add_argument(
        "--chunk-rows",
        type=CHUNK_ROWS.argtype("--chunk-rows"),
        default=DEFAULT_CHUNK,
        help=argparse.SUPPRESS,
    )
    return p


def run(args: argparse.Namespace) -> int:
    from perptui.config import load_config, normalize_symbol
    from perptui.jobs.export import export
    from perptui.store.read import to_ms

    config = load_config(args)
    fmt = args.fmt
    if fmt is None:
        fmt = "parquet" if (args.output or "").endswith((".parquet", ".pq")) else "csv"
    try:
        since, until = to_ms(args.since), to_ms(args.until)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"--since/--until: {exc}") from None
    try:
        symbol = normalize_symbol(args.symbol) if args.symbol else None
    except ValueError as exc:
        raise ConfigError(f"--symbol: {exc}") from None
    result = export(
        config.db_path,
        args.table,
        fmt,
        args.output,
        since=since,
        until=until,
        venue=args.venue,
        symbol=symbol,
        chunksize=args.chunk_rows,
    )
    if result.path is not None:
        print(f"{result.rows:,} rows of {result.table} -> {result.path} ({fmt})", file=sys.stderr)
    return 0

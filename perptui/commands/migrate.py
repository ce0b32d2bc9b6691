"""``perptui migrate``: copy a SQLite history into PostgreSQL (streaming, resumable)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from perptui.config.values import Number

CHUNK_ROWS = Number(1, 1_000_000, integer=True)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from perptui.jobs.migrate import DEFAULT_CHUNK

    p = subparsers.add_parser(
        "migrate",
        help="copy a SQLite database into PostgreSQL, resumably",
        description="Copy every table of a perptui SQLite database into a PostgreSQL "
        "database, one chunk per transaction, with the same unique keys (nothing is "
        "doubled). Interrupted, it resumes where it stopped; run again, it copies only "
        "rows added since.",
    )
    p.add_argument("--from", dest="source", required=True, metavar="FILE.db")
    p.add_argument("--to", dest="target", required=True, metavar="postgresql://...")
    p.add_argument(
        "--chunk-rows",
        type=CHUNK_ROWS.argtype("--chunk-rows"),
        default=DEFAULT_CHUNK,
        help=f"rows per transaction (default {DEFAULT_CHUNK})",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from perptui.jobs.migrate import migrate_sqlite
    from perptui.store.backend import redact

    def progress(table: str, done: int, total: int) -> None:
        print(f"\r{table}: {done:,}/{total:,}", end="", file=sys.stderr, flush=True)

    tty = sys.stderr.isatty()
    results = asyncio.run(
        migrate_sqlite(
            args.source,
            args.target,
            chunk_rows=args.chunk_rows,
            on_chunk=progress if tty else None,
        )
    )
    if tty:
        print(file=sys.stderr)
    for r in results:
        resumed = f", resumed after rowid {r.resumed_from:,}" if r.resumed_from else ""
        refused = f", {r.rejected:,} refused" if r.rejected else ""
        print(
            f"perptui migrate: {r.table}: {r.copied:,} rows copied ({r.inserted:,} new)"
            f"{refused}{resumed}; {r.total:,} in the source",
            file=sys.stderr,
        )
    print(f"perptui migrate: {args.source} -> {redact(args.target)} done", file=sys.stderr)
    return 0

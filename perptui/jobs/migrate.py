"""Copy a SQLite history into PostgreSQL: streaming, resumable, idempotent.

Each table is read in rowid order, `chunk_rows` at a time (one chunk in memory),
and each chunk is written in one transaction through the PostgreSQL writer's
sink, so the rows land with the writer's own statement (same unique keys, same
ON CONFLICT rules) and their original created_at.  After each chunk the last
copied rowid is recorded in `perptui_migrate_progress`, keyed by the source
file's resolved path; a re-run resumes from there.  A crash between a chunk's
commit and its progress update only means that chunk is copied again, which the
unique keys make harmless, so an interrupted or repeated migration never doubles
a row.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perptui.errors import ConfigError, StoreError
from perptui.store.backend import DB_ERRORS, is_postgres, redact
from perptui.store.db import connect_sync
from perptui.store.rows import TABLE_COLUMNS

DEFAULT_CHUNK = 5_000
PROGRESS_TABLE = "perptui_migrate_progress"
# Parents first is irrelevant here (no foreign keys); big tables last so a quick
# look at the progress shows the small ones done.
ORDER = ("signals", "funding_rates", "ohlcv", "order_book_snapshots")
COPY_COLUMNS = {t: (*TABLE_COLUMNS[t], "created_at") for t in TABLE_COLUMNS}


@dataclass(frozen=True, slots=True)
class TableCopy:
    table: str
    copied: int  # rows read from SQLite and written in this run
    inserted: int  # of those, new in PostgreSQL
    rejected: int  # rows PostgreSQL refused (reported, not copied)
    resumed_from: int  # rowid this run started after (0: from the start)
    last_rowid: int
    total: int  # rows in the SQLite table


def _source_rows(conn: Any, table: str, after: int, chunk: int) -> tuple[list[tuple], int]:
    cols = ", ".join(COPY_COLUMNS[table])
    rows = conn.execute(
        f"SELECT rowid, {cols} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
        (after, chunk),
    ).fetchall()
    if not rows:
        return [], after
    return [tuple(r[1:]) for r in rows], int(rows[-1][0])


async def migrate_sqlite(
    source: str | os.PathLike[str],
    target: str,
    *,
    chunk_rows: int = DEFAULT_CHUNK,
    max_chunks: int | None = None,
    on_chunk: Callable[[str, int, int], None] | None = None,
) -> list[TableCopy]:
    """Copy every perptui table of `source` (SQLite) into `target` (postgresql:// URL).

    `max_chunks` stops after that many chunks in total (tests: an interrupted run);
    `on_chunk(table, copied so far, total)` reports progress.
    """
    if not is_postgres(target):
        raise ConfigError(f"--to must be a postgresql:// URL, got {redact(target)!r}")
    if is_postgres(os.fspath(source)):
        raise ConfigError("--from must be a SQLite file")
    from perptui.store.pg import CONNECTION_ERRORS
    from perptui.store.pg_sink import PgSink

    # sqlite3 connections stay on the thread that made them: one reader thread,
    # so SQLite reads never block the loop that is writing to PostgreSQL.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="perptui-migrate")
    loop = asyncio.get_running_loop()

    def on_reader(fn: Callable[..., Any], *args: Any) -> Any:
        return loop.run_in_executor(pool, fn, *args)

    try:
        src = await on_reader(lambda: connect_sync(source, True, verify=True))
    except BaseException:
        pool.shutdown()
        raise
    sink = PgSink(target, columns=COPY_COLUMNS)
    try:
        await sink.open()
        return await _copy(on_reader, src, source, sink, chunk_rows, max_chunks, on_chunk)
    except CONNECTION_ERRORS as exc:
        raise StoreError(
            f"lost the connection to {redact(target)} ({type(exc).__name__}: {exc}); "
            "run the same command again to resume"
        ) from exc
    finally:
        await sink.close()
        await on_reader(src.close)
        pool.shutdown()


async def _copy(
    on_reader: Callable[..., Any],
    src: Any,
    source: str | os.PathLike[str],
    sink: Any,
    chunk_rows: int,
    max_chunks: int | None,
    on_chunk: Callable[[str, int, int], None] | None,
) -> list[TableCopy]:
    conn = await sink.connection()
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (source TEXT NOT NULL, "
        "table_name TEXT NOT NULL, last_rowid BIGINT NOT NULL, copied BIGINT NOT NULL, "
        "PRIMARY KEY (source, table_name))"
    )
    key = str(Path(source).resolve())
    out: list[TableCopy] = []
    chunks = 0
    for table in ORDER:
        row = await conn.fetchrow(
            f"SELECT last_rowid, copied FROM {PROGRESS_TABLE} "
            "WHERE source = $1 AND table_name = $2",
            key,
            table,
        )
        start = int(row["last_rowid"]) if row else 0
        done_before = int(row["copied"]) if row else 0
        try:
            total = (
                await on_reader(lambda t=table: src.execute(f"SELECT COUNT(*) FROM {t}").fetchone())
            )[0]
        except DB_ERRORS as exc:
            raise StoreError(f"cannot read {table} from {source}: {exc}") from exc
        after, copied, inserted, rejected = start, 0, 0, 0
        while max_chunks is None or chunks < max_chunks:
            try:
                rows, last = await on_reader(_source_rows, src, table, after, chunk_rows)
            except DB_ERRORS as exc:
                raise StoreError(f"cannot read {table} from {source}: {exc}") from exc
            if not rows:
                break
            groups = {table: rows}
            try:
                inserted += await sink.write(groups)
            except sink.data_errors:
                _good, refused, changes = await sink.write_each(groups, {table: rows})
                inserted += changes
                rejected += len(refused)
            copied += len(rows)
            after = last
            chunks += 1
            conn = await sink.connection()
            await conn.execute(
                f"INSERT INTO {PROGRESS_TABLE} (source, table_name, last_rowid, copied) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (source, table_name) "
                "DO UPDATE SET last_rowid = excluded.last_rowid, copied = excluded.copied",
                key,
                table,
                after,
                done_before + copied,
            )
            if on_chunk is not None:
                on_chunk(table, done_before + copied, total)
        out.append(TableCopy(table, copied, inserted, rejected, start, after, total))
    return out

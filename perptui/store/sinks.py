"""The writer's backends: one committed transaction per batch, behind the `Sink` protocol.

`SqliteSink` writes a SQLite file (one executemany per table inside BEGIN IMMEDIATE);
`open_sink` picks it or `pg_sink.PgSink` (imported only when PostgreSQL is used) for a
location.  Each sink names the errors that are the rows' fault (`data_errors`), so the
writer knows when to rewrite a batch row by row instead of retrying it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any, Protocol

import aiosqlite

from perptui.store.backend import is_postgres
from perptui.store.db import connect
from perptui.store.rows import INSERT_SQL

# Errors caused by the rows themselves: retrying the same batch cannot help, so
# the batch is rewritten row by row and the offending rows are rejected.
_DATA_ERRORS = (
    sqlite3.IntegrityError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    OverflowError,
    TypeError,
    ValueError,
)


class Sink(Protocol):
    """A backend's side of the writer: one committed transaction per call."""

    data_errors: tuple[type[BaseException], ...]  # the rows' fault: retrying cannot help

    async def write(self, groups: dict[str, list[tuple]]) -> int:
        """Insert every row in one transaction; rows inserted or changed."""
        ...

    async def write_each(
        self, groups: dict[str, list[tuple]], sources: dict[str, list[Any]]
    ) -> tuple[dict[str, list[tuple]], list[tuple[Any, BaseException]], int]:
        """The batch row by row in one transaction: (rows written, refused records, changes)."""
        ...

    async def close(self) -> None: ...


class SqliteSink:
    """The SQLite side: one executemany per table inside BEGIN IMMEDIATE ... COMMIT."""

    data_errors: tuple[type[BaseException], ...] = _DATA_ERRORS

    def __init__(self, conn: aiosqlite.Connection) -> None:
        # Let sqlite3 open each transaction itself (BEGIN IMMEDIATE right before the
        # first INSERT): one thread round trip per batch fewer than an explicit BEGIN,
        # which is most of the per-batch cost when batches are small.
        conn.isolation_level = "IMMEDIATE"
        self._conn = conn

    async def write(self, groups: dict[str, list[tuple]]) -> int:
        conn = self._conn
        changes = 0
        # The first executemany implicitly runs BEGIN IMMEDIATE (isolation_level):
        # the write lock is taken up front, so contention with another process
        # shows up there (after busy_timeout) rather than halfway through a batch.
        try:
            for table, rows in groups.items():
                cur = await conn.executemany(INSERT_SQL[table], rows)
                changes += max(cur.rowcount, 0)
            await conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.rollback()
            raise
        return changes

    async def write_each(
        self, groups: dict[str, list[tuple]], sources: dict[str, list[Any]]
    ) -> tuple[dict[str, list[tuple]], list[tuple[Any, BaseException]], int]:
        conn = self._conn
        good: dict[str, list[tuple]] = {}
        refused: list[tuple[Any, BaseException]] = []
        changes = 0
        try:
            for table, rows in groups.items():
                for row, record in zip(rows, sources[table], strict=True):
                    try:
                        cur = await conn.execute(INSERT_SQL[table], row)
                    except _DATA_ERRORS as exc:
                        refused.append((record, exc))
                        continue
                    changes += max(cur.rowcount, 0)
                    good.setdefault(table, []).append(row)
            await conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.rollback()
            raise
        return good, refused, changes

    async def close(self) -> None:
        await self._conn.close()


async def open_sink(location: str) -> Sink:
    """The sink for a location: PostgreSQL for a postgresql:// URL, else a SQLite file."""
    if is_postgres(location):
        from perptui.store.pg_sink import PgSink  # asyncpg only when PostgreSQL is used

        sink = PgSink(location)
        await sink.open()
        return sink
    return SqliteSink(await connect(location))

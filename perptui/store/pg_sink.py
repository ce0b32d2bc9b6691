"""The writer's PostgreSQL sink: one INSERT ... SELECT FROM unnest(arrays) per table and
batch, one transaction per batch, reconnecting on demand."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from perptui.store import pg_schema
from perptui.store.backend import redact
from perptui.store.pg import CONNECT_TIMEOUT_S, NATIVE, connect
from perptui.store.pg_partitions import create_partitions, existing_partitions, partitions_for
from perptui.store.rows import INSERT_SQL, TABLE_COLUMNS

log = logging.getLogger(__name__)

DATA_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.exceptions.DataError,
    OverflowError,
    TypeError,
    ValueError,
)


def _conflict_key(table: pg_schema.Table) -> tuple[str, ...]:
    unique = [ix for ix in table.indexes if ix.unique]
    if len(unique) != 1:
        raise ValueError(f"{table.name}: expected exactly one unique key, found {len(unique)}")
    return unique[0].columns


def insert_sql(
    table: str,
    schema: dict[str, pg_schema.Table] | None = None,
    columns: tuple[str, ...] | None = None,
) -> str:
    """One INSERT ... SELECT FROM unnest(arrays) per table: a whole batch in one statement.

    Same semantics as the SQLite side (rows.INSERT_SQL): first write wins, except
    candles, which are upserted and only count as changed when a value differs.
    """
    schema = schema or pg_schema.tables()
    t = schema[table]
    cols = columns or TABLE_COLUMNS[table]
    types = t.column_types
    arrays = ", ".join(
        f"${i}::{pg_schema.ARRAY_TYPES[types[c]]}" for i, c in enumerate(cols, start=1)
    )
    key = _conflict_key(t)
    sql = f"INSERT INTO {table} ({', '.join(cols)}) SELECT * FROM unnest({arrays}) "
    if INSERT_SQL[table].startswith("INSERT OR IGNORE"):
        return sql + f"ON CONFLICT ({', '.join(key)}) DO NOTHING"
    values = [c for c in cols if c not in key and c != "created_at"]
    sets = ", ".join(f"{c} = excluded.{c}" for c in values)
    changed = " OR ".join(f"{table}.{c} IS DISTINCT FROM excluded.{c}" for c in values)
    return sql + f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets} WHERE {changed}"


def _count(status: str) -> int:
    # "INSERT 0 17"
    try:
        return int(status.rsplit(" ", 1)[1])
    except (IndexError, ValueError):
        return 0


class PgSink:
    """The writer's PostgreSQL side: one transaction per batch, reconnecting on demand.

    A connection that fails is dropped; the next attempt (the writer retries
    environmental failures with backoff) opens a new one.  A batch whose COMMIT
    outcome was lost with the link is simply written again: every insert is
    idempotent on the table's unique key, so nothing is doubled.
    """

    data_errors = DATA_ERRORS

    def __init__(self, url: str, columns: dict[str, tuple[str, ...]] | None = None) -> None:
        """`columns`: per table, the row layout written (default rows.TABLE_COLUMNS;
        `perptui migrate` adds created_at to keep the original write times)."""
        self.url = url
        self.label = redact(url)
        self._conn: asyncpg.Connection | None = None
        self._schema = pg_schema.tables()
        cols = columns or TABLE_COLUMNS
        self._sql = {t: insert_sql(t, self._schema, cols[t]) for t in cols}
        self._key_idx = {
            t: tuple(cols[t].index(c) for c in _conflict_key(self._schema[t])) for t in cols
        }
        self._ts_idx = {t: cols[t].index("timestamp") for t in cols}
        self._int_cols = {
            t: tuple(
                i for i, c in enumerate(cols[t]) if self._schema[t].column_types[c] == "BIGINT"
            )
            for t in cols
        }
        self._partitions: dict[str, set[str]] = {}
        self.mode = NATIVE
        self.reconnects = 0

    async def open(self) -> None:
        self._conn, self.mode = await connect(self.url)

    async def connection(self) -> asyncpg.Connection:
        """The live connection (reopened if it was lost), for a caller's own statements."""
        return await self._connection()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT_S)
            self.reconnects += 1
            self._partitions.clear()
        return self._conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=2)
            except Exception:
                conn.terminate()

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    def _prepare(self, table: str, rows: list[tuple]) -> list[list[Any]]:
        """Column arrays for unnest(); for upserts, the last row of a key wins within a batch.

        (ON CONFLICT DO UPDATE may not touch one row twice in a statement.)
        """
        if not INSERT_SQL[table].startswith("INSERT OR IGNORE") and len(rows) > 1:
            idx = self._key_idx[table]
            latest = {tuple(r[i] for i in idx): r for r in rows}
            rows = list(latest.values())
        cols = [list(c) for c in zip(*rows, strict=True)]
        for i in self._int_cols[table]:
            col = cols[i]
            if any(type(v) is float for v in col):
                cols[i] = [int(v) if type(v) is float and v.is_integer() else v for v in col]
        return cols

    async def _ensure_partitions(
        self, conn: asyncpg.Connection, groups: dict[str, list[tuple]]
    ) -> None:
        if self.mode != NATIVE:
            return
        for table, rows in groups.items():
            if table not in pg_schema.PARTITION_PERIODS:
                continue
            known = self._partitions.get(table)
            if known is None:
                known = self._partitions[table] = await existing_partitions(conn, table)
            i = self._ts_idx[table]
            wanted = partitions_for(table, {r[i] for r in rows if r[i] is not None})
            missing = {n: b for n, b in wanted.items() if n not in known}
            if missing:
                created = await create_partitions(conn, table, missing)
                if created:
                    log.info("created partitions %s", ", ".join(created))
                known.update(missing)

    async def write(self, groups: dict[str, list[tuple]]) -> int:
        try:
            conn = await self._connection()
            await self._ensure_partitions(conn, groups)
            changes = 0
            async with conn.transaction():
                for table, rows in groups.items():
                    status = await conn.execute(self._sql[table], *self._prepare(table, rows))
                    changes += _count(status)
            return changes
        except self.data_errors:
            raise
        except BaseException:
            self._drop_connection()
            raise

    async def write_each(
        self, groups: dict[str, list[tuple]], sources: dict[str, list[Any]]
    ) -> tuple[dict[str, list[tuple]], list[tuple[Any, BaseException]], int]:
        """The batch again, one savepoint per row, so only the refused rows are left out."""
        good: dict[str, list[tuple]] = {}
        refused: list[tuple[Any, BaseException]] = []
        changes = 0
        try:
            conn = await self._connection()
            await self._ensure_partitions(conn, groups)
            async with conn.transaction():
                for table, rows in groups.items():
                    for row, record in zip(rows, sources[table], strict=True):
                        try:
                            async with conn.transaction():
                                status = await conn.execute(
                                    self._sql[table], *self._prepare(table, [row])
                                )
                        except self.data_errors as exc:
                            refused.append((record, exc))
                            continue
                        changes += _count(status)
                        good.setdefault(table, []).append(row)
        except BaseException:
            self._drop_connection()
            raise
        return good, refused, changes

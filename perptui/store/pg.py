"""The PostgreSQL backend: connecting, versioning, partitions, and the batch sink.

Connecting turns every way a URL can be unusable into one StoreError line
(unreachable server, refused login, missing database, no permission, a schema
from a newer perptui, tables of the same name that perptui did not create), and
brings the schema up to date.  The version lives in the one-row table
`perptui_schema`, the PostgreSQL counterpart of SQLite's PRAGMA user_version,
with the partitioning mode chosen when the schema was created.  Upgrades take a
transaction-scoped advisory lock, so N collectors starting at once upgrade once.

Tables come from schema.sql through `pg_schema`.  The big ones are range
partitioned on `timestamp` (native declarative partitioning; partitions are
created by the writer ahead of the rows that need them) or, when the
TimescaleDB extension is installed on the server, are hypertables with
compression of chunks older than a week.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
from collections.abc import Iterable
from typing import Any

import asyncpg

from perptui.core.units import DAY_MS
from perptui.errors import StoreError
from perptui.store import pg_schema
from perptui.store.backend import redact
from perptui.store.db import LATEST_VERSION, MARK_LEGACY_DEPTH_SQL
from perptui.store.rows import INSERT_SQL, TABLE_COLUMNS

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
SCHEMA_TABLE = "perptui_schema"
# pg_advisory_xact_lock keys: schema upgrades, and partition creation.
LOCK_SCHEMA = 0x7065_7270_0001
LOCK_PARTITIONS = 0x7065_7270_0002
NATIVE = "native"
TIMESCALE = "timescaledb"
COMPRESS_AFTER_MS = 7 * DAY_MS

# Faults of the link or the server, as opposed to faults of the rows.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.ConnectionFailureError,
)
# Rows the database refuses: retrying them cannot help.
DATA_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.exceptions.DataError,
    OverflowError,
    TypeError,
    ValueError,
)


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text


async def open_connection(url: str, *, timeout: float = CONNECT_TIMEOUT_S) -> asyncpg.Connection:
    """One asyncpg connection, or a one-line StoreError saying why there is none."""
    label = redact(url)
    try:
        return await asyncpg.connect(url, timeout=timeout)
    except asyncpg.InvalidPasswordError as exc:
        raise StoreError(f"PostgreSQL refused the login for {label}: {_why(exc)}") from exc
    except asyncpg.InvalidAuthorizationSpecificationError as exc:
        raise StoreError(f"PostgreSQL refused the login for {label}: {_why(exc)}") from exc
    except asyncpg.InvalidCatalogNameError as exc:
        raise StoreError(f"no database at {label}: {_why(exc)}") from exc
    except asyncpg.InsufficientPrivilegeError as exc:
        raise StoreError(f"no permission to connect to {label}: {_why(exc)}") from exc
    except (socket.gaierror, ConnectionRefusedError) as exc:
        raise StoreError(f"cannot reach PostgreSQL at {label}: {exc.strerror or exc}") from exc
    except (TimeoutError, OSError) as exc:
        why = getattr(exc, "strerror", None) or _why(exc)
        raise StoreError(f"cannot reach PostgreSQL at {label}: {why}") from exc
    except asyncpg.PostgresError as exc:
        raise StoreError(f"cannot connect to {label}: {_why(exc)}") from exc
    except (asyncpg.ClientConfigurationError, ValueError) as exc:
        raise StoreError(f"not a usable PostgreSQL URL {label}: {_why(exc)}") from exc


# --------------------------------------------------------------------------- schema


async def schema_state(conn: asyncpg.Connection) -> tuple[int, str | None]:
    """(version, partitioning mode); (0, None) when perptui has never set this database up."""
    # A catalog scan, not to_regclass(): that answers from the backend's relation
    # cache, which a waiter on the advisory lock has not refreshed, so it would not
    # see the table another process created while it waited.
    exists = await conn.fetchval(
        "SELECT 1 FROM pg_catalog.pg_class WHERE relname = $1 "
        "AND relnamespace = current_schema()::regnamespace",
        SCHEMA_TABLE,
    )
    if not exists:
        return 0, None
    row = await conn.fetchrow(f"SELECT version, partitioning FROM {SCHEMA_TABLE}")
    if row is None:
        return 0, None
    return int(row["version"]), str(row["partitioning"])


async def _timescale_usable(conn: asyncpg.Connection) -> bool:
    """Installed in this database, or installable now; never required."""
    if await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"):
        return True
    if not await conn.fetchval("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"):
        return False
    try:
        async with conn.transaction():  # a savepoint: a refusal leaves the upgrade intact
            await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except asyncpg.PostgresError as exc:
        # Not in shared_preload_libraries, or not ours to create: native partitioning.
        log.info("TimescaleDB is available but not usable here (%s); using native partitions", exc)
        return False
    return True


async def _create_schema(conn: asyncpg.Connection, mode: str) -> None:
    schema = pg_schema.tables()
    problems = pg_schema.partition_key_problems(schema)
    if problems:
        raise StoreError("schema.sql cannot be partitioned: " + "; ".join(problems))
    for table in schema.values():
        native = mode == NATIVE and table.name in pg_schema.PARTITION_PERIODS
        for stmt in table.ddl(partitioned=native):
            await conn.execute(stmt)
        for ix in table.indexes:
            await conn.execute(ix.ddl())
    if mode == TIMESCALE:
        await _make_hypertables(conn)


async def _make_hypertables(conn: asyncpg.Connection) -> None:
    """Hypertables with compression of chunks older than COMPRESS_AFTER_MS (TimescaleDB)."""
    await conn.execute(
        "CREATE OR REPLACE FUNCTION perptui_now_ms() RETURNS BIGINT LANGUAGE SQL STABLE AS "
        f"$$ SELECT {pg_schema.NOW_MS_SQL} $$"
    )
    for table, period in pg_schema.PARTITION_PERIODS.items():
        chunk = DAY_MS if period == "day" else 30 * DAY_MS
        await conn.execute(
            f"SELECT create_hypertable('{table}', 'timestamp', "
            f"chunk_time_interval => {chunk}::bigint, if_not_exists => TRUE)"
        )
        await conn.execute(f"SELECT set_integer_now_func('{table}', 'perptui_now_ms', TRUE)")
        await conn.execute(
            f"ALTER TABLE {table} SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = 'exchange, symbol', "
            "timescaledb.compress_orderby = 'timestamp')"
        )
        await conn.execute(
            f"SELECT add_compression_policy('{table}', {COMPRESS_AFTER_MS}::bigint, "
            "if_not_exists => TRUE)"
        )


async def _reconcile(conn: asyncpg.Connection) -> None:
    """Bring an older perptui schema up to schema.sql: missing columns and indexes.

    The SQLite migrations are written to be safe on a database created by the
    current schema.sql; their PostgreSQL side is this: add what the current
    schema has and the database lacks.  (ALTER on a partitioned parent reaches
    every partition.)
    """
    mode = await _mode(conn)
    for table in pg_schema.tables().values():
        have = {
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = $1",
                table.name,
            )
        }
        if not have:  # a table added since: create it whole
            partitioned = mode == NATIVE and table.name in pg_schema.PARTITION_PERIODS
            for stmt in table.ddl(partitioned=partitioned):
                await conn.execute(stmt)
        for c in table.columns:
            if have and c.name not in have:
                text = f"{c.name} {c.pg_type}"
                if c.default is not None:
                    text += f" DEFAULT {c.default}"
                await conn.execute(f"ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS {text}")
        for ix in table.indexes:
            await conn.execute(ix.ddl())


async def _mode(conn: asyncpg.Connection) -> str:
    return (await schema_state(conn))[1] or NATIVE


async def _foreign_tables(conn: asyncpg.Connection) -> list[str]:
    names = list(pg_schema.tables())
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name = ANY($1::text[])",
        names,
    )
    return sorted(r["table_name"] for r in rows)


def _newer(label: str, version: int, latest: int) -> StoreError:
    return StoreError(
        f"{label} has schema version {version}, newer than this perptui knows "
        f"({latest}); upgrade perptui"
    )


async def migrate(conn: asyncpg.Connection, label: str, latest: int = LATEST_VERSION) -> str:
    """Create or upgrade perptui's schema; returns the partitioning mode.

    StoreError for a newer schema, for same-named tables perptui did not create,
    and for a role that may not create what is needed.
    """
    try:
        version, mode = await schema_state(conn)
    except asyncpg.InsufficientPrivilegeError as exc:
        raise StoreError(f"no permission to read perptui's tables in {label}: {_why(exc)}") from exc
    if version > latest:
        raise _newer(label, version, latest)
    if version == latest and mode is not None:
        return mode
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_SCHEMA)
            version, mode = await schema_state(conn)  # re-read under the lock
            if version > latest:
                raise _newer(label, version, latest)
            if version == latest and mode is not None:
                return mode
            if mode is None:
                foreign = await _foreign_tables(conn)
                if foreign:
                    raise StoreError(
                        f"{label} already has table(s) {', '.join(foreign)} that perptui did "
                        "not create; use an empty database"
                    )
                await conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} ("
                    "id INTEGER PRIMARY KEY DEFAULT 1 CHECK (id = 1), "
                    "version INTEGER NOT NULL, partitioning TEXT NOT NULL)"
                )
                mode = TIMESCALE if await _timescale_usable(conn) else NATIVE
                await _create_schema(conn, mode)
                await conn.execute(
                    f"INSERT INTO {SCHEMA_TABLE} (id, version, partitioning) VALUES (1, $1, $2)",
                    latest,
                    mode,
                )
            else:
                await _reconcile(conn)
                if version < 2:  # see store/db.py migration 2
                    await conn.execute(MARK_LEGACY_DEPTH_SQL)
                await conn.execute(f"UPDATE {SCHEMA_TABLE} SET version = $1", latest)
    except asyncpg.InsufficientPrivilegeError as exc:
        raise StoreError(
            f"no permission to set up perptui's tables in {label}: {_why(exc)}"
        ) from exc
    except asyncpg.ReadOnlySQLTransactionError as exc:
        raise StoreError(f"{label} is read-only: {_why(exc)}") from exc
    return mode


async def connect(url: str) -> tuple[asyncpg.Connection, str]:
    """A checked, migrated connection and the database's partitioning mode."""
    conn = await open_connection(url)
    try:
        mode = await migrate(conn, redact(url))
    except BaseException:
        await conn.close(timeout=2)
        raise
    return conn, mode


# --------------------------------------------------------------------------- partitions


def period_start(ts_ms: int, period: str) -> dt.datetime:
    t = dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.UTC)
    if period == "day":
        return t.replace(hour=0, minute=0, second=0, microsecond=0)
    return t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_period(start: dt.datetime, period: str) -> dt.datetime:
    if period == "day":
        return start + dt.timedelta(days=1)
    return (start + dt.timedelta(days=32)).replace(day=1)


def partition_name(table: str, start: dt.datetime, period: str) -> str:
    return f"{table}_p{start:%Y%m%d}" if period == "day" else f"{table}_p{start:%Y%m}"


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def partitions_for(
    table: str, timestamps: Iterable[int], *, ahead: bool = True
) -> dict[str, tuple[int, int]]:
    """{partition name: (from_ms, to_ms)} holding these timestamps, plus the next period ahead."""
    period = pg_schema.PARTITION_PERIODS[table]
    starts = {period_start(int(ts), period) for ts in timestamps}
    if ahead and starts:
        starts.add(next_period(max(starts), period))
    return {partition_name(table, s, period): (_ms(s), _ms(next_period(s, period))) for s in starts}


async def existing_partitions(conn: asyncpg.Connection, table: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1 "
        "AND p.relnamespace = current_schema()::regnamespace",
        table,
    )
    return {r["relname"] for r in rows}


async def create_partitions(
    conn: asyncpg.Connection, table: str, wanted: dict[str, tuple[int, int]]
) -> list[str]:
    """Create the missing ones under an advisory lock (collectors race for the same day)."""
    created: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_PARTITIONS)
        have = await existing_partitions(conn, table)
        for name, (lo, hi) in sorted(wanted.items()):
            if name in have:
                continue
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} "
                f"FOR VALUES FROM ({lo}) TO ({hi})"
            )
            created.append(name)
    return created


async def drop_partitions_before(conn: asyncpg.Connection, table: str, cutoff_ms: int) -> list[str]:
    """Retention: drop whole partitions of `table` that end at or before cutoff_ms."""
    rows = await conn.fetch(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relname = $1 AND p.relnamespace = current_schema()::regnamespace",
        table,
    )
    dropped: list[str] = []
    for r in rows:
        # "FOR VALUES FROM ('lo') TO ('hi')" -> hi
        hi = int(r["bound"].rsplit("(", 1)[1].strip("')"))
        if hi <= cutoff_ms:
            await conn.execute(f"DROP TABLE {r['relname']}")
            dropped.append(r["relname"])
    return sorted(dropped)


# --------------------------------------------------------------------------- writing


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

"""The PostgreSQL backend: connecting and versioning (partitions: `pg_partitions`; the
writer's batch sink: `pg_sink`).

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
import logging
import socket

import asyncpg

from perptui.core.units import DAY_MS
from perptui.errors import StoreError
from perptui.store import pg_schema
from perptui.store.backend import redact
from perptui.store.migrations import LATEST_VERSION, MARK_LEGACY_DEPTH_SQL

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
SCHEMA_TABLE = "perptui_schema"
# pg_advisory_xact_lock key of schema upgrades (partition creation: pg_partitions).
LOCK_SCHEMA = 0x7065_7270_0001
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

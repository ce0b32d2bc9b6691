"""The SQLite schema and its migrations.

The version lives in `PRAGMA user_version` (0 = never migrated: a new file, or one made
by the seed script).  `MIGRATIONS` is ordered; migration *n* takes a database from
version n-1 to n, and all pending ones run in a single transaction so an interrupted
upgrade leaves the old version intact.  Migration 1 is `schema.sql`.

Adding a migration: append `Migration(3, "...", fn)`, where `fn` must be safe on
a database whose tables were created by the *current* schema.sql too (new
databases run every migration in order, starting with schema.sql) — use
`add_column_if_missing` rather than a bare ALTER TABLE.

`ownership_problem` tells a database perptui made from one it did not (same table
names, other columns), so perptui never writes into someone else's file.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from perptui.errors import StoreError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]  # runs inside the migration transaction


def schema_sql() -> str:
    """The shipped schema.sql (package data; a symlink to the top-level file in a checkout)."""
    return (resources.files("perptui") / "data" / "schema.sql").read_text(encoding="utf-8")


def split_statements(script: str) -> Iterator[str]:
    """Statements of an SQL script, one at a time.

    `executescript` would COMMIT any open transaction first, so migrations run
    statements one by one inside their own BEGIN ... COMMIT instead.
    """
    pending: list[str] = []
    for line in script.splitlines(keepends=True):
        pending.append(line)
        text = "".join(pending)
        if sqlite3.complete_statement(text):
            if text.strip():
                yield text.strip()
            pending.clear()
    rest = "".join(pending).strip()
    # Trailing comments without a statement are fine; an unterminated statement is not.
    if rest and any(
        line.strip() and not line.strip().startswith("--") for line in rest.splitlines()
    ):
        raise ValueError(f"unterminated SQL statement: {rest[:80]!r}")


def table_columns(conn: Any, table: str) -> dict[str, tuple]:
    """PRAGMA table_info rows by column name, on either backend's blocking connection."""
    if not isinstance(conn, sqlite3.Connection):
        return conn.table_columns(table)  # PgSyncConnection: the same shape
    return {row[1]: row for row in conn.execute(f"PRAGMA table_info({table})")}


def add_column_if_missing(conn: sqlite3.Connection, table: str, column_def: str) -> bool:
    """ALTER TABLE ... ADD COLUMN unless a column of that name exists. True if added."""
    name = column_def.split()[0]
    if name in table_columns(conn, table):
        return False
    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column_def}")
    return True


def _existing_tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


# A default ALTER TABLE ADD COLUMN accepts: a number, a string literal, NULL, TRUE or
# FALSE.  PRAGMA table_info strips the outer parentheses of an expression default
# (`DEFAULT (CAST(...))` reads back as `CAST(...)`), so "does not start with (" is
# not the test.
_LITERAL_DEFAULT = re.compile(r"^([-+]?\d+(\.\d+)?|'(?:[^']|'')*'|NULL|TRUE|FALSE)$", re.IGNORECASE)
# Every perptui table, the seed's included, is keyed by these.
_KEY_COLUMNS = frozenset({"exchange", "symbol", "timestamp"})


def _schema_tables(script: str) -> dict[str, set[str]]:
    """Table -> column names of schema.sql, built in a scratch in-memory database."""
    scratch = sqlite3.connect(":memory:")
    try:
        for stmt in split_statements(script):
            scratch.execute(stmt)
        return {t: set(table_columns(scratch, t)) for t in _existing_tables(scratch)}
    finally:
        scratch.close()


def ownership_problem(conn: sqlite3.Connection, label: str) -> str | None:
    """Why `conn`'s database is not one perptui may open, or None.  Reads only.

    Refused before anything is written (no WAL switch, no table, no user_version):
    a schema newer than this code, and, at version 0, any table that is not one of
    perptui's or has a column perptui's never had -- only the seed script's shape
    (perptui's tables with a subset of the columns) is adopted.
    """
    version = user_version(conn)
    if version > LATEST_VERSION:
        return (
            f"{label} has schema version {version}, newer than this perptui knows "
            f"({LATEST_VERSION}); upgrade perptui"
        )
    if version > 0:
        return None
    present = {
        t: set(table_columns(conn, t))
        for t in _existing_tables(conn)
        if not t.startswith("sqlite_")
    }
    if not present:
        return None
    ours = _schema_tables(schema_sql())
    foreign = sorted(t for t in present if t not in ours)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        return f"{label} is not a perptui database (it has table(s) {shown}); left untouched"
    for table, cols in sorted(present.items()):
        unknown = sorted(cols - ours[table])
        if unknown or not _KEY_COLUMNS <= cols:
            what = (
                f"columns {', '.join(unknown[:5])}" if unknown else "no exchange/symbol/timestamp"
            )
            return f"{label} is not a perptui database (table {table} has {what}); left untouched"
    return None


def _adopt_legacy_tables(conn: sqlite3.Connection, script: str) -> None:
    """Bring tables that exist before migration 1 (the seed script's) up to schema.sql.

    The target shape is read from the schema itself, built in a scratch in-memory
    database, so this never drifts from schema.sql.  Missing columns are added
    (NOT NULL and non-constant defaults cannot be added by ALTER TABLE; such
    columns come in nullable).  Before a UNIQUE index is created, duplicate rows
    on its key are removed, keeping the first written, and a same-named
    non-unique index from the seed is dropped so IF NOT EXISTS doesn't keep it.
    """
    present = _existing_tables(conn)
    if not present:
        return
    scratch = sqlite3.connect(":memory:")
    try:
        for stmt in split_statements(script):
            scratch.execute(stmt)
        for table in sorted(_existing_tables(scratch) & present):
            have = table_columns(conn, table)
            for _cid, name, ctype, notnull, default, _pk in table_columns(scratch, table).values():
                if name in have:
                    continue
                constant_default = default is not None and bool(_LITERAL_DEFAULT.match(default))
                col = f"{name} {ctype}"
                if constant_default:
                    col += f" DEFAULT {default}"
                    if notnull:
                        col += " NOT NULL"
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {col}")
            for _seq, index, unique, _origin, _partial in scratch.execute(
                f"PRAGMA index_list({table})"
            ):
                if not unique or index.startswith("sqlite_autoindex"):
                    continue
                cols = [r[2] for r in scratch.execute(f"PRAGMA index_info({index})")]
                existing = {r[1]: r[2] for r in conn.execute(f"PRAGMA index_list({table})")}
                if existing.get(index) == 1:
                    continue
                if index in existing:
                    conn.execute(f"DROP INDEX {index}")
                key = ", ".join(cols)
                conn.execute(
                    f"DELETE FROM {table} WHERE rowid NOT IN "
                    f"(SELECT MIN(rowid) FROM {table} GROUP BY {key})"
                )
    finally:
        scratch.close()


def _migration_1(conn: sqlite3.Connection) -> None:
    script = schema_sql()
    _adopt_legacy_tables(conn, script)
    for stmt in split_statements(script):
        conn.execute(stmt)


# Rows logged before version 2 had their depth computed from the 20 levels a side the
# engine trimmed books to; they are marked rather than silently mixed with full-book rows.
MARK_LEGACY_DEPTH_SQL = (
    "UPDATE order_book_snapshots SET depth_basis = 'top20' WHERE depth_basis IS NULL"
)


def _migration_2(conn: sqlite3.Connection) -> None:
    # The new columns come from schema.sql itself (the same adoption step as for
    # legacy tables), so this never drifts from it.
    _adopt_legacy_tables(conn, schema_sql())
    conn.execute(MARK_LEGACY_DEPTH_SQL)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "schema.sql: funding_rates, order_book_snapshots, ohlcv, signals", _migration_1),
    Migration(
        2,
        "snapshots: every band's imbalance and reached flag, reach, levels, depth_basis; "
        "earlier rows marked depth_basis='top20'",
        _migration_2,
    ),
)
LATEST_VERSION = MIGRATIONS[-1].version


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(
    conn: sqlite3.Connection,
    label: str,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> int:
    """Apply pending migrations in one transaction; returns the resulting version.

    `conn` must be in autocommit mode (isolation_level=None).  BEGIN IMMEDIATE
    takes the write lock first, so two processes opening an old database at once
    upgrade it once: the second waits (busy_timeout), then finds nothing to do.
    """
    latest = migrations[-1].version if migrations else 0
    current = user_version(conn)
    if current > latest:
        raise StoreError(
            f"{label} has schema version {current}, newer than this perptui knows "
            f"({latest}); upgrade perptui"
        )
    if current == latest:
        return current
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = user_version(conn)  # re-read under the lock
        for m in migrations:
            if m.version > current:
                m.apply(conn)
                # user_version lives in the header page: it commits or rolls back with the rest.
                conn.execute(f"PRAGMA user_version = {int(m.version)}")
                current = m.version
        conn.execute("COMMIT")
    except BaseException as exc:
        conn.execute("ROLLBACK")
        if isinstance(exc, StoreError):
            raise
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"cannot upgrade {label} to schema version {latest}: {exc}") from exc
        raise
    return current

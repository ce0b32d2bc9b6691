"""PostgreSQL DDL derived from schema.sql, so the two backends cannot drift apart.

schema.sql (SQLite dialect) stays the one description of the tables.  This
module builds it in a scratch in-memory SQLite database and reads the result
back through PRAGMAs, then writes the same tables for PostgreSQL: INTEGER ->
BIGINT (epoch ms overflow int4), REAL -> DOUBLE PRECISION (PostgreSQL's REAL is
float4), the rowid `id` -> a sequence-backed BIGINT (identity columns are not
allowed on partitioned tables before PostgreSQL 17), SQLite's julianday() "now
in ms" default -> clock_timestamp().  CHECK constraints are copied as written
(their expressions are plain SQL both dialects accept).  Anything schema.sql
might grow that this translation does not understand (an expression index, a
non-constant default of another form, a new column type) raises at import-free
call time, and the PostgreSQL tests run it, so drift fails loudly.

Pure: no connection to PostgreSQL here.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from perptui.store.db import MEMORY
from perptui.store.migrations import schema_sql, split_statements

# The big tables, partitioned on `timestamp` (epoch ms) by these periods.
# Snapshots arrive every second per book, so a day is one partition; funding and
# candles are sparse and backfilled over years, so a calendar month keeps the
# partition count in the hundreds at most.
PARTITION_PERIODS: dict[str, str] = {
    "order_book_snapshots": "day",
    "funding_rates": "month",
    "ohlcv": "month",
}

NOW_MS_SQL = "(floor(extract(epoch FROM clock_timestamp()) * 1000))::bigint"
_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "TEXT": "TEXT"}
# Element types for the unnest() casts of the batched insert.
ARRAY_TYPES = {"BIGINT": "bigint[]", "DOUBLE PRECISION": "float8[]", "TEXT": "text[]"}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    pg_type: str
    not_null: bool
    default: str | None  # PostgreSQL default expression, or None


@dataclass(frozen=True, slots=True)
class Index:
    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool

    def ddl(self) -> str:
        kind = "UNIQUE INDEX" if self.unique else "INDEX"
        return (
            f"CREATE {kind} IF NOT EXISTS {self.name} ON {self.table} ({', '.join(self.columns)})"
        )


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    checks: tuple[str, ...]
    indexes: tuple[Index, ...]

    @property
    def column_types(self) -> dict[str, str]:
        return {c.name: c.pg_type for c in self.columns}

    def sequence(self) -> str:
        return f"{self.name}_id_seq"

    def ddl(self, *, partitioned: bool) -> list[str]:
        """Statements creating this table (and its id sequence), idempotently."""
        parts = []
        for c in self.columns:
            text = f"{c.name} {c.pg_type}"
            if c.not_null:
                text += " NOT NULL"
            if c.default is not None:
                text += f" DEFAULT {c.default}"
            parts.append(text)
        parts += [f"CHECK ({expr})" for expr in self.checks]
        body = ",\n    ".join(parts)
        tail = " PARTITION BY RANGE (timestamp)" if partitioned else ""
        return [
            f"CREATE SEQUENCE IF NOT EXISTS {self.sequence()}",
            f"CREATE TABLE IF NOT EXISTS {self.name} (\n    {body}\n){tail}",
            f"ALTER SEQUENCE {self.sequence()} OWNED BY {self.name}.id",
        ]


def _checks(create_sql: str) -> tuple[str, ...]:
    """The CHECK (...) expressions of a CREATE TABLE statement, parentheses balanced."""
    out: list[str] = []
    for m in re.finditer(r"\bCHECK\s*\(", create_sql, flags=re.IGNORECASE):
        depth, i = 1, m.end()
        while depth and i < len(create_sql):
            depth += {"(": 1, ")": -1}.get(create_sql[i], 0)
            i += 1
        out.append(create_sql[m.end() : i - 1].strip())
    return tuple(out)


def _default(table: str, column: str, sqlite_default: str | None) -> str | None:
    if sqlite_default is None:
        return None
    if "julianday('now')" in sqlite_default.replace(" ", "").lower():
        return NOW_MS_SQL
    if re.fullmatch(r"'[^']*'|-?\d+(\.\d+)?|NULL", sqlite_default.strip(), flags=re.IGNORECASE):
        return sqlite_default.strip()
    raise ValueError(f"schema.sql: no PostgreSQL translation for default of {table}.{column}")


def _table(conn: sqlite3.Connection, name: str, create_sql: str) -> Table:
    columns: list[Column] = []
    for _cid, col, ctype, notnull, default, pk in conn.execute(f"PRAGMA table_info({name})"):
        ctype = (ctype or "").upper()
        if pk and col == "id" and ctype == "INTEGER":
            columns.append(Column("id", "BIGINT", True, f"nextval('{name}_id_seq')"))
            continue
        if pk:
            raise ValueError(f"schema.sql: {name}.{col}: only an INTEGER id may be the key")
        try:
            pg_type = _TYPES[ctype]
        except KeyError:
            raise ValueError(f"schema.sql: no PostgreSQL type for {name}.{col} {ctype}") from None
        columns.append(Column(col, pg_type, bool(notnull), _default(name, col, default)))
    indexes: list[Index] = []
    for _seq, index, unique, origin, partial in conn.execute(f"PRAGMA index_list({name})"):
        if origin == "pk":
            continue
        if partial or origin != "c":
            raise ValueError(f"schema.sql: index {index} cannot be translated")
        cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index})"))
        if any(c is None for c in cols):
            raise ValueError(f"schema.sql: expression index {index} cannot be translated")
        indexes.append(Index(index, name, cols, bool(unique)))
    indexes.sort(key=lambda ix: ix.name)
    return Table(name, tuple(columns), _checks(create_sql), tuple(indexes))


def tables(script: str | None = None) -> dict[str, Table]:
    """Every table of schema.sql (or `script`), in the order the script creates them."""
    conn = sqlite3.connect(MEMORY)
    try:
        for stmt in split_statements(script if script is not None else schema_sql()):
            conn.execute(stmt)
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        ).fetchall()
        return {name: _table(conn, name, sql) for name, sql in rows}
    finally:
        conn.close()


def partition_key_problems(schema: dict[str, Table]) -> list[str]:
    """Unique indexes of partitioned tables that leave out `timestamp` (PostgreSQL refuses them)."""
    return [
        f"{ix.name} on {t.name} must include timestamp to be unique on a partitioned table"
        for t in schema.values()
        if t.name in PARTITION_PERIODS
        for ix in t.indexes
        if ix.unique and "timestamp" not in ix.columns
    ]

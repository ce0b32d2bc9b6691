"""Native PostgreSQL partitions of the big tables: which range partitions rows need,
creating them ahead of the rows (under an advisory lock, as collectors race for the same
day), and retention by dropping whole partitions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import asyncpg

from perptui.store import pg_schema

# pg_advisory_xact_lock key of partition creation (schema upgrades: pg.LOCK_SCHEMA).
LOCK_PARTITIONS = 0x7065_7270_0002


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

"""PostgreSQL-only behaviour against a real server: schema from schema.sql, versioning,
partitions, bad URLs, and a writer that survives its connection being killed."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

import pytest
from pg_helpers import admin, fetch, wait_for, with_login

from perptui.core.model import BookSnapshot, Candle
from perptui.errors import StoreError
from perptui.store import db as store_db
from perptui.store import migrations, pg, pg_partitions, pg_schema
from perptui.store.backend import redact
from perptui.store.rows import TABLE_COLUMNS
from perptui.store.writer import Writer

SYM = "BTC/USDT:USDT"
DAY = 86_400_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def candle(i: int, close: float = 1.5) -> Candle:
    return Candle("binance", SYM, "1m", T0 + i * 60_000, 1.0, 2.0, 0.5, close, 10.0)


def snap(ts: int, exchange: str = "okx") -> BookSnapshot:
    return BookSnapshot(exchange, SYM, ts, ((100.0, 1.0),), ((100.2, 2.0),))


# -- schema ----------------------------------------------------------------------------


def test_generated_tables_match_schema_sql_column_for_column() -> None:
    conn = sqlite3.connect(":memory:")
    for stmt in migrations.split_statements(migrations.schema_sql()):
        conn.execute(stmt)
    for name, table in pg_schema.tables().items():
        sqlite_cols = [r[1] for r in conn.execute(f"PRAGMA table_info({name})")]
        assert [c.name for c in table.columns] == sqlite_cols
        assert set(TABLE_COLUMNS[name]) <= set(sqlite_cols)
    assert pg_schema.partition_key_problems(pg_schema.tables()) == []


def test_untranslatable_schema_fails_loudly() -> None:
    with pytest.raises(ValueError, match="no PostgreSQL type"):
        pg_schema.tables("CREATE TABLE t (id INTEGER PRIMARY KEY, x BLOB);\n")
    with pytest.raises(ValueError, match="expression index"):
        pg_schema.tables("CREATE TABLE t (x TEXT);\nCREATE INDEX ix ON t (lower(x));\n")


async def test_new_database_gets_schema_version_and_partitions(pg_url: str) -> None:
    conn, mode = await pg.connect(pg_url)
    try:
        assert mode == pg.NATIVE  # no TimescaleDB on the test server
        assert await pg.schema_state(conn) == (migrations.LATEST_VERSION, pg.NATIVE)
        kinds = dict(
            await conn.fetch(
                "SELECT relname, relkind::text FROM pg_class WHERE relname = ANY($1::text[])",
                list(pg_schema.tables()),
            )
        )
        assert kinds == {
            "funding_rates": "p",
            "order_book_snapshots": "p",
            "ohlcv": "p",
            "signals": "r",
        }
        cols = await conn.fetch(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'order_book_snapshots' ORDER BY ordinal_position"
        )
        types = dict(cols)
        assert types["timestamp"] == "bigint" and types["mid_price"] == "double precision"
    finally:
        await conn.close()
    # A second open (another collector starting) finds nothing to do.
    conn, mode = await pg.connect(pg_url)
    await conn.close()


async def test_collectors_starting_at_once_on_a_new_database_set_it_up_once(pg_url: str) -> None:
    """N collectors on one fresh database: one creates the schema, the others wait and use it."""
    got = await asyncio.gather(*(pg.connect(pg_url) for _ in range(6)), return_exceptions=True)
    errors = [g for g in got if isinstance(g, BaseException)]
    for g in got:
        if not isinstance(g, BaseException):
            await g[0].close()
    assert errors == []
    assert await fetch(pg_url, "SELECT version FROM perptui_schema") == [
        (migrations.LATEST_VERSION,)
    ]


async def test_writer_creates_partitions_ahead_and_rows_land_in_them(pg_url: str) -> None:
    async with Writer(pg_url) as w:
        for i in range(3):
            w.submit(snap(T0 + i * DAY + 5))
        w.submit(candle(0))
    parts = await fetch(
        pg_url,
        "SELECT c.relname, count(*) OVER () FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relname = 'order_book_snapshots' ORDER BY 1",
    )
    # One partition per day of data, plus the next day created ahead.
    assert [p[0] for p in parts] == [
        "order_book_snapshots_p20240101",
        "order_book_snapshots_p20240102",
        "order_book_snapshots_p20240103",
        "order_book_snapshots_p20240104",
    ]
    per = await fetch(
        pg_url,
        "SELECT tableoid::regclass::text, count(*) FROM order_book_snapshots GROUP BY 1 ORDER BY 1",
    )
    assert per == [
        ("order_book_snapshots_p20240101", 1),
        ("order_book_snapshots_p20240102", 1),
        ("order_book_snapshots_p20240103", 1),
    ]
    months = await fetch(pg_url, "SELECT tableoid::regclass::text FROM ohlcv")
    assert months == [("ohlcv_p202401",)]


async def test_retention_drops_whole_old_partitions(pg_url: str) -> None:
    async with Writer(pg_url) as w:
        for i in range(4):
            w.submit(snap(T0 + i * DAY))
    conn, _ = await pg.connect(pg_url)
    try:
        dropped = await pg_partitions.drop_partitions_before(
            conn, "order_book_snapshots", T0 + 2 * DAY
        )
        assert dropped == ["order_book_snapshots_p20240101", "order_book_snapshots_p20240102"]
        left = await conn.fetch("SELECT timestamp FROM order_book_snapshots ORDER BY 1")
        assert [r[0] for r in left] == [T0 + 2 * DAY, T0 + 3 * DAY]
    finally:
        await conn.close()


async def test_schema_from_a_newer_perptui_is_refused(pg_url: str) -> None:
    conn, _ = await pg.connect(pg_url)
    await conn.execute("UPDATE perptui_schema SET version = 999")
    await conn.close()
    with pytest.raises(StoreError, match="schema version 999, newer than this perptui"):
        await Writer(pg_url).start()
    with pytest.raises(StoreError, match="newer than this perptui"):
        store_db.connect_sync(pg_url, readonly=True)


async def test_an_older_schema_is_upgraded_in_place(pg_url: str) -> None:
    async with Writer(pg_url) as w:
        w.submit(candle(1))
    # An older perptui's database: version 0 in the table, a column it never had.
    await admin(
        pg_url,
        "UPDATE perptui_schema SET version = 0",
        "ALTER TABLE ohlcv DROP COLUMN volume",
    )
    async with Writer(pg_url) as w:
        w.submit(candle(2))
    got = await fetch(pg_url, "SELECT version FROM perptui_schema")
    assert got == [(migrations.LATEST_VERSION,)]
    vols = await fetch(pg_url, "SELECT timestamp, volume FROM ohlcv ORDER BY 1")
    assert vols == [(T0 + 60_000, None), (T0 + 120_000, 10.0)]


async def test_tables_perptui_did_not_create_are_left_alone(pg_url: str) -> None:
    await admin(pg_url, "CREATE TABLE ohlcv (whatever TEXT)", "INSERT INTO ohlcv VALUES ('x')")
    with pytest.raises(StoreError, match=r"already has table.*ohlcv.*perptui did not create"):
        await Writer(pg_url).start()
    assert await fetch(pg_url, "SELECT * FROM ohlcv") == [("x",)]
    assert await fetch(pg_url, "SELECT to_regclass('perptui_schema')") == [(None,)]


# -- bad URLs --------------------------------------------------------------------------


async def test_unreachable_server_is_one_line() -> None:
    with pytest.raises(
        StoreError, match=r"cannot reach PostgreSQL at postgresql://u@127\.0\.0\.1:1/x"
    ):
        await Writer("postgresql://u:secret@127.0.0.1:1/x").start()


async def test_wrong_password_is_refused_and_not_shown(pg_url: str) -> None:
    bad = with_login(pg_url, "perptui_ci", "not-the-password")
    with pytest.raises(StoreError, match="refused the login") as err:
        await Writer(bad).start()
    assert "not-the-password" not in str(err.value)
    assert redact(bad) in str(err.value)


async def test_missing_database_is_named(pg_server: str) -> None:
    from pg_helpers import with_database

    url = with_database(pg_server, "perptui_no_such_db")
    with pytest.raises(StoreError, match="no database at"):
        await Writer(url).start()


async def test_role_without_permissions_is_one_line(pg_url: str) -> None:
    role = f"perptui_t_ro_{uuid.uuid4().hex[:8]}"
    await admin(pg_url, f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
    try:
        url = with_login(pg_url, role, "pw")
        with pytest.raises(StoreError, match="no permission to set up perptui's tables"):
            await Writer(url).start()
        # Tables made by their owner, but this role may not read them.
        async with Writer(pg_url) as w:
            w.submit(candle(1))
        from perptui.store import load_ohlcv

        with pytest.raises(StoreError, match="permission denied"):
            await asyncio.to_thread(load_ohlcv, url)
    finally:
        await admin(pg_url, f"DROP ROLE {role}")


# -- connection loss -------------------------------------------------------------------


async def _writer_pids(server: str, url: str) -> set[int]:
    db = url.rsplit("/", 1)[1]
    rows = await fetch(server, "SELECT pid FROM pg_stat_activity WHERE datname = $1", db)
    return {r[0] for r in rows}


async def _cut(server: str, url: str, *, block: bool | None = None) -> int:
    """From the server's own database: refuse (or allow again) new connections; kill the rest."""
    db = url.rsplit("/", 1)[1]
    if block is not None:
        await admin(server, f"ALTER DATABASE {db} ALLOW_CONNECTIONS {'false' if block else 'true'}")
    if block is False:
        return 0
    rows = await fetch(
        server, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", db
    )
    return len(rows)


async def test_writer_reconnects_after_its_backend_is_terminated(
    pg_server: str, pg_url: str
) -> None:
    async with Writer(pg_url, batch_rows=10, retry_delays=(0.05,)) as w:
        for i in range(10):
            w.submit(candle(i))
        await w.flush()
        before = await _writer_pids(pg_server, pg_url)
        assert await _cut(pg_server, pg_url) == 1
        for i in range(10, 30):
            w.submit(candle(i))
        await w.flush()
        after = await _writer_pids(pg_server, pg_url)
    assert len(before) == len(after) == 1 and before != after  # a new backend took over
    assert w.rows_written == 30 and w.dropped == 0
    got = await fetch(pg_url, "SELECT count(*), count(DISTINCT timestamp) FROM ohlcv")
    assert got == [(30, 30)]


async def test_outage_buffers_within_bound_and_loses_nothing_accepted(
    pg_server: str, pg_url: str
) -> None:
    w = Writer(pg_url, batch_rows=20, flush_interval=0.05, max_queue=50, retry_delays=(0.05,))
    await w.start()
    try:
        w.submit(candle(0))
        await w.flush()
        # The server refuses this database for a while, and kills the writer's link.
        await _cut(pg_server, pg_url, block=True)
        accepted = [w.submit(candle(i)) for i in range(1, 121)]
        await wait_for(lambda: w.failed_attempts >= 2, timeout=10.0)
        assert w.queue_depth <= 50 + 20  # the queue bound, plus the batch in hand
        assert accepted.count(False) == w.dropped > 0
        assert w.running
    finally:
        await _cut(pg_server, pg_url, block=False)
    await w.close()
    stored = {r[0] for r in await fetch(pg_url, "SELECT timestamp FROM ohlcv")}
    wanted = {candle(0).timestamp} | {
        candle(i).timestamp for i, ok in zip(range(1, 121), accepted, strict=True) if ok
    }
    assert stored == wanted


def test_doctor_checks_a_postgresql_url_without_changing_it(pg_url: str) -> None:
    from perptui.doctor import check_db

    fresh = check_db(pg_url)
    assert fresh.ok and "tables will be created" in fresh.detail
    assert asyncio.run(fetch(pg_url, "SELECT to_regclass('perptui_schema')")) == [(None,)]
    store_db.connect_sync(pg_url).close()  # a reader sets the schema up
    ready = check_db(pg_url)
    assert ready.ok and f"schema {migrations.LATEST_VERSION}, native partitions" in ready.detail
    down = check_db("postgresql://u:pw@127.0.0.1:1/x")
    assert not down.ok and "cannot reach PostgreSQL" in down.detail and "pw" not in down.detail


def test_the_monitors_funding_history_panel_reads_postgresql(pg_url: str) -> None:
    """Several collectors' rows in one database: the panel shows every venue's history."""
    from pg_helpers import write_all

    from perptui.core.model import FundingRecord
    from perptui.ui.app import load_funding_history

    write_all(pg_url, [FundingRecord("okx", SYM, T0 + k * 8 * 3_600_000, 0.0001) for k in range(3)])
    write_all(
        pg_url, [FundingRecord("bybit", SYM, T0 + k * 8 * 3_600_000, 0.0002) for k in range(2)]
    )
    history, note = load_funding_history(pg_url, SYM)
    assert note == "settled"
    assert {v: len(h) for v, h in history.items()} == {"okx": 3, "bybit": 2}
    assert history["bybit"][0] == (T0, 0.0002)

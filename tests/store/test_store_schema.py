"""Schema, migrations and the StoreErrors for unusable database paths (real SQLite files)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from perptui.errors import StoreError
from perptui.store import db as store_db
from perptui.store import migrations
from perptui.store.db import connect, connect_sync
from perptui.store.migrations import (
    LATEST_VERSION,
    MIGRATIONS,
    Migration,
    add_column_if_missing,
    migrate,
    schema_sql,
    split_statements,
)

REPO = Path(__file__).resolve().parents[2]

TABLES = {"funding_rates", "order_book_snapshots", "ohlcv", "signals"}
UNIQUE_KEYS = {
    "uq_funding_rates_key": ("funding_rates", ["exchange", "symbol", "kind", "timestamp"]),
    "idx_order_book_symbol_time": (
        "order_book_snapshots",
        ["exchange", "symbol", "timestamp"],
    ),
    "uq_ohlcv_key": ("ohlcv", ["exchange", "symbol", "timeframe", "timestamp"]),
    "uq_signals_key": ("signals", ["kind", "exchange", "symbol", "timestamp"]),
}


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def unique_indexes(conn: sqlite3.Connection, table: str) -> dict[str, list[str]]:
    out = {}
    for _seq, name, unique, _origin, _partial in conn.execute(f"PRAGMA index_list({table})"):
        if unique:
            out[name] = [r[2] for r in conn.execute(f"PRAGMA index_info({name})")]
    return out


def make_db_with_rows(path: Path, n: int = 20_000) -> None:
    conn = connect_sync(path)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO ohlcv (exchange, symbol, timeframe, timestamp, open, high, low, close,"
        " volume) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [("binance", "BTC/USDT:USDT", "1m", i * 60_000, 1, 2, 0.5, 1.5, 9) for i in range(n)],
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything into the main file
    conn.close()


# -- the shipped schema ------------------------------------------------------------


def test_package_schema_is_the_top_level_file() -> None:
    link = REPO / "perptui" / "data" / "schema.sql"
    assert link.is_symlink()
    assert link.resolve() == (REPO / "schema.sql").resolve()
    assert schema_sql() == (REPO / "schema.sql").read_text(encoding="utf-8")


def test_fresh_database_has_all_tables_indexes_and_version(tmp_path: Path) -> None:
    conn = connect_sync(tmp_path / "new.db")
    try:
        assert TABLES <= tables(conn)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        for name, (table, cols) in UNIQUE_KEYS.items():
            assert unique_indexes(conn, table).get(name) == cols, name
        idx = {r[1] for r in conn.execute("PRAGMA index_list(funding_rates)")}
        assert "idx_funding_rates_symbol_time" in idx
        assert columns(conn, "funding_rates")[:4] == ["id", "exchange", "symbol", "timestamp"]
        for col in ("funding_time", "next_funding_time", "interval_hours", "annualized_rate"):
            assert col in columns(conn, "funding_rates")
        for col in ("best_bid", "mid_price", "spread_bps", "imbalance", "raw_data"):
            assert col in columns(conn, "order_book_snapshots")
    finally:
        conn.close()


def test_schema_applies_twice_without_error(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "twice.db")
    for _ in range(2):
        for stmt in split_statements(schema_sql()):
            conn.execute(stmt)
    assert TABLES <= tables(conn)
    conn.close()


def test_kind_is_constrained_and_created_at_defaults_to_ms(tmp_path: Path) -> None:
    conn = connect_sync(tmp_path / "k.db")
    conn.execute("INSERT INTO funding_rates (exchange, symbol, timestamp) VALUES ('b', 's', 1)")
    row = conn.execute("SELECT kind, created_at FROM funding_rates").fetchone()
    assert row[0] == "live"
    assert row[1] > 1_600_000_000_000  # epoch ms, not seconds or text
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO funding_rates (exchange, symbol, timestamp, kind) VALUES ('b','s',2,'x')"
        )
    conn.close()


async def test_async_connect_sets_wal_normal_and_busy_timeout(tmp_path: Path) -> None:
    conn = await connect(tmp_path / "a.db")
    try:
        async with conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
        async with conn.execute("PRAGMA synchronous") as cur:
            assert (await cur.fetchone())[0] == 1  # NORMAL
        async with conn.execute("PRAGMA busy_timeout") as cur:
            assert (await cur.fetchone())[0] == store_db.BUSY_TIMEOUT_MS
        async with conn.execute("PRAGMA user_version") as cur:
            assert (await cur.fetchone())[0] == LATEST_VERSION
    finally:
        await conn.close()


def test_reopening_keeps_data_and_version(tmp_path: Path) -> None:
    path = tmp_path / "re.db"
    make_db_with_rows(path, 10)
    conn = connect_sync(path)
    assert conn.execute("SELECT COUNT(*) FROM ohlcv").fetchone()[0] == 10
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    conn.close()


# -- migrations ----------------------------------------------------------------------

SEED_SCHEMA = """
CREATE TABLE funding_rates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    funding_rate REAL,
    funding_time INTEGER,
    next_funding_time INTEGER,
    mark_price REAL,
    index_price REAL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_funding_rates_symbol_time ON funding_rates(exchange, symbol, timestamp);
CREATE TABLE order_book_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    best_bid REAL,
    best_ask REAL,
    mid_price REAL,
    spread_bps REAL,
    bid_depth_1pct REAL,
    ask_depth_1pct REAL,
    imbalance REAL,
    raw_data TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_order_book_symbol_time ON order_book_snapshots(exchange, symbol, timestamp);
"""


def test_seed_database_is_upgraded_in_place(tmp_path: Path) -> None:
    """A database made by the seed script (version 0, no constraints) becomes v1."""
    path = tmp_path / "seed.db"
    seed = sqlite3.connect(path)
    seed.executescript(SEED_SCHEMA)
    seed.executemany(
        "INSERT INTO funding_rates (exchange, symbol, timestamp, funding_rate) VALUES (?,?,?,?)",
        [("binance", "BTC/USDT:USDT", 1000, 0.0001)] * 2 + [("okx", "BTC/USDT:USDT", 1000, 0.0002)],
    )
    seed.executemany(
        "INSERT INTO order_book_snapshots (exchange, symbol, timestamp, mid_price) VALUES (?,?,?,?)",
        [("binance", "BTC/USDT:USDT", 5, 100.0), ("binance", "BTC/USDT:USDT", 5, 101.0)],
    )
    seed.commit()
    seed.close()

    conn = connect_sync(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
        assert TABLES <= tables(conn)
        for col in ("kind", "interval_hours", "annualized_rate", "predicted_rate"):
            assert col in columns(conn, "funding_rates")
        assert "bid_depth_5pct" in columns(conn, "order_book_snapshots")
        # Duplicates on the new keys were collapsed, keeping the first row written.
        funding = conn.execute(
            "SELECT exchange, funding_rate, kind FROM funding_rates ORDER BY id"
        ).fetchall()
        assert funding == [("binance", 0.0001, "live"), ("okx", 0.0002, "live")]
        books = conn.execute("SELECT mid_price FROM order_book_snapshots").fetchall()
        assert books == [(100.0,)]
        # The seed's plain index was replaced by the unique one of the same name.
        for name, (table, cols) in UNIQUE_KEYS.items():
            assert unique_indexes(conn, table).get(name) == cols, name
        cur = conn.execute(
            "INSERT OR IGNORE INTO order_book_snapshots (exchange, symbol, timestamp) "
            "VALUES ('binance', 'BTC/USDT:USDT', 5)"
        )
        assert cur.rowcount == 0
    finally:
        conn.close()


def test_migration_path_applies_pending_steps_in_order(tmp_path: Path) -> None:
    path = tmp_path / "current.db"
    connect_sync(path).close()  # a database at the current version
    n = LATEST_VERSION

    def v2(conn: sqlite3.Connection) -> None:
        add_column_if_missing(conn, "ohlcv", "trades INTEGER")

    def v3(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT)")

    future = (*MIGRATIONS, Migration(n + 1, "trades", v2), Migration(n + 2, "notes", v3))
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, str(path), future) == n + 2
    assert conn.execute("PRAGMA user_version").fetchone()[0] == n + 2
    assert "trades" in columns(conn, "ohlcv")
    assert "notes" in tables(conn)
    assert migrate(conn, str(path), future) == n + 2  # nothing left to do
    conn.close()


def test_failed_migration_rolls_back_everything(tmp_path: Path) -> None:
    path = tmp_path / "fail.db"
    connect_sync(path).close()

    def v2(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")

    def v3(conn: sqlite3.Connection) -> None:
        conn.execute("SELECT * FROM no_such_table")

    steps = (*MIGRATIONS, Migration(2, "ok", v2), Migration(3, "broken", v3))
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(StoreError, match=r"cannot upgrade .* to schema version 3"):
        migrate(conn, str(path), steps)
    # Both steps ran in one transaction: v2's table is gone and the version is unchanged.
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    assert "half_done" not in tables(conn)
    conn.close()


@pytest.mark.parametrize("readonly", [False, True])
def test_newer_schema_than_known_is_refused(tmp_path: Path, readonly: bool) -> None:
    path = tmp_path / "future.db"
    connect_sync(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="newer than this perptui knows"):
        connect_sync(path, readonly=readonly)


async def test_newer_schema_refused_by_async_connect(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="schema version 99"):
        await connect(path)


def test_readonly_open_migrates_an_old_writable_database(tmp_path: Path) -> None:
    path = tmp_path / "seed.db"
    seed = sqlite3.connect(path)
    seed.executescript(SEED_SCHEMA)
    seed.close()
    conn = connect_sync(path, readonly=True)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("INSERT INTO signals (kind, exchange, symbol, timestamp) VALUES (1,2,3,4)")
    conn.close()


# -- unusable paths --------------------------------------------------------------------


async def test_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "x.db"
    with pytest.raises(StoreError, match="directory does not exist") as err:
        await connect(path)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)
    assert not path.parent.exists()  # nothing was created


def test_readonly_directory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user (root) for whom chmod 555 does not stop writes")
        with pytest.raises(StoreError, match="directory is read-only"):
            connect_sync(ro / "x.db")
    finally:
        ro.chmod(0o755)


UNPRIVILEGED_CHILD = """
import sys
from perptui.errors import StoreError
from perptui.store.db import connect_sync
for path in sys.argv[1:]:
    try:
        connect_sync(path).close()
        print("opened")
    except StoreError as exc:
        print(exc)
"""


def test_readonly_directory_and_file_for_an_unprivileged_user() -> None:
    """chmod does not bind root, so as root run the real check as user nobody."""
    if os.geteuid() != 0:
        pytest.skip("not root: test_readonly_directory covers this with chmod")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv not available to drop privileges")
    base = Path(tempfile.mkdtemp(prefix="perptui-ro-"))  # pytest's tmp dir is 0700 root
    try:
        base.chmod(0o755)
        ro = base / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        rw = base / "rw"
        rw.mkdir()
        rw.chmod(0o777)
        connect_sync(rw / "root.db").close()  # owned by root, 0644
        as_nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        paths = [str(ro / "x.db"), str(rw / "root.db"), str(rw / "new.db")]
        proc = subprocess.run(
            [*as_nobody, sys.executable, "-c", UNPRIVILEGED_CHILD, *paths],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=base,
        )
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines == [
            f"cannot write database at {ro / 'x.db'}: directory is read-only",
            f"cannot write database at {rw / 'root.db'}: file is read-only",
            "opened",
        ]
        assert not (ro / "x.db").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_text_file_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a database\n" * 10)
    with pytest.raises(StoreError, match=r"notes.txt is not a SQLite database$"):
        connect_sync(path)
    with pytest.raises(StoreError, match="is not a SQLite database"):
        connect_sync(path, readonly=True)
    assert path.read_text().startswith("hello")  # untouched


async def test_text_file_async(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[perptui]\nvenues = ['binance']\n" * 20)
    with pytest.raises(StoreError, match="is not a SQLite database"):
        await connect(path)


def test_short_file_with_sqlite_magic_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "short.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 20)
    with pytest.raises(StoreError, match="is not a SQLite database"):
        connect_sync(path)


def test_truncated_database_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    make_db_with_rows(path)
    size = path.stat().st_size
    assert size > 200_000
    os.truncate(path, size // 2)
    with pytest.raises(StoreError, match=r"t\.db is corrupt: ") as err:
        connect_sync(path, verify=True)
    assert "\n" not in str(err.value)


async def test_damaged_page_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    make_db_with_rows(path)
    good = tmp_path / "good.db"
    shutil.copy(path, good)
    with path.open("r+b") as fh:  # overwrite a b-tree page with garbage, keep the header
        fh.seek(4096 * 3)
        fh.write(b"\xff" * 4096)
    with pytest.raises(StoreError, match=r"d\.db is corrupt: ") as err:
        await connect(path)
    assert "\n" not in str(err.value)
    conn = await connect(good)  # the intact copy opens fine
    await conn.close()


def test_path_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        connect_sync(tmp_path)


def test_readonly_open_of_missing_file_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(StoreError, match="no database at"):
        connect_sync(path, readonly=True)
    assert not path.exists()


def test_empty_file_becomes_a_database(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    conn = connect_sync(path)
    assert TABLES <= tables(conn)
    conn.close()


def test_locked_database_is_not_reported_as_corrupt(tmp_path: Path, monkeypatch) -> None:
    """An old database another process holds locked cannot be migrated: say so, plainly."""
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "busy.db"
    seed = sqlite3.connect(path, isolation_level=None)
    seed.executescript(SEED_SCHEMA)  # version 0: opening it needs a migration
    seed.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(
            StoreError, match=r"cannot use database at .*busy\.db: database is locked"
        ):
            connect_sync(path)
    finally:
        seed.execute("ROLLBACK")
        seed.close()
    connect_sync(path).close()  # once the lock is gone it upgrades fine


def test_large_files_skip_quick_check_but_not_the_truncation_check(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(store_db, "FULL_CHECK_MAX_BYTES", 0)  # treat every file as large
    path = tmp_path / "big.db"
    make_db_with_rows(path)
    os.truncate(path, path.stat().st_size - 4096)  # drop the last page
    with pytest.raises(StoreError, match=r"big\.db is corrupt: truncated"):
        connect_sync(path, verify=True)
    odd = tmp_path / "odd.db"
    make_db_with_rows(odd)
    os.truncate(odd, odd.stat().st_size - 100)  # cut mid-page
    with pytest.raises(StoreError, match=r"odd\.db is corrupt: truncated"):
        connect_sync(odd, verify=True)


def test_seed_shaped_table_without_created_at_is_adopted(tmp_path: Path) -> None:
    """schema.sql's created_at DEFAULT is an expression (table_info shows it without its
    parentheses): it must not be added as if it were a constant."""
    path = tmp_path / "seed-ohlcv.db"
    seed = sqlite3.connect(path)
    seed.execute(
        "CREATE TABLE ohlcv (exchange TEXT NOT NULL, symbol TEXT NOT NULL, "
        "timeframe TEXT, timestamp INTEGER NOT NULL, open REAL, close REAL)"
    )
    seed.execute("INSERT INTO ohlcv VALUES ('okx', 'BTC/USDT:USDT', '1h', 1, 1.0, 2.0)")
    seed.commit()
    seed.close()
    conn = store_db.connect_sync(path)
    try:
        cols = migrations.table_columns(conn, "ohlcv")
        assert "created_at" in cols and "volume" in cols
        assert conn.execute("SELECT close FROM ohlcv").fetchall() == [(2.0,)]
        assert migrations.user_version(conn) == migrations.LATEST_VERSION
    finally:
        conn.close()


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)",
        "CREATE TABLE ohlcv (ts INTEGER, o REAL, h REAL, l REAL, c REAL)",
        "CREATE TABLE funding_rates (exchange TEXT, symbol TEXT, timestamp INTEGER, owner TEXT)",
    ],
    ids=["foreign-table", "foreign-ohlcv", "extra-column"],
)
def test_foreign_database_is_refused_and_left_byte_identical(tmp_path: Path, ddl: str) -> None:
    import hashlib

    path = tmp_path / "theirs.db"
    conn = sqlite3.connect(path)
    conn.execute(ddl)
    conn.commit()
    conn.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    for readonly in (False, True):
        with pytest.raises(StoreError, match="not a perptui database"):
            store_db.connect_sync(path, readonly=readonly)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not path.with_name("theirs.db-wal").exists()

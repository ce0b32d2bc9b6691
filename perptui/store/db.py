"""Opening the perptui database: path checks, corruption checks, PRAGMAs, migrations.

Every connection, async (`connect`) or sync (`connect_sync`), goes through
`prepare()` first, which turns the ways a database path can be unusable into
one-line `StoreError`s and brings the schema up to date (`migrations`).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import aiosqlite

from perptui.errors import StoreError
from perptui.store.backend import is_postgres
from perptui.store.migrations import (
    LATEST_VERSION,
    migrate,
    ownership_problem,
    schema_sql,
    split_statements,
    user_version,
)

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5_000  # waits for another process's write lock before SQLITE_BUSY
MEMORY = ":memory:"
# PRAGMA quick_check reads every page (~1 s per GB): worth it for a database of
# normal size, too slow on every start of a collection grown to many GB.
FULL_CHECK_MAX_BYTES = 512 * 1024 * 1024


def _check_location(path: Path, label: str, readonly: bool) -> bool:
    """Raise StoreError for a path that cannot hold the database. True if the file exists."""
    if path.is_dir():
        raise StoreError(f"{label} is a directory, not a database file")
    exists = path.exists()
    if readonly:
        if not exists:
            raise StoreError(f"no database at {label}")
        return True
    parent = path.parent
    if not parent.is_dir():
        raise StoreError(f"cannot write database at {label}: directory does not exist")
    # WAL needs to create -wal / -shm files beside the database, so the directory
    # must be writable even when the database file already exists.
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"cannot write database at {label}: directory is read-only")
    if exists and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"cannot write database at {label}: file is read-only")
    return exists


def _header_problem(header: bytes, file_size: int) -> str | None:
    """A truncation the 100-byte header proves, without reading any page."""
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65_536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"invalid page size {page_size}"
    pages = int.from_bytes(header[28:32], "big")
    # The in-header page count is only valid when these two counters agree
    # (older writers did not maintain it).
    valid = header[24:28] == header[92:96]
    if valid and pages and file_size < pages * page_size:
        return f"truncated: {file_size} bytes, header says {pages * page_size}"
    if file_size % page_size:
        return f"truncated: {file_size} bytes is not a whole number of {page_size}-byte pages"
    return None


# Descriptors of database files whose header was read, kept open (see _read_header).
_HEADER_FDS: dict[tuple[int, int], int] = {}
_HEADER_FDS_MAX = 256


def _read_header(path: Path) -> tuple[bytes, int]:
    """The file's first 100 bytes and its size, without closing a descriptor of it.

    POSIX drops *every* fcntl lock a process holds on a file when it closes *any*
    descriptor of that file, SQLite's locks included.  Reading the header with a
    plain open/close while this process's writer has the database open (the monitor
    and ``collect`` read history beside their writer) silently released the writer's
    lock; the next process to close its last connection (an export, a sqlite3 shell)
    then believed itself the last user, checkpointed and deleted the WAL the writer
    was still appending to: every row written afterwards was visible to no reader,
    and lost to a crash.  So the descriptor stays open for the life of the process,
    one per database file, as SQLite defers such closes itself.
    """
    st = path.stat()
    kept = _HEADER_FDS.get((st.st_dev, st.st_ino))
    if kept is not None:  # held since an earlier check: the inode cannot have been reused
        return os.pread(kept, 100, 0), st.st_size
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    st = os.fstat(fd)  # the file opened (it may have been replaced since the stat)
    key = (st.st_dev, st.st_ino)
    if key not in _HEADER_FDS and len(_HEADER_FDS) < _HEADER_FDS_MAX:
        _HEADER_FDS[key] = fd
        return os.pread(fd, 100, 0), st.st_size
    try:  # a process checking hundreds of files (or a replaced one): the old way
        return os.pread(fd, 100, 0), st.st_size
    finally:
        os.close(fd)


def check_sqlite_file(
    path: Path,
    label: str,
    *,
    quick_check: bool = True,
    full_check_max_bytes: int | None = None,
) -> None:
    """StoreError unless `path` (existing) looks like an intact SQLite database.

    Always: the SQLite magic, the header's page size and page count against the
    file size (catches truncation), and a read of the schema.  With quick_check,
    also `PRAGMA quick_check`, which reads every page: it runs on files up to
    `full_check_max_bytes` (default FULL_CHECK_MAX_BYTES; None = that default,
    0 = never) so that starting on a months-long collection stays quick.
    """
    try:
        header, size = _read_header(path)
    except OSError as exc:
        raise StoreError(f"cannot read database at {label}: {exc.strerror or exc}") from exc
    if not header:
        return  # an empty file is a new, empty database to SQLite
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise StoreError(f"{label} is not a SQLite database")
    problem = _header_problem(header, size)
    if problem:
        raise StoreError(f"{label} is corrupt: {problem}")
    limit = FULL_CHECK_MAX_BYTES if full_check_max_bytes is None else full_check_max_bytes
    try:
        # the same wait for another process's lock as every other connection
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database at {label}: {exc}") from exc
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        problems = ["ok"]
        if quick_check and size <= limit:
            # O(database size), but catches damaged pages before the writer finds
            # them mid-run.
            problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
        foreign = ownership_problem(conn, label) if problems == ["ok"] else None
    except sqlite3.OperationalError as exc:
        raise StoreError(f"cannot read database at {label}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{label} is corrupt: {exc}") from exc
    finally:
        conn.close()
    if problems != ["ok"]:
        # quick_check reports several lines per problem; the CLI wants one line.
        lines = [ln.strip() for p in problems for ln in str(p).splitlines()]
        detail = "; ".join(ln for ln in lines if ln and not ln.startswith("***"))
        raise StoreError(f"{label} is corrupt: {detail}")
    if foreign:
        raise StoreError(foreign)


def check_usable(path: str | os.PathLike[str]) -> None:
    """StoreError if a job could not write `path`; reads only, creates nothing.

    For jobs that check their inputs (symbols, venues) before opening the writer,
    so a run refused for bad input leaves no new or changed file behind.
    """
    if is_postgres(path) or os.fspath(path) == MEMORY:
        return
    label = os.fspath(path)
    p = Path(label)
    if _check_location(p, label, readonly=False):
        check_sqlite_file(p, label, quick_check=False)


def check_not_locked(path: str | os.PathLike[str]) -> None:
    """StoreError if another writer keeps `path` locked past BUSY_TIMEOUT_MS.

    For a job that is about to write for hours (collect): a database another process
    holds a write transaction on would otherwise be found only at the first commit,
    after the run had started, with its rows then queued until the writer gave up.
    The write lock is taken and given back at once (``BEGIN IMMEDIATE`` /
    ``ROLLBACK``): nothing is written, and a file that does not exist yet is not
    created.  A lock held for milliseconds (another collector's commit) is waited for.
    """
    if is_postgres(path) or os.fspath(path) == MEMORY:
        return
    label = os.fspath(path)
    p = Path(label)
    if not p.is_file() or p.stat().st_size == 0:
        return  # nothing to lock yet: the writer creates it
    try:
        conn = sqlite3.connect(
            f"{p.resolve().as_uri()}?mode=rw",
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database at {label}: {exc}") from exc
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError(
                f"database at {label} is locked by another writer "
                f"(still after {BUSY_TIMEOUT_MS / 1000:g} s); stop it or use another --db"
            ) from exc
        raise StoreError(f"cannot write database at {label}: {exc}") from exc
    finally:
        conn.close()


def _apply_pragmas_sync(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous = NORMAL")


def prepare(path: str | os.PathLike[str], *, verify: bool = True) -> None:
    """Check a writable database path, switch it to WAL and migrate it (blocking).

    StoreError for: a missing or read-only directory, a read-only file, a file
    that is not SQLite, a corrupt database (verify=True runs PRAGMA quick_check),
    or a schema newer than this code.
    """
    label = os.fspath(path)
    if label == MEMORY:
        return
    p = Path(label)
    exists = _check_location(p, label, readonly=False)
    if exists:
        check_sqlite_file(p, label, quick_check=verify)
    try:
        conn = sqlite3.connect(label, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database at {label}: {exc}") from exc
    try:
        _apply_pragmas_sync(conn)
        # Persistent in the file: readers never block the writer and vice versa.
        conn.execute("PRAGMA journal_mode = WAL")
        migrate(conn, label)
    except sqlite3.OperationalError as exc:  # locked past busy_timeout, I/O error, disk full
        raise StoreError(f"cannot use database at {label}: {exc}") from exc
    except sqlite3.DatabaseError as exc:  # SQLITE_CORRUPT / SQLITE_NOTADB
        raise StoreError(f"{label} is corrupt: {exc}") from exc
    finally:
        conn.close()


async def connect(path: str | os.PathLike[str], *, verify: bool = True) -> aiosqlite.Connection:
    """Open the database for async use: checked, migrated, WAL, synchronous=NORMAL.

    The connection is in autocommit mode (isolation_level=None): wrap multi-statement
    writes in an explicit BEGIN ... COMMIT.  The checks and migrations run in a
    thread, so a large quick_check does not stall the event loop.
    """
    await asyncio.to_thread(prepare, path, verify=verify)
    label = os.fspath(path)
    try:
        conn = await aiosqlite.connect(label, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database at {label}: {exc}") from exc
    try:
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA synchronous = NORMAL")
        if label == MEMORY:
            # A private in-memory database (tests): nothing to check or upgrade.
            for stmt in split_statements(schema_sql()):
                await conn.execute(stmt)
            await conn.execute(f"PRAGMA user_version = {LATEST_VERSION}")
    except BaseException:
        await conn.close()
        raise
    return conn


def connect_sync(
    path: str | os.PathLike[str], readonly: bool = False, *, verify: bool = False
) -> sqlite3.Connection:
    """Blocking connection for the pandas readers and jobs (autocommit mode).

    readonly=True opens with mode=ro and never creates a file ("no database at X"
    if missing).  A read-only open of a database at an older schema version
    migrates it first when the file is writable, and refuses otherwise.
    verify defaults to False here: readers open often, and a damaged page they
    hit surfaces as a StoreError from the reader anyway.

    A postgresql:// URL gives a `PgSyncConnection` with the same surface (the
    schema is checked and brought up to date the same way).
    """
    if is_postgres(path):
        from perptui.store.pg_sync import PgSyncConnection

        # same sqlite3-shaped surface, not a subclass of sqlite3.Connection
        return PgSyncConnection(os.fspath(path))  # type: ignore[return-value]  # PgSyncConnection offers the sqlite3.Connection surface the readers use
    label = os.fspath(path)
    if label == MEMORY:
        conn = sqlite3.connect(MEMORY, isolation_level=None)
        migrate(conn, label)
        return conn
    p = Path(label)
    if not readonly:
        prepare(p, verify=verify)
        try:
            conn = sqlite3.connect(label, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database at {label}: {exc}") from exc
        _apply_pragmas_sync(conn)
        return conn

    _check_location(p, label, readonly=True)
    check_sqlite_file(p, label, quick_check=verify)
    conn = _open_ro(p, label)
    try:
        version = user_version(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{label} is corrupt: {exc}") from exc
    if version > LATEST_VERSION:
        conn.close()
        raise StoreError(
            f"{label} has schema version {version}, newer than this perptui knows "
            f"({LATEST_VERSION}); upgrade perptui"
        )
    if version < LATEST_VERSION:
        conn.close()
        if not (os.access(p, os.W_OK) and os.access(p.parent, os.W_OK)):
            raise StoreError(
                f"{label} has schema version {version} and needs upgrading to "
                f"{LATEST_VERSION}, but it is read-only"
            )
        prepare(p, verify=verify)
        conn = _open_ro(p, label)
    return conn


def require_database(location: str | os.PathLike[str], hint: str) -> None:
    """StoreError unless there is a SQLite file at `location` ("does not exist (hint)").

    Commands that only read history call this first.  A PostgreSQL URL passes: the
    server says what is wrong with it when the reader connects.
    """
    if is_postgres(location):
        return
    if not Path(location).exists():
        raise StoreError(f"database {os.fspath(location)} does not exist ({hint})")


def _open_ro(p: Path, label: str) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database at {label}: {exc}") from exc
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn

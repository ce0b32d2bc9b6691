"""A blocking, sqlite3-shaped connection to PostgreSQL, for the pandas readers and jobs.

The readers are written once against the small part of the sqlite3 API they
use (``execute(sql, params)`` with ``?`` placeholders, ``fetchone`` /
``fetchall`` / ``fetchmany`` / iteration, ``description``, ``close``).  This
class offers the same on top of asyncpg, which is async only: each connection
runs its own event loop in a daemon thread and every call waits on it, so it
works the same from plain scripts, from worker threads and from inside a
running loop (a notebook, the Textual app), without touching the caller's loop.

``fetchmany`` streams through a server-side cursor inside a read-only
transaction, so an export of a large table holds one chunk in memory.
asyncpg errors come out as BackendError (readers catch it with
sqlite3.DatabaseError via ``backend.DB_ERRORS``).
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any, TypeVar

import asyncpg

from perptui.errors import StoreError
from perptui.store import pg
from perptui.store.backend import BackendError, redact

T = TypeVar("T")
_QMARK = re.compile(r"\?")
STREAM_PREFETCH = 5_000


def qmark_to_dollar(sql: str) -> str:
    """``?`` placeholders -> ``$1, $2, ...`` (perptui's SQL has no ``?`` inside literals)."""
    counter = iter(range(1, 10_000))
    return _QMARK.sub(lambda _m: f"${next(counter)}", sql)


class PgCursor:
    def __init__(self, owner: PgSyncConnection, sql: str, params: Sequence[Any]) -> None:
        self._owner = owner
        self._sql = qmark_to_dollar(sql)
        self._params = tuple(params)
        self._rows: list[tuple] | None = None
        self._pos = 0
        self._stream: Any = None
        self._tx: Any = None
        self._stmt: asyncpg.prepared_stmt.PreparedStatement = owner._run(
            owner._conn.prepare(self._sql)
        )
        self.description = tuple(
            (a.name, None, None, None, None, None, None) for a in self._stmt.get_attributes()
        )

    def _all(self) -> list[tuple]:
        if self._rows is None:
            records = self._owner._run(self._stmt.fetch(*self._params))
            self._rows = [tuple(r) for r in records]
        return self._rows

    def fetchall(self) -> list[tuple]:
        if self._stream is not None:
            out: list[tuple] = []
            while chunk := self.fetchmany(STREAM_PREFETCH):
                out.extend(chunk)
            return out
        rows = self._all()
        out, self._pos = rows[self._pos :], len(rows)
        return out

    def fetchone(self) -> tuple | None:
        if self._stream is not None:
            chunk = self.fetchmany(1)
            return chunk[0] if chunk else None
        rows = self._all()
        if self._pos >= len(rows):
            return None
        self._pos += 1
        return rows[self._pos - 1]

    def fetchmany(self, size: int = 1) -> list[tuple]:
        if self._rows is not None:
            out = self._rows[self._pos : self._pos + size]
            self._pos += len(out)
            return out
        if self._stream is None:
            self._owner._begin_stream(self)
        chunk = self._owner._run(self._stream.fetch(size))
        if not chunk:
            self._end_stream()
        return [tuple(r) for r in chunk]

    async def _open_stream(self) -> None:
        self._tx = self._owner._conn.transaction(readonly=True)
        await self._tx.start()
        self._stream = await self._stmt.cursor(*self._params)

    def _end_stream(self) -> None:
        tx, self._tx = self._tx, None
        if tx is not None:
            try:
                self._owner._run(tx.rollback())
            finally:
                if self._owner._streaming is self:
                    self._owner._streaming = None

    def __iter__(self) -> Iterator[tuple]:
        while chunk := self.fetchmany(STREAM_PREFETCH):
            yield from chunk

    def close(self) -> None:
        self._end_stream()


class PgSyncConnection:
    """Blocking connection; see the module docstring.  Not for use by two threads at once."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.label = redact(url)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="perptui-pg-reader", daemon=True
        )
        self._thread.start()
        self._streaming: PgCursor | None = None
        self.mode: str | None = None
        try:
            self._conn: asyncpg.Connection = self._call(pg.open_connection(url))
        except BaseException:
            self._stop_loop()
            raise
        if migrate:
            try:
                self.mode = self._call(pg.migrate(self._conn, self.label))
            except BaseException:
                self.close()
                raise

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run on the private loop; errors pass through as they are."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run on the private loop; PostgreSQL errors become BackendError."""
        try:
            return self._call(coro)
        except StoreError:
            raise
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise BackendError(f"{type(exc).__name__}: {exc}") from exc

    def _begin_stream(self, cursor: PgCursor) -> None:
        if self._streaming is not None and self._streaming is not cursor:
            self._streaming.close()  # like sqlite3: a new query ends the previous one
        self._run(cursor._open_stream())
        self._streaming = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        if self._streaming is not None:
            self._streaming.close()
        return PgCursor(self, sql, params)

    def table_columns(self, table: str) -> dict[str, tuple]:
        """PRAGMA table_info-shaped rows (cid, name, TYPE, notnull, default, pk)."""
        rows = self._run(
            self._conn.fetch(
                "SELECT ordinal_position, column_name, upper(data_type), is_nullable = 'NO', "
                "column_default FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = $1 "
                "ORDER BY ordinal_position",
                table,
            )
        )
        return {r[1]: (r[0] - 1, r[1], r[2], int(r[3]), r[4], 0) for r in rows}

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            if self._streaming is not None:
                self._streaming.close()
            self._call(self._conn.close(timeout=5))
        except Exception:
            self._conn.terminate()
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> PgSyncConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

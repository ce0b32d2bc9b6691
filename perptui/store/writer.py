"""The one database writer: a bounded queue in, batched transactions out.

Producers (venue workers, the UI's snapshot clock, backfill) hand model records
to `Writer.submit` (never blocks, for the UI loop) or `await Writer.put` (waits
for room, for backfill).  A single task drains the queue and commits a batch
when it holds `batch_rows` records or when the oldest record in it has waited
`flush_interval` seconds, whichever comes first.  Each batch is one
transaction, with one `executemany` per table, so a crash leaves either the
whole batch or none of it, and throughput is bounded by rows, not by commits.

Writes are idempotent on each table's UNIQUE key (INSERT OR IGNORE; candles
upsert), so resubmitting or re-running a backfill never duplicates rows.

Full queue policy: `submit` drops the *incoming* record and counts it in
`dropped`.  The queue only fills when the database has stalled for a while
(50 000 records is minutes of a busy monitor); whatever we choose, one stretch
of data is lost.  Dropping the newest keeps what was already accepted intact
and in order, costs O(1) without touching the writer's side of the queue, and
leaves a single contiguous gap starting when the stall began, which
`coverage()` then reports.  Dropping the oldest would instead silently discard
records the producer had been told were accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from perptui.core.model import BookSnapshot
from perptui.errors import StoreError
from perptui.store.backend import redact
from perptui.store.rows import SUPPORTED_TYPES, to_row
from perptui.store.sinks import Sink, open_sink

log = logging.getLogger(__name__)

# Backoff between attempts at a batch that failed for an environmental reason
# (database locked past busy_timeout, disk full, I/O error).
RETRY_DELAYS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
CLOSE_ATTEMPTS = 3  # attempts per batch once close() has been called...
# ...and for at least this long: a lock another process holds for a few seconds
# (an analyst's long query, a backup) must not cost the rows still queued at stop.
CLOSE_WAIT_S = 30.0
DROP_LOG_EVERY_S = 10.0


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """Handed to `on_commit` after each committed transaction."""

    records: tuple[Any, ...]  # in submission order; rejected records excluded
    rows_by_table: dict[str, int]
    changes: int  # rows actually inserted or updated (duplicates excluded)
    seconds: float  # time spent in the transaction


@dataclass(frozen=True, slots=True)
class WriterStats:
    rows_written: int
    rows_inserted: int
    batches_written: int
    queue_depth: int
    dropped: int
    rejected: int
    failed_attempts: int
    last_error: str | None
    running: bool


@dataclass(slots=True)
class _Marker:
    """Queued behind real records: resolved once everything before it is committed."""

    done: asyncio.Future[None]
    stop: bool = False


@dataclass(slots=True)
class _Batch:
    records: list[Any] = field(default_factory=list)
    started: float = 0.0


class Writer:
    """Batched, idempotent writes of model records to one database (SQLite or PostgreSQL).

    Usage::

        writer = Writer(path)
        await writer.start()          # StoreError on an unusable path
        writer.submit(record)         # from anywhere on the loop, never blocks
        await writer.close()          # drains and commits everything

    Counters (read any time): `rows_written` (rows in committed transactions,
    duplicates included), `rows_inserted` (rows new or changed), `batches_written`,
    `queue_depth` (records accepted but not yet committed), `dropped` (refused by
    `submit` on a full queue or after close), `rejected` (records the database
    would not take, e.g. a wrong type or a NULL key), `last_error`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        batch_rows: int = 100,
        flush_interval: float = 0.25,
        max_queue: int = 50_000,
        *,
        on_commit: Callable[[CommitInfo], None] | None = None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        close_wait_s: float = CLOSE_WAIT_S,
        stall_timeout_s: float | None = None,
    ) -> None:
        """``stall_timeout_s``: give up once one batch has kept failing this long (a
        bulk job like backfill then fails in one line instead of retrying forever);
        None retries until close (the collector: its queue rides out the stall).
        ``close_wait_s``: how long close() keeps retrying before it gives up."""
        if batch_rows < 1:
            raise ValueError("batch_rows must be >= 1")
        if flush_interval <= 0:
            raise ValueError("flush_interval must be > 0")
        if max_queue < 1:
            raise ValueError("max_queue must be >= 1")
        self.path = os.fspath(path)
        self.label = redact(self.path)  # a URL's password is never shown
        self.batch_rows = batch_rows
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.on_commit = on_commit
        self._retry_delays = tuple(retry_delays) or (0.0,)
        self.close_wait_s = close_wait_s
        self.stall_timeout_s = stall_timeout_s
        self._closing_since: float | None = None
        # Markers may have to enter a full queue (close/flush); `put` waits for them.
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=max_queue)
        self._sink: Sink | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False
        self._give_up = False  # set during close when the database keeps failing
        self._in_flight = 0
        self._last_drop_log = 0.0
        self._drops_since_log = 0
        self.rows_written = 0
        self.rows_inserted = 0
        self.batches_written = 0
        self.dropped = 0
        self.rejected = 0
        self.failed_attempts = 0
        self.unwritten = 0  # rows abandoned because close() could not commit them
        self.last_error: str | None = None

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> Writer:
        """Open (create, check, migrate) the database and start the writer task."""
        if self._task is not None:
            return self
        if self._closed:
            raise RuntimeError("writer is closed")
        self._sink = await open_sink(self.path)
        self._task = asyncio.create_task(self._run(), name=f"perptui-writer:{self.label}")
        return self

    async def __aenter__(self) -> Writer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def close(self) -> None:
        """Commit everything accepted so far, stop the task, close the connection.

        Raises StoreError if rows could not be committed (after a few more
        attempts), saying how many and why; the connection is closed regardless.
        """
        if self._closed:
            return
        self._closing = True
        self._closing_since = time.monotonic()
        try:
            if self._task is None and not self._queue.empty():
                await self.start()  # records were submitted before start(): write them
            if self._task is not None and not self._task.done():
                marker = _Marker(asyncio.get_running_loop().create_future(), stop=True)
                await self._queue.put(marker)
                await asyncio.wait({marker.done, self._task}, return_when=asyncio.FIRST_COMPLETED)
                await self._task
            # A put() that was already waiting for room when close() began lands
            # behind the stop marker: it was never committed, so count it.
            while not self._queue.empty():
                if not isinstance(self._queue.get_nowait(), _Marker):
                    self.dropped += 1
        finally:
            self._closed = True
            if self._sink is not None:
                with contextlib.suppress(Exception):
                    await self._sink.close()
                self._sink = None
        if self.unwritten:
            raise StoreError(
                f"could not write {self.unwritten} rows to {self.label}: {self.last_error}"
            )

    # -- producers -----------------------------------------------------------

    def submit(self, record: Any) -> bool:
        """Queue a record without waiting. False (and counted in `dropped`) if refused.

        Refused when the queue is full (see the module docstring for why the
        newest record is the one dropped) or the writer is closing.
        """
        if not isinstance(record, SUPPORTED_TYPES):
            raise TypeError(f"the store cannot write {type(record).__name__}")
        if self._closing:
            self._note_drop("writer is closing")
            return False
        if self._task is not None and self._task.done():
            # Only a cancelled task gets here (the loop itself never raises); queueing
            # would hide the loss, so count it where the health bar can see it.
            self._note_drop("writer task is not running")
            return False
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self._note_drop("queue full")
            return False
        return True

    async def put(self, record: Any) -> None:
        """Queue a record, waiting for room (backpressure for bulk jobs like backfill)."""
        if not isinstance(record, SUPPORTED_TYPES):
            raise TypeError(f"the store cannot write {type(record).__name__}")
        if self._closing:
            raise RuntimeError("writer is closing")
        if self._task is not None and self._task.done():
            raise StoreError(f"the writer for {self.label} has stopped: {self.last_error}")
        if self._give_up:
            raise StoreError(f"cannot write to {self.label}: {self.last_error}")
        await self._queue.put(record)

    async def flush(self) -> None:
        """Wait until every record queued before this call is committed (or rejected)."""
        if self._task is None or self._task.done():
            return
        marker = _Marker(asyncio.get_running_loop().create_future())
        await self._queue.put(marker)
        await asyncio.wait({marker.done, self._task}, return_when=asyncio.FIRST_COMPLETED)

    def _note_drop(self, why: str) -> None:
        self.dropped += 1
        self._drops_since_log += 1
        now = time.monotonic()
        if self._drops_since_log == 1 or now - self._last_drop_log >= DROP_LOG_EVERY_S:
            log.warning(
                "store writer dropped %d record(s) (%s); %d dropped in total, last error: %s",
                self._drops_since_log,
                why,
                self.dropped,
                self.last_error,
            )
            self._last_drop_log = now
            self._drops_since_log = 0

    # -- counters ------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Records accepted but not yet committed (queued + the batch being written)."""
        return self._queue.qsize() + self._in_flight

    def stats(self) -> WriterStats:
        return WriterStats(
            rows_written=self.rows_written,
            rows_inserted=self.rows_inserted,
            batches_written=self.batches_written,
            queue_depth=self.queue_depth,
            dropped=self.dropped,
            rejected=self.rejected,
            failed_attempts=self.failed_attempts,
            last_error=self.last_error,
            running=self.running,
        )

    # -- the writer task -----------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        carry_deadline: float | None = None
        while True:
            item = await self._queue.get()
            batch = _Batch(started=loop.time())
            # Records that queued up while the previous batch was being written have
            # been waiting since that write began: keep their latency bound too.
            deadline = carry_deadline if carry_deadline is not None else batch.started
            deadline += self.flush_interval
            marker: _Marker | None = None
            while True:
                if isinstance(item, _Marker):
                    marker = item
                    break
                batch.records.append(item)
                self._in_flight = len(batch.records)
                if len(batch.records) >= self.batch_rows:
                    break
                try:
                    item = self._queue.get_nowait()
                    continue
                except asyncio.QueueEmpty:
                    pass
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        item = await self._queue.get()
                except TimeoutError:
                    break
            write_started = loop.time()
            if batch.records:
                await self._write_batch(batch.records)
            self._in_flight = 0
            carry_deadline = None if self._queue.empty() else write_started
            if marker is not None:
                if not marker.done.done():
                    marker.done.set_result(None)
                if marker.stop:
                    return

    def _gives_up(self, attempt: int, failing_for_s: float) -> bool:
        """Whether a batch that failed ``attempt`` times should be abandoned."""
        if self.stall_timeout_s is not None and failing_for_s >= self.stall_timeout_s:
            return True
        if not self._closing or attempt < CLOSE_ATTEMPTS:
            return False
        since = self._closing_since or time.monotonic()
        return time.monotonic() - since >= self.close_wait_s

    async def _write_batch(self, records: list[Any]) -> None:
        """Commit one batch, retrying environmental failures; never raises."""
        if self._give_up:
            self.unwritten += len(records)
            return
        try:
            groups, sources, kept = await self._convert(records)
        except Exception as exc:  # a bug in conversion must not kill the task
            log.exception("store writer could not convert a batch")
            self._fail(f"converting rows: {exc!r}")
            self.rejected += len(records)
            return
        if not kept:
            return
        attempt = 0
        first_failure: float | None = None
        while True:
            try:
                t0 = time.perf_counter()
                sink = self._sink
                assert sink is not None
                try:
                    changes = await sink.write(groups)
                except sink.data_errors as exc:
                    self._fail(f"bad row: {exc}")
                    groups, refused, changes = await sink.write_each(groups, sources)
                    gone = {id(record) for record, _exc in refused}
                    for record, exc in refused:
                        self.rejected += 1
                        log.warning("store writer rejected a %s: %s", type(record).__name__, exc)
                    kept = [r for r in kept if id(r) not in gone]
                seconds = time.perf_counter() - t0
                break
            except Exception as exc:
                self.failed_attempts += 1
                self._fail(f"{type(exc).__name__}: {exc}")
                attempt += 1
                now = time.monotonic()
                first_failure = now if first_failure is None else first_failure
                if self._gives_up(attempt, now - first_failure):
                    log.error("store writer giving up on %d rows: %s", len(kept), exc)
                    self._give_up = True
                    self.unwritten += len(kept)
                    return
                delay = self._retry_delays[min(attempt - 1, len(self._retry_delays) - 1)]
                log.warning(
                    "store writer: batch of %d rows failed (attempt %d), retrying in %.2fs: %s",
                    len(kept),
                    attempt,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)
        n = sum(len(rows) for rows in groups.values())
        self.rows_written += n
        self.rows_inserted += changes
        self.batches_written += 1
        if self.on_commit is not None:
            info = CommitInfo(
                records=tuple(kept),
                rows_by_table={t: len(rows) for t, rows in groups.items()},
                changes=changes,
                seconds=seconds,
            )
            try:
                self.on_commit(info)
            except Exception:
                log.exception("store writer on_commit hook failed")

    def _fail(self, message: str) -> None:
        self.last_error = message

    async def _convert(
        self, records: list[Any]
    ) -> tuple[dict[str, list[tuple]], dict[str, list[Any]], list[Any]]:
        # Book metrics and JSON cost real time for deep books: do those in a
        # thread so a batch of snapshots never holds up the UI loop.  Everything
        # else converts in microseconds, cheaper than a thread hop.
        if any(type(r) is BookSnapshot for r in records):
            groups, sources, kept, bad = await asyncio.to_thread(_convert_batch, records)
        else:
            groups, sources, kept, bad = _convert_batch(records)
        for record, exc in bad:
            self.rejected += 1
            self._fail(f"cannot store {type(record).__name__}: {exc}")
            log.warning("store writer rejected a %s: %s", type(record).__name__, exc)
        return groups, sources, kept


def _convert_batch(
    records: list[Any],
) -> tuple[dict[str, list[tuple]], dict[str, list[Any]], list[Any], list[tuple[Any, Exception]]]:
    """Rows grouped per table, the record behind each row, kept records, failures."""
    groups: dict[str, list[tuple]] = {}
    sources: dict[str, list[Any]] = {}
    kept: list[Any] = []
    bad: list[tuple[Any, Exception]] = []
    for record in records:
        try:
            table, row = to_row(record)
        except Exception as exc:
            bad.append((record, exc))
            continue
        groups.setdefault(table, []).append(row)
        sources.setdefault(table, []).append(record)
        kept.append(record)
    return groups, sources, kept, bad

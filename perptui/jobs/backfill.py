"""Resumable history backfill: settled funding and OHLCV, page by page into the store.

For every series (venue, symbol, funding | ohlcv+timeframe) the job asks the database
what it already holds and fetches only the missing windows: the part before the first
stored row, holes inside (gaps longer than 1.5 steps) and the part after the last row.
A re-run over a covered window therefore makes no request at all, and a run killed
midway resumes where its last committed page ended (pages are written oldest first, so
what is stored is always a contiguous prefix of each window).

Requests: the venue layer pages with the venue's largest page (ceil(rows / page) per
window). Pacing: the client's own throttle keeps it under the venue's ``rateLimit``;
on top of it a per-venue `perptui.venues.pacing.Pacer`, applied through ``venue.paced``
to this job's requests only, widens the spacing when the venue answers 429 and narrows
it again on success, and a series whose retries were exhausted waits and
resumes from the database instead of failing the run. Venues run concurrently; within a
venue, series run one after another (one request in flight per venue).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from perptui.core.shard import Shard, owned
from perptui.core.units import DAY_MS, HOUR_MS, timeframe_ms, utc_text
from perptui.errors import (
    CapabilityMissing,
    PerptuiError,
    RateLimited,
    StoreError,
    UnknownSymbol,
)
from perptui.store.backend import DB_ERRORS
from perptui.store.db import connect_sync
from perptui.store.read import series_gaps
from perptui.venues.pacing import Pacer

log = logging.getLogger(__name__)

FUNDING = "funding"
OHLCV = "ohlcv"
WHATS = (FUNDING, OHLCV)
DEFAULT_FUNDING_STEP_MS = 8 * HOUR_MS


# --------------------------------------------------------------------------- pacing

# One Pacer per venue object, kept across jobs: collect runs a fresh Backfill for every
# catch-up, and the spacing a venue's 429s taught must carry over to the next one.
_PACERS: weakref.WeakKeyDictionary[Any, Pacer] = weakref.WeakKeyDictionary()


def pacer_for(venue: Any) -> Pacer:
    """The venue's Pacer for backfill requests (created on first use)."""
    pacer = _PACERS.get(venue)
    if pacer is None:
        pacer = _PACERS[venue] = Pacer()
    return pacer


# --------------------------------------------------------------------------- series


@dataclass(frozen=True, slots=True)
class SeriesKey:
    venue: str
    symbol: str
    what: str  # "funding" | "ohlcv"
    timeframe: str | None = None

    @property
    def label(self) -> str:
        kind = self.what if self.timeframe is None else f"{self.what} {self.timeframe}"
        return f"{self.venue} {self.symbol} {kind}"


@dataclass
class SeriesReport:
    key: SeriesKey
    since: int
    until: int
    step_ms: int
    requests: int = 0
    rows_fetched: int = 0
    windows: list[tuple[int, int]] = field(default_factory=list)
    reached_cap: bool = False
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False  # symbol not listed / capability missing
    # coverage of [since, until] in the DB after the run
    stored_rows: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)
    missing: int = 0

    @property
    def expected_rows(self) -> int:
        return max(0, (self.until - self.since) // self.step_ms + 1)

    @property
    def status(self) -> str:
        if self.skipped:
            return "skipped"
        if self.error:
            return "error"
        if self.gaps or self.short_start:
            return "partial"
        return "ok"

    @property
    def short_start(self) -> bool:
        """The stored series starts later than asked (venue cap, listing, or failure)."""
        return self.first_ms is None or self.first_ms - self.since >= self.step_ms


ProgressHook = Callable[[SeriesKey, str, dict[str, Any]], None]


def step_ms_for(venue: Any, symbol: str, what: str, timeframe: str) -> int:
    if what == OHLCV:
        return timeframe_ms(timeframe)
    hours = venue.market(symbol).funding_interval_hours
    return int(hours * HOUR_MS) if hours else DEFAULT_FUNDING_STEP_MS


def stored_timestamps(db_path: str, key: SeriesKey, since: int, until: int) -> np.ndarray:
    """Sorted timestamps of one series in [since, until] (an index range scan)."""
    if key.what == FUNDING:
        sql = (
            "SELECT timestamp FROM funding_rates WHERE exchange=? AND symbol=? AND kind='settled'"
            " AND timestamp BETWEEN ? AND ? ORDER BY timestamp"
        )
        params: tuple[Any, ...] = (key.venue, key.symbol, since, until)
    else:
        sql = (
            "SELECT timestamp FROM ohlcv WHERE exchange=? AND symbol=? AND timeframe=?"
            " AND timestamp BETWEEN ? AND ? ORDER BY timestamp"
        )
        params = (key.venue, key.symbol, key.timeframe, since, until)
    conn = connect_sync(db_path, readonly=True)
    try:
        return np.fromiter((r[0] for r in conn.execute(sql, params)), dtype=np.int64)
    except DB_ERRORS as exc:
        raise PerptuiError(f"cannot read {db_path}: {exc}") from exc
    finally:
        conn.close()


def plan_windows(
    ts: np.ndarray, since: int, until: int, step: int, what: str
) -> list[tuple[int, int]]:
    """The [lo, hi] ranges still to fetch, given the stored timestamps `ts` in range.

    A window is planned only where at least one row can be missing (a full step), so a
    covered range plans nothing. For candles the newest stored one is fetched again with
    the tail: it may have been stored while still forming.
    """
    if until < since:
        return []
    if ts.size == 0:
        return [(since, until)]
    out: list[tuple[int, int]] = []
    first, last = int(ts[0]), int(ts[-1])
    if first - since >= step:
        out.append((since, first - 1))
    gaps, _ = series_gaps(ts, float(step))
    out.extend((a + 1, b - 1) for a, b in gaps)
    if until - last >= step:
        out.append((last if what == OHLCV else last + 1, until))
    return out


def coverage_of(report: SeriesReport, db_path: str) -> None:
    ts = stored_timestamps(db_path, report.key, report.since, report.until)
    report.stored_rows = int(ts.size)
    report.first_ms = int(ts[0]) if ts.size else None
    report.last_ms = int(ts[-1]) if ts.size else None
    report.gaps, report.missing = series_gaps(ts, float(report.step_ms))


# --------------------------------------------------------------------------- the job


@dataclass
class BackfillSettings:
    since: int
    until: int
    whats: tuple[str, ...] = WHATS
    timeframe: str = "1h"
    symbols: tuple[str, ...] = ()  # unified symbols; empty with all_symbols=False: none
    all_symbols: bool = False
    shard: Shard | None = None  # one collector of a fleet: only the markets it owns
    max_failures: int = 6  # consecutive failed attempts (no progress) before giving up
    # Loading a venue's markets: the venue layer already retries each call with
    # backoff (~15 s), so that round is the only one; an unreachable venue must end
    # the run in a bounded time (a re-run resumes), not after minutes of retries.
    market_attempts: int = 1
    retry_base_s: float = 2.0
    retry_max_s: float = 60.0

    def retry_delay(self, failures: int) -> float:
        """Seconds to wait after `failures` consecutive failures (doubling, capped)."""
        return min(self.retry_max_s, self.retry_base_s * 2 ** max(0, failures - 1))


def _rate_limited(exc: BaseException) -> bool:
    """Whether a failure is the venue saying "slow down" (429/418): it is there."""
    return isinstance(exc, RateLimited)


def _venue_symbol(venue: Any, requested: str) -> str:
    """The venue's symbol answering `requested`; unchanged when it lists none (run_series
    then reports the series as not listed)."""
    try:
        return venue.market(requested).symbol
    except UnknownSymbol:
        return requested


class Backfill:
    """Backfill `settings.whats` for every venue x symbol into the writer's database.

    ``writer``: a started ``perptui.store.writer.Writer`` (records go in with ``await
    put``, so nothing is dropped). ``on_progress(key, event, info)``: optional hook for
    progress bars; events are "plan" (info: expected rows, to_fetch), "rows" (n), "done"
    (report), "retry" (error, delay_s).
    """

    def __init__(
        self,
        venues: Sequence[Any],
        writer: Any,
        settings: BackfillSettings,
        *,
        on_progress: ProgressHook | None = None,
    ) -> None:
        self.venues = list(venues)
        self.writer = writer
        self.settings = settings
        self.on_progress = on_progress
        self.reports: list[SeriesReport] = []
        self.venue_errors: dict[str, str] = {}

    @property
    def db_path(self) -> str:
        return str(self.writer.path)

    def _emit(self, key: SeriesKey, event: str, **info: Any) -> None:
        if self.on_progress is not None:
            try:
                self.on_progress(key, event, info)
            except Exception:  # a display problem must never stop the data
                log.exception("backfill progress hook failed")

    async def run(self) -> list[SeriesReport]:
        await asyncio.gather(*(self._run_venue(v) for v in self.venues))
        return self.reports

    async def series_for(self, venue: Any) -> list[SeriesKey]:
        """Funding of every perpetual with ``all_symbols`` (the seed's first priority:
        all perps), else of ``symbols``; OHLCV only ever for ``symbols``: candles for
        a whole listing are many times the requests and rarely wanted, so they stay
        opt-in per symbol set.  Funding first, so an interrupted run has it."""
        markets = await venue.load_markets()
        s = self.settings
        chosen = [x for x in s.symbols if x in markets] if s.all_symbols else list(s.symbols)
        # the venue's own market for each request (BTC/USDT:USDT -> BTC/USDC:USDC on a DEX)
        chosen = list(dict.fromkeys(_venue_symbol(venue, x) for x in chosen))
        funding_set = sorted(markets) if s.all_symbols else chosen
        keys: list[SeriesKey] = []
        for what in s.whats:
            for symbol in owned(s.shard, venue.id, funding_set if what == FUNDING else chosen):
                keys.append(
                    SeriesKey(venue.id, symbol, what, s.timeframe if what == OHLCV else None)
                )
        return keys

    async def _run_venue(self, venue: Any) -> None:
        pacer = pacer_for(venue)
        s = self.settings
        failures = 0
        while True:
            try:
                with venue.paced(pacer):
                    keys = await self.series_for(venue)
                break
            except (UnknownSymbol, CapabilityMissing) as exc:
                self.venue_errors[venue.id] = str(exc)
                return
            except StoreError:
                raise  # the database, not the venue: retrying the venue cannot help
            except (PerptuiError, OSError) as exc:
                failures += 1
                # rate limited: the venue is there and asks us to wait; keep going
                limit = s.max_failures if _rate_limited(exc) else s.market_attempts
                if failures >= limit:
                    self.venue_errors[venue.id] = f"{type(exc).__name__}: {exc}"
                    log.warning("backfill: %s: giving up: %s", venue.id, exc)
                    return
                delay = s.retry_delay(failures)
                pacer.slow_down()
                log.warning("backfill: %s: markets: %s; retry in %.1fs", venue.id, exc, delay)
                await asyncio.sleep(delay)
        for key in keys:
            report = await self.run_series(venue, key)
            self.reports.append(report)
            self._emit(key, "done", report=report)

    async def run_series(self, venue: Any, key: SeriesKey) -> SeriesReport:
        """Fetch what the store lacks of one series; its requests obey the venue's Pacer."""
        with venue.paced(pacer_for(venue)):
            return await self._run_series(venue, key)

    async def _run_series(self, venue: Any, key: SeriesKey) -> SeriesReport:
        report, since = self._window(venue, key)
        if report.skipped:  # not listed: nothing to fetch, nothing to measure
            return report
        # report.key: the series under the venue's own symbol (see _window)
        await self._fill(venue, report.key, report, since)
        await self._flush()
        await asyncio.to_thread(coverage_of, report, self.db_path)
        if report.reached_cap and report.first_ms is not None:
            report.notes[0] += f" (reaches back to {utc_text(report.first_ms)})"
        return report

    def _window(self, venue: Any, key: SeriesKey) -> tuple[SeriesReport, int]:
        """The series' report and the first timestamp worth asking the venue for.

        The window starts at the settings' ``since`` (candles: the first one opening at
        or after it), moved up to where the venue's history cap or the market's listing
        lets it start - so a capped series plans no window the venue cannot serve.
        """
        s = self.settings
        try:
            m = venue.market(key.symbol)
            if m.symbol != key.symbol:  # stored and compared under the venue's own symbol
                key = replace(key, symbol=m.symbol)
            step = step_ms_for(venue, key.symbol, key.what, s.timeframe)
        except UnknownSymbol as exc:
            report = SeriesReport(key, s.since, s.until, DAY_MS, skipped=True)
            report.notes.append(f"not listed: {exc}")
            return report, s.since
        since = s.since
        if key.what == OHLCV:
            since = -(-since // step) * step  # first candle opening at or after `since`
        report = SeriesReport(key, since, s.until, step)
        earliest = venue.history_cap_start(key.what, since)
        if earliest is not None:
            report.reached_cap = True
            days = venue.history_caps_ms[key.what] / DAY_MS
            report.notes.append(f"{venue.id} keeps {key.what} history for {days:g} days")
            since = earliest
        listed = venue.listed_at(m)
        if listed is not None and since < listed:
            report.notes.append("listed after the start of the window")
            since = int(listed)
        return report, since

    async def _fill(self, venue: Any, key: SeriesKey, report: SeriesReport, since: int) -> None:
        """Fetch the windows the store lacks until none is left, the venue says the
        series cannot be had, or ``max_failures`` attempts in a row made no progress."""
        s = self.settings
        pacer = pacer_for(venue)
        failures = 0
        first_plan = True
        while True:
            await self._flush()
            ts = await asyncio.to_thread(stored_timestamps, self.db_path, key, since, s.until)
            windows = plan_windows(ts, since, s.until, report.step_ms, key.what)
            if first_plan:
                to_fetch = sum((hi - lo) // report.step_ms + 1 for lo, hi in windows)
                self._emit(key, "plan", expected=report.expected_rows, to_fetch=to_fetch)
                first_plan = False
            if not windows:
                return
            before_rows = report.rows_fetched
            before_req = pacer.requests
            try:
                await self._fetch_windows(venue, key, windows, report)
                return
            except (UnknownSymbol, CapabilityMissing) as exc:
                report.skipped = True
                report.notes.append(str(exc))
                return
            except (asyncio.CancelledError, StoreError):
                # cancelled, or the database gave up (the writer's bounded wait):
                # retrying the venue cannot help either
                raise
            except (PerptuiError, OSError) as exc:
                # Retries inside the venue layer are exhausted (e.g. a burst of 429s):
                # wait, slow the venue down, and resume from what is stored.
                failures = 0 if report.rows_fetched > before_rows else failures + 1
                if failures >= s.max_failures:
                    report.error = f"{type(exc).__name__}: {exc}"
                    log.warning("backfill: %s gave up: %s", key.label, report.error)
                    return
                delay = s.retry_delay(failures)
                pacer.slow_down()
                log.warning("backfill: %s: %s; resuming in %.1fs", key.label, exc, delay)
                self._emit(key, "retry", error=str(exc), delay_s=delay)
                await asyncio.sleep(delay)
            finally:
                report.requests += pacer.requests - before_req

    async def _fetch_windows(
        self, venue: Any, key: SeriesKey, windows: list[tuple[int, int]], report: SeriesReport
    ) -> None:
        for lo, hi in windows:
            report.windows.append((lo, hi))
            page = await self._fetch(venue, key, lo, hi, report)
            if page.note and page.note not in report.notes:
                report.notes.append(page.note)

    async def _fetch(
        self, venue: Any, key: SeriesKey, lo: int, hi: int, report: SeriesReport
    ) -> Any:
        async def on_page(rows: Sequence[Any]) -> None:
            for row in rows:
                await self.writer.put(row)
            report.rows_fetched += len(rows)
            self._emit(key, "rows", n=len(rows))

        if key.what == FUNDING:
            return await venue.fetch_funding_history(key.symbol, lo, hi, on_page=on_page)
        return await venue.fetch_ohlcv_history(key.symbol, key.timeframe, lo, hi, on_page=on_page)

    async def _flush(self) -> None:
        flush = getattr(self.writer, "flush", None)
        if flush is not None:
            await flush()


__all__ = [
    "FUNDING",
    "OHLCV",
    "WHATS",
    "Backfill",
    "BackfillSettings",
    "Pacer",
    "SeriesKey",
    "SeriesReport",
    "pacer_for",
    "plan_windows",
]

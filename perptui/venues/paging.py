"""Forward pagination over a venue's time-range history endpoint.

Venues differ in which rows they keep when a time range holds more rows than the page
limit: binance returns the oldest `limit` rows from `startTime`, okx and bybit the newest.
The pager makes both behave the same, with the fewest requests:

- ``ascending`` venues get the whole remaining range; the cursor moves past the last row.
- other venues get a window of exactly ``limit * step`` ms, which holds at most ``limit``
  rows when the series is regular, so which end the venue keeps does not matter. The next
  window starts just after the last row received, so an unaligned `since` costs nothing.

Either way a regular series of R rows costs ceil(R / limit) requests. Irregular series and
servers that cap pages below our limit stay correct: a hole at the bottom of a window that
is not the first one is filled with further requests before the window is handed on, and
the pager learns the smaller page size. Rows are handed to `on_page` oldest first, one
window at a time, so a caller writing them can resume from its newest stored row.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from perptui.venues.base import OnPage

# (since, until inclusive, limit) -> rows in any order
FetchRows = Callable[[int, int, int], Awaitable[Sequence[Any]]]


class Pager:
    def __init__(
        self,
        fetch: FetchRows,
        *,
        limit: int,
        step_ms: int,
        ascending: bool,
        on_page: OnPage | None = None,
    ) -> None:
        if limit < 1 or step_ms < 1:
            raise ValueError("limit and step_ms must be positive")
        self._fetch = fetch
        self.limit = limit
        self.step = step_ms
        self.ascending = ascending
        self._on_page = on_page
        self.pages = 0  # page requests issued (retries are counted by the venue)
        self.rows: list[Any] = []

    async def run(self, since: int, until: int, expect_from: int | None = None) -> list[Any]:
        """Rows in [since, until]; `expect_from` is when the series is known to exist
        (listing time, start of retained history): a hole after it is never taken for
        the start of the series."""
        if self.ascending:
            await self._run_ascending(since, until)
        else:
            await self._run_windows(since, until, expect_from)
        return self.rows

    async def _get(self, lo: int, hi: int) -> list[Any]:
        self.pages += 1
        got = await self._fetch(lo, hi, self.limit)
        by_ts = {int(r.timestamp): r for r in got if lo <= int(r.timestamp) <= hi}
        return [by_ts[t] for t in sorted(by_ts)]

    async def _emit(self, rows: list[Any]) -> None:
        self.rows.extend(rows)
        if self._on_page is not None and rows:
            result = self._on_page(rows)
            if inspect.isawaitable(result):
                await result

    async def _run_ascending(self, since: int, until: int) -> None:
        cursor = since
        short_page = 0  # length of the previous page when it came back short
        while cursor <= until:
            rows = await self._get(cursor, until)
            if not rows:
                return
            if short_page:
                self.limit = short_page  # more rows followed a short page: a server cap
            short_page = len(rows) if len(rows) < self.limit else 0
            await self._emit(rows)
            last = rows[-1].timestamp
            if last + self.step > until:
                return  # the next row would lie beyond `until`
            if len(rows) < self.limit and until - last < 2 * self.step:
                return  # a short page near the end: the venue has nothing newer yet
            # A short page far from `until` means either the series stopped (one more
            # request comes back empty) or the server serves fewer rows than we asked.
            cursor = last + 1

    async def _run_windows(self, since: int, until: int, expect_from: int | None) -> None:
        cursor = since
        seen_data = False
        data_ahead = False  # a probe found rows beyond an empty stretch
        cut_top: tuple[int, int] | None = None  # (rows, window end) of a top-short page
        while cursor <= until:
            hi = min(until, cursor + self.limit * self.step - 1)
            rows = await self._get(cursor, hi)
            if not rows:
                if seen_data and not data_ahead:
                    # Delisted, or an outage longer than a window? One look at the whole
                    # remainder tells; walking empty windows to `until` would not.
                    if hi >= until or not await self._get(hi + 1, until):
                        return
                    data_ahead = True
                cursor = hi + 1  # before listing / retained history / an outage
                continue
            data_ahead = False
            if cut_top is not None and rows[0].timestamp <= cut_top[1]:
                self.limit = cut_top[0]  # the last window was cut at its top: a server cap
            floor = cursor if expect_from is None else max(cursor, expect_from)
            hole = rows[0].timestamp - floor >= self.step
            if hole and (seen_data or len(rows) >= self.limit or expect_from is not None):
                # Mid-series a hole at the bottom means the venue kept the newest rows of
                # an over-full window; fetch the older part before handing the window on.
                rows = await self._fill_down(cursor, rows) + rows
            seen_data = True
            await self._emit(rows)
            last = rows[-1].timestamp
            short_at_top = len(rows) < self.limit and hi - last >= self.step
            cut_top = (len(rows), hi) if short_at_top else None
            if last + self.step > until:
                return
            cursor = last + 1

    async def _fill_down(self, lo: int, newer: list[Any]) -> list[Any]:
        older: list[Any] = []
        truncated = newer
        while True:
            rows = await self._get(lo, truncated[0].timestamp - 1)
            if not rows:
                return older
            self._learn(truncated)
            older = rows + older
            if rows[0].timestamp - lo < self.step:
                return older
            truncated = rows

    def _learn(self, truncated: list[Any]) -> None:
        """The page `truncated` was cut short by the venue: shrink future windows."""
        n = len(truncated)
        if n < self.limit:
            self.limit = n  # the server's own page cap is below ours
        elif n > 1:
            span = truncated[-1].timestamp - truncated[0].timestamp
            self.step = max(1, min(self.step, span // (n - 1)))  # rows denser than assumed

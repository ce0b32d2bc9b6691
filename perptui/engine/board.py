"""The funding board's engine side: every venue's whole market on a cadence.

One task per venue calls ``Venue.fetch_board`` every ``refresh_s`` (never two refreshes
of one venue at once; a slow venue delays only itself), turns the quotes into rows
(``perptui.core.board``), publishes an immutable :class:`BoardState` for the UI and the
headless command, hands every observation to the writer as a ``FundingInfo`` and runs
the market-wide signal rules once per episode, handing each new signal to the writer
and to the alert dispatcher.  Nothing here blocks: writer and alerts are queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from perptui.core.board import (
    BoardRow,
    CarryCosts,
    CarryPair,
    Episodes,
    board_row,
    carry_pairs,
)
from perptui.core.market_signals import market_signals
from perptui.core.model import BoardFetch, FundingInfo, MarketQuote, Signal
from perptui.core.signals import SignalThresholds
from perptui.engine.backoff import Backoff

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BoardSettings:
    """Cadence and costs of the funding board (config: ``[board]``)."""

    refresh_s: float = 60.0
    costs: CarryCosts = field(default_factory=CarryCosts)
    thresholds: SignalThresholds = field(default_factory=SignalThresholds)
    # the executable price-divergence rule fires when the edge net of both taker fees
    # exceeds this (fraction of price)
    price_edge: float = 0.0
    signals: bool = True


@dataclass(frozen=True, slots=True)
class VenueBoardStatus:
    venue: str
    markets: int = 0
    requests: int = 0  # in the last refresh
    bulk: bool = True
    refreshes: int = 0
    last_ok_ms: int | None = None
    last_error: str | None = None
    seconds: float = 0.0  # wall time of the last refresh
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BoardState:
    """What the board shows; replaced wholesale on every venue refresh."""

    rows: tuple[BoardRow, ...] = ()
    pairs: tuple[CarryPair, ...] = ()
    venues: tuple[VenueBoardStatus, ...] = ()
    version: int = 0

    def status(self, venue: str) -> VenueBoardStatus | None:
        return next((s for s in self.venues if s.venue == venue), None)


def funding_record(q: MarketQuote) -> FundingInfo:
    """The writer's record of one board observation (``funding_rates``, kind live)."""
    return FundingInfo(
        exchange=q.exchange,
        symbol=q.symbol,
        timestamp=q.timestamp,
        funding_rate=q.funding_rate,
        next_funding_time=q.next_funding_time,
        interval_hours=q.interval_hours,
        mark_price=q.mark_price,
        index_price=q.index_price,
        predicted_rate=q.predicted_rate,
    )


class Board:
    """Polls every venue's board and keeps the latest state (see module docstring)."""

    def __init__(
        self,
        venues: Sequence[Any],
        *,
        writer: Any = None,
        settings: BoardSettings | None = None,
        alerts: Any = None,
        on_change: Callable[[BoardState], None] | None = None,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.venues = list(venues)
        self.writer = writer
        self.settings = settings or BoardSettings()
        self.alerts = alerts
        self.on_change = on_change
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._rows: dict[tuple[str, str], BoardRow] = {}
        self._status: dict[str, VenueBoardStatus] = {v.id: VenueBoardStatus(v.id) for v in venues}
        self._episodes = Episodes()
        self._locks = {v.id: asyncio.Lock() for v in venues}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.state = BoardState(venues=tuple(self._status.values()))
        self.signals: list[Signal] = []  # every signal fired, in order (bounded below)

    # ------------------------------------------------------------------ refresh

    async def refresh(self, venue: Any, *, full: bool = False) -> BoardFetch | None:
        """One refresh of one venue; failures are recorded on its status, not raised."""
        async with self._locks[venue.id]:
            started = time.monotonic()
            prev = self._status[venue.id]
            try:
                fetched = await venue.fetch_board(full=full)
            except Exception as exc:  # any venue failure: keep the last rows, say so
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from exc  # a client turned our cancel into this
                log.warning("%s: board refresh failed: %s", venue.id, exc)
                self._status[venue.id] = replace(
                    prev, last_error=f"{type(exc).__name__}: {exc}"[:200]
                )
                self._publish()
                return None
            self.apply(fetched, seconds=time.monotonic() - started)
            return fetched

    def apply(self, fetched: BoardFetch, *, seconds: float = 0.0) -> list[Signal]:
        """Fold one venue's fetch into the board; returns the signals that fired."""
        venue = fetched.exchange
        seen = set()
        for q in fetched.quotes:
            key = (venue, q.symbol)
            seen.add(key)
            self._rows[key] = board_row(q, self._rows.get(key))
            if self.writer is not None:
                self.writer.submit(funding_record(q))
        for key in [k for k in self._rows if k[0] == venue and k not in seen]:
            del self._rows[key]  # delisted (or no longer perpetual) since the last refresh
        prev = self._status.get(venue) or VenueBoardStatus(venue)
        self._status[venue] = replace(
            prev,
            markets=len(fetched.quotes),
            requests=fetched.requests,
            bulk=fetched.bulk,
            refreshes=prev.refreshes + 1,
            last_ok_ms=self._clock_ms(),
            last_error=None,
            seconds=seconds,
            notes=fetched.notes,
        )
        fired = self._evaluate(venue) if self.settings.signals else []
        self._publish()
        return fired

    def _evaluate(self, venue: str) -> list[Signal]:
        """Market-wide rules over every row; a signal fires when its episode starts.

        A refresh of one venue re-judges only the conditions that involve it, so the
        other venues' episodes continue untouched."""
        rows = list(self._rows.values())
        now = self._clock_ms()
        found = market_signals(
            rows,
            self.settings.thresholds,
            self.settings.costs,
            price_edge=self.settings.price_edge,
            now_ms=now,
        )
        by_key = {_episode_key(s): s for s in found}

        def involves(key: tuple[str, str, str]) -> bool:
            return venue in key[1].split("|")

        fresh = self._episodes.update_scope(involves, [k for k in by_key if involves(k)])
        fired = [by_key[k] for k in sorted(fresh)]
        for sig in fired:
            self.signals.append(sig)
            if self.writer is not None:
                self.writer.submit(sig)
            if self.alerts is not None:
                self.alerts.notify(sig)
        del self.signals[:-1000]
        return fired

    def _publish(self) -> None:
        rows = tuple(self._rows.values())
        self.state = BoardState(
            rows=rows,
            pairs=tuple(carry_pairs(rows, self.settings.costs)),
            venues=tuple(self._status.values()),
            version=self.state.version + 1,
        )
        if self.on_change is not None:
            self.on_change(self.state)

    # ------------------------------------------------------------------ loop

    async def refresh_all(self, *, full: bool = False) -> list[BoardFetch | None]:
        return list(await asyncio.gather(*(self.refresh(v, full=full) for v in self.venues)))

    def start(self) -> None:
        """One cadence task per venue (call from a running loop)."""
        if self._tasks:
            return
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._loop(v), name=f"board:{v.id}") for v in self.venues
        ]

    async def stop(self, timeout_s: float = 2.0) -> None:
        """Cancel the cadence tasks; a refresh stuck in a client that does not honour
        cancellation promptly is abandoned after ``timeout_s``, never waited on."""
        tasks, self._tasks = self._tasks, []
        self._stopping = True  # an abandoned loop ends at its next turn
        for t in tasks:
            t.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for t in pending:
                log.warning("board: %s did not stop within %.1fs", t.get_name(), timeout_s)
        for t in tasks:
            if t.done() and not t.cancelled():
                with contextlib.suppress(Exception):
                    t.result()

    async def _loop(self, venue: Any) -> None:
        backoff = Backoff(base=2.0, cap=max(self.settings.refresh_s, 2.0))
        while not self._stopping:
            started = time.monotonic()
            ok = await self.refresh(venue) is not None
            if ok:
                backoff.success()
                wait = self.settings.refresh_s - (time.monotonic() - started)
            else:
                wait = backoff.failure()
            await asyncio.sleep(max(0.0, wait))


def _episode_key(s: Signal) -> tuple[str, str, str]:
    return (s.kind, s.exchange, s.symbol)


def rows_of(states: Iterable[BoardState]) -> list[BoardRow]:
    return [r for s in states for r in s.rows]

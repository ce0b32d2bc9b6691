"""Stopping is bounded: a swallowed cancellation cannot hang a worker, and `collect`
exits 0 soon after SIGTERM/SIGINT whenever it arrives (start-up, streaming, catch-up)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from perptui.core.model import BookSnapshot, CopiedBook, MarketInfo
from perptui.engine.hub import Hub
from perptui.engine.workers import VenueWorker, WorkerSettings
from perptui.errors import CapabilityMissing

BTC = "BTC/USDT:USDT"


class RacingVenue:
    """A streaming venue whose next book the test releases by hand.

    Releasing a book and cancelling the loop in the same event-loop turn reproduces
    Python 3.11's ``asyncio.wait_for`` race: the inner future is done when the cancel
    arrives, so ``wait_for`` returns the book and the cancellation is lost.  Every
    poller finds its capability missing and ends, so only the book loop runs.
    """

    id = "racing"
    ccxt_id = "racing"
    client = None
    has: dict[str, Any] = {"watchOrderBook": True}  # noqa: RUF012

    def __init__(self) -> None:
        self.info = MarketInfo(self.id, BTC, "BTCUSDT", "BTC", "USDT", "USDT", True, 1, 0.1, 1, 8)
        self.pending: asyncio.Future[BookSnapshot] | None = None
        self.closed = False

    def book(self) -> BookSnapshot:
        return BookSnapshot(self.id, BTC, int(time.time() * 1000), ((99.0, 1.0),), ((101.0, 1.0),))

    async def load_markets(self, reload: bool = False) -> dict[str, MarketInfo]:
        return {BTC: self.info}

    def market(self, symbol: str) -> MarketInfo:
        return self.info

    async def watch_order_book(self, symbol: str, limit: int | None = None) -> BookSnapshot:
        self.pending = asyncio.get_running_loop().create_future()
        return await self.pending

    async def watch_live_book(self, symbol: str, limit: int | None = None) -> CopiedBook:
        return CopiedBook(await self.watch_order_book(symbol, limit))

    async def _missing(self, *args: Any, **kwargs: Any) -> Any:
        raise CapabilityMissing("not in this venue")

    fetch_fundings = fetch_funding = fetch_open_interest = fetch_ticker = _missing
    fetch_ohlcv_history = fetch_order_book = fetch_pools = _missing

    def open_streams(self) -> dict[str, int]:
        return {}

    async def drop_streams(self, idle_s: float | None = None, symbol: str | None = None) -> bool:
        return False

    def book_syncing(self, symbol: str) -> bool:
        return False

    async def close(self) -> None:
        self.closed = True


async def _next_watch(venue: RacingVenue, after: Any) -> asyncio.Future[BookSnapshot]:
    deadline = time.monotonic() + 5
    while venue.pending is None or venue.pending is after or venue.pending.done():
        assert time.monotonic() < deadline, "the book loop is not watching"
        await asyncio.sleep(0.005)
    return venue.pending


async def test_worker_stop_is_bounded_when_a_cancellation_is_swallowed() -> None:
    venue = RacingVenue()
    hub = Hub([BTC], [venue.id])
    settings = WorkerSettings(book_min_interval_s=0.0, stale_after_s=30.0)
    worker = VenueWorker(venue, hub, [BTC], settings)
    worker.start()
    first = await _next_watch(venue, None)
    first.set_result(venue.book())
    second = await _next_watch(venue, first)
    loop_task = worker._book_tasks[BTC]
    # The book and the cancel in one turn: wait_for hands the loop the book and the
    # cancellation is gone.  Before the fix the loop watched on and stop() awaited
    # it forever.
    second.set_result(venue.book())
    started = time.monotonic()
    await asyncio.wait_for(worker.stop(timeout_s=5.0), 10)
    assert time.monotonic() - started < 6
    assert loop_task.done() and venue.closed
    assert hub.latest_book(venue.id, BTC) is not None


# ---------------------------------------------------------------- the command

# Moments the signal is sent (seconds after perptui's code starts running): while the
# config loads and the database opens, while venues load their markets, while books
# stream and the first catch-up writes candles; plus seeded random ones.
_RNG = random.Random(9)
MOMENTS = [
    (signal.SIGTERM, 0.0),
    (signal.SIGINT, 0.3),
    (signal.SIGTERM, 2.0),
    (signal.SIGINT, 3.5),
    (signal.SIGTERM, 6.0),
    *(
        (_RNG.choice((signal.SIGTERM, signal.SIGINT)), round(_RNG.uniform(0.5, 8.0), 2))
        for _ in range(2)
    ),
]
STOP_BOUND_S = 30.0  # a loaded 2-core CI box: imports alone can take 10 s


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("sig", "after_s"), MOMENTS, ids=lambda v: str(v))
def test_collect_exits_0_soon_after_a_signal_at_any_moment(
    tmp_path: Path, sig: signal.Signals, after_s: float
) -> None:
    db = tmp_path / "c.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPTUI_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    cmd = [
        sys.executable, "-m", "perptui", "--demo", "--db", str(db),
        "--log-file", str(tmp_path / "collect.log"), "--symbols", "BTC,ETH",
        "collect", "--snapshot-every", "0.2", "--catchup-hours", "6",
    ]  # fmt: skip
    log = tmp_path / "collect.log"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Counted from the moment perptui's own code runs (its log file appears right
        # after the command line is parsed): before that the interpreter is still
        # starting and a signal gets the OS default, which no program can change.
        deadline = time.monotonic() + 30
        while not log.exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "collect never started"
            time.sleep(0.01)
        time.sleep(after_s)
        sent = time.monotonic()
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=STOP_BOUND_S)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, (proc.returncode, err[-2000:])
    assert "Traceback" not in err
    assert took < STOP_BOUND_S

"""What the monitor needs from the engine, as one small adapter contract.

The app only talks to a :class:`Backend`: start/stop (stop flushes the writer),
add/remove symbols, the markets the venues list (for search), writer counters,
and the hub it samples.  The live/demo wiring implements it, and so does the
fixed backend of the UI tests (``tests/ui_support.py``), so the app never
depends on engine internals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from perptui.engine.hub import Hub
from perptui.engine.views import HubView

if TYPE_CHECKING:
    from perptui.config import Config
    from perptui.emulator import Emulator
    from perptui.engine.board import BoardSettings
    from perptui.engine.engine import Engine
    from perptui.engine.workers import WorkerSettings
    from perptui.store.writer import Writer

log = logging.getLogger(__name__)


class Backend(Protocol):
    mode: str  # "live" | "demo" | "replay"
    hub: Hub
    db_path: str | None  # None: not logging
    # Bumped when stored history changed under the app (e.g. the demo's seed
    # backfill finished): the app re-reads its DB-backed panels at once.
    history_version: int

    async def start(self) -> None:
        """Launch workers and return promptly (never waits for venues)."""

    async def stop(self) -> None:
        """Stop workers, flush and close the writer and clients."""

    async def add_symbol(self, symbol: str) -> None: ...

    async def remove_symbol(self, symbol: str) -> None: ...

    def available_symbols(self) -> Sequence[str]:
        """Unified symbols of the perpetuals listed by the configured venues."""
        ...

    def db_stats(self) -> tuple[int, int] | None:
        """(rows written, writer queue depth), or None when logging is off."""
        ...

    def hint(self, view: HubView) -> str:
        """A one-line message for the user (e.g. no venue reachable), or ''."""
        ...


def venue_notes(view: HubView, limit: int = 3) -> str:
    """'okx: FOO/USDT:USDT: not listed; ...' from the venues' health notes, or ''."""
    notes = [f"{venue}: {note}" for venue, h in view.health.items() for note in h.notes]
    if len(notes) > limit:
        notes = [*notes[:limit], f"+{len(notes) - limit} more"]
    return "; ".join(notes)


NO_VENUE_GRACE_S = 8.0
NO_VENUE_HINT = (
    "No venue reachable yet: check the network (venues keep retrying), "
    "or run `perptui --demo` for the built-in emulator."
)


class EngineBackend:
    """The real thing: venues (live, or pointed at the in-process emulator) -> engine
    -> hub, with the batched writer logging snapshots and funding.

    Everything that needs the event loop (emulator server, venue clients, writer,
    workers) is created in :meth:`start`, on the loop Textual runs, by the composition
    root (`perptui.stack`); the hub exists from construction so the first frame can
    paint before any venue answers.
    """

    def __init__(
        self,
        config: Config,
        *,
        demo: bool = False,
        seed: int = 0,
        emulator: Emulator | None = None,  # an already running Emulator (tests, bench)
        worker_settings: WorkerSettings | None = None,
        stale_after_s: float = 10.0,
        no_venue_grace_s: float = NO_VENUE_GRACE_S,
        board_settings: BoardSettings | None = None,
        alerts: object | None = None,
        after_start: Callable[[EngineBackend], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        # Run in the background once the engine is up (the demo's seed backfill);
        # the command that assembles the app supplies it, so the UI imports no job.
        self.after_start = after_start
        self._after_task: asyncio.Task | None = None
        self.history_version = 0
        self.demo = demo or emulator is not None
        self.mode = "demo" if self.demo else "live"
        self.seed = seed
        self.emulator = emulator
        self._own_emulator = emulator is None
        self.worker_settings = worker_settings
        self.venue_ids = list(config.venues)
        self.symbols = list(config.symbols)
        self.hub = Hub(self.symbols, self.venue_ids, stale_after_s=stale_after_s)
        self.no_venue_grace_s = no_venue_grace_s
        self.alerts = alerts
        self.db_path: str | None = str(config.db_path) if config.log_db else None
        self.writer: Writer | None = None
        self.engine: Engine | None = None
        self.board: object | None = None  # perptui.engine.board.Board, once started
        self.board_settings = board_settings
        self.started_at: float | None = None
        self.start_error = ""
        self.stopped = False

    async def start(self) -> None:
        import time as _time

        from perptui import stack

        self.started_at = _time.monotonic()
        cfg = self.config
        if self.demo:
            if self.emulator is None:
                from perptui.emulator.server import available_venues

                # Venues the emulator has no wire for are shown down, not faked.
                emulated = set(available_venues())
                for v in [v for v in self.venue_ids if v not in emulated]:
                    self.venue_ids.remove(v)
                    self.hub.set_health(v, state="down", last_error="not emulated in this build")
                self.emulator = stack.new_emulator(self.venue_ids, self.seed)
            if self.emulator.port is None:
                await self.emulator.start()

        def down(venue_id: str, exc: Exception) -> None:
            # e.g. ccxt lacks the class: show it, keep the others
            self.hub.set_health(venue_id, state="down", last_error=f"{type(exc).__name__}: {exc}")

        venues = await stack.make_venues(
            self.venue_ids, cfg, emulator=self.emulator if self.demo else None, on_error=down
        )
        if self.db_path is not None:
            try:
                self.writer = await stack.open_writer(cfg)
            except Exception as exc:  # the monitor still runs, without logging
                self.start_error = f"DB logging off: {exc}"
                self.db_path = None
        self.engine = stack.build_engine(
            cfg, venues, self.hub, self.writer, settings=self.worker_settings
        )
        await self.engine.start()
        # The funding board polls every perpetual of the same venues on its own cadence;
        # its signals go to the writer and, when [alerts] names a receiver, outside.
        from perptui.engine.alerts import Alerts
        from perptui.engine.board import Board

        if self.alerts is None:
            alert_settings = stack.alert_settings(cfg)
            if alert_settings.enabled:
                self.alerts = Alerts(alert_settings)
        if self.alerts is not None:
            await self.alerts.start()  # type: ignore[attr-defined]  # built lazily in start(); typed object so the UI layer needs no engine import at load

        self.board = Board(
            venues,
            writer=self.writer,
            settings=self.board_settings or stack.board_settings(cfg),
            alerts=self.alerts,
        )
        self.board.start()
        if self.after_start is not None:
            self._after_task = asyncio.create_task(self._run_after_start(), name="after-start")

    async def _run_after_start(self) -> None:
        assert self.after_start is not None
        try:
            await self.after_start(self)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed seed leaves the monitor running, says why
            log.warning("after start: %s: %s", type(exc).__name__, exc)
            self.start_error = f"history seed failed: {type(exc).__name__}: {exc}"
        finally:
            self.history_version += 1

    async def stop(self) -> None:
        """Stop workers, then flush and close the writer, then the emulator."""
        if self.stopped:
            return
        self.stopped = True
        if self._after_task is not None and not self._after_task.done():
            self._after_task.cancel()
            await asyncio.gather(self._after_task, return_exceptions=True)
        try:
            if self.board is not None:
                await self.board.stop()  # type: ignore[attr-defined]  # built lazily in start(); typed object so the UI layer needs no engine import at load
            if self.alerts is not None:
                await self.alerts.stop()  # type: ignore[attr-defined]  # built lazily in start(); typed object so the UI layer needs no engine import at load
            if self.engine is not None:
                await self.engine.stop()
        finally:
            try:
                if self.writer is not None:
                    await self.writer.close()
            finally:
                if self.emulator is not None and self._own_emulator:
                    await self.emulator.stop()

    async def add_symbol(self, symbol: str) -> None:
        if symbol not in self.symbols:
            self.symbols.append(symbol)
        if self.engine is not None:
            self.engine.add_symbol(symbol)
        else:
            self.hub.add_symbol(symbol)

    async def remove_symbol(self, symbol: str) -> None:
        if symbol in self.symbols:
            self.symbols.remove(symbol)
        if self.engine is not None:
            self.engine.remove_symbol(symbol)
        else:
            self.hub.remove_symbol(symbol)

    def available_symbols(self) -> Sequence[str]:
        if self.engine is None:
            return list(self.symbols)
        return self.engine.available_symbols() or list(self.symbols)

    def db_stats(self) -> tuple[int, int] | None:
        w = self.writer
        if w is None:
            return None
        return (int(w.rows_written), int(w.queue_depth))

    def hint(self, view: HubView) -> str:
        import time as _time

        if self.start_error:
            return self.start_error
        if (
            not self.demo
            and self.started_at is not None
            and _time.monotonic() - self.started_at >= self.no_venue_grace_s
            and not any(h.last_msg_ms is not None for h in view.health.values())
        ):
            return NO_VENUE_HINT
        # Otherwise say what the venues skipped (e.g. a symbol one venue doesn't
        # list), so an added symbol that never shows up is explained, not silent.
        return venue_notes(view)

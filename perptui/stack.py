"""The composition root: venues, the emulator serving them, the writer and the engine,
built from a `Config` in one place.

Every entry point - the monitor (``ui.backend.EngineBackend``), the headless runner
(``perptui.headless``), ``collect``, ``backfill``, ``funding`` and ``doctor`` - gets its
venues and engine from here, so the decisions "live or emulator", "which credentials",
"which worker cadences" and "which engine settings" are made once:

- `open_venues`: an async context with the venues of a Config (live with credentials,
  the in-process emulator for ``--demo``, or a standalone ``perptui emulator`` on a
  loopback port), closed (and the emulator stopped) on exit;
- `make_venues`: the same venues without the context, for owners that manage their
  own lifetime (the monitor), reporting a venue that cannot be built instead of failing;
- `open_writer`: the batched store writer when the Config logs to a database;
- `build_engine`: the engine over those venues with the Config's snapshot cadence,
  book depth, signal thresholds and worker cadences;
- `board_settings` / `alert_settings`: the funding board's and the alert dispatcher's
  settings from ``[board]`` / ``[alerts]``, and `board_running` (both started, for a job).

It imports venues, emulator, store and engine, and nothing above them (no jobs, ui or
commands), so every one of those may use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from perptui.core.alert_policy import AlertPolicy
from perptui.core.board import CarryCosts
from perptui.engine.alerts import Alerts, AlertSettings
from perptui.engine.board import Board, BoardSettings
from perptui.engine.engine import Engine
from perptui.engine.hub import Hub
from perptui.engine.workers import WorkerSettings
from perptui.errors import ConfigError

if TYPE_CHECKING:
    from perptui.config import Config
    from perptui.emulator import Emulator
    from perptui.store.writer import Writer
    from perptui.venues.base import Venue

OnVenueError = Callable[[str, Exception], None]


@dataclass
class VenueSet:
    """Open venues (and the emulator serving them, if any) for the length of a run."""

    venues: list[Venue]
    emulator: Emulator | None = None
    notes: list[str] = field(default_factory=list)  # venues left out, and why

    def venue(self, venue_id: str) -> Venue:
        for v in self.venues:
            if v.id == venue_id:
                return v
        raise KeyError(venue_id)


# ------------------------------------------------------------------------ the emulator


def emulated_venues(wanted: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """The wanted venues the emulator can serve, and notes about the others."""
    from perptui.emulator.server import available_venues

    have = set(available_venues())
    keep = tuple(v for v in wanted if v in have)
    notes = [f"{v}: not emulated in this build, skipped" for v in wanted if v not in have]
    if not keep:
        raise ConfigError(
            f"the emulator serves {', '.join(sorted(have)) or 'no venues'}; "
            f"none of {', '.join(wanted)}"
        )
    return keep, notes


def new_emulator(venue_ids: Sequence[str], seed: int = 0) -> Emulator:
    """An emulator (not started) serving `venue_ids`."""
    from perptui.emulator import Emulator

    return Emulator(seed=seed, venues=tuple(venue_ids))


# ------------------------------------------------------------------------ the venues


async def make_venues(
    venue_ids: Sequence[str],
    config: Config,
    *,
    emulator: Emulator | None = None,
    pro: bool = True,
    credentials: bool = True,
    on_error: OnVenueError | None = None,
    **options: Any,
) -> list[Venue]:
    """One Venue per id: over a client pointed at `emulator`, or live with credentials.

    Credentials go only to live venues, and not at all with ``credentials=False`` (a
    health check reads public data and must never send a key).  ``options`` go to
    `perptui.venues.make_venue` (timeout_ms, max_retries, rest_hostport).  A venue that
    cannot be built (unknown id, the library lacks its class) raises after closing the
    ones already built, unless `on_error` is given: then it is reported there and left
    out, so the others still run.
    """
    from perptui.venues import make_venue

    venues: list[Venue] = []
    try:
        for vid in venue_ids:
            try:
                if emulator is not None:
                    client = emulator.connect(vid, pro=pro)
                    venues.append(
                        make_venue(
                            vid, client=client, pro=pro, book_path=config.book_path, **options
                        )
                    )
                else:
                    creds = config.credentials_for(vid) if credentials else None
                    venues.append(
                        make_venue(
                            vid, credentials=creds, pro=pro, book_path=config.book_path, **options
                        )
                    )
            except Exception as exc:
                if on_error is None:
                    raise
                on_error(vid, exc)
    except BaseException:
        for v in venues:
            with contextlib.suppress(Exception):
                await v.close()
        raise
    return venues


@contextlib.asynccontextmanager
async def open_venues(
    config: Config,
    *,
    emulator_port: int | None = None,
    seed: int = 0,
    pro: bool = True,
) -> AsyncIterator[VenueSet]:
    """The Config's venues for the block; closed (and the emulator stopped) on exit.

    - ``config.demo``: start the in-process emulator on a free loopback port;
    - ``emulator_port``: use a ``perptui emulator`` already listening on 127.0.0.1:PORT;
    - otherwise the real exchanges, with the configured credentials (if any).
    """
    emu = None
    notes: list[str] = []
    venues: list[Venue] = []
    try:
        if config.demo or emulator_port is not None:
            ids, notes = emulated_venues(config.venues)
            emu = new_emulator(ids, seed)
            if emulator_port is None:
                await emu.start(0)
            else:
                # Only the client side is used: connect() builds clients whose URLs
                # point at 127.0.0.1:PORT, where the standalone emulator listens.
                emu.port = int(emulator_port)
            venues = await make_venues(ids, config, emulator=emu, pro=pro)
        else:
            venues = await make_venues(config.venues, config, pro=pro)
        yield VenueSet(venues=venues, emulator=emu, notes=notes)
    finally:
        for v in venues:
            with contextlib.suppress(Exception):
                await v.close()
        if emu is not None and emulator_port is None:
            with contextlib.suppress(Exception):
                await emu.stop()


# ------------------------------------------------------------------ writer and engine


async def open_writer(config: Config, **options: Any) -> Writer | None:
    """The started batched writer for ``config.db_path``, or None when not logging."""
    if not config.log_db:
        return None
    from perptui.store.writer import Writer

    writer = Writer(config.db_path, **options)
    await writer.start()
    return writer


def worker_settings(config: Config) -> WorkerSettings:
    """Worker cadences from a Config (WorkerSettings' defaults for the rest)."""
    return WorkerSettings(funding_poll_s=float(config.funding_poll_s))


def build_engine(
    config: Config,
    venues: Sequence[Venue],
    hub: Hub,
    writer: Any = None,
    *,
    settings: WorkerSettings | None = None,
    symbols: Sequence[str] | None = None,
    snapshot_every_s: float | None = None,
    book_depth: int | None = None,
    **options: Any,
) -> Engine:
    """The engine over `venues` into `hub` (and `writer`), with the Config's settings.

    ``symbols`` / ``snapshot_every_s`` / ``book_depth`` override the Config's for jobs
    that choose their own (collect); ``options`` go to `Engine` as they are
    (``signals``, ``shard``).
    """
    return Engine(
        venues,
        config.symbols if symbols is None else symbols,
        hub,
        writer,
        snapshot_every_s=config.snapshot_every_s if snapshot_every_s is None else snapshot_every_s,
        thresholds=config.signals,
        settings=settings or worker_settings(config),
        book_depth=config.book_depth if book_depth is None else book_depth,
        **options,
    )


# ------------------------------------------------------------------ board and alerts


def board_settings(config: Config) -> BoardSettings:
    """The funding board's cadence, carry costs and signal thresholds from a Config."""
    b = config.board
    costs = CarryCosts(
        taker_fee_bps=dict(b.taker_fee_bps),
        default_fee_bps=float(b.default_fee_bps),
        holding_hours=float(b.holding_hours),
    )
    return BoardSettings(refresh_s=float(b.refresh_s), costs=costs, thresholds=config.signals)


def alert_settings(config: Config) -> AlertSettings:
    """The alert dispatcher's settings from ``[alerts]`` (off when neither a webhook nor
    a command is set)."""
    a = config.alerts
    policy = AlertPolicy(
        rules=dict(a.rules),
        max_per_hour=int(a.max_per_hour),
        min_interval_s=float(a.min_interval_s),
        quiet_hours=a.quiet_hours,
    )
    return AlertSettings(
        webhook_url=a.webhook, command=a.command, policy=policy, retries=int(a.retries)
    )


@contextlib.asynccontextmanager
async def board_running(
    venues: Sequence[Venue], writer: Any, config: Config
) -> AsyncIterator[Board]:
    """A started Board (and the [alerts] dispatcher, when configured) for a job's
    lifetime: ``collect --board`` logs every perpetual's funding and the market-wide
    signals headless, as the monitor does."""
    settings = alert_settings(config)
    alerts = await Alerts(settings).start() if settings.enabled else None
    board = Board(venues, writer=writer, settings=board_settings(config), alerts=alerts)
    board.start()
    try:
        yield board
    finally:
        await board.stop()
        if alerts is not None:
            await alerts.stop()


__all__ = [
    "VenueSet",
    "alert_settings",
    "board_running",
    "board_settings",
    "build_engine",
    "emulated_venues",
    "make_venues",
    "new_emulator",
    "open_venues",
    "open_writer",
    "worker_settings",
]

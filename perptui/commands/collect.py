"""``perptui collect``: the headless collector (engine + schedules), for servers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
import time
from typing import Any

from perptui.config.settings import add_flags
from perptui.config.values import PORT, SEED, Number
from perptui.errors import ConfigError

DURATION = Number(0, 366 * 86_400, above=True, unit="s")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "collect",
        help="headless collector: funding, book snapshots and OHLCV on a schedule",
        description="Run the engine without a UI: book snapshots every N seconds, funding "
        "for every collected perpetual hourly and just after each venue's settlement, an "
        "OHLCV (and settled funding) catch-up hourly, signals on the engine's clock. "
        "SIGINT/SIGTERM stop it cleanly (everything observed is written). Logs go to a "
        "rotating file (--log-file, default: the platform log dir).",
    )
    p.add_argument(
        "--all",
        dest="all_symbols",
        action="store_true",
        help="funding and candles for every perpetual of each venue (books: --symbols)",
    )
    add_flags(p, "collect")
    p.add_argument(
        "--duration",
        type=DURATION.argtype("--duration"),
        default=None,
        metavar="S",
        help=f"stop after S seconds ({DURATION.describe()})",
    )
    p.add_argument(
        "--emulator-port",
        type=PORT.argtype("--emulator-port"),
        default=None,
        metavar="PORT",
        help="use a `perptui emulator` on 127.0.0.1:PORT",
    )
    p.add_argument(
        "--seed", type=SEED.argtype("--seed"), default=0, help="emulator seed for --demo"
    )
    p.add_argument(
        "--shard",
        default=None,
        metavar="K/N",
        help="collect only shard K of N (a stable split of venue+symbol), so N collectors "
        "can share one database",
    )
    p.add_argument("--no-signals", action="store_true", help="do not evaluate signal rules")
    p.add_argument(
        "--board",
        action="store_true",
        help="also poll every perpetual's funding (the board: one bulk request per venue "
        "every [board] refresh_s), logging it and the market-wide signals ([alerts] too)",
    )
    p.add_argument(
        "--ack-log",
        default=None,
        metavar="PATH",
        help="append the key of every record once committed (JSON lines, fsynced per batch)",
    )
    return p


class _EarlyStop:
    """SIGINT/SIGTERM before the event loop's handlers exist: remember, stop at once.

    Installed by ``before_run`` (the CLI calls it right after parsing the command
    line, before logging is set up); the loop's own handlers replace it once the
    collector is starting, and read ``requested`` so a signal sent while the config was
    loading or the database opening still means "stop cleanly, exit 0".
    """

    requested = False
    installed = False
    raising = False  # only inside run(), which catches _StopRequested

    @classmethod
    def install(cls) -> None:
        cls.requested = False
        cls.installed = True
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                signal.signal(sig, cls._note)

    @classmethod
    def _note(cls, signum: int, frame: Any) -> None:
        cls.requested = True
        if cls.raising:
            # Nothing is open yet: abandon whatever start-up step runs (the collector's
            # imports alone take seconds on a loaded box) instead of finishing it first.
            raise _StopRequested


class _StopRequested(BaseException):
    """Raised by a start-up signal; caught in ``run``, which then exits 0."""


def before_run() -> None:
    """Called by the CLI as soon as it knows the command is collect (before logging)."""
    _EarlyStop.install()


def run(args: argparse.Namespace) -> int:
    if not _EarlyStop.installed:  # run() called directly, not through the CLI
        _EarlyStop.install()
    if _EarlyStop.requested:
        return _stopped_early()
    _EarlyStop.raising = True
    try:
        return _run(args)
    except _StopRequested:
        return _stopped_early()
    finally:
        _EarlyStop.raising = False


def _run(args: argparse.Namespace) -> int:
    from perptui.config import load_config

    config = load_config(args)
    if _EarlyStop.requested:  # asked to stop while starting: nothing observed yet
        return _stopped_early()
    # The collector's imports (pandas among them) take seconds on a loaded machine:
    # only after a last look at the flag.
    from perptui.jobs.collect import CollectSettings

    if _EarlyStop.requested:
        return _stopped_early()
    c = config.collect
    shard = None
    if args.shard is not None:
        from perptui.core.shard import Shard

        try:
            shard = Shard.parse(args.shard)
        except ValueError as exc:
            raise ConfigError(f"--shard: {exc}") from None
    settings = CollectSettings(
        symbols=tuple(config.symbols),
        all_symbols=bool(args.all_symbols),
        funding_every_s=c.funding_every_s,
        snapshot_every_s=c.snapshot_every_s,
        ohlcv_every_s=c.ohlcv_every_s,
        timeframe=c.timeframe,
        catchup_hours=c.catchup_hours,
        book_depth=config.book_depth,
        signals=not args.no_signals,
        shard=shard,
    )
    config.ensure_db_dir()
    if _EarlyStop.requested:
        return _stopped_early()
    code = asyncio.run(_collect(config, settings, args))
    # Everything is committed and closed: a further signal has nothing left to stop
    # (and the loop's handlers are gone, so it would kill the process with -15).
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(sig, signal.SIG_IGN)
    # Freezing the heap spares the interpreter's final collection a walk over every
    # object (ccxt's markets, the emulator's books): seconds of exit time on a loaded
    # machine, between "stopped" and the process end.
    gc.freeze()
    return code


def _stopped_early() -> int:
    print("perptui collect: stopped before it started (signal)", file=sys.stderr, flush=True)
    return 0


async def _collect(config: Any, settings: Any, args: argparse.Namespace) -> int:
    from perptui.jobs.ack import open_ack
    from perptui.jobs.collect import Collector, ObservedWriter
    from perptui.jobs.preflight import require_listed
    from perptui.stack import board_running, open_venues
    from perptui.store.backend import redact
    from perptui.store.db import check_not_locked, check_usable
    from perptui.store.writer import Writer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if _EarlyStop.requested:
        stop.set()

    check_usable(config.db_path)  # before any network I/O; writes nothing
    check_not_locked(config.db_path)  # another writer holding it: refuse now, not mid-run
    ack = open_ack(args.ack_log)
    raw = Writer(config.db_path, on_commit=ack)
    writer = ObservedWriter(raw)
    started = time.monotonic()
    collector = None
    try:
        if stop.is_set():  # a signal while the database was opening: stop here
            return _stopped_early()
        async with open_venues(config, emulator_port=args.emulator_port, seed=args.seed) as session:
            for note in session.notes:
                print(f"perptui collect: {note}", file=sys.stderr)
            # unknown / spot / unlisted symbols: exit 2 now, not a run that collects nothing
            await require_listed(session.venues, settings.symbols)
            await raw.start()
            where = "the emulator" if session.emulator is not None else "live venues"
            part = f"shard {settings.shard} of " if settings.shard is not None else ""
            print(
                f"perptui collect: {part}{', '.join(v.id for v in session.venues)} "
                f"({'all perpetuals' if settings.all_symbols else ', '.join(settings.symbols)}) "
                f"from {where} -> {redact(config.db_path)}; Ctrl-C or SIGTERM to stop",
                file=sys.stderr,
                flush=True,
            )
            collector = Collector(session.venues, writer, settings, config=config)
            async with contextlib.AsyncExitStack() as extra:
                if args.board:
                    await extra.enter_async_context(board_running(session.venues, writer, config))
                await collector.run(stop, args.duration)
    finally:
        await raw.close()  # commits everything accepted, even on an error above
        if ack is not None:
            ack.close()
    line = collector.status_line() if collector is not None else ""
    print(
        f"perptui collect: stopped after {time.monotonic() - started:.0f}s; "
        f"{raw.rows_written:,} rows written ({writer.observed:,} observed); {line}",
        file=sys.stderr,
        flush=True,
    )
    return 0

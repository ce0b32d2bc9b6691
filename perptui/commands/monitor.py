"""`perptui` / `perptui monitor`: the live terminal monitor (`--demo`: on the emulator)."""

from __future__ import annotations

import argparse

from perptui.config.settings import add_flags
from perptui.config.values import SEED


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("monitor")
    add_flags(p, "monitor")
    p.add_argument(
        "--headless",
        action="store_true",
        default=False,
        help="no UI: run the engine and print a status line every few seconds",
    )
    p.add_argument(
        "--seed",
        type=SEED.argtype("--seed"),
        default=0,
        help="emulator seed for --demo (default 0)",
    )
    return p


def _check_db(config) -> None:
    """Fail before the screen opens if the DB path is unusable (StoreError, exit 2).

    verify=True: a damaged database is refused here (one line, exit 2) instead of
    the monitor opening with "DB off" after the writer trips over it.
    """
    if not config.log_db:
        return
    from perptui.store.db import connect_sync

    conn = connect_sync(config.db_path, verify=True)
    conn.close()


def _check_symbols(config, seed: int) -> None:
    """--symbols that no configured venue lists as a perpetual: UnknownSymbol (one
    line, exit 2) before the screen opens, as collect and backfill do."""
    import asyncio

    from perptui.jobs.preflight import require_listed_for

    asyncio.run(require_listed_for(config, seed=seed))


def run(args: argparse.Namespace) -> int:
    from perptui.config import load_config

    config = load_config(args)
    if config.log_db:
        config.ensure_db_dir()
    if getattr(args, "symbols", None) is not None:
        # before _check_db, which creates the file: a refused start leaves none behind
        if config.log_db:
            from perptui.store.db import check_usable

            check_usable(config.db_path)  # reads only; a bad DB still fails first
        _check_symbols(config, args.seed)
    _check_db(config)
    if args.headless:
        from perptui.headless import main_sync

        return int(main_sync(config, emulator=config.demo, seed=args.seed) or 0)

    from perptui.ui.app import MonitorApp
    from perptui.ui.backend import EngineBackend

    seeded = config.demo and config.log_db
    backend = EngineBackend(
        config, demo=config.demo, seed=args.seed, after_start=seed_history if seeded else None
    )
    app = MonitorApp(backend, hz=config.ui_hz, theme=config.theme)
    result = app.run()
    return int(result or 0)


async def seed_history(backend) -> None:
    """--demo: a few days of funding and candles from the emulator, so every panel
    has history within seconds of the first start (perptui.jobs.seed)."""
    from perptui.jobs.seed import seed_demo_history

    await seed_demo_history(
        backend.config, backend.emulator, backend.writer, backend.venue_ids, backend.symbols
    )

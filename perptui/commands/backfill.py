"""``perptui backfill``: funding and OHLCV history into the database, resumably."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from perptui.config.settings import add_flags
from perptui.config.values import PORT, SEED, Number
from perptui.core.units import DAY_MS, utc_text
from perptui.errors import ConfigError, VenueUnreachable

DAYS = Number(0, 3650, above=True, unit="days")
DB_STALL_S = 30.0  # how long a locked database may stall the backfill before it fails


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "backfill",
        help="fetch funding and OHLCV history into the database, resumably",
        description="Fetch settled funding and OHLCV history for each venue x symbol into "
        "the database. Resumes from what is stored (a re-run over a covered window makes no "
        "request), pages with the venue's largest page, stays under each venue's rate limit "
        "and reports coverage and gaps per series at the end.",
    )
    p.add_argument(
        "--days",
        type=DAYS.argtype("--days"),
        default=365.0,
        help=f"how far back ({DAYS.describe()}, default 365)",
    )
    p.add_argument(
        "--all",
        dest="all_symbols",
        action="store_true",
        help="funding of every perpetual of each venue (OHLCV stays with --symbols)",
    )
    add_flags(p, "backfill")
    p.add_argument(
        "--what",
        default="funding,ohlcv",
        help="comma-separated: funding, ohlcv (default both)",
    )
    p.add_argument(
        "--emulator-port",
        type=PORT.argtype("--emulator-port"),
        default=None,
        metavar="PORT",
        help="use a `perptui emulator` listening on 127.0.0.1:PORT",
    )
    p.add_argument(
        "--seed", type=SEED.argtype("--seed"), default=0, help="emulator seed for --demo"
    )
    p.add_argument(
        "--ack-log",
        default=None,
        metavar="PATH",
        help="append the key of every record once committed (JSON lines, fsynced per batch)",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bars (one line per series)"
    )
    return p


def run(args: argparse.Namespace) -> int:
    from perptui.config import load_config
    from perptui.jobs import parse_list
    from perptui.jobs.backfill import WHATS, BackfillSettings

    config = load_config(args)
    whats = tuple(parse_list(args.what))
    bad = [w for w in whats if w not in WHATS]
    if bad or not whats:
        raise ConfigError(f"--what: choose from {', '.join(WHATS)} (got {args.what!r})")
    timeframe = config.collect.timeframe
    now = int(time.time() * 1000)
    settings = BackfillSettings(
        since=now - int(args.days * DAY_MS),
        until=now,
        whats=whats,
        timeframe=timeframe,
        symbols=tuple(config.symbols),
        all_symbols=bool(args.all_symbols),
    )
    config.ensure_db_dir()
    return asyncio.run(
        run_backfill(
            config,
            settings,
            emulator_port=args.emulator_port,
            seed=args.seed,
            progress=not args.no_progress,
            ack_log=args.ack_log,
        )
    )


async def run_backfill(
    config: Any,
    settings: Any,
    *,
    emulator_port: int | None,
    seed: int,
    progress: bool,
    ack_log: str | None = None,
) -> int:
    from rich.console import Console

    from perptui.jobs.ack import open_ack
    from perptui.jobs.backfill import Backfill
    from perptui.jobs.preflight import require_listed
    from perptui.stack import open_venues
    from perptui.store.db import check_not_locked, check_usable
    from perptui.store.writer import Writer

    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 140)  # logs and pipes: no wrapped table cells
    # A database another process keeps locked fails the run after a bounded wait
    # (one line, exit 2) rather than retrying forever.
    check_usable(config.db_path)  # before any network I/O; writes nothing
    check_not_locked(config.db_path)  # another writer holding it: refuse now, not mid-run
    ack = open_ack(ack_log)
    writer = Writer(
        config.db_path,
        batch_rows=500,
        stall_timeout_s=DB_STALL_S,
        close_wait_s=5.0,
        on_commit=ack,
    )
    started = time.monotonic()
    try:
        async with open_venues(config, emulator_port=emulator_port, seed=seed) as session:
            for note in session.notes:
                console.print(f"[yellow]{note}[/yellow]")
            failed = await require_listed(
                session.venues, () if settings.all_symbols else settings.symbols
            )
            if session.venues and len(failed) == len(session.venues):
                # Nothing could even be listed: one line, before the database is touched.
                raise VenueUnreachable(
                    "backfill: no venue could be used: "
                    + "; ".join(f"{v}: {err}" for v, err in failed.items())
                )
            await writer.start()
            with BackfillProgress(console, enabled=progress and console.is_terminal) as bar:
                job = Backfill(session.venues, writer, settings, on_progress=bar.hook)
                reports = await job.run()
    finally:
        try:
            await writer.close()
        finally:
            if ack is not None:
                ack.close()
    if not reports and job.venue_errors and len(job.venue_errors) == len(session.venues):
        # Nothing could even be listed: one line, like any other bad input.
        raise VenueUnreachable(
            "backfill: no venue could be used: "
            + "; ".join(f"{v}: {err}" for v, err in job.venue_errors.items())
        )
    console.print(summary_table(reports, job.venue_errors, time.monotonic() - started))
    any_failed = any(r.error for r in reports) or bool(job.venue_errors)
    return 1 if any_failed and not any(r.stored_rows for r in reports) else 0


class BackfillProgress:
    """One rich progress bar per series (or a line per finished series when not a TTY)."""

    def __init__(self, console: Any, *, enabled: bool) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = console
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self.tasks: dict[Any, Any] = {}

    def __enter__(self) -> BackfillProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def hook(self, key: Any, event: str, info: dict[str, Any]) -> None:
        if event == "plan":
            self.tasks[key] = self.progress.add_task(
                key.label, total=max(1, info["to_fetch"]), state="fetching"
            )
        elif event == "rows" and key in self.tasks:
            self.progress.advance(self.tasks[key], info["n"])
        elif event == "retry" and key in self.tasks:
            self.progress.update(self.tasks[key], state=f"retry in {info['delay_s']:.0f}s")
        elif event == "done":
            report = info["report"]
            task = self.tasks.get(key)
            if task is not None:
                self.progress.update(
                    task, completed=self.progress.tasks[task].total, state=report.status
                )
            if not self.enabled:
                self.console.print(
                    f"{key.label}: {report.status}, {report.rows_fetched} rows fetched "
                    f"in {report.requests} requests"
                )


def summary_table(reports: list[Any], venue_errors: dict[str, str], seconds: float) -> Any:
    """Coverage per series, then one line per note (caps, gaps, errors)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    # borderless and right-padded only: fits an 80-column terminal
    table = Table(
        title="backfill coverage",
        title_justify="left",
        box=None,
        header_style="bold underline",
        padding=(0, 1, 0, 0),
        pad_edge=False,
    )
    for col, justify in (
        ("venue", "left"),
        ("symbol", "left"),
        ("tf", "left"),
        ("rows", "right"),
        ("first", "left"),
        ("last", "left"),
        ("gaps", "right"),
        ("req", "right"),
        ("status", "left"),
    ):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]  # justify: a str from the column table, one of rich's names
    style = {"ok": "green", "partial": "yellow", "error": "red", "skipped": "dim"}
    notes: list[Any] = []
    for r in sorted(reports, key=lambda r: (r.key.venue, r.key.symbol, r.key.what)):
        k = r.key
        table.add_row(
            k.venue,
            k.symbol,
            "fund" if k.timeframe is None else k.timeframe,
            f"{r.stored_rows:,}",
            utc_text(r.first_ms, short=True),
            utc_text(r.last_ms, short=True),
            str(len(r.gaps)),
            str(r.requests),
            Text(r.status, style=style.get(r.status, "")),
        )
        extra = list(r.notes)
        if r.gaps:
            extra.append(
                f"{r.missing} rows missing in {len(r.gaps)} gaps, first after {utc_text(r.gaps[0][0])}"
            )
        elif r.short_start and not r.skipped and r.first_ms is not None:
            extra.append(f"starts {utc_text(r.first_ms)}, after the requested {utc_text(r.since)}")
        if r.error:
            extra.append(f"error: {r.error}")
        for note in extra:
            notes.append(Text(f"  {k.label}: {note}", style=style.get(r.status, "")))
    lines: list[Any] = [table, *notes]
    for venue, err in venue_errors.items():
        lines.append(Text(f"{venue}: {err}", style="red"))
    total = sum(r.requests for r in reports)
    lines.append(Text(f"{len(reports)} series, {total} requests, {seconds:.1f}s", style="dim"))
    return Group(*lines)

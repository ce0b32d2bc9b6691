"""``perptui signals``: the monitor's signal rules over stored history."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from typing import Any

from perptui.config.values import Number
from perptui.errors import ConfigError

LIMIT = Number(0, 10_000_000, integer=True)

KINDS = ("funding_arb", "divergence", "imbalance")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "signals",
        help="run the signal rules over stored history",
        description="Evaluate the monitor's signal rules (funding arb, cross-venue funding "
        "divergence, sustained book imbalance) over the stored funding and snapshots, with "
        "the thresholds of the config's [signals] section, and print what fired (once per "
        "episode). --save stores them in the signals table.",
    )
    p.add_argument("--since", default=None, help="start time (ISO 8601 or epoch ms)")
    p.add_argument("--until", default=None, help="end time, exclusive")
    p.add_argument("--kind", default=",".join(KINDS), help=f"comma-separated: {', '.join(KINDS)}")
    p.add_argument(
        "--funding",
        choices=("settled", "live", "all"),
        default="settled",
        help="which funding rows to evaluate (default settled)",
    )
    p.add_argument(
        "--limit", type=LIMIT.argtype("--limit"), default=50, help="rows shown (0: all; default 50)"
    )
    p.add_argument("--save", action="store_true", help="store the signals in the database")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    return p


def run(args: argparse.Namespace) -> int:
    from perptui.commands.report_view import signals_table
    from perptui.config import load_config
    from perptui.jobs import parse_list
    from perptui.jobs.report import funding_signals, imbalance_signals
    from perptui.store.backend import redact
    from perptui.store.db import require_database
    from perptui.store.read import to_ms

    config = load_config(args)
    kinds = parse_list(args.kind)
    if not kinds or any(k not in KINDS for k in kinds):
        raise ConfigError(f"--kind: choose from {', '.join(KINDS)} (got {args.kind!r})")
    try:
        since, until = to_ms(args.since), to_ms(args.until)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--since/--until: {exc}") from None
    require_database(config.db_path, "run `perptui backfill`")
    thr = config.signals
    # --venues / --symbols narrow the search only when given on the command line or env
    venues = list(config.venues) if getattr(args, "venues", None) else None
    symbols = list(config.symbols) if getattr(args, "symbols", None) else None
    found = []
    if "funding_arb" in kinds or "divergence" in kinds:
        kind = None if args.funding == "all" else args.funding
        found += [
            s
            for s in funding_signals(
                config.db_path, thr, venues=venues, symbols=symbols, since=since, until=until,
                kind=kind,
            )
            if s.kind in kinds
        ]  # fmt: skip
    if "imbalance" in kinds:
        found += imbalance_signals(
            config.db_path, thr, venues=venues, symbols=symbols, since=since, until=until
        )
    found.sort(key=lambda s: (s.timestamp, s.kind, s.exchange, s.symbol))
    if args.json:
        for s in found:
            print(json.dumps(asdict(s), default=str))
    else:
        from rich.console import Console

        console = Console()
        if not console.is_terminal:
            console.width = max(console.width, 140)
        console.print(signals_table(found, limit=args.limit or None))
    if args.save and found:
        asyncio.run(_save(config.db_path, found))
        print(f"{len(found)} signals saved to {redact(config.db_path)}", file=sys.stderr)
    return 0


async def _save(db: Any, found: list[Any]) -> None:
    from perptui.store.writer import Writer

    async with Writer(db, batch_rows=500) as w:
        for s in found:
            await w.put(s)

"""``perptui doctor``: environment, database and venue reachability check."""

from __future__ import annotations

import argparse
import asyncio

from perptui.config import load_config
from perptui.doctor import DEFAULT_TIMEOUT_S, DoctorFailed, format_report, run_checks, summary_line


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.5 <= value <= 60:
        raise argparse.ArgumentTypeError(f"must be between 0.5 and 60 seconds, got {text}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "doctor",
        help="check Python, ccxt, the database and each venue's reachability",
        description="Check the environment: Python, platform, ccxt, textual and aiosqlite "
        "versions, whether the database is usable, and for each configured venue whether it "
        "is reachable and how many perpetual markets it lists.  With --demo the venues are "
        "the built-in loopback emulator.  Exits 2 when a check fails.",
    )
    p.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"per-venue network timeout (default {DEFAULT_TIMEOUT_S:g})",
    )
    return p


def run(args: argparse.Namespace) -> int:
    config = load_config(args)
    report = asyncio.run(run_checks(config, timeout_s=args.timeout))
    print(format_report(report), flush=True)
    if not report.ok:
        raise DoctorFailed(summary_line(report))
    return 0

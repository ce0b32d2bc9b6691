"""``perptui backtest``: the funding-carry backtest on stored settled funding."""

from __future__ import annotations

import argparse
import json
from typing import Any

from perptui.config.settings import add_flags
from perptui.config.values import Number
from perptui.errors import ConfigError, StoreError

THRESHOLD = Number(0, 1)
NOTIONAL = Number(0, 1e15, above=True)
ROWS = Number(-1, 10_000_000, integer=True)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "backtest",
        help="funding-carry backtest over stored funding history",
        description="What a delta-neutral position entered on the signal rules would have "
        "earned from realised funding, minus fees and slippage: perp vs spot on one venue "
        "(--venue) or perp vs perp across two (--venue and --venue2). Needs settled funding "
        "in the database (`perptui backfill --what funding`). Thresholds are rates per 8 h "
        "as fractions (0.001 = 0.1 %).",
    )
    p.add_argument("--symbol", required=True, help="BTC, BTCUSDT or BTC/USDT:USDT")
    p.add_argument("--venue", required=True, help="the perp's venue (leg A)")
    p.add_argument("--venue2", default=None, help="second perp venue (leg B): perp vs perp")
    add_flags(p, "backtest")
    p.add_argument(
        "--entry",
        type=THRESHOLD.argtype("--entry"),
        default=None,
        help="entry threshold (fraction per 8 h, 0-1)",
    )
    p.add_argument(
        "--exit",
        type=THRESHOLD.argtype("--exit"),
        default=None,
        help="exit threshold (default entry/2)",
    )
    p.add_argument(
        "--notional",
        type=NOTIONAL.argtype("--notional"),
        default=1.0,
        help="position size (default 1)",
    )
    p.add_argument("--since", default=None, help="start time (ISO 8601 or epoch ms)")
    p.add_argument("--until", default=None, help="end time, exclusive")
    p.add_argument(
        "--rows",
        type=ROWS.argtype("--rows"),
        default=20,
        help="settlements listed (0: none, -1: all)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    from perptui.commands.report_view import backtest_render
    from perptui.config import load_config, normalize_symbol
    from perptui.jobs.report import backtest_dict, load_backtest_input, run_backtest
    from perptui.store.backend import redact
    from perptui.store.db import require_database
    from perptui.store.read import to_ms

    config = load_config(args)
    try:
        symbol = normalize_symbol(args.symbol)
        since, until = to_ms(args.since), to_ms(args.until)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    if args.venue2 and args.venue2 == args.venue:
        raise ConfigError("--venue2 must differ from --venue")
    require_database(config.db_path, "run `perptui backfill`")
    inp = load_backtest_input(config.db_path, args.venue, symbol, args.venue2, since, until)
    for venue, df in ((args.venue, inp.a), (args.venue2, inp.b)):
        if venue and (df is None or df.empty):
            raise StoreError(
                f"no settled funding for {venue} {symbol} in {redact(config.db_path)} "
                f"(run `perptui backfill --what funding --venues {venue} --symbols {args.symbol}`)"
            )
    try:
        result = run_backtest(
            inp,
            entry_threshold=args.entry,
            exit_threshold=args.exit,
            notional=args.notional,
            # the [signals] section (--fee-bps / --slippage-bps land there): entry,
            # costs, rate basis
            thresholds=config.signals,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if args.json:
        print(json.dumps(backtest_dict(result)))
        return 0
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 120)
    legs = (
        f"{args.venue} perp vs {args.venue2} perp" if args.venue2 else f"{args.venue} perp vs spot"
    )
    console.print(
        backtest_render(
            result,
            title=f"funding carry: {symbol}, {legs}",
            rows=None if args.rows < 0 else args.rows,
        )
    )
    return 0

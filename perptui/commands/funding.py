"""``perptui funding``: the funding board headless - every perpetual of every venue, or the
best cross-venue carry (``--pairs``), as a table, JSON or CSV."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import sys
from typing import Any

from perptui.config.values import Number
from perptui.errors import ConfigError

TOP = Number(1, 100_000, integer=True)
USD = Number(0, 1e15, unit="USD")
HOURS = Number(0.01, 24 * 3650, unit="h")
BPS = Number(0, 1000, unit="bp")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from perptui.core.board import SORT_COLUMNS

    p = subparsers.add_parser(
        "funding",
        help="the funding board: every perpetual's funding, or the best cross-venue carry",
        description="One refresh of every perpetual of every configured venue (one bulk "
        "request per venue where it has one). Rates are fractions (0.0001 = 0.01 %%) per "
        "settlement; rate_8h and apr are per 8 h / per year of holding, so markets with "
        "1 h, 4 h and 8 h intervals compare. --pairs ranks the best long/short venue pair "
        "per base asset, net of taker fees on entry and exit spread over --holding-hours.",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print a JSON list of objects")
    out.add_argument("--csv", action="store_true", help="print CSV with a header row")
    p.add_argument("--pairs", action="store_true", help="cross-venue carry per base asset")
    p.add_argument(
        "--sort",
        default=None,
        metavar="COL",
        help=f"sort column ({', '.join(SORT_COLUMNS)}; default apr, --pairs: net_apr)",
    )
    p.add_argument("--asc", action="store_true", help="ascending (default: largest first)")
    p.add_argument(
        "--min-oi",
        type=USD.argtype("--min-oi"),
        default=0.0,
        metavar="USD",
        help="only markets with at least this open interest (USD)",
    )
    p.add_argument(
        "--min-volume",
        type=USD.argtype("--min-volume"),
        default=0.0,
        metavar="USD",
        help="only markets with at least this 24 h volume (USD)",
    )
    p.add_argument(
        "--top", type=TOP.argtype("--top"), default=None, metavar="N", help="only the first N rows"
    )
    p.add_argument("--filter", default="", metavar="TEXT", help="symbol or venue contains TEXT")
    p.add_argument(
        "--holding-hours",
        type=HOURS.argtype("--holding-hours"),
        default=None,
        help="holding period the entry+exit cost is spread over (default 168)",
    )
    p.add_argument(
        "--fee-bps",
        type=BPS.argtype("--fee-bps"),
        default=None,
        help="taker fee per fill for every venue (bp, default 5)",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="also fetch per-market open interest where no bulk endpoint has it",
    )
    p.add_argument(
        "--emulator-port",
        type=int,
        default=None,
        metavar="PORT",
        help="use a `perptui emulator` on 127.0.0.1:PORT",
    )
    p.add_argument("--seed", type=int, default=0, help="emulator seed for --demo")
    return p


PAIR_SORTS = ("net_apr", "apr_spread", "base", "long_apr", "short_apr")


def run(args: argparse.Namespace) -> int:
    from perptui.config import load_config
    from perptui.core.board import SORT_COLUMNS, CarryCosts

    config = load_config(args)
    sort = args.sort
    allowed = PAIR_SORTS if args.pairs else SORT_COLUMNS
    if sort is not None and sort not in allowed:
        raise ConfigError(f"--sort: unknown column {sort!r} (choose from {', '.join(allowed)})")
    fees = dict(config.board.taker_fee_bps)
    default_fee = float(config.board.default_fee_bps)
    if args.fee_bps is not None:
        fees, default_fee = {}, float(args.fee_bps)
    holding = args.holding_hours or float(config.board.holding_hours)
    costs = CarryCosts(taker_fee_bps=fees, default_fee_bps=default_fee, holding_hours=holding)
    return asyncio.run(_run(config, args, costs))


async def _run(config: Any, args: argparse.Namespace, costs: Any) -> int:
    from perptui.core.board import carry_pairs, filter_rows, sort_rows
    from perptui.engine.board import Board, BoardSettings
    from perptui.stack import open_venues

    async with open_venues(
        config, emulator_port=args.emulator_port, seed=args.seed, pro=False
    ) as session:
        for note in session.notes:
            print(f"perptui funding: {note}", file=sys.stderr)
        board = Board(session.venues, settings=BoardSettings(costs=costs, signals=False))
        await board.refresh_all(full=args.full)
    state = board.state
    failed = [s for s in state.venues if s.last_error]
    for s in failed:
        print(f"perptui funding: {s.venue}: {s.last_error}", file=sys.stderr)
    if len(failed) == len(state.venues):
        return 1
    rows = filter_rows(
        state.rows, args.filter, min_oi_usd=args.min_oi, min_volume_usd=args.min_volume
    )
    if args.pairs:
        pairs = carry_pairs(rows, costs)
        key = args.sort or "net_apr"
        pairs.sort(key=lambda p: getattr(p, key), reverse=not args.asc and key != "base")
        records = [p.as_json() for p in pairs[: args.top]]
        _emit(records, args, _PAIR_TABLE)
    else:
        ordered = sort_rows(rows, args.sort or "apr", False if args.asc else None)
        records = [r.as_json() for r in ordered[: args.top]]
        _emit(records, args, _ROW_TABLE)
    return 0


def _clean(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _emit(records: list[dict[str, Any]], args: argparse.Namespace, table: Any) -> None:
    records = [{k: _clean(v) for k, v in r.items()} for r in records]
    if args.json:
        json.dump(records, sys.stdout, indent=None, separators=(",", ":"))
        sys.stdout.write("\n")
    elif args.csv:
        if records:
            w = csv.DictWriter(sys.stdout, fieldnames=list(records[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(records)
    else:
        from rich.console import Console

        Console().print(table(records))


def _pct(x: Any, digits: int = 4) -> str:
    return "-" if x is None else f"{x * 100:+.{digits}f}%"


def _usd(x: Any) -> str:
    if x is None:
        return "-"
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.1f}{unit}"
    return f"{x:.0f}"


def _ROW_TABLE(records: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    t = Table(title=f"funding board: {len(records)} markets", title_justify="left")
    for name in ("venue", "symbol", "rate", "int", "8h", "APR", "pred", "basis", "OI", "vol 24h"):
        t.add_column(name, justify="left" if name in ("venue", "symbol") else "right")
    for r in records:
        hours = f"{r['interval_hours']:g}h" + ("~" if r["interval_assumed"] else "")
        t.add_row(
            r["venue"],
            r["symbol"],
            _pct(r["funding_rate"]),
            hours,
            _pct(r["rate_8h"]),
            _pct(r["apr"], 1),
            _pct(r["predicted_rate"]),
            _pct(r["basis"], 3),
            _usd(r["open_interest_usd"]),
            _usd(r["volume_24h_usd"]),
        )
    return t


def _PAIR_TABLE(records: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    t = Table(title=f"cross-venue carry: {len(records)} assets", title_justify="left")
    for name in (
        "base",
        "long",
        "short",
        "long APR",
        "short APR",
        "spread",
        "cost/yr",
        "net APR",
        "OI-w APR",
    ):
        t.add_column(name, justify="left" if name in ("base", "long", "short") else "right")
    for p in records:
        t.add_row(
            p["base"],
            p["long_venue"],
            p["short_venue"],
            _pct(p["long_apr"], 1),
            _pct(p["short_apr"], 1),
            _pct(p["apr_spread"], 1),
            _pct(p["cost_apr"], 1),
            _pct(p["net_apr"], 1),
            _pct(p["oi_weighted_apr"], 1),
        )
    return t

"""``perptui replay``: the monitor fed from a database that collect or the monitor logged."""

from __future__ import annotations

import argparse
from typing import Any

from perptui.config.settings import add_flags
from perptui.config.values import Number

MAX_SPEED = 10_000.0
SPEED = Number(0, MAX_SPEED, above=True)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "replay",
        help="replay a logged database in the monitor",
        description="Open the monitor on what a database holds (snapshots, funding, signals, "
        "candles), on the recording's clock. Times are UTC: HH:MM, ISO 8601, epoch ms, or "
        "relative to the end of the recording (-15m, -2h). Keys: space play/pause, < > seek "
        "1 min, { } 10 min, , . step, ( ) speed, g seek to a time.",
    )
    p.add_argument("--from", dest="start", default=None, metavar="T", help="start time")
    p.add_argument("--to", dest="end", default=None, metavar="T", help="end time")
    p.add_argument(
        "--speed",
        type=SPEED.argtype("--speed"),
        default=1.0,
        metavar="X",
        help="playback speed (1)",
    )
    p.add_argument("--paused", action="store_true", help="open paused at the start")
    add_flags(p, "replay")
    return p


def run(args: argparse.Namespace) -> int:
    from perptui.config import load_config

    config = load_config(args)
    from perptui.jobs.replay import ReplaySource
    from perptui.ui.replay import ReplayApp

    source = ReplaySource(
        str(config.db_path),
        start=args.start,
        end=args.end,
        speed=args.speed,
        play=not args.paused,
    )
    app = ReplayApp(source, hz=config.ui_hz, theme=config.theme)
    return int(app.run() or 0)

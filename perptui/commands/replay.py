"""``perptui replay``: the monitor fed from a database that collect or the monitor logged."""

from __future__ import annotations

import argparse
import math
from typing import Any

from perptui.errors import ConfigError

MAX_SPEED = 10_000.0


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
    p.add_argument("--speed", type=float, default=1.0, metavar="X", help="playback speed (1)")
    p.add_argument("--paused", action="store_true", help="open paused at the start")
    p.add_argument("--theme", choices=("dark", "light"), default=None, help="colour theme")
    return p


def run(args: argparse.Namespace) -> int:
    from perptui.config import load_config

    if not (math.isfinite(args.speed) and 0 < args.speed <= MAX_SPEED):
        raise ConfigError(f"--speed must be > 0 and <= {MAX_SPEED:g}, got {args.speed:g}")
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
    app = ReplayApp(source, hz=config.ui_hz, theme=args.theme or config.theme)
    return int(app.run() or 0)

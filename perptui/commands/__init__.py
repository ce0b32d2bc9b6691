"""CLI subcommands, one module each.

Each module defines ``add_parser(subparsers) -> argparse.ArgumentParser`` and
``run(args) -> int``.  ``perptui.cli`` imports them lazily so a broken or slow
import in one command never affects another.
"""

from __future__ import annotations

from perptui.errors import ConfigError


def check_timeframe(timeframe: str) -> str:
    """`timeframe` if it is a ccxt timeframe string, else ConfigError naming --timeframe."""
    from perptui.store.read import timeframe_ms  # lazy: pulls in pandas

    try:
        timeframe_ms(timeframe)
    except ValueError:
        raise ConfigError(
            f"--timeframe: not a timeframe: {timeframe!r} (e.g. 1m, 1h, 1d)"
        ) from None
    return timeframe

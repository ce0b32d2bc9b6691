"""CLI subcommands, one module each.

Each module defines ``add_parser(subparsers) -> argparse.ArgumentParser`` and
``run(args) -> int``.  ``perptui.cli`` imports them lazily so a broken or slow
import in one command never affects another.
"""

from __future__ import annotations

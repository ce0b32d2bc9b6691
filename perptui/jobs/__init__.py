"""Headless jobs: collect (daemon), backfill (history), export, signals and backtest reports.

Every job takes Venues (``perptui.venues``) and a database path; where the venues come
from - live exchanges, the in-process emulator (``--demo``) or a standalone
``perptui emulator`` on a loopback port - is decided once, by ``perptui.stack``.
"""

from __future__ import annotations


def parse_list(text: str | None) -> list[str]:
    """'a, b,c' -> ['a', 'b', 'c'] (empty items dropped)."""
    if not text:
        return []
    return [x.strip() for x in text.split(",") if x.strip()]


__all__ = ["parse_list"]

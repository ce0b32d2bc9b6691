"""Headless jobs: collect (daemon), backfill (history), export, signals and backtest reports.

Every job takes Venues (``perptui.venues``) and a database path; where the venues come
from - live exchanges, the in-process emulator (``--demo``) or a standalone
``perptui emulator`` on a loopback port - is decided once, here, by :func:`open_venues`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from perptui.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class VenueSession:
    """Open venues (and the emulator serving them, if any) for the length of a job."""

    venues: list[Any]  # perptui.venues.base.Venue
    emulator: Any = None  # perptui.emulator.Emulator when --demo
    notes: list[str] = field(default_factory=list)

    def venue(self, venue_id: str) -> Any:
        for v in self.venues:
            if v.id == venue_id:
                return v
        raise KeyError(venue_id)


def emulated_venues(wanted: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """The wanted venues the emulator can serve, and notes about the others."""
    from perptui.emulator.server import available_venues

    have = set(available_venues())
    keep = tuple(v for v in wanted if v in have)
    notes = [f"{v}: not emulated in this build, skipped" for v in wanted if v not in have]
    if not keep:
        raise ConfigError(
            f"the emulator serves {', '.join(sorted(have)) or 'no venues'}; "
            f"none of {', '.join(wanted)}"
        )
    return keep, notes


@contextlib.asynccontextmanager
async def open_venues(
    venue_ids: Sequence[str],
    *,
    demo: bool = False,
    emulator_port: int | None = None,
    seed: int = 0,
    config: Any = None,
    pro: bool = True,
) -> AsyncIterator[VenueSession]:
    """Venues for `venue_ids`; closed (and the emulator stopped) on exit.

    - ``demo``: start the in-process emulator on a free loopback port;
    - ``emulator_port``: use a ``perptui emulator`` already listening on 127.0.0.1:PORT;
    - otherwise the real exchanges, with the configured credentials (if any).
    """
    from perptui.venues import make_venue

    emu = None
    notes: list[str] = []
    venues: list[Any] = []
    try:
        if demo or emulator_port is not None:
            from perptui.emulator import Emulator

            ids, notes = emulated_venues(venue_ids)
            emu = Emulator(seed=seed, venues=ids)
            if emulator_port is None:
                await emu.start(0)
            else:
                # Only the client side is used: connect() builds ccxt clients whose URLs
                # point at 127.0.0.1:PORT, where the standalone emulator listens.
                emu.port = int(emulator_port)
            for vid in ids:
                venues.append(make_venue(vid, client=emu.connect(vid, pro=pro)))
        else:
            for vid in venue_ids:
                creds = config.credentials_for(vid) if config is not None else None
                venues.append(make_venue(vid, credentials=creds, pro=pro))
        yield VenueSession(venues=venues, emulator=emu, notes=notes)
    finally:
        for v in venues:
            with contextlib.suppress(Exception):
                await v.close()
        if emu is not None and emulator_port is None:
            with contextlib.suppress(Exception):
                await emu.stop()


def parse_list(text: str | None) -> list[str]:
    """'a, b,c' -> ['a', 'b', 'c'] (empty items dropped)."""
    if not text:
        return []
    return [x.strip() for x in text.split(",") if x.strip()]


__all__ = ["VenueSession", "emulated_venues", "open_venues", "parse_list"]

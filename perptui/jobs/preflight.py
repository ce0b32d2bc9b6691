"""Checks a job makes after its venues are open and before it starts its run.

A symbol that is listed as a perpetual on none of the configured venues (a typo, a
spot pair like ``BTC/USDT``, a coin the venues do not list) would give a run that
collects nothing and exits 0.  It fails here instead, in one line (exit 2).  How a
typed symbol maps to a venue's market is the venue layer's call
(``Venue.market``, ``perptui.symbols.resolve_symbol``); this only asks it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from perptui.errors import UnknownSymbol

log = logging.getLogger(__name__)

MARKETS_TIMEOUT_S = 60.0  # the venue layer retries inside; this bounds the whole load


async def _load(venue: Any, timeout_s: float) -> str | None:
    """None when the venue's markets loaded, else why not (logged, not fatal)."""
    try:
        await asyncio.wait_for(venue.load_markets(), timeout=timeout_s)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # unreachable now: the run itself reconnects and says so
        log.warning("%s: markets not loaded before the run: %s", venue.id, exc)
        return f"{type(exc).__name__}: {exc}"
    return None


async def require_listed(
    venues: Sequence[Any], symbols: Sequence[str], *, timeout_s: float = MARKETS_TIMEOUT_S
) -> dict[str, str]:
    """UnknownSymbol unless every symbol is a perpetual on at least one loaded venue.

    Venues whose markets cannot be loaded right now are left out of the check (a
    network fault is not bad input); with none loaded there is nothing to check.
    Returns venue id -> why its markets did not load, for the caller to judge (a
    batch job with no venue at all stops; the collector keeps reconnecting).
    """
    problems = await asyncio.gather(*(_load(v, timeout_s) for v in venues))
    failed = {v.id: p for v, p in zip(venues, problems, strict=True) if p is not None}
    loaded = [v for v in venues if v.id not in failed]
    if not loaded or not symbols:
        return failed
    missing: list[str] = []
    for symbol in symbols:
        reasons: list[str] = []
        for venue in loaded:
            try:
                venue.market(symbol)
                break
            except UnknownSymbol as exc:
                reasons.append(str(exc))
        else:
            missing.append(reasons[0] if len(loaded) == 1 else f"{symbol} ({reasons[0]})")
    if missing:
        where = ", ".join(v.id for v in loaded)
        raise UnknownSymbol(
            f"not a perpetual on any of {where}: " + "; ".join(missing)
            if len(loaded) > 1
            else "; ".join(missing)
        )
    return failed


# The monitor waits for this before its screen opens; a venue slower than this is left
# out of the check (the app then shows it connecting) rather than holding the start up.
MONITOR_MARKETS_TIMEOUT_S = 20.0


async def require_listed_for(
    config: Any,
    *,
    seed: int = 0,
    emulator_port: int | None = None,
    timeout_s: float = MONITOR_MARKETS_TIMEOUT_S,
) -> None:
    """`require_listed` over the Config's own venues (the composition root opens them).

    For the monitor: its engine opens venues only once the screen is up, where a
    symbol no venue lists would show as an empty row, so the check runs first on a
    set of venues of its own, closed again before the app starts.
    """
    from perptui.stack import open_venues

    if not config.symbols:
        return
    async with open_venues(config, emulator_port=emulator_port, seed=seed) as session:
        await require_listed(session.venues, config.symbols, timeout_s=timeout_s)

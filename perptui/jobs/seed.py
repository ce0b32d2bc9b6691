"""A short backfill that gives a new demo history to show within seconds.

`perptui --demo` logs to a database that starts empty, so a first look would show
an empty funding-history panel and a chart with no past.  Seeding runs the real
backfill job (the same requests, pagination and writer as `perptui backfill`)
against the emulator for a few days of settled funding and hourly candles of the
watched symbols.  It uses venue clients of its own, so its pacing never slows the
monitor's streams; re-running a demo on the same database costs no requests for
what is already stored (the backfill resumes from the stored bounds).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from perptui.core.units import DAY_MS
from perptui.jobs.backfill import Backfill, BackfillSettings, SeriesReport

if TYPE_CHECKING:
    from perptui.config import Config

log = logging.getLogger(__name__)

SEED_DAYS = 7.0


async def seed_demo_history(
    config: Config,
    emulator: Any,
    writer: Any,
    venue_ids: Sequence[str],
    symbols: Sequence[str],
    *,
    days: float = SEED_DAYS,
    now_ms: int | None = None,
) -> list[SeriesReport]:
    """Backfill `days` of funding and 1 h candles from the emulator into `writer`."""
    from perptui.stack import make_venues

    now = int(time.time() * 1000) if now_ms is None else now_ms
    venues = await make_venues(venue_ids, config, emulator=emulator)
    settings = BackfillSettings(
        since=now - int(days * DAY_MS),
        until=now,
        whats=("funding", "ohlcv"),
        timeframe="1h",
        symbols=tuple(symbols),
        max_failures=2,
        retry_base_s=0.5,
        retry_max_s=2.0,
    )
    try:
        reports = await Backfill(venues, writer, settings).run()
    finally:
        for v in venues:
            try:
                await v.close()
            except Exception as exc:  # closing a client must not fail the demo
                log.debug("closing seed client %s: %s", v.id, exc)
    await writer.flush()
    rows = sum(r.rows_fetched for r in reports)
    log.info("demo seed: %d rows over %d series (%g days)", rows, len(reports), days)
    return reports

"""Observation time and next settlement for venues that settle funding on every hour.

Hyperliquid's ``metaAndAssetCtxs`` and dYdX's ``/v4/perpetualMarkets`` carry the running
hour's rate but no timestamp, and ccxt fills Hyperliquid's ``fundingTimestamp`` from the
local wall clock. The venue's own time is the HTTP ``Date`` header of the answer (ccxt keeps
it in ``last_response_headers``); the local clock is used only when there is none.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

from perptui.core.units import HOUR_MS


def response_time_ms(client: Any) -> int | None:
    """The ``Date`` header of the client's last answer, in ms; None when absent or bad."""
    headers = getattr(client, "last_response_headers", None) or {}
    for key, value in headers.items():
        if str(key).lower() == "date":
            try:
                return int(parsedate_to_datetime(str(value)).timestamp() * 1000)
            except (TypeError, ValueError, IndexError):
                return None
    return None


def next_hour(at_ms: int, step_ms: int = HOUR_MS) -> int:
    """The first settlement strictly after ``at_ms`` on a grid of ``step_ms``."""
    return (at_ms // step_ms + 1) * step_ms

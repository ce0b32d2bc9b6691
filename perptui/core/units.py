"""Time units in milliseconds and ccxt timeframe strings, in one place.

Every layer counts time in epoch milliseconds (ccxt's convention), so the
constants below are the only spelling of "an hour" or "a day" in ms, and
``timeframe_ms`` is the only reader of timeframe strings such as ``"1m"`` or
``"4h"`` (candle sizes, gap spacing, config validation, history paging), and
``utc_text`` the one way a timestamp is written in tables and messages.
Pure: no I/O, no imports from the rest of perptui.
"""

from __future__ import annotations

import re
import time

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
YEAR_MS = 365 * DAY_MS  # funding is annualized over 365 days

# The units ccxt's timeframes use (as its own parse_timeframe reads them).  Calendar
# months and years vary; 30 and 365 days are what ccxt assumes, and gap detection
# allows 1.5 spacings, so 28-31 day months all pass.
_TIMEFRAME_UNIT_MS = {
    "s": SECOND_MS,
    "m": MINUTE_MS,
    "h": HOUR_MS,
    "d": DAY_MS,
    "w": WEEK_MS,
    "M": 30 * DAY_MS,
    "y": YEAR_MS,
}
_TIMEFRAME = re.compile(r"(\d+)([smhdwMy])")


def timeframe_ms(timeframe: str) -> int:
    """``'1m'`` -> 60000, ``'4h'`` -> 14400000; ValueError for anything else.

    Case matters: ``'1M'`` is a month, ``'1m'`` a minute.  A zero length is
    not a timeframe.
    """
    match = _TIMEFRAME.fullmatch(timeframe.strip()) if isinstance(timeframe, str) else None
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"not a timeframe: {timeframe!r}")
    return int(match.group(1)) * _TIMEFRAME_UNIT_MS[match.group(2)]


def utc_text(
    ms: int | float | None, *, short: bool = False, zone: bool = False, seconds: bool = False
) -> str:
    """Epoch ms as ``2024-01-31 08:00`` UTC (minutes are as fine as tables and notes need).

    ``short`` drops the century (``24-01-31 08:00``) for narrow columns; ``seconds``
    adds them (``2024-01-31 08:00:05``, the replay clock); ``zone`` appends `` UTC``
    where the text stands alone (error messages). None -> ``-``.
    """
    if ms is None:
        return "-"
    fmt = ("%y" if short else "%Y") + "-%m-%d %H:%M" + (":%S" if seconds else "")
    text = time.strftime(fmt, time.gmtime(ms / 1000))
    return f"{text} UTC" if zone else text


def iso_ms(ms: int) -> str:
    """Epoch ms as ISO 8601 with milliseconds and a Z suffix (``2024-01-31T08:00:05.250Z``),
    the form dYdX's indexer reads and writes."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


__all__ = [
    "DAY_MS",
    "HOUR_MS",
    "MINUTE_MS",
    "SECOND_MS",
    "WEEK_MS",
    "YEAR_MS",
    "iso_ms",
    "timeframe_ms",
    "utc_text",
]

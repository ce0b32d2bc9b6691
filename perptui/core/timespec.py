"""Moments typed by a person: ``14:02``, ``-15m``, ``2026-11-30T14:02:11Z``, epoch ms.

Replay's seek prompt and ``--from`` / ``--to`` accept the same forms, always in UTC
(the database stores UTC epoch milliseconds):

* epoch milliseconds: ``1764511331000``
* ISO 8601 date or date-time, ``Z`` or an offset allowed; naive means UTC
* ``HH:MM`` or ``HH:MM:SS``: that time on the day of the reference moment
* a signed duration relative to the reference moment: ``-15m``, ``+2h``, ``-1d``,
  ``+90s``, ``-1h30m``

Pure: no clock is read here, the caller passes the reference moment.
"""

from __future__ import annotations

import datetime as dt
import re

from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, WEEK_MS

UTC = dt.UTC
_UNIT_MS = {"ms": 1, "s": SECOND_MS, "m": MINUTE_MS, "h": HOUR_MS, "d": DAY_MS, "w": WEEK_MS}
_REL = re.compile(r"^([+-])((?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+)$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
# Beyond this the number is not a plausible epoch-ms moment (year ~5138).
_MAX_MS = 10**14


class MomentError(ValueError):
    """Text that names no moment; the message says which forms are accepted."""


def parse_moment(text: str, reference_ms: int) -> int:
    """Epoch ms named by `text`; relative forms count from `reference_ms`."""
    s = text.strip()
    if not s:
        raise MomentError("empty time (use HH:MM, -15m or ISO 8601)")
    if len(s) > 100:
        raise MomentError(f"not a time: a {len(s)}-character string")
    if re.fullmatch(r"\d+", s):
        value = int(s)
        if value >= _MAX_MS:
            raise MomentError(f"time out of range: {s[:40]}")
        return value
    rel = _REL.match(s)
    if rel:
        sign = -1 if rel.group(1) == "-" else 1
        total = sum(float(n) * _UNIT_MS[u] for n, u in _PART.findall(rel.group(2)))
        return reference_ms + sign * int(total)
    clock = _CLOCK.match(s)
    if clock:
        h, m, sec = int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)
        if h > 23 or m > 59 or sec > 59:
            raise MomentError(f"not a time of day: {s}")
        day = dt.datetime.fromtimestamp(reference_ms / 1000, UTC).date()
        moment = dt.datetime(day.year, day.month, day.day, h, m, sec, tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    try:
        parsed = dt.datetime.fromisoformat(s.replace("z", "Z"))
    except ValueError:
        raise MomentError(
            f"not a time: {s[:40]!r} (use HH:MM, -15m, ISO 8601 or epoch ms)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def clock_text(ms: int) -> str:
    """'2026-11-30 14:02:11' (UTC) for the replay clock."""
    return dt.datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")

"""Moments typed by a person: ``14:02``, ``-15m``, ``2026-11-30T14:02:11Z``, epoch ms.

Replay's seek prompt and ``--from`` / ``--to`` accept the same forms, always in UTC
(the database stores UTC epoch milliseconds):

* epoch milliseconds: ``1764511331000``
* ISO 8601 date or date-time, ``Z`` or an offset allowed; naive means UTC
* ``HH:MM`` or ``HH:MM:SS``: that time on the day of the reference moment
* a signed duration relative to the reference moment: ``-15m``, ``+2h``, ``-1d``,
  ``+90s``, ``-1h30m``

Durations on their own (`parse_duration_ms`: the emulator's ``--fault`` spans, ``250ms``,
``30s``, ``5min``, ``1h30m``) use the same units, so one grammar serves both.

Pure: no clock is read here, the caller passes the reference moment.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, WEEK_MS

UTC = dt.UTC
_UNIT_MS = {
    "ms": 1,
    "s": SECOND_MS,
    "m": MINUTE_MS,
    "min": MINUTE_MS,
    "h": HOUR_MS,
    "d": DAY_MS,
    "w": WEEK_MS,
}
_NUMBER = r"\d*\.?\d+"
_UNIT = r"ms|min|s|m|h|d|w"  # longest first: "5ms" is milliseconds, "5min" minutes
_PART = re.compile(rf"({_NUMBER})\s*({_UNIT})")
_SPAN = re.compile(rf"\s*(?:{_NUMBER}\s*(?:{_UNIT})\s*)+")
_BARE = re.compile(rf"\s*({_NUMBER})\s*")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
# Beyond this the number is not a plausible epoch-ms moment (year ~5138).
_MAX_MS = 10**14


class MomentError(ValueError):
    """Text that names no moment; the message says which forms are accepted."""


class DurationError(ValueError):
    """Text that names no duration (or one beyond the caller's limit)."""


def _span_ms(text: str, bare_unit: str | None) -> float | None:
    """Milliseconds in `text` (``1h30m``; a bare number in `bare_unit`), None if not a span."""
    if _SPAN.fullmatch(text):
        return sum(float(n) * _UNIT_MS[u] for n, u in _PART.findall(text))
    bare = _BARE.fullmatch(text) if bare_unit is not None else None
    if bare is not None and bare_unit is not None:
        return float(bare.group(1)) * _UNIT_MS[bare_unit]
    return None


def parse_duration_ms(
    text: str | int | float, *, bare_unit: str = "ms", max_ms: int | None = None
) -> int:
    """Milliseconds in an unsigned duration: ``250ms``, ``30s``, ``5m`` / ``5min``, ``24h``,
    ``1h30m``; a bare number counts in `bare_unit`, and a number passed as one is taken
    as milliseconds already.  `DurationError` when it is none, or is over `max_ms`."""
    if isinstance(text, int | float):
        return int(text)
    value = _span_ms(text, bare_unit)
    if value is None:
        raise DurationError(f"bad duration {text[:40]!r} (use e.g. 250ms, 30s, 5m, 24h)")
    if not math.isfinite(value) or (max_ms is not None and value > max_ms):
        raise DurationError(f"bad duration {text[:40]!r} (too long)")
    return int(value)


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
    span = _span_ms(s[1:], None) if s[0] in "+-" else None
    if span is not None:
        if not math.isfinite(span) or span >= _MAX_MS:
            raise MomentError(f"time out of range: {s[:40]}")
        return reference_ms + (-1 if s[0] == "-" else 1) * int(span)
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

"""Loosely typed numbers (venue payloads, DataFrame cells) read as finite floats. Pure."""

from __future__ import annotations

import math
from typing import Any


def finite_float(value: Any) -> float | None:
    """``float(value)``, or None for None, ``""``, NaN, +-inf and anything not a number.

    Venues send numbers as strings, empty strings or nulls, and pandas turns missing
    cells into NaN (or ``pd.NA``); every reader wants the same answer for all of
    them: unknown.
    """
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return out if math.isfinite(out) else None


__all__ = ["finite_float"]

"""The depth bands every layer measures, and the column suffix each is stored under.

Kept apart from :mod:`perptui.core.metrics` (which needs numpy) so the store can name
its columns without importing the maths.
"""

from __future__ import annotations

DEPTH_BANDS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.05)
ONE_PCT = 0.01


def band_suffix(band: float) -> str:
    """0.001 -> '01pct', 0.005 -> '05pct', 0.01 -> '1pct', 0.05 -> '5pct' (column names).

    The percentage with its decimal point dropped: 0.1 % is "01pct", 2.5 % "25pct".
    """
    pct = round(band * 100, 6)
    if not 0 < pct < 100:
        raise ValueError(f"depth band must be a fraction in (0, 1), got {band!r}")
    text = f"{pct:g}"
    return (text.replace(".", "") if "." in text else text) + "pct"

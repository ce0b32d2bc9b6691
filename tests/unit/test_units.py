"""perptui.core.units: the one reader of timeframe strings, checked against ccxt's own."""

from __future__ import annotations

import ccxt
import pytest

from perptui.core.units import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    WEEK_MS,
    YEAR_MS,
    iso_ms,
    timeframe_ms,
    utc_text,
)


def test_constants_are_consistent() -> None:
    assert (MINUTE_MS, HOUR_MS, DAY_MS) == (60_000, 3_600_000, 86_400_000)
    assert WEEK_MS == 7 * DAY_MS and YEAR_MS == 365 * DAY_MS


@pytest.mark.parametrize(
    "tf", ["1s", "1m", "5m", "15m", "1h", "4h", "8h", "1d", "3d", "1w", "1M", "1y"]
)
def test_timeframe_ms_agrees_with_ccxt(tf: str) -> None:
    assert timeframe_ms(tf) == ccxt.Exchange.parse_timeframe(tf) * 1000


def test_timeframe_ms_examples_and_case() -> None:
    assert timeframe_ms("1m") == 60_000
    assert timeframe_ms("4h") == 14_400_000
    assert timeframe_ms(" 2h ") == 2 * HOUR_MS
    assert timeframe_ms("1M") == 30 * DAY_MS  # a month, not a minute


@pytest.mark.parametrize("bad", ["1x", "h", "0m", "", "1.5h", "-1h", "hourly", None, 60])
def test_timeframe_ms_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="not a timeframe"):
        timeframe_ms(bad)  # type: ignore[arg-type]


def test_utc_text_forms() -> None:
    ms = 1_706_688_000_000  # 2024-01-31 08:00 UTC
    assert utc_text(ms) == "2024-01-31 08:00"
    assert utc_text(ms, short=True) == "24-01-31 08:00"
    assert utc_text(ms, zone=True) == "2024-01-31 08:00 UTC"
    assert utc_text(None) == "-"


def test_utc_text_seconds_and_iso_ms() -> None:
    ms = 1_764_511_331_250  # 2025-11-30 14:02:11.250 UTC
    assert utc_text(ms, seconds=True) == "2025-11-30 14:02:11"
    assert utc_text(ms, seconds=True, zone=True) == "2025-11-30 14:02:11 UTC"
    assert utc_text(ms) == "2025-11-30 14:02"
    assert iso_ms(ms) == "2025-11-30T14:02:11.250Z"
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"

from __future__ import annotations

import math

import pytest

from perptui.core.funding import (
    DEFAULT_INTERVAL_HOURS,
    annualized,
    basis,
    countdown_ms,
    format_countdown,
    interval_from_history,
    interval_from_times,
    interval_or_default,
    parse_interval,
    rescale,
    settlements_per_year,
)

H = 3_600_000


@pytest.mark.parametrize(
    "rate,interval,expected",
    [
        (0.0001, 8, 0.0001 * 3 * 365),  # 0.01 % / 8 h -> 10.95 % a year
        (0.0001, 4, 0.0001 * 6 * 365),
        (0.0001, 1, 0.0001 * 24 * 365),  # hourly venues pay 8x as often
        (-0.0005, 8, -0.0005 * 1095),
        (0.0001, None, 0.0001 * 1095),  # unknown interval -> 8 h default
        (0.0001, 0, 0.0001 * 1095),  # nonsense interval -> default too
        (0.0, 8, 0.0),
    ],
)
def test_annualized(rate, interval, expected):
    assert annualized(rate, interval) == pytest.approx(expected)


def test_annualized_unknown_rate():
    assert annualized(None, 8) is None
    assert annualized(float("nan"), 8) is None


def test_interval_or_default_says_when_it_assumed():
    assert interval_or_default(4.0) == (4.0, False)
    assert interval_or_default(None) == (DEFAULT_INTERVAL_HOURS, True)
    assert interval_or_default(float("nan")) == (8.0, True)
    assert interval_or_default(-1) == (8.0, True)
    assert settlements_per_year(8) == 1095
    assert settlements_per_year(1) == 8760


def test_rescale():
    assert rescale(0.0001, 1, 8) == pytest.approx(0.0008)
    assert rescale(0.0008, 8, 1) == pytest.approx(0.0001)
    assert rescale(0.0004, None, 4) == pytest.approx(0.0002)


def test_basis():
    assert basis(101.0, 100.0) == pytest.approx(0.01)
    assert basis(99.5, 100.0) == pytest.approx(-0.005)
    assert basis(None, 100.0) is None
    assert basis(100.0, None) is None
    assert basis(100.0, 0.0) is None
    assert basis(100.0, math.inf) is None


def test_countdown_never_negative():
    assert countdown_ms(10_000, 4_000) == 6_000
    assert countdown_ms(10_000, 10_000) == 0
    assert countdown_ms(10_000, 12_345) == 0
    assert countdown_ms(None, 1) is None


@pytest.mark.parametrize(
    "ms,text",
    [
        (0, "00:00"),
        (999, "00:00"),  # rounds down, never ahead of the clock
        (7 * 60_000 + 12_000, "07:12"),
        (59 * 60_000 + 59_999, "59:59"),
        (H, "1h00m"),
        (3 * H + 7 * 60_000 + 30_000, "3h07m"),
        (23 * H + 59 * 60_000, "23h59m"),
        (26 * H + 5 * 60_000, "1d02h"),
        (-5_000, "00:00"),
        (None, "--:--"),
    ],
)
def test_format_countdown(ms, text):
    assert format_countdown(ms) == text


def test_interval_from_times():
    t0 = 1_700_000_000_000
    assert interval_from_times(t0, t0 + 8 * H) == 8.0
    assert interval_from_times(t0, t0 + 4 * H + 3) == 4.0  # a few ms of venue jitter
    assert interval_from_times(t0 + 7, t0 + H) == 1.0
    assert interval_from_times(None, t0) is None
    assert interval_from_times(t0, None) is None
    assert interval_from_times(t0, t0) is None
    assert interval_from_times(t0 + H, t0) is None  # reversed: not an interval


def test_interval_from_history_median_ignores_gaps_and_order():
    t0 = 1_700_000_000_000
    ts = [t0 + i * 8 * H + (i % 3) for i in range(10)]
    ts.remove(ts[5])  # a missing settlement leaves one 16 h gap
    ts.append(t0 + 2 * 8 * H + 2)  # and a duplicate
    assert interval_from_history(reversed(ts)) == 8.0
    assert interval_from_history([t0, t0 + 4 * H, t0 + 8 * H]) == 4.0
    assert interval_from_history([t0 + i * H for i in range(5)]) == 1.0
    assert interval_from_history([t0]) is None
    assert interval_from_history([]) is None
    assert interval_from_history([t0, t0]) is None


@pytest.mark.parametrize(
    "text,hours",
    [
        ("8h", 8.0),
        ("1h", 1.0),
        (" 4H ", 4.0),
        ("60m", 1.0),
        ("30m", 0.5),
        ("1d", 24.0),
        ("8", 8.0),
        (4, 4.0),
        (0.5, 0.5),
        ("0h", None),
        ("", None),
        ("eight", None),
        ("x", None),
        ("8x", None),
        (None, None),
        (True, None),
    ],
)
def test_parse_interval(text, hours):
    assert parse_interval(text) == hours

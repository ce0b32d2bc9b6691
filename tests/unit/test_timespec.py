"""perptui.core.timespec: one duration grammar for replay's relative moments and the
emulator's fault spans."""

from __future__ import annotations

import pytest

from perptui.core.timespec import DurationError, MomentError, parse_duration_ms, parse_moment
from perptui.emulator.faults import parse_duration_ms as fault_duration_ms
from perptui.emulator.faults import parse_spec

REF = 1_764_511_331_000


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("250ms", 250),
        ("30s", 30_000),
        ("30 s", 30_000),
        ("5m", 300_000),
        ("5min", 300_000),
        ("1.5h", 5_400_000),
        (".5s", 500),
        ("1h30m", 5_400_000),
        ("1w", 604_800_000),
        ("1500", 1500),  # bare: milliseconds
    ],
)
def test_duration_forms(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


def test_bare_unit_and_numbers() -> None:
    assert parse_duration_ms("90", bare_unit="s") == 90_000
    assert parse_duration_ms(1500) == 1500  # a number is already milliseconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "-5m", "1h-30m", "h"])
def test_not_a_duration(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration_ms(text)


def test_limit_is_the_callers() -> None:
    assert parse_duration_ms("400d") == 400 * 86_400_000
    with pytest.raises(DurationError, match="too long"):
        parse_duration_ms("400d", max_ms=366 * 86_400_000)
    with pytest.raises(ValueError):  # the fault spec caps spans at a year
        fault_duration_ms("400d")
    assert parse_spec("stall:every=1h30m,duration=5s").every_ms == 5_400_000


def test_relative_moments_use_the_same_grammar() -> None:
    assert parse_moment("-1h30m", REF) == REF - parse_duration_ms("1h30m")
    assert parse_moment("+5min", REF) == REF + 300_000
    with pytest.raises(MomentError):
        parse_moment("-5", REF)  # a signed bare number names no moment
    with pytest.raises(MomentError):
        parse_moment("+" + "9" * 400 + "d", REF)

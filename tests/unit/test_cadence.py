"""The clock's schedule: a late beat keeps its place on the grid, owed beats still run."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perptui.core.cadence import after_beat


def test_on_time_beat_is_followed_one_period_later() -> None:
    b = after_beat(due=10.0, ran=10.003, period=1.0, max_late_s=10.0)
    assert (b.next_at, b.late, b.given_up) == (11.0, False, 0)


def test_a_late_beat_keeps_the_grid_so_the_owed_beats_run_at_once() -> None:
    # due at 10, ran at 12.5: the beats due at 11 and 12 are owed and due now
    b = after_beat(due=10.0, ran=12.5, period=1.0, max_late_s=10.0)
    assert b.late and b.given_up == 0
    assert b.next_at == 11.0  # already past: the clock runs it without sleeping
    b2 = after_beat(due=b.next_at, ran=12.5, period=1.0, max_late_s=10.0)
    b3 = after_beat(due=b2.next_at, ran=12.5, period=1.0, max_late_s=10.0)
    assert (b2.next_at, b3.next_at) == (12.0, 13.0)  # back on the grid after the owed beats
    assert b3.late is False


def test_far_behind_gives_the_owed_beats_up_and_restarts_from_now() -> None:
    # a suspended laptop: an hour late; bursting 3600 rounds would log nothing new
    b = after_beat(due=100.0, ran=3700.25, period=1.0, max_late_s=10.0)
    assert b.late and b.given_up == 3600
    assert b.next_at == pytest.approx(3701.25)


def test_the_bound_is_never_below_one_period() -> None:
    # max_late_s smaller than a period would give beats up at the first hiccup
    b = after_beat(due=0.0, ran=4.9, period=5.0, max_late_s=0.1)
    assert b.given_up == 0 and b.next_at == 5.0


@pytest.mark.parametrize("period", [0.0, -1.0, math.nan, math.inf])
def test_period_must_be_positive(period: float) -> None:
    with pytest.raises(ValueError):
        after_beat(0.0, 0.0, period, 10.0)


@given(
    period=st.floats(0.01, 60),
    lags=st.lists(st.floats(0, 300), min_size=1, max_size=200),
)
def test_beats_run_plus_beats_given_up_cover_the_elapsed_grid(
    period: float, lags: list[float]
) -> None:
    """Whatever the lateness, no beat is lost silently: run + given up = the grid.

    (Each restart after giving up may shift the grid by less than one period.)
    """
    max_late = 10 * period
    due, now, ran, given_up, restarts = 0.0, 0.0, 0, 0, 0
    for lag in lags:
        now = max(now, due) + lag * period / 10  # the loop wakes lag/10 periods late
        b = after_beat(due, now, period, max_late)
        ran += 1
        given_up += b.given_up
        restarts += b.given_up > 0
        assert b.next_at > due  # time on the grid only moves forward
        assert b.next_at - now <= period * (1 + 1e-9)  # never sleeps more than a period
        assert b.given_up == 0 or now - due > max_late  # only given up when far behind
        due = b.next_at
    # the beats on the grid before the next one due (0, p, 2p, ...): each ran or was given up
    owed = due / period
    assert abs(ran + given_up - owed) <= restarts + 1e-6 * owed
    if not restarts:
        assert ran == round(owed)  # never behind by more than the bound: every beat ran

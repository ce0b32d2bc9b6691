"""Where a fixed-period clock beats next when a beat ran late.

The engine's clock promises one snapshot round per period.  On a loaded machine the
event loop wakes the clock late; if the next beat were then scheduled one period after
the late *run*, every late beat would silently cost a round (a monitor sharing its loop
with rendering stored half its cadence that way).  Here a late beat keeps its place on
the grid: the beat after it is due one period after it was *scheduled*, so the rounds
owed run back to back until the clock is on time again.  Only a clock that is more than
``max_late_s`` behind (a suspended laptop, a stopped process) gives the owed beats up:
bursting hours of rounds would log nothing new, so the grid restarts from now and the
beats given up are counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Beat:
    """The schedule after one beat ran."""

    next_at: float  # when the following beat is due (same clock as the inputs)
    late: bool  # this beat ran a period or more after it was due
    given_up: int  # beats owed that will never run (0 unless more than max_late behind)


def after_beat(due: float, ran: float, period: float, max_late_s: float) -> Beat:
    """The beat due at ``due`` ran at ``ran``: when is the next one, and what was lost.

    ``period`` > 0; ``max_late_s`` >= ``period`` (a smaller bound would give beats up
    at the first hiccup, which is the behaviour this replaces).
    """
    if not (period > 0 and math.isfinite(period)):
        raise ValueError(f"period must be a positive number of seconds, got {period!r}")
    behind = ran - due
    late = behind >= period
    if behind <= max(max_late_s, period):
        return Beat(due + period, late, 0)
    # Too far behind to catch up: the beats strictly between this one and now are lost.
    given_up = int(behind // period)
    return Beat(ran + period, late, given_up)

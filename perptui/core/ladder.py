"""Depth-ladder maths: group book levels by a price increment, accumulate size.

A trader reading a ladder wants more than the raw top levels: on a liquid book
the first 20 levels span a few ticks, so the ladder groups levels into buckets
of a chosen increment (1, 2, 5, 10, ... ticks) and shows the size of each bucket
and the size accumulated from the best price outwards.  Bids round down to their
bucket and asks round up, the way exchanges' own "depth merge" views do, so a
bucket never shows a price better than the orders in it.

Pure functions over (price, amount) pairs, best first: no I/O, no Textual.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Level = tuple[float, float]

# Multiples of the tick a ladder steps through with `+` / `-`.
STEPS: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


@dataclass(frozen=True, slots=True)
class LadderRow:
    price: float  # bucket price (bids: bucket floor, asks: bucket ceiling)
    size: float  # base amount in the bucket
    cum_size: float  # base amount from the best price through this bucket
    notional: float  # quote value of the bucket (sum of price * amount of its levels)
    partial: bool = False  # the levels ran out inside this bucket: its size is a lower bound


def increment_for(tick: float | None, step: int, best: float | None = None) -> float:
    """The bucket width for `step` ticks; with no known tick, a tick guessed from price.

    The guess (about 1e-5 of the price, rounded to a power of ten) keeps grouping
    usable for venues or replays that did not record the tick size.
    """
    if tick is None or not tick > 0:
        if best is None or not best > 0:
            return 0.0
        tick = 10.0 ** math.floor(math.log10(best * 1e-5))
    return tick * step


def _bucket(price: float, inc: float, up: bool) -> float:
    # The small epsilon keeps a price that sits exactly on a bucket edge (as
    # floats, 0.30000000000000004) in the bucket it belongs to.
    q = price / inc
    k = math.ceil(q - 1e-9) if up else math.floor(q + 1e-9)
    return k * inc


def group_side(levels: Sequence[Level], inc: float, *, asks: bool, rows: int) -> list[LadderRow]:
    """The first `rows` buckets of one side, best first, with cumulative size.

    `inc` <= 0 means no grouping: each level is its own row.
    """
    out: list[LadderRow] = []
    cum = 0.0
    cur_price: float | None = None
    cur_size = cur_notional = 0.0
    last_price = 0.0
    for price, amount in levels:
        last_price = price
        key = _bucket(price, inc, asks) if inc > 0 else price
        if cur_price is not None and key != cur_price:
            cum += cur_size
            out.append(LadderRow(cur_price, cur_size, cum, cur_notional))
            if len(out) >= rows:
                return out
            cur_size = cur_notional = 0.0
        cur_price = key
        cur_size += amount
        cur_notional += price * amount
    if cur_price is not None and len(out) < rows:
        # The levels we were given end inside this bucket: when the bucket reaches
        # past the last level's price, the venue may hold more orders in it than
        # we can see, so its size is a lower bound.
        cum += cur_size
        partial = inc > 0 and abs(cur_price - last_price) > inc * 1e-6
        out.append(LadderRow(cur_price, cur_size, cum, cur_notional, partial=partial))
    return out


def next_step(step: int, direction: int) -> int:
    """The neighbouring entry of STEPS (clamped at both ends)."""
    i = STEPS.index(step) if step in STEPS else 0
    return STEPS[max(0, min(len(STEPS) - 1, i + (1 if direction > 0 else -1)))]

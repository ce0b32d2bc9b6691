"""Order-book depth metrics: mid, spread, depth per band, imbalance, micro-price.

Pure functions, no I/O.  Two implementations give the same numbers:

* ``depth_metrics_np`` works on numpy ``(n, 2)`` float arrays (price, amount) and
  uses ``cumsum`` + ``searchsorted``, so a 1000-level book costs a few
  microseconds.  This is what the engine uses once it holds books as arrays.
* ``depth_metrics_py`` is a plain-Python loop over ccxt-shaped sides
  (``[[price, amount], ...]``).  It is the reference the tests cross-check the
  numpy path against, the baseline in ``bench/bench_metrics.py``, and what
  ``depth_metrics`` uses for small list-shaped books, where building arrays
  would cost more than it saves.

``depth_metrics`` picks one of them from the input type.

Band semantics (both paths): a bid level counts towards band ``b`` when
``price >= ref * (1 - b)``, an ask level when ``price <= ref * (1 + b)``, where
``ref`` is the mid.  The boundary is inclusive; because ``ref * (1 - b)`` is
itself rounded, the limit is widened by a relative ``BAND_EPS`` (1e-9, far below
any venue's tick) so a level sitting exactly on the nominal boundary counts.
Depth is quote notional: sum of ``price * amount`` (amounts in base units).

Degenerate books never raise and never produce NaN:

* ``"empty"``: no valid level on either side -> mid, best prices, spread and
  micro-price are ``None``; every depth is 0.0 and every imbalance 0.0.
* ``"one_sided"``: only one side has levels -> ``mid`` and ``spread_bps`` are
  ``None``, the missing best price is ``None``, and bands are measured around the
  present side's best price (``ref_price``).  The missing side's depth is 0.0, so
  imbalance is +1.0 (bids only) or -1.0 (asks only), as the formula says.
* ``"crossed"``: best bid > best ask (a stale or broken feed) -> every number is
  computed as usual around the mid; ``spread_bps`` is negative.  Consumers that
  should not trust such a book check ``flag``.  A locked book (bid == ask) is
  ``"ok"`` with a spread of 0.

Levels with a non-positive, NaN or infinite price or amount are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Any, Literal

import numpy as np

from perptui.core.bands import DEPTH_BANDS, ONE_PCT

# Relative widening of band limits so a level exactly on mid*(1±band) counts
# despite rounding in that product.  1e-9 is orders of magnitude below a tick.
BAND_EPS = 1e-9
# Below this many levels per side a list-shaped book is cheaper in pure Python
# than converting it to arrays first.
_LIST_NUMPY_MIN_LEVELS = 64

Flag = Literal["ok", "empty", "one_sided", "crossed"]


@dataclass(frozen=True, slots=True)
class DepthMetrics:
    """Everything the UI, the signals and the store need from one book sample.

    Dict keys are exactly the band floats that were asked for (``DEPTH_BANDS`` by
    default).  See the module docstring for what degenerate books return.
    """

    mid: float | None
    best_bid: float | None
    best_ask: float | None
    spread_bps: float | None
    microprice: float | None  # top-of-book size-weighted mid
    ref_price: float | None  # price the bands are measured around (mid, or one side's best)
    bid_depth: dict[float, float]
    ask_depth: dict[float, float]
    imbalance_by_band: dict[float, float]
    bid_depth_1pct: float
    ask_depth_1pct: float
    imbalance: float  # 1 % band
    flag: Flag
    bid_levels: int  # valid levels seen per side
    ask_levels: int
    # How far from ref_price the deepest level we were given lies (fraction), per
    # side.  A feed that only sends the top 50 levels may not reach the 1 % or 5 %
    # edge; the band's depth is then a lower bound, and the UI must say so.
    bid_reach: float = 0.0
    ask_reach: float = 0.0

    def covers(self, band: float) -> tuple[bool, bool]:
        """(bid side, ask side): does the book given reach this band's edge?"""
        return self.bid_reach >= band * (1.0 - BAND_EPS), self.ask_reach >= band * (1.0 - BAND_EPS)


def imbalance_of(bid: float, ask: float) -> float:
    """(bid - ask) / (bid + ask), 0.0 when both are zero."""
    total = bid + ask
    if total <= 0.0:
        return 0.0
    return (bid - ask) / total


@lru_cache(maxsize=64)
def _band_plan(bands: tuple[float, ...]) -> tuple[Any, ...]:
    """Sorted bands (the 1 % band always included) and their limit factors."""
    for b in bands:
        if not (isinstance(b, int | float) and 0.0 < b < 1.0):
            raise ValueError(f"depth band must be a fraction in (0, 1), got {b!r}")
    work = tuple(sorted(set(bands) | {ONE_PCT}))
    lo = tuple((1.0 - b) * (1.0 - BAND_EPS) for b in work)
    hi = tuple((1.0 + b) * (1.0 + BAND_EPS) for b in work)
    return work, lo, hi, np.array(lo), np.array(hi)


def _finish(
    best_bid: float | None,
    best_ask: float | None,
    top_bid_amount: float,
    top_ask_amount: float,
    ref: float | None,
    bands: tuple[float, ...],
    work: tuple[float, ...],
    bid_cum: Sequence[float],
    ask_cum: Sequence[float],
    n_bids: int,
    n_asks: int,
    deepest_bid: float | None = None,
    deepest_ask: float | None = None,
) -> DepthMetrics:
    """Assemble DepthMetrics from per-band depths computed on the `work` bands."""
    bid_by = dict(zip(work, bid_cum, strict=True))
    ask_by = dict(zip(work, ask_cum, strict=True))
    bid_depth = {b: bid_by[b] for b in bands}
    ask_depth = {b: ask_by[b] for b in bands}
    imb = {b: imbalance_of(bid_depth[b], ask_depth[b]) for b in bands}
    bid1 = bid_by[ONE_PCT]
    ask1 = ask_by[ONE_PCT]

    mid = spread = micro = None
    if best_bid is None and best_ask is None:
        flag: Flag = "empty"
    elif best_bid is None or best_ask is None:
        flag = "one_sided"
    else:
        mid = (best_bid + best_ask) / 2.0
        spread = (best_ask - best_bid) / mid * 1e4
        top = top_bid_amount + top_ask_amount
        # Weight each side's price by the *other* side's size: a heavy bid
        # pushes the fair price towards the ask.
        micro = (best_bid * top_ask_amount + best_ask * top_bid_amount) / top
        flag = "crossed" if best_bid > best_ask else "ok"
    return DepthMetrics(
        mid=mid,
        best_bid=best_bid,
        best_ask=best_ask,
        spread_bps=spread,
        microprice=micro,
        ref_price=ref,
        bid_depth=bid_depth,
        ask_depth=ask_depth,
        imbalance_by_band=imb,
        bid_depth_1pct=bid1,
        ask_depth_1pct=ask1,
        imbalance=imbalance_of(bid1, ask1),
        flag=flag,
        bid_levels=n_bids,
        ask_levels=n_asks,
        bid_reach=(ref - deepest_bid) / ref if ref and deepest_bid is not None else 0.0,
        ask_reach=(deepest_ask - ref) / ref if ref and deepest_ask is not None else 0.0,
    )


def _ref_price(best_bid: float | None, best_ask: float | None) -> float | None:
    if best_bid is not None and best_ask is not None:
        return (best_bid + best_ask) / 2.0
    return best_bid if best_bid is not None else best_ask


# --------------------------------------------------------------------------- pure Python


def _valid_levels(side: Any) -> list[tuple[float, float]]:
    out = []
    for level in side:
        p = float(level[0])
        a = float(level[1])
        # Written so NaN fails the test; inf is rejected explicitly.
        if p > 0.0 and a > 0.0 and p != math.inf and a != math.inf:
            out.append((p, a))
    return out


def depth_metrics_py(bids: Any, asks: Any, bands: Sequence[float] = DEPTH_BANDS) -> DepthMetrics:
    """Reference implementation in plain Python; does not rely on level order."""
    bands = tuple(bands)
    work, lo, hi, _, _ = _band_plan(bands)
    bid_levels = _valid_levels(bids)
    ask_levels = _valid_levels(asks)
    best_bid = max(bid_levels)[0] if bid_levels else None
    best_ask = min(ask_levels)[0] if ask_levels else None
    # Size at the best price (summed, in case a venue repeats a price level).
    top_bid_amount = sum(a for p, a in bid_levels if p == best_bid)
    top_ask_amount = sum(a for p, a in ask_levels if p == best_ask)
    ref = _ref_price(best_bid, best_ask)
    nb = len(work)
    bid_bucket = [0.0] * nb
    ask_bucket = [0.0] * nb
    if ref is not None:
        bid_limits = [ref * f for f in lo]
        ask_limits = [ref * f for f in hi]
        # Put each level's notional in the narrowest band that holds it, then
        # accumulate outwards: wider bands contain the narrower ones.
        for p, a in bid_levels:
            for i in range(nb):
                if p >= bid_limits[i]:
                    bid_bucket[i] += p * a
                    break
        for p, a in ask_levels:
            for i in range(nb):
                if p <= ask_limits[i]:
                    ask_bucket[i] += p * a
                    break
    bid_cum = _accumulate(bid_bucket)
    ask_cum = _accumulate(ask_bucket)
    return _finish(
        best_bid,
        best_ask,
        top_bid_amount,
        top_ask_amount,
        ref,
        bands,
        work,
        bid_cum,
        ask_cum,
        len(bid_levels),
        len(ask_levels),
        min(bid_levels)[0] if bid_levels else None,
        max(ask_levels)[0] if ask_levels else None,
    )


def _accumulate(buckets: list[float]) -> list[float]:
    total = 0.0
    out = []
    for x in buckets:
        total += x
        out.append(total)
    return out


# --------------------------------------------------------------------------- numpy


def as_side_array(levels: Any) -> np.ndarray:
    """A ccxt-shaped side (or array) as a float64 ``(n, 2)`` array of (price, amount).

    Extra columns some venues add (order count, id) are dropped.

    A tuple of 2-tuples (what every venue adapter hands the hub) is read with
    ``np.fromiter`` over the flattened pairs: about 3x faster than
    ``np.asarray``, which inspects every nested sequence for its shape first.
    The element count is checked first, so a ragged side (a level with an order
    count) takes the general path rather than being read misaligned.
    """
    if type(levels) is tuple and levels and type(levels[0]) is tuple:
        n = len(levels)
        if sum(map(len, levels)) == 2 * n:
            try:
                flat = np.fromiter(chain.from_iterable(levels), dtype=np.float64, count=2 * n)
            except (ValueError, TypeError):  # not numbers: let asarray say what is wrong
                pass
            else:
                return flat.reshape(n, 2)
    arr = np.asarray(levels, dtype=np.float64)
    if arr.size == 0:
        return np.empty((0, 2), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"book side must be (n, 2) price/amount levels, got shape {arr.shape}")
    return arr[:, :2]


def _side_np(side: Any, descending: bool, clean: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Prices and amounts of one side, valid levels only, best first.

    Without ``clean`` a side that is already best-first with positive prices and
    amounts is returned as views (the common case, no copies); an infinite
    amount can slip through that check and is caught by the caller.
    """
    if isinstance(side, np.ndarray) and side.dtype == np.float64 and side.ndim == 2:
        arr = side if side.shape[1] >= 2 or side.shape[0] == 0 else as_side_array(side)
    else:
        arr = as_side_array(side)
    if arr.shape[0] == 0:
        return np.empty(0), np.empty(0)
    p = arr[:, 0]
    a = arr[:, 1]
    n = p.shape[0]
    if not clean:
        # NaN makes the ordering comparison False, which routes it to cleaning.
        if n == 1:
            ordered = True
        elif descending:
            ordered = bool((p[:-1] >= p[1:]).all())
        else:
            ordered = bool((p[:-1] <= p[1:]).all())
        if ordered:
            worst, best = (p[-1], p[0]) if descending else (p[0], p[-1])
            if worst > 0.0 and best != math.inf and a.min() > 0.0:
                return p, a
    keep = np.isfinite(p) & np.isfinite(a) & (p > 0.0) & (a > 0.0)
    p = p[keep]
    a = a[keep]
    order = np.argsort(-p if descending else p, kind="stable")
    return p[order], a[order]


def depth_metrics_np(bids: Any, asks: Any, bands: Sequence[float] = DEPTH_BANDS) -> DepthMetrics:
    """Vectorised implementation for ``(n, 2)`` float arrays (lists are converted)."""
    bands = tuple(bands)
    work, _, _, lo_np, hi_np = _band_plan(bands)
    bp, ba = _side_np(bids, descending=True)
    ap, aa = _side_np(asks, descending=False)
    result = _metrics_from_sides(bp, ba, ap, aa, bands, work, lo_np, hi_np)
    if result is None:
        # An infinite amount got past the cheap checks: drop such levels and redo.
        bp, ba = _side_np(bids, descending=True, clean=True)
        ap, aa = _side_np(asks, descending=False, clean=True)
        result = _metrics_from_sides(bp, ba, ap, aa, bands, work, lo_np, hi_np)
        assert result is not None
    return result


def _metrics_from_sides(
    bp: np.ndarray,
    ba: np.ndarray,
    ap: np.ndarray,
    aa: np.ndarray,
    bands: tuple[float, ...],
    work: tuple[float, ...],
    lo_np: np.ndarray,
    hi_np: np.ndarray,
) -> DepthMetrics | None:
    nb_lv = bp.shape[0]
    na_lv = ap.shape[0]
    best_bid = float(bp[0]) if nb_lv else None
    best_ask = float(ap[0]) if na_lv else None
    top_bid_amount = _top_amount(bp, ba)
    top_ask_amount = _top_amount(ap, aa)
    ref = _ref_price(best_bid, best_ask)
    zeros = [0.0] * len(work)
    if ref is None:
        bid_cum = ask_cum = zeros
    else:
        bid_cum = _band_sums(bp, ba, ref * lo_np, descending=True) if nb_lv else zeros
        ask_cum = _band_sums(ap, aa, ref * hi_np, descending=False) if na_lv else zeros
    if not (
        math.isfinite(bid_cum[-1] + ask_cum[-1]) and math.isfinite(top_bid_amount + top_ask_amount)
    ):
        return None
    return _finish(
        best_bid,
        best_ask,
        top_bid_amount,
        top_ask_amount,
        ref,
        bands,
        work,
        bid_cum,
        ask_cum,
        nb_lv,
        na_lv,
        float(bp[-1]) if nb_lv else None,
        float(ap[-1]) if na_lv else None,
    )


def _top_amount(p: np.ndarray, a: np.ndarray) -> float:
    """Size at the best price, summing repeats of that price (rare, but seen)."""
    if p.shape[0] == 0:
        return 0.0
    if p.shape[0] == 1 or p[1] != p[0]:
        return float(a[0])
    return float(a[p == p[0]].sum())


def _band_sums(p: np.ndarray, a: np.ndarray, limits: np.ndarray, descending: bool) -> list[float]:
    """Cumulative notional of the best-first levels inside each (widening) limit.

    Levels are best first, so the levels inside a limit are a prefix; the prefix
    length comes from a binary search, and the notional of each band's ring of
    levels from one dot product (cheaper than a cumsum over the whole book).
    """
    if descending:
        # Bids fall away from the mid; search the reversed (ascending) view for
        # the levels below the limit, the rest are inside.
        n = p.shape[0]
        counts = [n - k for k in np.searchsorted(p[::-1], limits, side="left").tolist()]
    else:
        counts = np.searchsorted(p, limits, side="right").tolist()
    out = []
    total = 0.0
    prev = 0
    for k in counts:
        if k > prev:
            total += float(np.dot(p[prev:k], a[prev:k]))
            prev = k
        out.append(total)
    return out


# --------------------------------------------------------------------------- dispatch


def depth_metrics(bids: Any, asks: Any, bands: Sequence[float] = DEPTH_BANDS) -> DepthMetrics:
    """Depth metrics of one book; sides are best first.

    numpy arrays go to the vectorised path; ccxt-shaped lists go to the pure
    Python path when small and are converted to arrays when large.
    """
    if isinstance(bids, np.ndarray) or isinstance(asks, np.ndarray):
        return depth_metrics_np(bids, asks, bands)
    if len(bids) + len(asks) >= 2 * _LIST_NUMPY_MIN_LEVELS:
        return depth_metrics_np(as_side_array(bids), as_side_array(asks), bands)
    return depth_metrics_py(bids, asks, bands)

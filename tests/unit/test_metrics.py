"""Depth metrics: hand-computed books, boundaries, degenerate books, and random
books cross-checked between the numpy path, the pure-Python path and a brute
force written here independently of both."""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest

from perptui.core.metrics import (
    DEPTH_BANDS,
    DepthMetrics,
    as_side_array,
    depth_metrics,
    depth_metrics_np,
    depth_metrics_py,
    imbalance_of,
)

IMPLS = [depth_metrics_py, depth_metrics_np, depth_metrics]


def both_shapes(bids, asks):
    """The same book as ccxt lists and as numpy arrays."""
    return [(bids, asks), (as_side_array(bids), as_side_array(asks))]


def brute_force(bids, asks, bands):
    """Straight from the definition: no sorting assumptions, no bucketing."""
    bids = [(p, a) for p, a in bids if p > 0 and a > 0 and math.isfinite(p) and math.isfinite(a)]
    asks = [(p, a) for p, a in asks if p > 0 and a > 0 and math.isfinite(p) and math.isfinite(a)]
    bb = max((p for p, _ in bids), default=None)
    ba = min((p for p, _ in asks), default=None)
    if bb is not None and ba is not None:
        ref = (bb + ba) / 2
    else:
        ref = bb if bb is not None else ba
    out = {}
    for b in bands:
        if ref is None:
            out[b] = (0.0, 0.0)
            continue
        lo = ref * (1 - b)
        hi = ref * (1 + b)
        # Tolerance comparable to the implementation's 1e-9 relative epsilon.
        bid = sum(p * a for p, a in bids if p >= lo - abs(lo) * 1e-9)
        ask = sum(p * a for p, a in asks if p <= hi + abs(hi) * 1e-9)
        out[b] = (bid, ask)
    return bb, ba, out


def assert_no_nan(m: DepthMetrics) -> None:
    for f in dataclasses.fields(m):
        v = getattr(m, f.name)
        values = v.values() if isinstance(v, dict) else [v]
        for x in values:
            if isinstance(x, float):
                assert math.isfinite(x), (f.name, v)


# --------------------------------------------------------------------------- hand-computed


HAND_BIDS = [[99.95, 2.0], [99.5, 1.0], [99.0, 4.0], [96.0, 10.0], [90.0, 100.0]]
HAND_ASKS = [[100.05, 1.0], [100.4, 3.0], [101.0, 2.0], [104.0, 5.0], [110.0, 100.0]]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", [0, 1])
def test_hand_computed_book(impl, shape):
    bids, asks = both_shapes(HAND_BIDS, HAND_ASKS)[shape]
    m = impl(bids, asks)
    # mid = (99.95 + 100.05) / 2 = 100; spread = 0.10 / 100 = 10 bps
    assert m.flag == "ok"
    assert m.mid == pytest.approx(100.0)
    assert m.best_bid == 99.95 and m.best_ask == 100.05
    assert m.spread_bps == pytest.approx(10.0)
    # Band limits around 100: 0.1 % -> [99.9, 100.1]; 0.5 % -> [99.5, 100.5];
    # 1 % -> [99, 101]; 5 % -> [95, 105].  Boundaries inclusive.
    # bids: 0.1 %: 99.95*2 = 199.9
    #       0.5 %: + 99.5*1 = 299.4       (99.5 sits exactly on the limit)
    #       1 %:   + 99*4 = 695.4         (99.0 exactly on the limit)
    #       5 %:   + 96*10 = 1655.4       (90 is outside)
    assert m.bid_depth[0.001] == pytest.approx(199.9)
    assert m.bid_depth[0.005] == pytest.approx(299.4)
    assert m.bid_depth[0.01] == pytest.approx(695.4)
    assert m.bid_depth[0.05] == pytest.approx(1655.4)
    # asks: 0.1 %: 100.05*1 = 100.05
    #       0.5 %: + 100.4*3 = 401.25
    #       1 %:   + 101*2 = 603.25       (101 exactly on the limit)
    #       5 %:   + 104*5 = 1123.25
    assert m.ask_depth[0.001] == pytest.approx(100.05)
    assert m.ask_depth[0.005] == pytest.approx(401.25)
    assert m.ask_depth[0.01] == pytest.approx(603.25)
    assert m.ask_depth[0.05] == pytest.approx(1123.25)
    # 1 % imbalance: (695.4 - 603.25) / (695.4 + 603.25) = 92.15 / 1298.65
    assert m.bid_depth_1pct == pytest.approx(695.4)
    assert m.ask_depth_1pct == pytest.approx(603.25)
    assert m.imbalance == pytest.approx(92.15 / 1298.65)
    assert m.imbalance_by_band[0.001] == pytest.approx((199.9 - 100.05) / (199.9 + 100.05))
    # micro-price: (99.95*1 + 100.05*2) / 3 -- the heavier bid pulls it up
    assert m.microprice == pytest.approx((99.95 * 1 + 100.05 * 2) / 3)
    assert m.bid_levels == 5 and m.ask_levels == 5


def test_band_keys_are_exactly_the_depth_band_floats():
    m = depth_metrics(HAND_BIDS, HAND_ASKS)
    for d in (m.bid_depth, m.ask_depth, m.imbalance_by_band):
        assert tuple(d) == DEPTH_BANDS
        for k in d:
            assert any(k is b or k == b for b in DEPTH_BANDS)
    assert DEPTH_BANDS == (0.001, 0.005, 0.01, 0.05)


@pytest.mark.parametrize("impl", IMPLS)
def test_custom_bands_without_one_percent_still_fill_1pct_fields(impl):
    m = impl(HAND_BIDS, HAND_ASKS, bands=(0.002, 0.2))
    assert tuple(m.bid_depth) == (0.002, 0.2)
    assert m.bid_depth[0.2] == pytest.approx(99.95 * 2 + 99.5 + 99 * 4 + 96 * 10 + 90 * 100)
    assert m.bid_depth_1pct == pytest.approx(695.4)


@pytest.mark.parametrize("bad", [(0.0,), (-0.01,), (1.0,), ("x",)])
def test_bad_band_is_rejected(bad):
    with pytest.raises(ValueError):
        depth_metrics(HAND_BIDS, HAND_ASKS, bands=bad)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", [0, 1])
@pytest.mark.parametrize("band", DEPTH_BANDS)
def test_boundary_level_counts_despite_float_rounding(impl, shape, band):
    # mid chosen so that mid*(1-band) is not exactly representable; the level is
    # placed at that computed product (what a careless "<" would miss) and a
    # hair outside it (which must stay out).
    mid = 27_123.37
    lo = mid * (1 - band)
    hi = mid * (1 + band)
    just_out_lo = lo * (1 - 1e-7)
    just_out_hi = hi * (1 + 1e-7)
    bids = [[mid - 0.01, 1.0], [lo, 1.0], [just_out_lo, 1.0]]
    asks = [[mid + 0.01, 1.0], [hi, 1.0], [just_out_hi, 1.0]]
    bids, asks = both_shapes(bids, asks)[shape]
    m = impl(bids, asks, bands=(band,))
    assert m.mid == pytest.approx(mid)
    assert m.bid_depth[band] == pytest.approx(mid - 0.01 + lo)
    assert m.ask_depth[band] == pytest.approx(mid + 0.01 + hi)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "side,best_bid,best_ask,band,edge",
    [
        # The decimal price exactly on the band edge, where the binary product
        # mid*(1∓band) lands on the wrong side of it (checked below).
        ("bid", 6.9499, 6.9501, 0.01, 6.8805),
        ("bid", 22.2299, 22.2301, 0.005, 22.11885),
        ("ask", 9.8499, 9.8501, 0.001, 9.85985),
        ("ask", 17.1299, 17.1301, 0.005, 17.21565),
    ],
)
def test_decimal_boundary_price_counts(impl, side, best_bid, best_ask, band, edge):
    mid = (best_bid + best_ask) / 2
    if side == "bid":
        assert edge < mid * (1 - band)  # a naive ">=" would drop this level
        bids, asks = [[best_bid, 1.0], [edge, 2.0]], [[best_ask, 1.0]]
    else:
        assert edge > mid * (1 + band)
        bids, asks = [[best_bid, 1.0]], [[best_ask, 1.0], [edge, 2.0]]
    for b, a in both_shapes(bids, asks):
        m = impl(b, a, bands=(band,))
        depth = m.bid_depth if side == "bid" else m.ask_depth
        top = best_bid if side == "bid" else best_ask
        assert depth[band] == pytest.approx(top + 2 * edge)


# --------------------------------------------------------------------------- degenerate books


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "bids,asks",
    [([], []), (np.empty((0, 2)), np.empty((0, 2))), (np.empty(0), np.empty(0))],
)
def test_empty_book(impl, bids, asks):
    m = impl(bids, asks)
    assert m.flag == "empty"
    assert m.mid is None and m.best_bid is None and m.best_ask is None
    assert m.spread_bps is None and m.microprice is None and m.ref_price is None
    assert all(v == 0.0 for v in m.bid_depth.values())
    assert all(v == 0.0 for v in m.ask_depth.values())
    assert all(v == 0.0 for v in m.imbalance_by_band.values())
    assert m.imbalance == 0.0 and m.bid_depth_1pct == 0.0 and m.ask_depth_1pct == 0.0
    assert_no_nan(m)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", [0, 1])
def test_bids_only(impl, shape):
    bids, asks = both_shapes([[100.0, 1.0], [99.5, 2.0], [98.0, 1.0]], [])[shape]
    m = impl(bids, asks)
    assert m.flag == "one_sided"
    assert m.mid is None and m.spread_bps is None and m.microprice is None
    assert m.best_bid == 100.0 and m.best_ask is None
    # bands measured around the best bid (100): 1 % reaches 99.0
    assert m.ref_price == 100.0
    assert m.bid_depth[0.01] == pytest.approx(100 + 199)
    assert m.bid_depth[0.05] == pytest.approx(100 + 199 + 98)
    assert m.ask_depth[0.05] == 0.0
    assert m.imbalance == 1.0
    assert_no_nan(m)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", [0, 1])
def test_asks_only(impl, shape):
    bids, asks = both_shapes([], [[100.0, 1.0], [100.9, 2.0]])[shape]
    m = impl(bids, asks)
    assert m.flag == "one_sided"
    assert m.best_ask == 100.0 and m.best_bid is None and m.mid is None
    assert m.ask_depth[0.01] == pytest.approx(100 + 201.8)
    assert m.imbalance == -1.0
    assert all(v == -1.0 for v in m.imbalance_by_band.values())
    assert_no_nan(m)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", [0, 1])
def test_crossed_book_is_flagged_with_defined_numbers(impl, shape):
    bids, asks = both_shapes([[100.2, 1.0], [99.0, 1.0]], [[99.8, 1.0], [101.0, 1.0]])[shape]
    m = impl(bids, asks)
    assert m.flag == "crossed"
    assert m.mid == pytest.approx(100.0)
    assert m.spread_bps == pytest.approx(-40.0)  # (99.8 - 100.2) / 100 * 1e4
    assert m.bid_depth[0.01] == pytest.approx(100.2 + 99.0)
    assert m.ask_depth[0.01] == pytest.approx(99.8 + 101.0)
    assert_no_nan(m)


@pytest.mark.parametrize("impl", IMPLS)
def test_locked_book_is_ok_with_zero_spread(impl):
    m = impl([[100.0, 1.0]], [[100.0, 3.0]])
    assert m.flag == "ok"
    assert m.spread_bps == 0.0
    assert m.microprice == pytest.approx(100.0)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", [0, 1])
def test_invalid_levels_are_ignored(impl, shape):
    bids = [[100.0, 1.0], [99.9, float("nan")], [float("nan"), 1.0], [99.8, 0.0], [99.7, -1.0]]
    asks = [[100.2, 1.0], [100.3, float("inf")], [float("inf"), 1.0], [-1.0, 5.0], [100.4, 2.0]]
    bids, asks = both_shapes(bids, asks)[shape]
    m = impl(bids, asks)
    assert m.bid_levels == 1 and m.ask_levels == 2
    assert m.best_bid == 100.0 and m.best_ask == 100.2
    assert m.ask_depth[0.05] == pytest.approx(100.2 + 200.8)
    assert_no_nan(m)


@pytest.mark.parametrize("impl", IMPLS)
def test_infinite_top_amount_is_dropped(impl):
    bids, asks = as_side_array([[100.0, math.inf], [99.9, 1.0]]), as_side_array([[100.1, 1.0]])
    m = impl(bids, asks)
    assert m.best_bid == 99.9
    assert_no_nan(m)


@pytest.mark.parametrize("impl", IMPLS)
def test_unsorted_input_gives_same_numbers(impl):
    bids = [[99.0, 4.0], [99.95, 2.0], [96.0, 10.0], [99.5, 1.0], [90.0, 100.0]]
    asks = [[101.0, 2.0], [100.05, 1.0], [110.0, 100.0], [104.0, 5.0], [100.4, 3.0]]
    m = impl(bids, asks)
    ref = depth_metrics_py(HAND_BIDS, HAND_ASKS)
    assert m.best_bid == ref.best_bid and m.best_ask == ref.best_ask
    for b in DEPTH_BANDS:
        assert m.bid_depth[b] == pytest.approx(ref.bid_depth[b])
        assert m.ask_depth[b] == pytest.approx(ref.ask_depth[b])


@pytest.mark.parametrize("impl", IMPLS)
def test_extra_columns_and_duplicate_best_price(impl):
    # Some venues add an order count per level; a repeated best price adds up.
    bids = [[100.0, 1.0, 3], [100.0, 2.0, 1], [99.0, 1.0, 7]]
    asks = [[101.0, 3.0, 1]]
    for b, a in both_shapes(bids, asks):
        m = impl(b, a)
        assert m.microprice == pytest.approx((100.0 * 3 + 101.0 * 3) / 6)
        assert m.bid_depth[0.05] == pytest.approx(300.0 + 99.0)  # mid 100.5, 5 % reaches 95.5


def test_imbalance_of():
    assert imbalance_of(0.0, 0.0) == 0.0
    assert imbalance_of(3.0, 1.0) == 0.5
    assert imbalance_of(0.0, 2.0) == -1.0


def test_bad_array_shape_is_rejected():
    with pytest.raises(ValueError):
        depth_metrics(np.ones((3, 1)), np.ones((3, 1)))


# --------------------------------------------------------------------------- property-style


def random_book(rng: random.Random, n_bids: int, n_asks: int):
    mid = 10 ** rng.uniform(-4, 5)
    tick = mid * 10 ** rng.uniform(-6, -3)
    # Integer ticks reproduce the exact-boundary collisions real books have.
    half = rng.randint(0, 3)
    bid_ticks = sorted(rng.sample(range(half, half + 4 * n_bids + 5), n_bids))
    ask_ticks = sorted(rng.sample(range(half, half + 4 * n_asks + 5), n_asks))
    spread_sign = -1 if rng.random() < 0.05 else 1  # a few crossed books
    bids = [
        [mid - spread_sign * t * tick, rng.choice([0.001, 0.5, 1.0, rng.uniform(0, 50)])]
        for t in bid_ticks
    ]
    asks = [
        [mid + spread_sign * t * tick, rng.choice([0.001, 0.5, 1.0, rng.uniform(0, 50)])]
        for t in ask_ticks
    ]
    if spread_sign < 0:
        bids.sort(key=lambda lv: -lv[0])
        asks.sort(key=lambda lv: lv[0])
    return bids, asks


def close(a, b):
    if a is None or b is None:
        return a is b
    return a == pytest.approx(b, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", range(300))
def test_random_books_agree_across_implementations(seed):
    rng = random.Random(seed)
    sizes = [0, 1, 2, 7, 50, 400]
    bids, asks = random_book(rng, rng.choice(sizes), rng.choice(sizes))
    bands = DEPTH_BANDS if seed % 3 else tuple(sorted(rng.uniform(1e-4, 0.2) for _ in range(3)))
    py = depth_metrics_py(bids, asks, bands)
    npm = depth_metrics_np(as_side_array(bids), as_side_array(asks), bands)
    auto = depth_metrics(bids, asks, bands)
    bb, ba, brute = brute_force(bids, asks, bands)
    for m in (py, npm, auto):
        assert_no_nan(m)
        assert m.best_bid == bb and m.best_ask == ba
        assert m.flag == py.flag
        for attr in ("mid", "spread_bps", "microprice", "ref_price", "imbalance"):
            assert close(getattr(m, attr), getattr(py, attr)), attr
        for b in bands:
            assert close(m.bid_depth[b], brute[b][0]), (b, "bid")
            assert close(m.ask_depth[b], brute[b][1]), (b, "ask")
            assert close(m.imbalance_by_band[b], imbalance_of(*brute[b]))
            assert -1.0 <= m.imbalance_by_band[b] <= 1.0
        # Wider bands never hold less.
        depths = [m.bid_depth[b] for b in sorted(bands)]
        assert depths == sorted(depths)


@pytest.mark.parametrize("seed", range(40))
def test_random_books_shuffled_agree(seed):
    rng = random.Random(10_000 + seed)
    bids, asks = random_book(rng, 30, 30)
    sb, sa = bids[:], asks[:]
    rng.shuffle(sb)
    rng.shuffle(sa)
    want = depth_metrics_py(bids, asks)
    got = depth_metrics_np(as_side_array(sb), as_side_array(sa))
    for b in DEPTH_BANDS:
        assert close(got.bid_depth[b], want.bid_depth[b])
        assert close(got.ask_depth[b], want.ask_depth[b])
    assert got.microprice == pytest.approx(want.microprice)


def test_large_list_book_takes_array_path_and_matches():
    rng = random.Random(7)
    bids, asks = random_book(rng, 1000, 1000)
    a = depth_metrics(bids, asks)
    b = depth_metrics_py(bids, asks)
    for band in DEPTH_BANDS:
        assert close(a.bid_depth[band], b.bid_depth[band])
        assert close(a.ask_depth[band], b.ask_depth[band])


def test_result_is_frozen():
    m = depth_metrics(HAND_BIDS, HAND_ASKS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.mid = 1.0  # type: ignore[misc]


def test_reach_says_when_a_truncated_book_stops_short_of_a_band() -> None:
    # Levels out to 0.2 % below / 0.3 % above a 100.0 mid: the 0.1 % band is fully
    # seen, the 1 % band is not, on both implementations.
    bids = [(99.99, 1.0), (99.9, 1.0), (99.8, 1.0)]
    asks = [(100.01, 1.0), (100.1, 1.0), (100.3, 1.0)]
    for fn in (depth_metrics_py, depth_metrics_np):
        m = fn(bids, asks)
        assert m.bid_reach == pytest.approx(0.002, rel=1e-6)
        assert m.ask_reach == pytest.approx(0.003, rel=1e-6)
        assert m.covers(0.001) == (True, True)
        assert m.covers(0.005) == (False, False)
        assert m.covers(0.0025) == (False, True)
    empty = depth_metrics_py([], [])
    assert empty.covers(0.001) == (False, False)

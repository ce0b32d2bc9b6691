"""Depth-metrics cost per book: numpy path vs the pure-Python reference.

Same synthetic books for both, measured in the same run.  The numpy figure is
for a book already held as ``(n, 2)`` float arrays (how the engine keeps it);
the Python figure is for the ccxt-shaped lists.  Issue goal: <= ~25 µs per
1000-level book on the numpy path.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from perptui.core.metrics import as_side_array, depth_metrics, depth_metrics_np, depth_metrics_py

GOAL_US_1000 = 25.0


def synthetic_book(levels: int, seed: int = 1) -> tuple[list[list[float]], list[list[float]]]:
    """A BTC-like book: 0.1 tick, gaps of 1-20 ticks, so 1000 levels span ~10 % around the mid."""
    rng = random.Random(seed)
    mid, tick = 65_000.0, 0.1
    bids, asks = [], []
    b = a = 0
    for _ in range(levels):
        b += rng.randint(1, 20)
        a += rng.randint(1, 20)
        bids.append([round(mid - b * tick, 1), round(rng.uniform(0.001, 3.0), 3)])
        asks.append([round(mid + a * tick, 1), round(rng.uniform(0.001, 3.0), 3)])
    return bids, asks


def time_call(fn: Callable[[], Any], budget_s: float, repeats: int) -> tuple[float, float]:
    """(best, median) seconds per call over `repeats` batches sized to fill `budget_s`."""
    fn()  # warm caches (band plan, imports)
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        took = time.perf_counter() - t
        if took >= budget_s / repeats / 4 or n >= 1 << 20:
            break
        n *= 2
    per_batch = max(1, int(n * (budget_s / repeats) / max(took, 1e-9)))
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(per_batch):
            fn()
        samples.append((time.perf_counter() - t) / per_batch)
    return min(samples), statistics.median(samples)


def run(quick: bool) -> list[str]:
    budget, repeats = (0.15, 3) if quick else (1.0, 7)
    lines = ["µs per book, both sides (best / median of batches); numpy on arrays, Python on lists"]
    for levels in (100, 1000, 5000):
        bids, asks = synthetic_book(levels)
        bid_arr, ask_arr = as_side_array(bids), as_side_array(asks)
        np_best, np_med = time_call(partial(depth_metrics_np, bid_arr, ask_arr), budget, repeats)
        py_best, py_med = time_call(partial(depth_metrics_py, bids, asks), budget, repeats)
        line = (
            f"{levels:>5} levels/side: numpy {np_best * 1e6:7.1f} / {np_med * 1e6:7.1f}"
            f"   python {py_best * 1e6:8.1f} / {py_med * 1e6:8.1f}"
            f"   ratio {py_best / np_best:5.1f}x"
        )
        if levels == 1000:
            verdict = "met" if np_best * 1e6 <= GOAL_US_1000 else "MISSED"
            line += f"   (goal <= {GOAL_US_1000:.0f} µs: {verdict})"
        lines.append(line)
    bids, asks = synthetic_book(1000)
    conv_best, _ = time_call(lambda: (as_side_array(bids), as_side_array(asks)), budget, repeats)
    auto_best, _ = time_call(lambda: depth_metrics(bids, asks), budget, repeats)
    lines.append(
        f" 1000 levels as ccxt lists: list->array {conv_best * 1e6:.1f} µs, "
        f"depth_metrics(lists) {auto_best * 1e6:.1f} µs (keep books as arrays to skip the conversion)"
    )
    return lines

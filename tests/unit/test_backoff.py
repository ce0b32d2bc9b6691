from __future__ import annotations

import asyncio
import time

import pytest

from perptui.engine.backoff import Backoff


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_delays_grow_exponentially_within_jitter_and_cap() -> None:
    b = Backoff(base=1.0, cap=16.0, factor=2.0, jitter=0.25, seed=1, clock=FakeClock())
    delays = [b.failure() for _ in range(8)]
    raws = [1, 2, 4, 8, 16, 16, 16, 16]
    for d, raw in zip(delays, raws, strict=True):
        assert raw * 0.75 <= d <= raw
    assert b.attempt == 8


def test_same_seed_same_delays_other_seed_differs() -> None:
    b1 = Backoff(seed=7, clock=FakeClock())
    b2 = Backoff(seed=7, clock=FakeClock())
    b3 = Backoff(seed=8, clock=FakeClock())
    s1 = [b1.failure() for _ in range(6)]
    s2 = [b2.failure() for _ in range(6)]
    s3 = [b3.failure() for _ in range(6)]
    assert s1 == s2
    assert s1 != s3


def test_zero_jitter_is_exact() -> None:
    b = Backoff(base=0.5, cap=4.0, jitter=0.0, clock=FakeClock())
    assert [b.failure() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_resets_only_after_a_healthy_period() -> None:
    clock = FakeClock()
    b = Backoff(base=1.0, cap=60.0, jitter=0.0, reset_after=30.0, clock=clock)
    for _ in range(4):
        b.failure()
    assert b.attempt == 4
    # A brief success then another failure (flapping): keep backing off.
    b.success()
    clock.t += 5
    assert b.failure() == 16.0
    # Healthy for the whole reset period: the next failure starts from base again.
    b.success()
    clock.t += 31
    b.success()
    assert b.attempt == 0
    assert b.failure() == 1.0


def test_failure_after_long_health_without_second_success_call_resets() -> None:
    clock = FakeClock()
    b = Backoff(base=1.0, jitter=0.0, reset_after=10.0, clock=clock)
    b.failure()
    b.failure()
    b.success()
    clock.t += 11
    assert b.failure() == 1.0


def test_retry_after_is_honoured() -> None:
    b = Backoff(base=0.5, jitter=0.0, clock=FakeClock())
    assert b.failure(min_delay=7.0) == 7.0


def test_bad_parameters_rejected() -> None:
    with pytest.raises(ValueError):
        Backoff(base=0)
    with pytest.raises(ValueError):
        Backoff(base=2, cap=1)
    with pytest.raises(ValueError):
        Backoff(jitter=1.5)


async def test_sleep_waits_and_is_cancellable() -> None:
    b = Backoff(base=0.05, jitter=0.0)
    t0 = time.monotonic()
    assert await b.sleep() == 0.05
    assert time.monotonic() - t0 >= 0.045
    b2 = Backoff(base=10.0, cap=10.0)
    task = asyncio.create_task(b2.sleep())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

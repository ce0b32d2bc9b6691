"""The engine moves long-lived objects out of the cyclic GC once, after warm-up."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from perptui.engine import gc_tuning
from perptui.engine.engine import Engine
from perptui.engine.hub import Hub


@pytest.fixture
def fresh_gc_state(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(gc_tuning, "_frozen", False)
    monkeypatch.setattr(gc_tuning, "_saved_threshold", None)
    gc.unfreeze()
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()  # leave the test process as it was
    gc.set_threshold(*threshold)


def test_freeze_once_per_process(fresh_gc_state: None) -> None:
    long_lived = [{"market": i} for i in range(10_000)]  # like ccxt's market tables
    assert gc.get_freeze_count() == 0
    assert gc_tuning.freeze_long_lived() is True
    frozen = gc.get_freeze_count()
    assert frozen >= len(long_lived)
    assert gc_tuning.already_frozen()
    # a second engine in the same process does not freeze again
    assert gc_tuning.freeze_long_lived() is False
    assert gc.get_freeze_count() == frozen
    # a full collection now walks only objects created since (not the frozen ones)
    assert len(gc.get_objects(generation=2)) < frozen


def test_freeze_spaces_out_full_collections_and_thaw_restores(fresh_gc_state: None) -> None:
    gc.set_threshold(700, 10, 10)
    gc_tuning.freeze_long_lived()
    assert gc.get_threshold() == (700, 10, gc_tuning.FULL_EVERY_GEN1)
    gc_tuning.thaw()
    assert gc.get_threshold() == (700, 10, 10)


def test_thaw_undoes_the_freeze(fresh_gc_state: None) -> None:
    assert gc_tuning.thaw() is False  # nothing frozen yet
    gc_tuning.freeze_long_lived()
    assert gc.get_freeze_count() > 0
    assert gc_tuning.thaw() is True
    assert gc.get_freeze_count() == 0 and not gc_tuning.already_frozen()
    assert gc_tuning.freeze_long_lived() is True  # a later engine may freeze again


async def test_a_stopped_engine_leaves_no_frozen_objects(fresh_gc_state: None) -> None:
    hub = Hub(["BTC/USDT:USDT"], [])
    eng = Engine([], ["BTC/USDT:USDT"], hub, snapshot_every_s=0.01, freeze_gc_after_s=0.0)
    await eng.start()
    try:
        deadline = time.monotonic() + 5
        while not gc_tuning.already_frozen() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert gc_tuning.already_frozen() and gc.get_freeze_count() > 0
    finally:
        await eng.stop()
    assert not gc_tuning.already_frozen()
    assert gc.get_freeze_count() == 0

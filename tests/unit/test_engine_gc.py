"""The engine moves long-lived objects out of the cyclic GC once, after warm-up."""

from __future__ import annotations

import gc

import pytest

from perptui.engine import gc_tuning


@pytest.fixture
def fresh_gc_state(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(gc_tuning, "_frozen", False)
    gc.unfreeze()
    yield
    gc.unfreeze()  # leave the test process as it was


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

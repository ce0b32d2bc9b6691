"""Keep Python's full garbage collections off the event loop's critical path.

A running monitor tracks a few hundred thousand long-lived container objects
(ccxt market tables for every venue, Textual widgets, modules).  Each full
(generation 2) collection walks all of them: 60-90 ms with the loop stopped,
every 10-15 s, landing in whichever callback happened to allocate (usually a
book update), and showing up as a stuck key press.

Once the long-lived state exists, :func:`freeze_long_lived` collects what is
already garbage and moves every survivor into the interpreter's permanent
generation (``gc.freeze()``), so later collections only walk objects created
since.  Those objects are still freed by reference counting as usual; only a
reference cycle among them would outlive its use, which is why this runs once,
after markets are loaded, not on every start.

Freezing is not enough on its own: streamed books keep inserting new price
levels (one small list each in ccxt's book sides), and those survivors trip
CPython's full-collection rule every second or two (a 25-70 ms walk of the
unfrozen heap each time, measured under the UI bench).  So the freeze also
raises the third threshold from 10 to :data:`FULL_EVERY_GEN1`: a full
collection after that many generation-1 collections instead of after ten,
which is about every ten seconds at the monitor's allocation rate rather than
every second.  Young collections are unchanged; reference cycles are still
collected, only later.  :func:`thaw` puts the old thresholds back.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)

_frozen = False
_saved_threshold: tuple[int, int, int] | None = None

FULL_EVERY_GEN1 = 100


def freeze_long_lived() -> bool:
    """Collect, then freeze every surviving object; once per process.

    Returns True if this call froze (False if an earlier call already did).
    """
    global _frozen, _saved_threshold
    if _frozen:
        return False
    _frozen = True
    t0 = time.perf_counter()
    gc.collect()
    gc.freeze()
    g0, g1, g2 = gc.get_threshold()
    _saved_threshold = (g0, g1, g2)
    gc.set_threshold(g0, g1, max(g2, FULL_EVERY_GEN1))
    log.debug(
        "gc: froze %d long-lived objects in %.0f ms",
        gc.get_freeze_count(),
        (time.perf_counter() - t0) * 1000,
    )
    return True


def already_frozen() -> bool:
    return _frozen


def thaw() -> bool:
    """Undo :func:`freeze_long_lived` (the engine that froze calls it when it stops).

    A stopped engine hands the process back as it found it: the frozen objects
    return to the oldest generation, where a reference cycle among them can be
    collected again, and a later engine in the same process (tests start
    hundreds) freezes its own long-lived state afresh.  Returns True if it thawed.
    """
    global _frozen, _saved_threshold
    if not _frozen:
        return False
    _frozen = False
    gc.unfreeze()
    if _saved_threshold is not None:
        gc.set_threshold(*_saved_threshold)
        _saved_threshold = None
    return True

"""The fault campaign's CI profile (bench/faults.py): every fault type once, each on one
venue, every published book checked against the emulator's truth at its sequence."""

from __future__ import annotations

import os

import pytest

from bench.faults import (
    CI,
    COVERAGE_GOAL,
    HOLE_GOAL_S,
    STALE_RATIO_GOAL,
    format_report,
    run_campaign,
    steps,
)

# Minutes of wall time on two loaded cores: CI sets PERPTUI_RELIABILITY=1 (.ci/run);
# a developer's `pytest` run skips them.
pytestmark = pytest.mark.skipif(
    os.environ.get("PERPTUI_RELIABILITY") != "1",
    reason="reliability profiles run in CI (set PERPTUI_RELIABILITY=1)",
)


@pytest.mark.slow
@pytest.mark.timeout(280)
async def test_fault_campaign_ci_profile_meets_every_goal() -> None:
    report = await run_campaign(CI, seed=1)
    text = "\n".join(format_report(report))
    # every fault type ran, on a venue that has it
    assert {t.fault for t in report.trials} == {s.name for s in steps(CI)}, text
    assert report.books_checked > 1000 and report.unverifiable_books == 0, text
    assert report.crashes == 0, text
    assert report.writer_dropped == 0 and report.engine_submit_errors == 0, text
    assert report.writer_queue_high_water > 0, text  # the writer was measured at all
    # On a shared CI box the fault-free cadence itself slips a little (the emulator and
    # the engine share one loaded loop), so a fault's cost is judged against the same
    # venue's quiet phase just before it, in the same run; the long profile's report
    # states the absolute figures (docs/reliability.md).
    assert report.baseline.coverage >= 0.8, text
    for t in report.trials:
        where = f"{t.venue} {t.fault}"
        assert t.during.coverage >= COVERAGE_GOAL * min(1.0, t.before.coverage), (where, text)
        assert max(t.during.max_hole_s, t.after.max_hole_s) <= HOLE_GOAL_S, (where, text)
        if t.fault == "stall":
            assert t.stale_detect_s is not None, text
            assert t.stale_detect_s <= STALE_RATIO_GOAL * report.stale_after_s, text
        if t.injected:
            assert t.detected >= 1, (where, text)
    assert report.gaps_resynced >= 1, text
    assert report.malformed_skipped >= 1, text
    # bybit `u` continuity and the okx crc32 are checked by the venue layer's ccxt.pro
    # subclasses: no withheld or garbled message may reach the hub as a good book.
    assert report.wrong_books == 0, text

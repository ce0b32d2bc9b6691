"""The soak's CI profile (bench/soak.py): the monitor and `collect` on the emulator,
3 venues x 10 symbols, 5 minutes; memory, tasks, fds, sockets and DB growth."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.soak import format_report, run_soak

# Minutes of wall time on two loaded cores: CI sets PERPTUI_RELIABILITY=1 (.ci/run);
# a developer's `pytest` run skips them.
pytestmark = pytest.mark.skipif(
    os.environ.get("PERPTUI_RELIABILITY") != "1",
    reason="reliability profiles run in CI (set PERPTUI_RELIABILITY=1)",
)


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_soak_five_minutes(tmp_path: Path) -> None:
    report = run_soak(5.0, tmp_path, progress=lambda _m: None)
    text = "\n".join(format_report(report))
    assert report.collect_exit == 0 and report.monitor_exit == 0, text
    assert report.collect_stop_s is not None and report.collect_stop_s < 20, text
    assert all(s.samples >= 40 for s in report.series), text
    assert report.problems == [], text

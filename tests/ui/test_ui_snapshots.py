"""Screen snapshots of the monitor on a deterministic hub with a frozen clock.

Update after an intended visual change with:
    .venv/bin/pytest tests/ui/test_ui_snapshots.py --snapshot-update
"""

from __future__ import annotations

from ui_support import FrozenClock, StaticBackend, sample_hub

from perptui.ui.app import MonitorApp


def make_app(theme: str = "dark") -> MonitorApp:
    clock = FrozenClock()
    hub = sample_hub(seed=7, clock=clock)
    hub.set_health("okx", feed="book:SOL/USDT:USDT", state="stale")
    return MonitorApp(StaticBackend(hub), clock=clock, theme=theme, load_funding_history=False)


def test_snapshot_120x40(snap_compare) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40))


def test_snapshot_80x24(snap_compare) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24))


def test_snapshot_80x24_chart_panel(snap_compare) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), press=["v"])


def test_snapshot_light_theme_after_moves(snap_compare) -> None:
    assert snap_compare(
        make_app("light"), terminal_size=(120, 40), press=["j", "right_square_bracket"]
    )

"""The one key map: every key, footer label, help line and palette entry names a real action."""

from __future__ import annotations

import re

from perptui.ui.app import MonitorApp
from perptui.ui.keymap import KEYMAP, bindings, commands, help_text


def _method(action: str) -> str:
    return "action_" + re.sub(r"\(.*\)$", "", action)


def test_every_bound_and_palette_action_exists_on_the_app() -> None:
    actions = [k.action for row in KEYMAP for k in row.bindings] + [c.action for c in commands()]
    missing = [a for a in actions if not callable(getattr(MonitorApp, _method(a), None))]
    assert missing == []


def test_keys_are_unique_and_the_app_binds_exactly_the_table() -> None:
    keys = [b.key for b in bindings()]
    assert len(keys) == len(set(keys))
    assert [(b.key, b.action) for b in MonitorApp.BINDINGS] == [
        (b.key, b.action) for b in bindings()
    ]


def test_palette_actions_are_all_bound_to_a_key() -> None:
    bound = {b.action for b in bindings()}
    assert {c.action for c in commands()} <= bound


def test_help_text_has_one_line_per_row() -> None:
    lines = help_text().splitlines()
    assert len(lines) == len(KEYMAP)
    for line, row in zip(lines, KEYMAP, strict=True):
        assert line.startswith(row.keys) and line.endswith(row.text)

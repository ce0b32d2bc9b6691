"""The monitor in replay mode: the same app, with transport keys for the recording.

The replay backend (perptui.jobs.replay.ReplaySource) satisfies
:class:`ReplayControls`; the app reads its recording clock, so every panel shows
ages and countdowns as they were.  Keys: space / p play-pause, `<` `>` seek
one minute (`{` `}` ten), `,` `.` step one snapshot, `(` `)` speed, `g` seek to a
time typed as HH:MM, -15m or ISO 8601.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from perptui.core.timespec import MomentError, parse_moment
from perptui.ui.app import MonitorApp
from perptui.ui.backend import Backend

MINUTE_MS = 60_000


class ReplayControls(Backend, Protocol):
    def clock(self) -> int: ...

    def toggle_play(self) -> bool: ...

    def seek(self, position_ms: int) -> int: ...

    def seek_by(self, delta_ms: int) -> int: ...

    def step(self, forward: bool) -> int: ...

    def change_speed(self, direction: int) -> float: ...


class SeekPrompt(ModalScreen[str | None]):
    """Asks for a moment; returns the text typed, or None when cancelled."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Label("Seek to (UTC): HH:MM, -15m, +1h, 2026-11-30T14:02", id="search-title")
            yield Input(placeholder="14:02", id="seek-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReplayApp(MonitorApp):
    BINDINGS: ClassVar = [
        Binding("space", "play", "Play/pause"),
        Binding("less_than_sign", "seek_by(-1)", "-1m"),
        Binding("greater_than_sign", "seek_by(1)", "+1m"),
        Binding("left_curly_bracket", "seek_by(-10)", show=False),
        Binding("right_curly_bracket", "seek_by(10)", show=False),
        Binding("comma", "step(0)", "Step-", show=False),
        Binding("full_stop", "step(1)", "Step+", show=False),
        Binding("left_parenthesis", "speed(-1)", "Slower", show=False),
        Binding("right_parenthesis", "speed(1)", "Faster", show=False),
        Binding("g", "seek_prompt", "Seek"),
    ]

    def __init__(self, source: ReplayControls, **kwargs) -> None:
        kwargs.setdefault("clock", source.clock)
        super().__init__(source, **kwargs)
        self.source = source

    def _moved(self) -> None:
        self.tick()  # show the new position at once, not at the next clock tick

    def action_play(self) -> None:
        self.source.toggle_play()
        self._moved()

    def action_pause(self) -> None:
        """`p` plays and pauses the recording (the live monitor's `p` freezes the screen)."""
        self.action_play()

    def action_seek_by(self, minutes: int) -> None:
        self.source.seek_by(minutes * MINUTE_MS)
        self._moved()

    def action_step(self, forward: int) -> None:
        self.source.step(bool(forward))
        self._moved()

    def action_speed(self, direction: int) -> None:
        speed = self.source.change_speed(direction)
        self.notify(f"replay speed {speed:g}x", timeout=1.5)
        self._moved()

    def action_seek_prompt(self) -> None:
        self.push_screen(SeekPrompt(), self._seek_to)

    def _seek_to(self, text: str | None) -> None:
        if not text:
            return
        try:
            target = parse_moment(text, self.source.clock())
        except MomentError as exc:
            self.notify(str(exc), severity="error", timeout=4)
            return
        self.source.seek(target)
        self._moved()

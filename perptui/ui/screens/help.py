"""`?`: the key map (from perptui.ui.keymap), and what each panel's numbers mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from perptui.ui.glossary import glossary_text
from perptui.ui.keymap import help_text


class HelpScreen(ModalScreen[None]):
    BINDINGS = [  # noqa: RUF012 - Textual's declared type
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static("perptui — keys", id="help-title")
            yield Static(help_text(), id="help-keys")
            yield Static("What the numbers mean", id="help-glossary-title")
            yield Static(glossary_text(), id="help-glossary")
            yield Static("Esc / ? to close · ↑ ↓ scroll", id="help-footer")

    def action_close(self) -> None:
        self.dismiss(None)

"""`?`: the key map."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYMAP: tuple[tuple[str, str], ...] = (
    ("/", "fuzzy symbol search (jumps to it, adds it if not watched)"),
    ("↑ ↓  j k", "move in the watchlist (the cursor is the focus market)"),
    ("1 … 9", "jump to watchlist row"),
    ("[  ]", "previous / next venue for the focus symbol"),
    ("a", "add a symbol (search over the venues' perpetuals)"),
    ("d", "remove the focus symbol"),
    ("v", "next panel (compact layout, small terminals)"),
    ("p", "pause / resume updates"),
    ("t", "toggle dark / light theme"),
    ("ctrl+p", "command palette (every action above)"),
    ("?", "this help"),
    ("q", "quit (flushes the DB writer first)"),
)


def keymap_text() -> str:
    width = max(len(k) for k, _ in KEYMAP) + 2
    return "\n".join(f"{k:<{width}}{desc}" for k, desc in KEYMAP)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [  # noqa: RUF012 - Textual's declared type
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static("perptui — keys", id="help-title")
            yield Static(keymap_text(), id="help-keys")
            yield Static("Esc / ? to close", id="help-footer")

    def action_close(self) -> None:
        self.dismiss(None)

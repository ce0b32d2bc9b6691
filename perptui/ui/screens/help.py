"""`?`: the key map, and what each panel's numbers mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from perptui.ui.glossary import glossary_text

KEYMAP: tuple[tuple[str, str], ...] = (
    ("/", "fuzzy symbol search (jumps to it, adds it if not watched)"),
    ("↑ ↓  j k", "move in the watchlist (the cursor is the focus market)"),
    ("1 … 9", "jump to watchlist row"),
    ("[  ]", "previous / next venue for the focus symbol"),
    ("a", "add a symbol (search over the venues' perpetuals)"),
    ("d", "remove the focus symbol"),
    ("v", "next panel (compact layout, small terminals)"),
    ("b", "the order-book ladder alone, as deep as the screen allows"),
    ("+  -", "ladder: coarser / finer price buckets (1, 2, 5, 10 .. ticks)"),
    (
        "f",
        "funding board: every perpetual of every venue; s/r sort, / filter, o min OI, "
        "c cross-venue carry, enter opens the market",
    ),
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
        with VerticalScroll(id="help-box"):
            yield Static("perptui — keys", id="help-title")
            yield Static(keymap_text(), id="help-keys")
            yield Static("What the numbers mean", id="help-glossary-title")
            yield Static(glossary_text(), id="help-glossary")
            yield Static("Esc / ? to close · ↑ ↓ scroll", id="help-footer")

    def action_close(self) -> None:
        self.dismiss(None)

"""The monitor's keys, declared once: the app's bindings, the footer, the `?` screen and
the command palette are all read from ``KEYMAP``.

Each row is one thing a user can do: how the help screen writes its keys, what it
says about it, the Textual bindings behind it (key, action, footer label, shown in
the footer or not) and the palette entries that run the same actions.  The footer
lists shown bindings in table order, so the order of the rows is the footer's.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class Key:
    key: str  # Textual key name ("slash", "left_square_bracket")
    action: str  # Textual action string ("venue(-1)")
    label: str = ""  # footer text
    show: bool = True  # in the footer


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # what the palette lists and fuzzy-matches
    action: str
    help: str


@dataclass(frozen=True, slots=True)
class KeyRow:
    keys: str  # as the help screen writes them
    text: str  # the help screen's description
    bindings: tuple[Key, ...] = ()
    commands: tuple[Command, ...] = ()


KEYMAP: tuple[KeyRow, ...] = (
    KeyRow(
        "q",
        "quit (flushes the DB writer first)",
        (Key("q", "quit_monitor", "Quit"),),
        (Command("Quit", "quit_monitor", "flush the DB writer and exit"),),
    ),
    KeyRow(
        "/",
        "fuzzy symbol search (jumps to it, adds it if not watched)",
        (Key("slash", "search", "Search"),),
        (Command("Search symbol", "search", "fuzzy search; jump to or add a symbol"),),
    ),
    KeyRow(
        "↑ ↓  j k",
        "move in the watchlist (the cursor is the focus market)",
        (Key("j", "cursor(1)", "Down", show=False), Key("k", "cursor(-1)", "Up", show=False)),
    ),
    KeyRow(
        "1 … 9",
        "jump to watchlist row",
        tuple(Key(str(n), f"jump({n - 1})", show=False) for n in range(1, 10)),
    ),
    KeyRow(
        "[  ]",
        "previous / next venue for the focus symbol",
        (
            Key("left_square_bracket", "venue(-1)", "Venue-"),
            Key("right_square_bracket", "venue(1)", "Venue+"),
        ),
        (
            Command("Next venue", "venue(1)", "same symbol on the next venue"),
            Command("Previous venue", "venue(-1)", "same symbol on the previous venue"),
        ),
    ),
    KeyRow(
        "a",
        "add a symbol (search over the venues' perpetuals)",
        (Key("a", "add_symbol", "Add"),),
        (Command("Add symbol", "add_symbol", "watch another perpetual"),),
    ),
    KeyRow(
        "d",
        "remove the focus symbol",
        (Key("d", "remove_symbol", "Remove"),),
        (Command("Remove focus symbol", "remove_symbol", "stop watching the focus symbol"),),
    ),
    KeyRow(
        "p",
        "pause / resume updates",
        (Key("p", "pause", "Pause"),),
        (Command("Pause / resume", "pause", "freeze the screen; data keeps flowing"),),
    ),
    KeyRow(
        "t",
        "toggle dark / light theme",
        (Key("t", "toggle_theme", "Theme"),),
        (Command("Toggle theme", "toggle_theme", "dark / light"),),
    ),
    KeyRow(
        "v",
        "next panel (compact layout, small terminals)",
        (Key("v", "next_panel", "Panel"),),
        (Command("Next panel", "next_panel", "compact layout: cycle the detail panel"),),
    ),
    KeyRow(
        "b",
        "the order-book ladder alone, as deep as the screen allows",
        (Key("b", "ladder", "Ladder"),),
        (Command("Ladder", "ladder", "the order book ladder alone / back"),),
    ),
    KeyRow(
        "+  -",
        "ladder: coarser / finer price buckets (1, 2, 5, 10 .. ticks)",
        (
            Key("plus,equals_sign", "group(1)", "Group+", show=False),
            Key("minus", "group(-1)", "Group-", show=False),
        ),
        (
            Command("Coarser ladder", "group(1)", "more ticks per ladder row"),
            Command("Finer ladder", "group(-1)", "fewer ticks per ladder row"),
        ),
    ),
    KeyRow(
        "f",
        "funding board: every perpetual of every venue; s/r sort, / filter, o min OI, u min volume, "
        "c cross-venue carry, enter opens the market",
        # the footer is full at 80 columns; f is in the help screen and the palette
        (Key("f", "funding_board", "Funding", show=False),),
        (
            Command(
                "Funding board", "funding_board", "every perpetual's funding and the best carry"
            ),
        ),
    ),
    KeyRow("ctrl+p", "command palette (every action above)"),  # Textual's own binding
    KeyRow(
        "?",
        "this help",
        (Key("question_mark", "help", "Help"),),
        (Command("Help", "help", "key map"),),
    ),
)


def bindings() -> list[Binding]:
    """The app's BINDINGS, in footer order."""
    return [Binding(k.key, k.action, k.label, show=k.show) for row in KEYMAP for k in row.bindings]


def commands() -> tuple[Command, ...]:
    """Every palette entry."""
    return tuple(c for row in KEYMAP for c in row.commands)


def help_text() -> str:
    """The `?` screen's body: one aligned line per row."""
    width = max(len(row.keys) for row in KEYMAP) + 2
    return "\n".join(f"{row.keys:<{width}}{row.text}" for row in KEYMAP)


__all__ = ["KEYMAP", "Command", "Key", "KeyRow", "bindings", "commands", "help_text"]

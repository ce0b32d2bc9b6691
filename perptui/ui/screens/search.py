"""`/` and `a`: fuzzy search over the venues' perpetual markets."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

MAX_RESULTS = 50


def fuzzy_rank(query: str, candidates: Sequence[str], limit: int = MAX_RESULTS) -> list[str]:
    """Candidates matching `query` (fuzzy, case-insensitive), best first; all if empty."""
    query = query.strip()
    if not query:
        return list(candidates[:limit])
    matcher = Matcher(query)
    scored = [(matcher.match(c), c) for c in candidates]
    # Ties keep the given (watched-first, then alphabetical) order.
    ranked = sorted(
        ((score, i, c) for i, (score, c) in enumerate(scored) if score > 0),
        key=lambda t: (-t[0], t[1]),
    )
    return [c for _, _, c in ranked[:limit]]


class SymbolSearch(ModalScreen[str | None]):
    """Returns the chosen unified symbol, or None when cancelled."""

    BINDINGS = [  # noqa: RUF012 - Textual's declared type
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
    ]

    def __init__(self, candidates: Sequence[str], title: str = "Go to symbol") -> None:
        super().__init__()
        self.candidates = list(candidates)
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Label(self.title_text, id="search-title")
            yield Input(placeholder="type to fuzzy-match, e.g. eth, solusdt", id="search-input")
            yield OptionList(id="search-results")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, query: str) -> None:
        results = self.query_one(OptionList)
        results.clear_options()
        matches = fuzzy_rank(query, self.candidates)
        matcher = Matcher(query) if query.strip() else None
        results.add_options(Option(matcher.highlight(c) if matcher else c, id=c) for c in matches)
        if matches:
            results.highlighted = 0

    @on(Input.Changed, "#search-input")
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#search-input")
    def _submitted(self) -> None:
        results = self.query_one(OptionList)
        if results.highlighted is not None and results.option_count:
            self.dismiss(results.get_option_at_index(results.highlighted).id)

    @on(OptionList.OptionSelected, "#search-results")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, step: int) -> None:
        results = self.query_one(OptionList)
        if results.option_count:
            cur = results.highlighted or 0
            results.highlighted = max(0, min(results.option_count - 1, cur + step))

    def action_cancel(self) -> None:
        self.dismiss(None)

"""The monitor's actions in the command palette (ctrl+p)."""

from __future__ import annotations

from textual.command import DiscoveryHit, Hit, Hits, Provider

ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Search symbol", "search", "fuzzy search; jump to or add a symbol"),
    ("Add symbol", "add_symbol", "watch another perpetual"),
    ("Remove focus symbol", "remove_symbol", "stop watching the focus symbol"),
    ("Next venue", "venue(1)", "same symbol on the next venue"),
    ("Previous venue", "venue(-1)", "same symbol on the previous venue"),
    ("Pause / resume", "pause", "freeze the screen; data keeps flowing"),
    ("Toggle theme", "toggle_theme", "dark / light"),
    ("Next panel", "next_panel", "compact layout: cycle the detail panel"),
    ("Funding board", "funding_board", "every perpetual's funding and the best carry"),
    ("Help", "help", "key map"),
    ("Quit", "quit_monitor", "flush the DB writer and exit"),
)


class MonitorCommands(Provider):
    """Every key-bound action, searchable by name."""

    def _runner(self, action: str):
        async def run() -> None:
            await self.app.run_action(action)

        return run

    async def discover(self) -> Hits:
        for name, action, help_text in ACTIONS:
            yield DiscoveryHit(name, self._runner(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in ACTIONS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), self._runner(action), help=help_text)

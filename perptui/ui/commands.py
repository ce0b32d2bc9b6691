"""The monitor's actions in the command palette (ctrl+p)."""

from __future__ import annotations

from textual.command import DiscoveryHit, Hit, Hits, Provider

from perptui.ui.keymap import commands

ACTIONS = commands()  # (name, action, help) per palette entry, from the one key map


class MonitorCommands(Provider):
    """Every key-bound action, searchable by name."""

    def _runner(self, action: str):
        async def run() -> None:
            await self.app.run_action(action)

        return run

    async def discover(self) -> Hits:
        for c in ACTIONS:
            yield DiscoveryHit(c.name, self._runner(c.action), help=c.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for c in ACTIONS:
            score = matcher.match(c.name)
            if score > 0:
                yield Hit(score, matcher.highlight(c.name), self._runner(c.action), help=c.help)

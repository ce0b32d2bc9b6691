"""What the monitor needs from the engine, as one small adapter contract.

The app only talks to a :class:`Backend`: start/stop (stop flushes the writer),
add/remove symbols, the markets the venues list (for search), writer counters,
and the hub it samples.  The live/demo wiring and the fixed backend used by
snapshot tests both implement it, so the app never depends on engine internals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from perptui.engine.hub import Hub, HubView


class Backend(Protocol):
    mode: str  # "live" | "demo" | "replay"
    hub: Hub
    db_path: str | None  # None: not logging

    async def start(self) -> None:
        """Launch workers and return promptly (never waits for venues)."""

    async def stop(self) -> None:
        """Stop workers, flush and close the writer and clients."""

    async def add_symbol(self, symbol: str) -> None: ...

    async def remove_symbol(self, symbol: str) -> None: ...

    def available_symbols(self) -> Sequence[str]:
        """Unified symbols of the perpetuals listed by the configured venues."""
        ...

    def db_stats(self) -> tuple[int, int] | None:
        """(rows written, writer queue depth), or None when logging is off."""
        ...

    def hint(self, view: HubView) -> str:
        """A one-line message for the user (e.g. no venue reachable), or ''."""
        ...


class StaticBackend:
    """A hub with no workers: for snapshot tests, replays and previews."""

    mode = "replay"

    def __init__(
        self,
        hub: Hub,
        *,
        available: Sequence[str] = (),
        db_path: str | None = None,
        on_add: Callable[[str], None] | None = None,
    ) -> None:
        self.hub = hub
        self.db_path = db_path
        self._available = list(available)
        self._on_add = on_add
        self.stopped = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    async def add_symbol(self, symbol: str) -> None:
        self.hub.add_symbol(symbol)
        if self._on_add is not None:
            self._on_add(symbol)

    async def remove_symbol(self, symbol: str) -> None:
        self.hub.remove_symbol(symbol)

    def available_symbols(self) -> Sequence[str]:
        return self._available or list(self.hub.symbols)

    def db_stats(self) -> tuple[int, int] | None:
        return None

    def hint(self, view: HubView) -> str:
        return ""

    def sample(self, now_ms: int) -> HubView:
        return self.hub.sample(now_ms)

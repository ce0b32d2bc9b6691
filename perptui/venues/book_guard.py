"""What the validated ccxt.pro clients share: the crossed-book rule and the failure path.

Each streamed venue subclasses its ccxt.pro exchange class (venues/binance.py, bybit.py,
okx.py) and checks, per message and *before* ccxt resolves the watcher's future, every
rule the venue offers (sequence chain, checksum) plus one rule every venue shares: a book
whose best bid is at or above its best ask is out of sync. A failed check goes through
`fail_book`: the local book is dropped (so later deltas are not applied to it), the
watcher's future is rejected with an `InvalidNonce` (the engine counts that as a resync
and watches again) and the venue subclass arranges for a fresh snapshot. A book that
failed is therefore never handed out, neither to the hub nor to the store.

The subclasses add no constructor state: `make_venue` may upgrade a stock client the
emulator built (same class, same layout) to the venue's subclass, so per-client state
is created on first use (`_guard_state`).
"""

from __future__ import annotations

from typing import Any

from ccxt.base.errors import InvalidNonce


class CrossedBook(InvalidNonce):
    """The local book's best bid is at or above its best ask: it lost sync."""


def crossed(bids: Any, asks: Any) -> bool:
    """True for a crossed or locked book (best bid >= best ask); one-sided books pass."""
    return bool(bids) and bool(asks) and bids[0][0] >= asks[0][0]


def crossed_message(venue: str, symbol: str, bids: Any, asks: Any) -> str:
    kind = "locked" if bids[0][0] == asks[0][0] else "crossed"
    return f"{venue} {symbol}: {kind} book (bid {bids[0][0]:g} >= ask {asks[0][0]:g}); resync"


class GuardedBooks:
    """Mixin for a ccxt.pro exchange subclass: failure bookkeeping shared by the venues.

    ``book_failures`` counts failed checks per kind ("gap", "checksum", "crossed") over the
    client's life; the engine's health counters count the resyncs they cause.
    """

    def _guard_state(self) -> dict[str, Any]:
        state = self.__dict__.get("_perptui_guard")
        if state is None:
            state = {"failures": {}, "awaiting": set(), "resubscribe": {}}
            self.__dict__["_perptui_guard"] = state
        return state

    @property
    def book_failures(self) -> dict[str, int]:
        return self._guard_state()["failures"]

    def fail_book(
        self, client: Any, symbol: str, message_hash: str, kind: str, error: Exception
    ) -> None:
        """Drop `symbol`'s book and reject its watcher with `error` (never resolve it)."""
        failures = self.book_failures
        failures[kind] = failures.get(kind, 0) + 1
        self.orderbooks.pop(symbol, None)  # type: ignore[attr-defined]  # mixin: defined by the ccxt.pro exchange class this is mixed into
        client.reject(error, message_hash)

    async def before_book_watch(self, symbols: list[str]) -> list[str]:
        """Unified `symbols` (markets loaded first, as ccxt's own watch does), with
        their spent futures dropped."""
        if self.markets is None:  # type: ignore[attr-defined]  # mixin: defined by the ccxt.pro exchange class this is mixed into
            await self.load_markets()  # type: ignore[attr-defined]  # mixin: defined by the ccxt.pro exchange class this is mixed into
        unified = self.market_symbols(symbols)  # type: ignore[attr-defined]  # mixin: defined by the ccxt.pro exchange class this is mixed into
        self.drop_spent_futures(unified)
        return unified

    def drop_spent_futures(self, symbols: list[str]) -> None:
        """Forget book futures that a stored rejection already settled.

        When a check fails while no watch is pending (the engine takes a book every
        0.2 s, ccxt applies frames in between), ccxt keeps the rejection and settles the
        next watch's future with it, but leaves that settled future in
        ``client.futures``: every later watch of the symbol would raise the same error
        again and never resync. A settled future there is never useful (a resolved one
        is removed at once), so the ones for `symbols` are dropped before each watch.
        """
        suffixes = tuple(":" + s for s in symbols)
        for ws in list(self.clients.values()):  # type: ignore[attr-defined]  # mixin: defined by the ccxt.pro exchange class this is mixed into
            futures = ws.futures
            for key in [k for k, f in futures.items() if f.done() and k.endswith(suffixes)]:
                del futures[key]

    def crossed_error(self, orderbook: Any) -> CrossedBook | None:
        """A CrossedBook error when `orderbook` is crossed or locked, else None."""
        bids, asks = orderbook["bids"], orderbook["asks"]
        if bids and asks and bids[0][0] >= asks[0][0]:
            venue = self.id  # type: ignore[attr-defined]  # mixin: defined by the ccxt.pro exchange class this is mixed into
            return CrossedBook(crossed_message(venue, orderbook["symbol"], bids, asks))
        return None

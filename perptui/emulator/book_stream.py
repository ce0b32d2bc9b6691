"""Top-N order-book streams shared by the bybit and okx wires.

Both venues publish a fixed-depth book (bybit ``orderbook.50``, okx ``books`` = 400 levels):
a snapshot of the best N levels on subscribe, then deltas that keep a client's copy equal
to the venue's best N — a level leaving the top N arrives as a delete (size 0), a level
entering it arrives with its size. The simulator's :class:`SimBook` is deeper than N, so a
:class:`DepthChannel` keeps the published view and, on every simulator step, diffs the new
top N against it. One channel per (market, depth) is shared by every connection subscribed
to it, so a step is diffed and serialised once however many clients listen (the venue
wire turns a :class:`DepthUpdate` into its own frame).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from perptui.emulator.catalog import VenueMarket
from perptui.emulator.sim_book import BookDiff, SimBook

Levels = list[tuple[int, int]]  # (price ticks, size lots), best first
ConnT = TypeVar("ConnT")


@dataclass(frozen=True)
class DepthUpdate:
    """What changed in the top N after one simulator step (size 0 = delete)."""

    ts: int
    seq: int  # the simulator's book-wide id after this step (BookDiff.last_id)
    bids: Levels
    asks: Levels


class DepthChannel:
    """The published top-N view of one book, and the subscribers that receive its deltas."""

    def __init__(self, market: VenueMarket, book: SimBook, depth: int, every: int = 1) -> None:
        self.market = market
        self.book = book
        self.depth = depth
        self.every = max(1, every)  # publish every n-th simulator step (slower push rates)
        self._steps = 0
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.ts = book.ts
        self.seq = book.last_id
        self._subscribers: dict[Any, Callable[[DepthUpdate], None]] = {}

    # --- subscribers
    def attach(self, key: Any, callback: Callable[[DepthUpdate], None]) -> None:
        if not self._subscribers:
            self._reset_view()
            self.book.listeners.append(self._on_diff)
        self._subscribers[key] = callback

    def detach(self, key: Any) -> None:
        self._subscribers.pop(key, None)
        if not self._subscribers and self._on_diff in self.book.listeners:
            self.book.listeners.remove(self._on_diff)

    @property
    def subscribed(self) -> bool:
        return bool(self._subscribers)

    # --- views
    def snapshot(self) -> tuple[Levels, Levels]:
        """The published view, best first (what a new subscriber's snapshot holds)."""
        if not self._subscribers:
            self._reset_view()
        bids = sorted(self.bids.items(), reverse=True)
        asks = sorted(self.asks.items())
        return bids, asks

    def _reset_view(self) -> None:
        self.bids = dict(self.book.levels("bids", self.depth))
        self.asks = dict(self.book.levels("asks", self.depth))
        self.ts = self.book.ts
        self.seq = self.book.last_id

    # --- stepping
    @staticmethod
    def _side_delta(view: dict[int, int], top: Levels, reverse: bool) -> Levels:
        new = dict(top)
        changed = [(p, q) for p, q in new.items() if view.get(p) != q]
        changed.extend((p, 0) for p in view if p not in new)
        view.clear()
        view.update(new)
        changed.sort(reverse=reverse)
        return changed

    def _on_diff(self, diff: BookDiff) -> None:
        self._steps += 1
        if self._steps % self.every:
            return  # the next publish diffs against the last published view: nothing is lost
        bids = self._side_delta(self.bids, self.book.levels("bids", self.depth), True)
        asks = self._side_delta(self.asks, self.book.levels("asks", self.depth), False)
        self.ts = diff.ts
        self.seq = diff.last_id
        if not bids and not asks:
            return  # nothing visible at this depth changed: venues send nothing
        update = DepthUpdate(diff.ts, diff.last_id, bids, asks)
        for callback in list(self._subscribers.values()):
            callback(update)


class ChannelFanout(Generic[ConnT]):
    """The connections of one wire that share a :class:`DepthChannel`.

    The fan-out listens on the channel only while at least one connection is on it, so an
    unwatched book costs nothing; a subclass turns each update into its venue's frame.
    """

    def __init__(self, channel: DepthChannel) -> None:
        self.channel = channel
        self.conns: dict[int, ConnT] = {}

    def add(self, conn: ConnT) -> None:
        if not self.conns:
            self.channel.attach(self, self.on_update)
            self.on_attach()
        self.conns[id(conn)] = conn

    def remove(self, conn: ConnT) -> None:
        self.conns.pop(id(conn), None)
        if not self.conns:
            self.channel.detach(self)

    def on_attach(self) -> None:
        """Called when the first connection makes the fan-out start listening."""

    def on_update(self, upd: DepthUpdate) -> None:
        raise NotImplementedError


class DepthChannels:
    """Lazily created channels keyed by (symbol, depth) for one wire."""

    def __init__(self, book_for: Callable[[str], tuple[VenueMarket, SimBook]]) -> None:
        self._book_for = book_for
        self._channels: dict[tuple[str, int], DepthChannel] = {}

    def get(self, symbol: str, depth: int, every: int = 1) -> DepthChannel:
        key = (symbol, depth)
        ch = self._channels.get(key)
        if ch is None:
            market, book = self._book_for(symbol)
            ch = self._channels[key] = DepthChannel(market, book, depth, every)
        return ch

    def find(self, symbol: str, depth: int) -> DepthChannel | None:
        return self._channels.get((symbol, depth))

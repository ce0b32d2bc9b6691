"""ccxt.pro `dydx` with a v4_orderbook handler that never keeps or publishes a wrong book.

The dYdX indexer's ``v4_orderbook`` channel has no per-book sequence and no checksum
(``message_id`` counts messages per *connection*), so a client cannot detect a lost delta;
what it can do is take every ``subscribed`` message for what it is, a complete snapshot.
ccxt.pro 4.5.90's ``handle_order_book`` does not:

- a ``subscribed`` snapshot (first subscribe, or the re-subscribe after a reconnect) is
  merged into the book already held for the symbol, so levels that vanished while the
  socket was down stay in the book forever. Here a snapshot replaces the book.
- ``channel_batch_data`` (``batched: true`` subscriptions) carries a *list* of deltas in
  ``contents``; ccxt reads it with ``safe_dict`` and silently applies nothing. Here every
  element of the list is applied in order.
- dYdX books are known to cross (an order filled or cancelled on chain while its removal
  is still in flight to the indexer). A crossed book is never handed out: the crossing
  level updated least recently (lower ``message_id``; both on a tie, as in one snapshot)
  is dropped until best bid < best ask — the same rule dYdX's own web front end applies.
  `uncrossed_levels` counts the levels dropped so the venue can report it.

The subclass is adopted in place by `adopt_book_client` so a client built anywhere (the
registry, the emulator's `connect`) gets the repair without a new transport.
"""

from __future__ import annotations

from typing import Any

import ccxt.pro as ccxt_pro

from perptui.venues.frames import guarded_class


class DydxBookClient(ccxt_pro.dydx):
    """Stock ccxt.pro dydx, except for `handle_order_book` (see module docstring)."""

    def _level_ages(self) -> dict[str, dict[tuple[str, float], int]]:
        ages = self.__dict__.get("_perptui_level_ages")
        if ages is None:
            ages = self.__dict__["_perptui_level_ages"] = {}
        return ages

    @property
    def uncrossed_levels(self) -> int:
        return int(self.__dict__.get("_perptui_uncrossed", 0))

    def handle_order_book(self, client: Any, message: dict[str, Any]) -> None:
        market = self.safe_market(self.safe_string(message, "id"))
        symbol = market["symbol"]
        msg_id = self.safe_integer(message, "message_id") or 0
        ages = self._level_ages()
        book = self.safe_value(self.orderbooks, symbol)
        if book is None or message.get("type") == "subscribed":
            book = self.order_book()  # a snapshot is the whole book: start from nothing
            ages[symbol] = {}
        age = ages.setdefault(symbol, {})
        contents = message.get("contents")
        parts = contents if isinstance(contents, list) else [contents]
        for part in parts:
            if not isinstance(part, dict):
                continue
            for side in ("bids", "asks"):
                for level in part.get(side) or ():
                    self._apply(book[side], age, side, level, msg_id)
        self._uncross(book, age)
        book["symbol"] = symbol
        book["nonce"] = msg_id
        self.orderbooks[symbol] = book
        client.resolve(book, "orderbook:" + symbol)

    def _apply(
        self, bookside: Any, age: dict[tuple[str, float], int], side: str, level: Any, msg_id: int
    ) -> None:
        if isinstance(level, dict):
            price, size = self.safe_float(level, "price"), self.safe_float(level, "size")
        else:
            price, size = self.safe_float(level, 0), self.safe_float(level, 1)
        if price is None or size is None:
            return
        bookside.store(price, size)
        if size:
            age[(side, price)] = msg_id
        else:
            age.pop((side, price), None)

    def _uncross(self, book: Any, age: dict[tuple[str, float], int]) -> None:
        bids, asks = book["bids"], book["asks"]
        while len(bids) and len(asks) and bids[0][0] >= asks[0][0]:
            bid_px, ask_px = bids[0][0], asks[0][0]
            bid_age = age.get(("bids", bid_px), -1)
            ask_age = age.get(("asks", ask_px), -1)
            drop = []
            if bid_age <= ask_age:
                drop.append(("bids", bids, bid_px))
            if ask_age <= bid_age:
                drop.append(("asks", asks, ask_px))
            for side, bookside, px in drop:
                bookside.store(px, 0)
                age.pop((side, px), None)
            self.__dict__["_perptui_uncrossed"] = self.uncrossed_levels + len(drop)


def adopt_book_client(client: Any) -> Any:
    """Give a ccxt.pro dydx instance the repaired book handler (same object).

    The instance may already carry venues/frames.py's FrameGuard (CcxtVenue adds it
    first); it keeps it.
    """
    if isinstance(client, ccxt_pro.dydx) and not isinstance(client, DydxBookClient):
        client.__class__ = guarded_class(DydxBookClient)
    return client

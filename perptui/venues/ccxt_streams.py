"""Streamed books over ccxt.pro websockets, and the stream operations the engine's
watchdog needs (which connections are open, drop the stalled ones) so that it never
touches ccxt's client state itself."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import Any

from perptui.core.model import (
    BookSnapshot,
    LiveBook,
    MarketInfo,
)
from perptui.errors import CapabilityMissing
from perptui.venues.ccxt_books import CcxtBooks
from perptui.venues.ccxt_errors import CcxtError


class CcxtStreams(CcxtBooks):
    """watchOrderBook and the connection table behind it."""

    async def watch_order_book(self, symbol: str, limit: int | None = None) -> BookSnapshot:
        m = await self.perp(symbol)
        return self.book_snapshot(m, await self._watch_ccxt_book(m, limit), limit)

    async def watch_live_book(self, symbol: str, limit: int | None = None) -> LiveBook:
        m = await self.perp(symbol)
        return CcxtLiveBook(self, m, await self._watch_ccxt_book(m, limit), limit)

    async def _watch_ccxt_book(self, m: MarketInfo, limit: int | None) -> Any:
        if not self.is_pro or not self.client.has.get("watchOrderBook"):
            raise CapabilityMissing(
                f"{self.id}: watchOrderBook not supported by ccxt "
                f"({'no websocket support' if self.is_pro else 'client is not ccxt.pro'})"
            )
        # Not retried here: a websocket watch is a long-lived loop the engine owns; it
        # decides how to back off and when to resync.
        try:
            return await self.client.watch_order_book(m.symbol, self.watch_book_limit(limit))
        except CcxtError as exc:
            raise self._error("watchOrderBook", exc) from exc

    def open_streams(self) -> Mapping[str, int]:
        """url -> serial number of the open connection, for the ccxt.pro client's websockets.

        Serial numbers, not ``id()``: a new connection may reuse a closed one's address.
        """
        clients = getattr(self.client, "clients", None)
        if not isinstance(clients, dict):
            return {}
        current: dict[str, int] = {}
        for url, ws in clients.items():
            conn = getattr(ws, "connection", None)
            if conn is not None and not getattr(conn, "closed", False):
                current[url] = self._stream_serial(conn)
        return current

    def _stream_serial(self, conn: Any) -> int:
        try:
            serial = self._stream_serials.get(conn)
            if serial is None:
                serial = self._stream_serials[conn] = next(self._serials)
            return serial
        except TypeError:  # not weak-referenceable: fall back to its address
            return id(conn)

    async def drop_streams(self, idle_s: float | None = None, symbol: str | None = None) -> bool:
        """Close ccxt.pro websocket clients silent for ``idle_s`` (all when None).

        The client is removed from ccxt's table first, so the next watch opens a fresh
        connection and resubscribes (ccxt rebuilds the book from a new snapshot).
        With ``symbol``, only the clients subscribed to one of its topics; every
        client when none names it (ccxt's topic names differ per venue).
        """
        clients = getattr(self.client, "clients", None) or {}
        now_ms = time.time() * 1000
        dropped = False
        chosen = list(clients.items())
        if symbol is not None:
            carrying = [(u, ws) for u, ws in chosen if self._carries(ws, symbol)]
            chosen = carrying or chosen
        for url, ws in chosen:
            if getattr(ws, "connection", True) is None:
                # Still opening: not stalled, and ccxt's close() cannot stop a socket
                # that does not exist yet (it would connect and stream as an orphan).
                continue
            last = getattr(ws, "last_message_at", None)
            if idle_s is not None and (last is None or now_ms - last < idle_s * 1000):
                continue
            clients.pop(url, None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), timeout=5)
            dropped = True
        return dropped

    def _carries(self, ws: Any, symbol: str) -> bool:
        """ccxt client ``ws`` has a subscription naming ``symbol`` or its market id
        as a whole ``:``-separated part of its message hash ("orderbook::BTC/USDT:USDT",
        "books:BTC-USDT-SWAP"), so WBTC's topic is not taken for BTC's."""
        subs = getattr(ws, "subscriptions", None)
        if not isinstance(subs, dict):
            return False
        market = (getattr(self.client, "markets", None) or {}).get(symbol) or {}
        ids = {symbol, str(market.get("id") or symbol)}
        for key in subs:
            text = str(key)
            for name in ids:
                if text == name or text.endswith(":" + name) or f":{name}:" in text:
                    return True
        return False

    def watch_book_limit(self, limit: int | None) -> int | None:
        """Hook: the depth to subscribe to (some venues offer fixed depth channels)."""
        return self.book_limit(limit)


class CcxtLiveBook:
    """ccxt.pro's own book for one symbol, copied when the hub reads it.

    ccxt.pro applies every message to one book object per symbol; perptui's
    checks (book_guard and the venue subclasses) run as each message is handled
    and drop a failed book from the client's table, and a resync builds a new
    object.  So the object is still the venue's good book exactly while the
    client still lists it.
    """

    __slots__ = ("_limit", "_market", "_ob", "_venue")

    def __init__(
        self, venue: CcxtStreams, market: MarketInfo, ob: dict[str, Any], limit: int | None
    ) -> None:
        self._venue, self._market, self._limit = venue, market, limit
        self._ob: dict[str, Any] = ob

    @property
    def exchange(self) -> str:
        return self._venue.id

    @property
    def symbol(self) -> str:
        return self._market.symbol

    def snapshot(self) -> BookSnapshot | None:
        ob = self._ob
        books = getattr(self._venue.client, "orderbooks", None)
        if not isinstance(books, dict) or books.get(self._market.symbol) is not ob:
            return None
        return self._venue.book_snapshot(self._market, ob, self._limit)

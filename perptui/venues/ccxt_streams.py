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
)
from perptui.errors import CapabilityMissing
from perptui.venues.ccxt_books import CcxtBooks
from perptui.venues.ccxt_errors import CcxtError


class CcxtStreams(CcxtBooks):
    """watchOrderBook and the connection table behind it."""

    async def watch_order_book(self, symbol: str, limit: int | None = None) -> BookSnapshot:
        m = await self.perp(symbol)
        if not self.is_pro or not self.client.has.get("watchOrderBook"):
            raise CapabilityMissing(
                f"{self.id}: watchOrderBook not supported by ccxt "
                f"({'no websocket support' if self.is_pro else 'client is not ccxt.pro'})"
            )
        # Not retried here: a websocket watch is a long-lived loop the engine owns; it
        # decides how to back off and when to resync.
        try:
            ob = await self.client.watch_order_book(m.symbol, self.watch_book_limit(limit))
        except CcxtError as exc:
            raise self._error("watchOrderBook", exc) from exc
        return self.book_snapshot(m, ob, limit)

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

    async def drop_streams(self, idle_s: float | None = None) -> bool:
        """Close ccxt.pro websocket clients silent for ``idle_s`` (all when None).

        The client is removed from ccxt's table first, so the next watch opens a fresh
        connection and resubscribes (ccxt rebuilds the book from a new snapshot).
        """
        clients = getattr(self.client, "clients", None) or {}
        now_ms = time.time() * 1000
        dropped = False
        for url, ws in list(clients.items()):
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

    def watch_book_limit(self, limit: int | None) -> int | None:
        """Hook: the depth to subscribe to (some venues offer fixed depth channels)."""
        return self.book_limit(limit)

"""Bybit v5 ``orderbook.{depth}.{symbol}`` with bybit's own sync rules.

A ``snapshot`` replaces the book (on subscribe, whenever bybit republishes one, and with
``u`` = 1 after a service restart); each ``delta`` must carry ``u`` = previous ``u`` + 1.
A delta that does not follow on, or that leaves the book crossed, drops the book;
deltas are ignored until the next snapshot, and the next watch unsubscribes and
subscribes the topic again, the one way a client can ask bybit for a snapshot.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ccxt.base.errors import InvalidNonce

from perptui.core.model import MarketInfo
from perptui.core.wire_book import WireBook
from perptui.venues.fast.stream import UNREADABLE, BookStream, Connection, Feed


class BybitBookStream(BookStream):
    per_connection: ClassVar[int] = 50
    # "send the ping heartbeat packet every 20 seconds" (v5 websocket connect docs)
    ping_every_s: ClassVar[float | None] = 20.0
    ping_payload: ClassVar[Any] = {"op": "ping"}

    def names(self, m: MarketInfo, limit: int | None) -> tuple[str, Any]:
        # messages are matched by their symbol, as ccxt.pro does (one depth per symbol)
        return m.id, f"orderbook.{self.venue.watch_book_limit(limit)}.{m.id}"

    async def url(self, feed: Feed, index: int) -> str:
        return str(await self.client.get_url_by_market_type(feed.symbol, False, "watchOrderBook"))

    async def subscribe(self, conn: Connection, feed: Feed) -> None:
        await conn.send({"op": "subscribe", "req_id": str(self.request_id()), "args": [feed.topic]})

    async def resubscribe(self, conn: Connection, feed: Feed) -> None:
        for op in ("unsubscribe", "subscribe"):
            await conn.send({"op": op, "req_id": str(self.request_id()), "args": [feed.topic]})

    def on_message(self, conn: Connection, msg: Any) -> None:
        data = msg.get("data")
        if data is None:
            return  # subscribe answers, pongs
        try:
            feed = conn.feeds.get(data.get("s"))
        except AttributeError:
            return  # not a book topic
        if feed is None:
            return
        try:
            if msg["type"] == "snapshot":
                book = WireBook()
                book.reset(data["b"], data["a"])
                feed.book, feed.live = book, True
            else:
                book = feed.book  # type: ignore[assignment]  # checked through feed.live
                if not feed.live:
                    return  # no snapshot (yet, or since a failure): a delta cannot apply
                u = data["u"]
                if u != book.nonce + 1:  # type: ignore[operator]  # a live book has a nonce
                    cause = InvalidNonce(
                        f"delta u={u} after u={book.nonce} (a delta was lost); resync"
                    )
                    self.fail(feed, "gap", cause)
                    return
                book.bids.apply(data["b"])
                book.asks.apply(data["a"])
            book.nonce = data["u"]
            book.timestamp = msg["ts"]
        except UNREADABLE as exc:
            self.unreadable(feed, exc)
            return
        self.passed(feed, book)

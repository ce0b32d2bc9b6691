"""Binance USDⓈ-M diff-depth streams with binance's own sync rules.

``<symbol>@depth@100ms`` carries diffs only (``U`` first and ``u`` last update id of the
event, ``pu`` the previous event's ``u``); the book comes from REST ``/fapi/v1/depth``.
As binance documents (and ccxt.pro does): subscribe, buffer the diffs from the
acknowledgement on and fetch the snapshot then, drop diffs with ``u`` < the snapshot's
``lastUpdateId``, the first diff applied must bridge it (``U`` <= lastUpdateId <= ``u``,
or ``pu`` = lastUpdateId), and every later diff's ``pu`` must equal the previous ``u``.
A broken chain (or a crossed book) drops the book; the next watch subscribes again,
which binance acknowledges, and a fresh snapshot is fetched and bridged.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ccxt.base.errors import InvalidNonce

from perptui.core.model import MarketInfo
from perptui.core.wire_book import WireBook
from perptui.errors import PerptuiError
from perptui.venues.fast.stream import UNREADABLE, BookStream, Connection, Feed


class BinanceBookStream(BookStream):
    # ccxt's default for linear streams; binance allows 200 streams per connection
    per_connection: ClassVar[int] = 50
    speed_ms: ClassVar[int] = 100  # depth@100ms, as ccxt.pro's watchOrderBookRate
    snapshot_limit: ClassVar[int] = 1000  # /fapi/v1/depth's deepest answer
    # "WebSocket connections have a limit of 10 incoming messages per second" (beyond
    # it binance disconnects, and may ban an IP that keeps doing so): half of it
    sends_per_s: ClassVar[float | None] = 5.0

    def __init__(self, venue: Any) -> None:
        super().__init__(venue)
        self._acks: dict[int, Feed] = {}

    def names(self, m: MarketInfo, limit: int | None) -> tuple[str, Any]:
        return m.id, f"{m.id.lower()}@depth@{self.speed_ms}ms"

    async def url(self, feed: Feed, index: int) -> str:
        base = self.client.get_ws_url("linear", self.client.get_future_ws_category("depth"))
        return f"{base}/{index}"

    async def subscribe(self, conn: Connection, feed: Feed) -> None:
        feed.book, feed.live, feed.chained, feed.buffer = None, False, False, None
        rid = self.request_id()
        self._acks[rid] = feed
        await conn.send({"method": "SUBSCRIBE", "params": [feed.topic], "id": rid})

    def on_message(self, conn: Connection, msg: Any) -> None:
        data = msg.get("data", msg)  # combined streams wrap the event
        feed = conn.feeds.get(data.get("s"))
        if feed is None:
            self._control(msg)
            return
        if feed.live:
            self._apply(feed, data)
        elif feed.buffer is not None:
            feed.buffer.append(data)

    def _apply(self, feed: Feed, data: Any) -> None:
        book = feed.book
        assert book is not None
        try:
            nonce = book.nonce
            if feed.chained:
                if data["pu"] != nonce:
                    self._gap(feed, data, nonce)
                    return
            else:
                if data["u"] < nonce:  # older than the snapshot
                    return
                if not (data["U"] <= nonce or data["pu"] == nonce):
                    self._gap(feed, data, nonce)
                    return
                feed.chained = True
            book.bids.apply(data["b"])
            book.asks.apply(data["a"])
            book.nonce = data["u"]
            book.timestamp = data["E"]
        except UNREADABLE as exc:
            self.unreadable(feed, exc)
            return
        self.passed(feed, book)

    def _gap(self, feed: Feed, data: Any, nonce: Any) -> None:
        cause = InvalidNonce(
            f"diff U={data.get('U')} u={data.get('u')} pu={data.get('pu')} does not follow "
            f"u={nonce} (a diff was lost); resync"
        )
        self.fail(feed, "gap", cause)

    def _control(self, msg: Any) -> None:
        rid = msg.get("id")
        if rid is None:
            return
        feed = self._acks.pop(rid, None)
        if feed is None:
            return
        if msg.get("error"):
            self.fail(feed, "subscribe", ValueError(f"subscribe refused: {msg['error']}"))
            return
        if feed.book is None:
            # as ccxt.pro does: diffs from the acknowledgement on wait for the snapshot
            feed.buffer = []
            self._spawn(self._snapshot(feed))

    async def _snapshot(self, feed: Feed) -> None:
        """Fetch the REST snapshot and bridge the buffered diffs onto it."""
        generation = feed.generation
        try:
            raw = await self.venue.call(
                "fetchOrderBook",
                self.client.fapiPublicGetDepth,
                {"symbol": feed.market.id, "limit": self.snapshot_limit},
            )
        except PerptuiError as exc:
            if feed.generation == generation:
                self._drop(feed, exc)
                feed.resubscribe = True
            return
        if feed.generation != generation or feed.buffer is None:
            return  # dropped (or resubscribed) while the snapshot was on its way
        book = WireBook()
        try:
            book.reset(raw["bids"], raw["asks"])
            book.nonce = int(raw["lastUpdateId"])
            stamp = raw.get("T") or raw.get("E")
            book.timestamp = int(stamp) if stamp is not None else None
        except UNREADABLE as exc:
            self.unreadable(feed, exc)
            return
        buffered, feed.buffer = feed.buffer, None
        feed.book, feed.live, feed.chained = book, True, False
        if self.crossed(feed, book):
            return
        for data in buffered:
            self._apply(feed, data)
            if feed.book is not book:
                return  # the buffered diffs broke the chain: failed already
        feed.resolve()

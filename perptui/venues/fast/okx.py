"""OKX ``books`` (400 levels) with OKX's own sync rules.

A ``snapshot`` (sent only on subscribe) replaces the book; an ``update`` applies when its
``prevSeqId`` equals the previous message's ``seqId`` (streams without ``seqId``, as
OKX's before 2023, skip that check; checked on every message), and the crc32
``checksum`` of the top 25 levels must match, computed from the wire strings the book
keeps. A failed check (or a crossed book) drops the book; the next watch unsubscribes
and subscribes again, and OKX answers with a fresh snapshot.

The checksum is compared with the book's latest state (`verify`): before every book
is handed out (watch return, hub copy), and as soon as the stream's readers have no
frame waiting (`BookStream.check_when_caught_up`). Each checksum covers the whole top
25 as it stands after its message, so the comparison is exactly the per-message one
for every book that is ever published: a lost or misapplied update that shows in the
top 25 of a published book fails it, counted and resynced like before, and the book is
never handed out. A stream with headroom is checked after every message (each frame
arrives on its own); only frames that queue up behind one another on a saturated
reader are checked as one, at the last of them. What that does not see is a wrong
checksum, or a top-25 error that a later update repaired, in the middle of such a
queue (that state was never shown; the per-message check would have resynced for it).
The checksum (a top-25 walk and a crc32 of ~1 KB) was most of a message's cost.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ccxt.base.errors import ChecksumError, InvalidNonce

from perptui.core.model import MarketInfo
from perptui.core.okx_checksum import CHECKSUM_DEPTH, checksum_of_wire
from perptui.core.wire_book import WireBook
from perptui.venues.fast.stream import UNREADABLE, BookStream, Connection, Feed


def wire_checksum(book: WireBook) -> int:
    bp, bs = book.bids.top(CHECKSUM_DEPTH)
    ap, as_ = book.asks.top(CHECKSUM_DEPTH)
    return checksum_of_wire(bp, bs, ap, as_)


class OkxBookStream(BookStream):
    per_connection: ClassVar[int] = 50
    # "send the string 'ping'" when nothing arrived for under 30 s; OKX answers "pong"
    ping_every_s: ClassVar[float | None] = 20.0
    ping_payload: ClassVar[Any] = "ping"
    control_texts: ClassVar[frozenset[str]] = frozenset({"pong"})
    channel: ClassVar[str] = "books"

    def names(self, m: MarketInfo, limit: int | None) -> tuple[str, Any]:
        return m.id, {"channel": self.channel, "instId": m.id}

    async def url(self, feed: Feed, index: int) -> str:
        return str(self.client.get_url(self.channel, "public"))

    async def subscribe(self, conn: Connection, feed: Feed) -> None:
        await conn.send({"op": "subscribe", "args": [feed.topic]})

    async def resubscribe(self, conn: Connection, feed: Feed) -> None:
        for op in ("unsubscribe", "subscribe"):
            await conn.send({"op": op, "args": [feed.topic]})

    def on_message(self, conn: Connection, msg: Any) -> None:
        arg = msg.get("arg")
        rows = msg.get("data")
        if arg is None or rows is None:
            return  # subscribe / unsubscribe events
        feed = conn.feeds.get(arg.get("instId"))
        if feed is None:
            return
        snapshot = msg.get("action") == "snapshot"
        for data in rows:
            if not self._apply(feed, data, snapshot):
                return

    def _apply(self, feed: Feed, data: Any, snapshot: bool) -> bool:
        """One book message; False when it failed (or cannot apply) and the rest of
        the frame must be skipped."""
        try:
            if snapshot:
                book = WireBook()
                book.reset(data["bids"], data["asks"])
                feed.book, feed.live = book, True
            else:
                if not feed.live:
                    return False
                book = feed.book  # type: ignore[assignment]  # a live feed has a book
                prev = data.get("prevSeqId")
                if prev is not None and prev != -1 and prev != book.nonce:
                    cause = InvalidNonce(
                        f"update prevSeqId={prev} after seqId={book.nonce} "
                        "(an update was lost); resync"
                    )
                    self.fail(feed, "gap", cause)
                    return False
                book.bids.apply(data["bids"])
                book.asks.apply(data["asks"])
            book.nonce = data.get("seqId")
            # no seqId: only the checksum's 25 levels can be vouched for
            book.verified_depth = CHECKSUM_DEPTH if book.nonce is None else None
            book.timestamp = int(data["ts"])
            expected = data.get("checksum")
            # the book as it stands now is what this checksum is of: `verify` compares
            if expected is None:
                book.unverified = None
            else:
                book.unverified = int(expected)
                self.check_when_caught_up(feed)
        except UNREADABLE as exc:
            self.unreadable(feed, exc)
            return False
        return self.passed(feed, book)

    def verify(self, feed: Feed, book: WireBook) -> bool:
        """Compare the latest message's checksum with the book, once per state."""
        expected = book.unverified
        if expected is None:
            return True
        self.late_checks += 1
        got = wire_checksum(book)
        if got != expected:
            cause = ChecksumError(f"book checksum {got} != {expected}; resync")
            self.fail(feed, "checksum", cause)
            return False
        book.unverified = None
        return True

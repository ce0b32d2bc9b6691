"""The fast path's live book handle: a feed's validated wire book, copied when read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perptui.core.model import BookSnapshot
from perptui.core.wire_book import WireBook

if TYPE_CHECKING:
    from perptui.venues.fast.stream import BookStream, Feed


class FeedBook:
    """A feed's validated wire book, copied when the hub reads it.

    Every message is checked before it wakes a watch, and a failed check drops
    the book and bumps the feed's generation; so the book is still good exactly
    while the feed holds this object in this generation, and the checks a venue
    leaves to read time (`BookStream.verify`: OKX's checksum) pass.  Sorting and converting
    the wire strings then happens once per hub read, not once per message.
    """

    __slots__ = ("_book", "_feed", "_generation", "_limit", "_stream")

    def __init__(self, stream: BookStream, feed: Feed, book: WireBook, limit: int | None) -> None:
        self._stream, self._feed, self._book, self._limit = stream, feed, book, limit
        self._generation = feed.generation

    @property
    def exchange(self) -> str:
        return self._stream.venue.id

    @property
    def symbol(self) -> str:
        return self._feed.symbol

    def snapshot(self) -> BookSnapshot | None:
        feed = self._feed
        if feed.book is not self._book or feed.generation != self._generation:
            return None
        # None too when a read-time check fails it (counted; the next watch resyncs)
        return self._stream.snapshot(feed, self._book, self._limit)

"""binance, bybit and okx with the fast book path behind the same Venue contract.

`FastBooks` replaces what a venue streams (`watch_order_book`, `open_streams`,
`drop_streams`) with its `BookStream`; everything else - markets, REST books, funding,
history, the board - stays the ccxt venue's, and the stream takes its URLs and its REST
snapshots from the same ccxt client (so the emulator's and the tests' redirections
apply to both). `make_venue(..., book_path="ccxt")` keeps the ccxt.pro path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from perptui.core.model import BookSnapshot, LiveBook
from perptui.venues.binance import BinanceVenue
from perptui.venues.bybit import BybitVenue
from perptui.venues.ccxt_venue import CcxtVenue
from perptui.venues.fast.binance import BinanceBookStream
from perptui.venues.fast.bybit import BybitBookStream
from perptui.venues.fast.okx import OkxBookStream
from perptui.venues.fast.stream import BookStream
from perptui.venues.okx import OkxVenue


class FastBooks(CcxtVenue):
    """Mixin for a venue subclass: streamed books from ``book_stream_class``."""

    book_stream_class: ClassVar[type[BookStream]]
    book_path: ClassVar[str] = "fast"

    def __init__(self, client: Any, **options: Any) -> None:
        super().__init__(client, **options)
        self.books = self.book_stream_class(self)

    async def watch_order_book(self, symbol: str, limit: int | None = None) -> BookSnapshot:
        m = await self.perp(symbol)
        return await self.books.watch(m, limit)

    async def watch_live_book(self, symbol: str, limit: int | None = None) -> LiveBook:
        m = await self.perp(symbol)
        return await self.books.watch_live(m, limit)

    def open_streams(self) -> Mapping[str, int]:
        return self.books.open_streams()

    async def drop_streams(self, idle_s: float | None = None, symbol: str | None = None) -> bool:
        return await self.books.drop(idle_s, symbol)

    def book_syncing(self, symbol: str) -> bool:
        return self.books.syncing(symbol)

    @property
    def malformed_frames(self) -> int:
        return self.books.malformed_frames + super().malformed_frames

    @property
    def book_failures(self) -> dict[str, int]:
        """Failed checks per kind ("gap", "checksum", "crossed", ...) over the venue's life."""
        return dict(self.books.failures)

    async def close(self) -> None:
        await self.books.close()
        await super().close()


class FastBinanceVenue(FastBooks, BinanceVenue):
    book_stream_class = BinanceBookStream


class FastBybitVenue(FastBooks, BybitVenue):
    book_stream_class = BybitBookStream


class FastOkxVenue(FastBooks, OkxVenue):
    book_stream_class = OkxBookStream


FAST_VENUE_CLASSES: dict[str, type[CcxtVenue]] = {
    "binance": FastBinanceVenue,
    "bybit": FastBybitVenue,
    "okx": FastOkxVenue,
}
BOOK_PATHS = ("fast", "ccxt")

"""Order books from a ccxt venue: the REST snapshot and the conversion of ccxt's sides
into perptui levels (base amounts, cut to the depth perptui reads)."""

from __future__ import annotations

import bisect
from typing import Any, ClassVar

from perptui.core.metrics import DEPTH_BANDS
from perptui.core.model import (
    BookSnapshot,
    Level,
    MarketInfo,
    vouched_limit,
)
from perptui.venues.ccxt_markets import CcxtMarkets, _round

# The band cut is measured from one side's best price while the depth bands are
# measured from the mid; this slack (far above float rounding, far below a tick of
# any band) keeps a level sitting exactly on the band edge.
_BAND_SLACK = 1e-6
# Key a venue subclass sets on a ccxt book: levels per side its checks vouch for
# (absent or None: all). okx without seqId: the checksum's top 25.
VERIFIED_DEPTH = "perptuiVerifiedDepth"


def _price(level: Any) -> float:
    return level[0]


def _neg_price(level: Any) -> float:
    return -level[0]


class CcxtBooks(CcxtMarkets):
    """Book fetching and level conversion; streaming is in `ccxt_streams`."""

    # Levels converted per side when no explicit limit is asked for (streamed books):
    # those within `book_band` of the touch, at most `max_book_levels`.
    book_band: ClassVar[float] = max(DEPTH_BANDS)
    max_book_levels: ClassVar[int] = 1000

    async def fetch_order_book(self, symbol: str, limit: int | None = None) -> BookSnapshot:
        m = await self.perp(symbol)
        self.require("fetchOrderBook")
        ob = await self.call(
            "fetchOrderBook", self.client.fetch_order_book, m.symbol, self.book_limit(limit)
        )
        return self.book_snapshot(m, ob, limit)

    def book_limit(self, limit: int | None) -> int | None:
        """Hook: round a requested depth to one the venue accepts."""
        return limit

    def book_snapshot(self, m: MarketInfo, ob: dict[str, Any], limit: int | None) -> BookSnapshot:
        limit = vouched_limit(limit, ob.get(VERIFIED_DEPTH))
        bids = self.levels(m, ob.get("bids") or (), limit)
        asks = self.levels(m, ob.get("asks") or (), limit)
        ts = ob.get("timestamp")
        nonce = ob.get("nonce")
        return BookSnapshot(
            exchange=self.id,
            symbol=m.symbol,
            timestamp=int(ts) if ts is not None else self.now_ms(),
            bids=bids,
            asks=asks,
            nonce=int(nonce) if nonce is not None else None,
        )

    def levels(self, m: MarketInfo, side: Any, limit: int | None) -> tuple[Level, ...]:
        """One side of a ccxt book (best first) as (price, base amount) tuples.

        With an explicit `limit` the best `limit` levels are returned.  Without one
        (a streamed book at the venue's default depth, often 400-1000 levels) only
        the levels within `book_band` of the touch are converted, at most
        `max_book_levels`: nothing in perptui reads deeper (the ladder shows 25
        levels, the store keeps 20, the widest depth band is 5 %), and converting
        a whole book on every update was the engine's largest CPU cost.

        ccxt's sides are sorted lists of [price, amount, ...] floats, so the cut is
        a bisection and the conversion one list comprehension over the slice.  The cut
        is measured from the side's own best price, which keeps every level of a
        band measured from the mid (only a crossed book can lose a sliver).
        """
        n = len(side)
        if not n:
            return ()
        if limit:
            rows = side[:limit]
        else:
            rows = side[: min(self._band_end(side), self.max_book_levels)]
        first = rows[0][0] if rows else None
        if type(first) is not float or type(rows[0][1]) is not float:
            return self._levels_slow(m, rows)  # strings/ints/Decimals from an unusual parser
        cs = m.contract_size
        if m.linear:
            if cs == 1.0:
                return tuple([(r[0], r[1]) for r in rows])
            inverse = round(1.0 / cs)
            if inverse > 1 and inverse * cs == 1.0:
                # 0.01, 0.001 ...: dividing by the exact integer 1/cs is correctly rounded
                # (13807 / 100 -> 138.07), so no binary noise to strip afterwards.
                return tuple([(r[0], r[1] / inverse) for r in rows])
            return tuple([(r[0], _round(r[1] * cs)) for r in rows])
        # inverse: a contract is worth `cs` quote units, so base = contracts * cs / price
        return tuple([(r[0], r[1] * cs / r[0]) for r in rows if r[0] > 0])

    def _band_end(self, side: Any) -> int:
        """How many of `side`'s levels lie within `book_band` of its best price."""
        best = side[0][0]
        if type(best) is not float or best <= 0 or len(side) < 2:
            return len(side)
        # One level past the cut is kept (when there is one): it lies outside every
        # band, but it tells DepthMetrics.covers() that the book reaches the 5 % edge.
        if side[-1][0] < best:  # bids: descending prices
            floor = best * (1.0 - self.book_band) * (1.0 - _BAND_SLACK)
            end = bisect.bisect_right(side, -floor, key=_neg_price)
        else:
            cap = best * (1.0 + self.book_band) * (1.0 + _BAND_SLACK)
            end = bisect.bisect_right(side, cap, key=_price)
        return min(end + 1, len(side))

    def _levels_slow(self, m: MarketInfo, rows: Any) -> tuple[Level, ...]:
        cs = m.contract_size
        if m.linear and cs == 1.0:
            return tuple((float(p), float(a)) for p, a, *_ in rows)
        if m.linear:
            return tuple((float(p), _round(float(a) * cs)) for p, a, *_ in rows)
        return tuple((float(p), float(a) * cs / float(p)) for p, a, *_ in rows if float(p) > 0)

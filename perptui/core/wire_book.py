"""An order book kept in the venue's own wire strings, sorted where a price first appears.

The fast book path (perptui/venues/fast) applies every depth message of a stream and
reads the book far less often (the hub takes one at 4-10 Hz).  This structure is built
so that the per-message work is a few C-level calls, whatever the message size:

- each side is a ``dict`` price string -> size string, updated with ``dict.update``
  straight from the decoded message rows (no per-level Python code, no float parsing);
- a removal (size ``"0"``, ``"0.000"``, ...) is stored like any size and stays as a
  *tombstone* until the side is compacted; every reader skips tombstones;
- a price seen for the first time is found at the end of the dict (``dict.update``
  appends new keys), parsed once, and placed with ``bisect`` in a sorted list of keys,
  so the best levels are always a slice away: the crossed-book guard reads the touch and
  the OKX checksum the top 25 on every message without sorting anything;
- the sizes the checksum hashes are the strings that came over the wire, never floats
  turned back into text.

Nothing here does I/O or knows a venue; the venue decoders decide what a message means.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Iterable, Sequence
from typing import Any

# Size strings that mean "no level here" as venues print them.
ZERO_SIZES = frozenset(["0", "0.0"] + ["0." + "0" * n for n in range(2, 19)])

_PAIR = operator.itemgetter(0, 1)
_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)
_not = operator.not_
_is_zero = ZERO_SIZES.__contains__

Level = tuple[float, float]
# relative slack on a band edge, far above float rounding and far below any tick
_SLACK = 1e-6
# tombstones tolerated among the levels `WireSide.top` reads before it removes them
PRUNE_AT = 8


class WireSide:
    """One side of a book: ``sizes`` by price string, ``keys`` best first.

    ``order`` holds the sort key of each entry of ``keys`` (the price for asks, minus
    the price for bids), ascending, so ``bisect`` finds where a new price goes.
    """

    __slots__ = ("compact_at", "descending", "keys", "order", "sizes")

    def __init__(self, descending: bool) -> None:
        self.descending = descending
        self.sizes: dict[str, str] = {}
        self.keys: list[str] = []
        self.order: list[float] = []
        self.compact_at = 512

    def reset(self, rows: Iterable[Sequence[Any]]) -> None:
        """Replace the side with ``rows`` ([price, size, ...] strings, any order)."""
        sizes = {p: s for p, s in dict(map(_PAIR, rows)).items() if s not in ZERO_SIZES}
        sign = -1.0 if self.descending else 1.0
        pairs = sorted((sign * float(p), p) for p in sizes)
        # two spellings of one price ("7.6" and "7.60") would be two levels: keep one
        unique: dict[float, str] = {}
        for k, p in pairs:
            if k in unique:
                sizes.pop(p, None)
            else:
                unique[k] = p
        self.sizes = sizes
        self.order = list(unique)
        self.keys = list(unique.values())
        self.compact_at = max(512, 2 * len(sizes))

    def apply(self, rows: Sequence[Sequence[Any]]) -> None:
        """Set the levels of ``rows`` ([price, size] or [price, size, ...] strings)."""
        if not rows:
            return
        sizes = self.sizes
        before = len(sizes)
        if len(rows[0]) == 2:
            sizes.update(rows)  # type: ignore[arg-type]  # rows of two strings are (key, value) pairs
        else:  # [price, size, ...]: zip reuses its pair tuple, itemgetter(0, 1) would not
            sizes.update(zip(map(_FIRST, rows), map(_SECOND, rows), strict=True))
        grew = len(sizes) - before
        if grew:
            fresh = list(itertools.islice(reversed(sizes), grew))
            fresh.reverse()  # in the order the message listed them
            self._place(fresh)

    def _place(self, fresh: list[str]) -> None:
        """Put prices seen for the first time into the sorted keys."""
        sizes, keys, order = self.sizes, self.keys, self.order
        sign = -1.0 if self.descending else 1.0
        for p in fresh:
            k = sign * float(p)
            i = bisect.bisect_left(order, k)
            if i < len(order) and order[i] == k:
                # the same price spelled another way: one level, under its first spelling
                sizes[keys[i]] = sizes.pop(p)
                continue
            order.insert(i, k)
            keys.insert(i, p)
        if len(sizes) >= self.compact_at:
            self.compact()

    def compact(self) -> None:
        """Drop tombstones (amortised: runs when the side has doubled since the last)."""
        sizes = self.sizes
        live = list(map(_not, map(_is_zero, map(sizes.__getitem__, self.keys))))
        self.keys = list(itertools.compress(self.keys, live))
        self.order = list(itertools.compress(self.order, live))
        self.sizes = {p: sizes[p] for p in self.keys}
        self.compact_at = max(512, 2 * len(self.keys))

    def top(self, n: int) -> tuple[list[str], list[str]]:
        """The best ``n`` live levels: (price strings, size strings), best first.

        A handful of C-level passes over the head of the side.  Tombstones among the
        best levels (a tick grid brings the same prices back all the time) are skipped;
        once more than ``PRUNE_AT`` of them sit in the head, they are removed for good.
        """
        keys, get = self.keys, self.sizes.__getitem__
        k = n + 8
        while True:
            p = keys[:k]
            s = list(map(get, p))
            if ZERO_SIZES.isdisjoint(s):
                return (p[:n], s[:n]) if len(p) > n else (p, s)
            live = list(map(_not, map(_is_zero, s)))
            lp = list(itertools.compress(p, live))
            if len(lp) >= n or k >= len(keys):
                ls = list(itertools.compress(s, live))
                if len(p) - len(lp) > PRUNE_AT:
                    self._prune(k, p, live, lp)
                return lp[:n], ls[:n]
            k *= 2

    def _prune(self, k: int, head: list[str], live: list[bool], kept: list[str]) -> None:
        """Remove the tombstones among the first ``k`` keys (``head``)."""
        sizes = self.sizes
        for q in itertools.compress(head, map(_not, live)):
            del sizes[q]
        self.keys[:k] = kept
        self.order[:k] = list(itertools.compress(self.order[:k], live))

    def best(self) -> float | None:
        """The best live price, None for an empty side (tombstones ahead of it go)."""
        keys, order, sizes = self.keys, self.order, self.sizes
        while keys and sizes[keys[0]] in ZERO_SIZES:
            del sizes[keys[0]]
            del keys[0]
            del order[0]
        if not keys:
            return None
        return -order[0] if self.descending else order[0]

    def levels(self, limit: int | None = None, band: float | None = None) -> list[Level]:
        """Live levels as (price, size) floats, best first.

        ``limit``: the best ``limit`` levels.  ``band``: every level within that
        fraction of the best price (with a hair of slack for float rounding), plus the
        first one past it, which tells a reader the book reaches the band's edge;
        neither: the whole side.
        """
        if limit:
            p, s = self.top(limit)
            return list(zip(map(float, p), map(float, s), strict=True))
        keys, sizes = self.keys, self.sizes
        stop = len(keys)
        if band is not None:
            best = self.best()
            if best is None:
                return []
            if self.descending:
                stop = bisect.bisect_right(self.order, -best * (1.0 - band) * (1.0 - _SLACK))
            else:
                stop = bisect.bisect_right(self.order, best * (1.0 + band) * (1.0 + _SLACK))
        p = keys[:stop]
        s = list(map(sizes.__getitem__, p))
        if not ZERO_SIZES.isdisjoint(s):
            live = list(map(_not, map(_is_zero, s)))
            p = list(itertools.compress(p, live))
            s = list(itertools.compress(s, live))
        out = list(zip(map(float, p), map(float, s), strict=True))
        for q in keys[stop:]:
            t = sizes[q]
            if t not in ZERO_SIZES:
                out.append((float(q), float(t)))
                break
        return out

    def __len__(self) -> int:
        return sum(1 for s in self.sizes.values() if s not in ZERO_SIZES)


class WireBook:
    """Both sides, the sequence number of the last message applied, and its time.

    ``unverified``: a check value the venue sent for the book as it stands now (OKX's
    checksum of the latest message) that nobody has compared yet; None once it was,
    or when the latest message carried none.  A venue whose checksum covers the whole
    top of the book after each message can check it when the book is read, not on
    every message (perptui/venues/fast/okx.py says why that is as strict).
    """

    __slots__ = ("asks", "bids", "nonce", "timestamp", "unverified", "verified_depth")

    def __init__(self) -> None:
        self.bids = WireSide(descending=True)
        self.asks = WireSide(descending=False)
        self.nonce: int | None = None
        self.timestamp: int | None = None
        self.unverified: int | None = None
        # Levels per side the venue's checks vouch for (None: the whole book). An okx
        # stream without seqId is checked by its top-25 checksum alone: a lost update
        # deeper than that cannot be detected, so deeper levels are never published.
        self.verified_depth: int | None = None

    def reset(self, bids: Iterable[Sequence[Any]], asks: Iterable[Sequence[Any]]) -> None:
        self.bids.reset(bids)
        self.asks.reset(asks)

    def crossed(self) -> tuple[float, float] | None:
        """(best bid, best ask) when the book is crossed or locked, else None."""
        bid, ask = self.bids.best(), self.asks.best()
        if bid is not None and ask is not None and bid >= ask:
            return bid, ask
        return None

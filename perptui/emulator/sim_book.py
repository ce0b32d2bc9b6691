"""Live simulated order books: one per (venue, symbol), stepped while someone is
subscribed, each step emitting one :class:`BookDiff` with monotonically increasing update
ids.  Prices and sizes are integers (ticks, lots) so the wire strings are exact and a
client's parsed book can be compared level for level; an optional truth log keeps what the
book was at each update for the fault campaign's checks."""

from __future__ import annotations

import bisect
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from perptui.emulator.catalog import (
    VenueMarket,
)


@dataclass(frozen=True)
class BookDiff:
    """One book event: levels as (price ticks, size lots); lots == 0 deletes the level.

    Update ids follow binance's scheme (``first_id``..``last_id`` cover the event and
    ``prev_id`` is the previous event's ``last_id``); ``seq`` counts events one by one
    (bybit ``u``). Venues map these to their own sequence fields.
    """

    ts: int
    first_id: int
    last_id: int
    prev_id: int
    seq: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


BookListener = Callable[[BookDiff], None]

TARGET_LEVELS = 600
MIN_LEVELS = 520
MAX_LEVELS = 720  # stays below binance's 1000-level snapshot so a snapshot holds the book


@dataclass(frozen=True)
class TruthEntry:
    """A book's best levels right after one step: (price ticks, size lots), best first."""

    ts: int
    last_id: int
    seq: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


class SimBook:
    """One venue's order book for one market; integer ticks and lots, best-first views."""

    def __init__(self, market: VenueMarket, seed: int, mid_fn: Callable[[int], float], now_ms: int):
        self.market = market
        self._mid_fn = mid_fn
        self._rng = random.Random(f"{seed}:{market.venue}:{market.base}:book")
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self._bid_keys: list[int] = []  # ascending; best bid is the last
        self._ask_keys: list[int] = []  # ascending; best ask is the first
        self.last_id = 1_000_000 + self._rng.randrange(1_000_000)
        self.seq = 0
        self.ts = now_ms
        self.last_step_ms = now_ms
        self.listeners: list[BookListener] = []
        # Optional ring of past top-of-book states (see keep_truth); None = not kept.
        self._truth: deque[TruthEntry] | None = None
        self._truth_depth = 0
        tick = float(market.tick)
        unit = float(market.lot * market.contract_size)
        self._tick = tick
        self._unit = unit
        self._top_notional = market.asset.volume_usd * 2e-5
        self._build(now_ms)

    # --- views
    def mid_ticks(self) -> float:
        return self._mid_fn(self.ts) / self._tick

    def best_bid(self) -> int | None:
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask(self) -> int | None:
        return self._ask_keys[0] if self._ask_keys else None

    def levels(self, side: str, limit: int | None = None) -> list[tuple[int, int]]:
        """Best-first (ticks, lots)."""
        if side == "bids":
            keys = self._bid_keys[::-1] if limit is None else self._bid_keys[: -limit - 1 : -1]
            book = self.bids
        else:
            keys = self._ask_keys if limit is None else self._ask_keys[:limit]
            book = self.asks
        return [(k, book[k]) for k in keys]

    def wire_levels(self, side: str, limit: int | None = None) -> list[list[str]]:
        m = self.market
        return [[m.fmt_price(p), m.fmt_qty(q)] for p, q in self.levels(side, limit)]

    def float_levels(self, side: str, limit: int | None = None) -> list[tuple[float, float]]:
        """What a client parses from the wire strings (amounts in native units)."""
        m = self.market
        return [(float(m.fmt_price(p)), float(m.fmt_qty(q))) for p, q in self.levels(side, limit)]

    # --- truth per sequence
    def keep_truth(self, depth: int, length: int) -> None:
        """Remember the best ``depth`` levels per side after each of the last ``length`` steps.

        A checker that receives a client's book some time after it was published asks for
        the state *at that book's sequence* (:meth:`truth_at`), not the current one: the
        book moves on every step.  Opt-in and bounded, so a long soak does not pay for it.
        """
        self._truth = deque(maxlen=max(1, int(length)))
        self._truth_depth = max(1, int(depth))
        self._record_truth()

    def _record_truth(self) -> None:
        if self._truth is None:
            return
        d = self._truth_depth
        self._truth.append(
            TruthEntry(
                self.ts, self.last_id, self.seq, self.levels("bids", d), self.levels("asks", d)
            )
        )

    def truth_at(self, *, last_id: int | None = None, ts: int | None = None) -> list[TruthEntry]:
        """Remembered states whose update id matches, else those with that timestamp.

        Usually one; two steps that fell in the same millisecond (a busy loop) give two,
        and a checker accepts a book equal to either.
        """
        if self._truth is None:
            return []
        if last_id is not None:
            found = [e for e in self._truth if e.last_id == last_id]
            if found:
                return found
        if ts is None:
            return []
        return [e for e in self._truth if e.ts == ts]

    def truth_span(self) -> tuple[int, int] | None:
        """(oldest, newest) timestamps still remembered, or None."""
        if not self._truth:
            return None
        return self._truth[0].ts, self._truth[-1].ts

    # --- construction
    def _size(self, rank: int, price_ticks: int) -> int:
        price = max(price_ticks * self._tick, self._tick)
        notional = self._top_notional * self._rng.lognormvariate(0.0, 1.0) * (1 + rank / 150)
        return max(1, round(notional / price / self._unit))

    def _distances(self, n: int, mid: float) -> list[int]:
        span = max(int(n * 1.6), int(0.03 * mid))  # ~3 % deep where the tick allows
        out: list[int] = []
        prev = -1
        for i in range(n):
            d = int(i + (span - n) * (i / n) ** 2.5) + self._rng.randrange(2)
            d = max(d, prev + 1)
            out.append(d)
            prev = d
        return out

    def _build(self, now_ms: int) -> None:
        mid = self._mid_fn(now_ms) / self._tick
        bb = math.floor(mid)
        if bb == mid:
            bb -= 1
        ba = bb + 1
        self.bids.clear()
        self.asks.clear()
        for rank, d in enumerate(self._distances(TARGET_LEVELS, mid)):
            if bb - d > 0:
                self.bids[bb - d] = self._size(rank, bb - d)
        for rank, d in enumerate(self._distances(TARGET_LEVELS, mid)):
            self.asks[ba + d] = self._size(rank, ba + d)
        self._bid_keys = sorted(self.bids)
        self._ask_keys = sorted(self.asks)
        self.ts = now_ms
        self._mid_at_build = mid

    # --- mutation helpers (record into the pending diff)
    def _set(self, side: str, price: int, lots: int, changes: dict[int, int]) -> None:
        book, keys = (self.bids, self._bid_keys) if side == "bids" else (self.asks, self._ask_keys)
        if lots <= 0:
            if price in book:
                del book[price]
                keys.pop(bisect.bisect_left(keys, price))
                changes[price] = 0
            return
        if price not in book:
            bisect.insort(keys, price)
        book[price] = lots
        changes[price] = lots

    def step(self, now_ms: int) -> BookDiff:
        """Advance the book to ``now_ms``: follow the mid, churn near the top, keep depth."""
        mid = self._mid_fn(now_ms) / self._tick
        if abs(mid - self._mid_at_build) > 0.02 * mid and not self.listeners:
            # long unobserved: rebuild around the current price (ids jump like a venue restart)
            self._build(now_ms)
            self.last_id += 1000
        bch: dict[int, int] = {}
        ach: dict[int, int] = {}
        rng = self._rng
        bid_max = math.floor(mid)
        if bid_max == mid:
            bid_max -= 1
        ask_min = bid_max + 1
        # 1. the mid moved: remove crossing levels, refill the gap at the top
        while self._bid_keys and self._bid_keys[-1] > bid_max:
            self._set("bids", self._bid_keys[-1], 0, bch)
        while self._ask_keys and self._ask_keys[0] < ask_min:
            self._set("asks", self._ask_keys[0], 0, ach)
        best = self.best_bid()
        if best is None or best < bid_max - 1:
            start = bid_max if best is None else best + 1
            for p in range(bid_max, max(start - 1, bid_max - 6), -1):
                if p > 0 and (p == bid_max or rng.random() < 0.6):
                    self._set("bids", p, self._size(0, p), bch)
        best = self.best_ask()
        if best is None or best > ask_min + 1:
            stop = ask_min if best is None else best - 1
            for p in range(ask_min, min(stop + 1, ask_min + 6)):
                if p == ask_min or rng.random() < 0.6:
                    self._set("asks", p, self._size(0, p), ach)
        # 2. churn near the top
        for _ in range(rng.randint(3, 12)):
            side = "bids" if rng.random() < 0.5 else "asks"
            keys = self._bid_keys if side == "bids" else self._ask_keys
            changes = bch if side == "bids" else ach
            if not keys:
                continue
            rank = min(int(rng.expovariate(1 / 15)), len(keys) - 1)
            price = keys[-1 - rank] if side == "bids" else keys[rank]
            op = rng.random()
            if op < 0.55:
                self._set(side, price, self._size(rank, price), changes)
            elif op < 0.8 and len(keys) > MIN_LEVELS:
                self._set(side, price, 0, changes)
            else:
                delta = rng.randint(1, 3)
                new = price - delta if side == "bids" else price + delta
                book = self.bids if side == "bids" else self.asks
                if new > 0 and new not in book:
                    self._set(side, new, self._size(rank, new), changes)
        # 3. keep the depth between MIN_LEVELS and MAX_LEVELS
        for side, changes in (("bids", bch), ("asks", ach)):
            keys = self._bid_keys if side == "bids" else self._ask_keys
            while len(keys) > MAX_LEVELS:
                self._set(side, keys[0] if side == "bids" else keys[-1], 0, changes)
            while len(keys) < MIN_LEVELS and keys:
                far = keys[0] if side == "bids" else keys[-1]
                gap = rng.randint(1, max(1, int(0.03 * mid / TARGET_LEVELS) + 1))
                new = far - gap if side == "bids" else far + gap
                if new <= 0:
                    break
                self._set(side, new, self._size(len(keys), new), changes)
        if not bch and not ach and self._bid_keys:
            # venues never send empty events: at least the best bid's size changes
            top = self._bid_keys[-1]
            self._set("bids", top, self.bids[top] + 1, bch)
        prev = self.last_id
        self.last_id = prev + 1 + rng.randrange(40)
        self.seq += 1
        self.ts = now_ms
        self.last_step_ms = now_ms
        diff = BookDiff(
            ts=now_ms,
            first_id=prev + 1,
            last_id=self.last_id,
            prev_id=prev,
            seq=self.seq,
            bids=tuple(sorted(bch.items(), reverse=True)),
            asks=tuple(sorted(ach.items())),
        )
        self._record_truth()
        for listener in list(self.listeners):
            listener(diff)
        return diff

    def refresh(self, now_ms: int, max_age_ms: int = 1000) -> None:
        """Bring an unobserved book up to date before a REST snapshot is served.

        Subscribed books are stepped by the ticker only, so a snapshot never adds an event
        the streams did not carry."""
        if not self.listeners and now_ms - self.last_step_ms >= max_age_ms:
            self.step(now_ms)

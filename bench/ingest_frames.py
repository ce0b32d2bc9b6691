"""Depth frames in each streamed venue's wire format, for the ingest benchmark.

A seeded random book (prices on a 0.1 tick grid around a fixed mid, sizes in
thousandths) evolves by updates that touch levels near the touch more often than deep
ones, as real books do; each update becomes one frame in the venue's format with every
field its sync rules need:

- binance USDⓈ-M ``depthUpdate`` (combined-stream envelope): ``U``/``u``/``pu`` chained,
  plus the REST ``/fapi/v1/depth`` snapshot whose ``lastUpdateId`` precedes frame 0;
- bybit v5 ``orderbook.500``: a ``snapshot`` then ``delta`` frames with ``u`` + 1 each;
- okx ``books``: a ``snapshot`` then ``update`` frames with ``seqId``/``prevSeqId`` and the
  crc32 ``checksum`` of the top 25 levels.

Levels per frame follow the recorded sessions (binance 16, okx 43, bybit 60 on average).
Numbers are printed as the venues print them: plain decimals, no trailing zeros.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from perptui.core.okx_checksum import okx_checksum

MID_TICK = 300_000  # 30,000.0
DEPTH = {"binance": 1000, "okx": 400, "bybit": 500}
LEVELS_PER_FRAME = {"binance": 16, "okx": 43, "bybit": 60}
T0_MS = 1_733_011_200_000


def price(tick: int) -> str:
    whole, tenth = divmod(tick, 10)
    return f"{whole}.{tenth}" if tenth else str(whole)


def size(milli: int) -> str:
    whole, frac = divmod(milli, 1000)
    if not frac:
        return str(whole)
    return f"{whole}.{frac:03d}".rstrip("0")


@dataclass
class FrameSet:
    venue: str
    symbol_id: str
    snapshot: dict[str, Any]  # the first ws frame (okx/bybit) or REST snapshot (binance)
    frames: list[dict[str, Any]]
    final_bids: list[tuple[float, float]]  # top 25 after the last frame
    final_asks: list[tuple[float, float]]
    final_ts: int


class _Book:
    def __init__(self, rng: random.Random, depth: int) -> None:
        self.rng = rng
        self.depth = depth
        self.bids = {MID_TICK - 1 - i: rng.randint(1, 5000) for i in range(depth)}
        self.asks = {MID_TICK + 1 + i: rng.randint(1, 5000) for i in range(depth)}

    def update(self, n: int) -> tuple[list[list[str]], list[list[str]]]:
        """Change ``n`` levels; returns the changed (price, size) rows per side."""
        changed: dict[str, dict[int, int]] = {"bids": {}, "asks": {}}
        for _ in range(n):
            name = "bids" if self.rng.random() < 0.5 else "asks"
            offset = min(int(self.rng.expovariate(1 / 12)), self.depth - 1)
            tick = MID_TICK - 1 - offset if name == "bids" else MID_TICK + 1 + offset
            side = self.bids if name == "bids" else self.asks
            # 15 % removals; the best level of each side is never removed, so the book
            # keeps a touch on both sides and never crosses
            if offset > 0 and tick in side and self.rng.random() < 0.15:
                del side[tick]
                changed[name][tick] = 0
            else:
                side[tick] = self.rng.randint(1, 5000)
                changed[name][tick] = side[tick]
        return (
            [[price(t), size(s)] for t, s in changed["bids"].items()],
            [[price(t), size(s)] for t, s in changed["asks"].items()],
        )

    def rows(self, name: str, limit: int) -> list[list[str]]:
        side = self.bids if name == "bids" else self.asks
        ticks = sorted(side, reverse=name == "bids")[:limit]
        return [[price(t), size(side[t])] for t in ticks]

    def top(self, name: str, limit: int = 25) -> list[tuple[float, float]]:
        return [(float(p), float(s)) for p, s in self.rows(name, limit)]


def make_frames(venue: str, count: int, seed: int = 7) -> FrameSet:
    rng = random.Random(f"{venue}:{seed}")
    book = _Book(rng, DEPTH[venue])
    per_frame = LEVELS_PER_FRAME[venue]
    frames: list[dict[str, Any]] = []
    ts = T0_MS
    if venue == "binance":
        last = 1_000_000
        snapshot: dict[str, Any] = {
            "lastUpdateId": last,
            "E": ts,
            "T": ts,
            "bids": book.rows("bids", 1000),
            "asks": book.rows("asks", 1000),
        }
        for _ in range(count):
            ts += 1
            b, a = book.update(per_frame)
            u = last + 3  # other symbols' events share the id space: u steps by more than 1
            data = {"e": "depthUpdate", "E": ts, "T": ts, "s": "BTCUSDT"}
            data.update({"U": last + 1, "u": u, "pu": last, "b": b, "a": a})
            frames.append({"stream": "btcusdt@depth@100ms", "data": data})
            last = u
        symbol_id = "BTCUSDT"
    elif venue == "bybit":
        u = 1_000
        data = {"s": "BTCUSDT", "b": book.rows("bids", 500), "a": book.rows("asks", 500)}
        snapshot = {
            "topic": "orderbook.500.BTCUSDT",
            "type": "snapshot",
            "ts": ts,
            "data": {**data, "u": u, "seq": u * 10},
            "cts": ts,
        }
        for _ in range(count):
            ts += 1
            u += 1
            b, a = book.update(per_frame)
            frames.append(
                {
                    "topic": "orderbook.500.BTCUSDT",
                    "type": "delta",
                    "ts": ts,
                    "data": {"s": "BTCUSDT", "b": b, "a": a, "u": u, "seq": u * 10},
                    "cts": ts,
                }
            )
        symbol_id = "BTCUSDT"
    elif venue == "okx":
        seq = 5_000
        arg = {"channel": "books", "instId": "BTC-USDT-SWAP"}

        def okx_frame(action: str, bids: Any, asks: Any, prev: int, now: int) -> dict[str, Any]:
            top_b = book.rows("bids", 25)
            top_a = book.rows("asks", 25)
            data = {
                "asks": [[p, s, "0", "1"] for p, s in asks],
                "bids": [[p, s, "0", "1"] for p, s in bids],
                "ts": str(now),
                "checksum": okx_checksum(top_b, top_a),
                "prevSeqId": prev,
                "seqId": seq,
            }
            return {"arg": arg, "action": action, "data": [data]}

        snapshot = okx_frame("snapshot", book.rows("bids", 400), book.rows("asks", 400), -1, ts)
        for _ in range(count):
            ts += 1
            prev, seq = seq, seq + 1
            b, a = book.update(per_frame)
            frames.append(okx_frame("update", b, a, prev, ts))
        symbol_id = "BTC-USDT-SWAP"
    else:
        raise ValueError(f"no frames for {venue!r}")
    return FrameSet(venue, symbol_id, snapshot, frames, book.top("bids"), book.top("asks"), ts)

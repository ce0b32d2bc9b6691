"""A stable split of the (venue, symbol) universe between N collector processes.

Every collector of a fleet is started with the same N and its own K; each owns
the markets whose CRC-32 of ``"venue|symbol"`` falls in its residue class.
CRC-32, not ``hash()``: Python salts str hashes per process, and the split must
be the same in every process, on every machine, in every release.  A market
belongs to exactly one shard, so N shards together collect exactly what one
unsharded collector would, with nothing written twice.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Shard:
    index: int  # 1..count
    count: int

    def __post_init__(self) -> None:
        if not (self.count >= 1 and 1 <= self.index <= self.count):
            raise ValueError(f"a shard is K/N with 1 <= K <= N, got {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not m:
            raise ValueError(f"a shard is K/N with 1 <= K <= N (e.g. 1/4), got {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    def owns(self, venue: str, symbol: str) -> bool:
        return zlib.crc32(f"{venue}|{symbol}".encode()) % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def owned(shard: Shard | None, venue: str, symbols: list[str]) -> list[str]:
    """The symbols of `venue` this shard collects (all of them without a shard)."""
    if shard is None:
        return list(symbols)
    return [s for s in symbols if shard.owns(venue, s)]

"""OKX order-book checksum (the ``checksum`` field of the ``books`` channel).

OKX documents it as: take the best 25 bids and the best 25 asks, interleave them
``bid1:ask1:bid2:ask2:...`` where each level contributes ``price:size`` exactly as the
strings were sent on the wire (when one side runs out, the other side's remaining
levels follow on their own), join with ``:``, CRC-32 the ASCII bytes and read the
result as a *signed* 32-bit integer.

Because the strings matter, callers pass the wire strings, never floats.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from decimal import Decimal

CHECKSUM_DEPTH = 25

WireLevel = Sequence[str]  # ("price", "size", ...) as sent; extra fields ignored


def checksum_string(bids: Sequence[WireLevel], asks: Sequence[WireLevel]) -> str:
    """The ``px:sz:px:sz...`` string OKX hashes; bids and asks best first."""
    parts: list[str] = []
    for i in range(CHECKSUM_DEPTH):
        if i < len(bids):
            parts.append(f"{bids[i][0]}:{bids[i][1]}")
        if i < len(asks):
            parts.append(f"{asks[i][0]}:{asks[i][1]}")
    return ":".join(parts)


def to_signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - 0x1_0000_0000 if value >= 0x8000_0000 else value


def okx_checksum(bids: Sequence[WireLevel], asks: Sequence[WireLevel]) -> int:
    """Signed CRC-32 of the top 25 interleaved levels, as OKX sends it."""
    return to_signed32(zlib.crc32(checksum_string(bids, asks).encode("ascii")))


def wire_number(value: float) -> str:
    """The string OKX sends for a number a client parsed into a float: plain decimal, no
    exponent, no trailing zeros (``30244.0`` -> ``"30244"``, ``1e-05`` -> ``"0.00001"``)."""
    text = format(Decimal(repr(float(value))).normalize(), "f")
    return "0" if text in ("-0", "") else text


def checksum_of_parsed(bids: Sequence[Sequence[float]], asks: Sequence[Sequence[float]]) -> int:
    """Checksum of a book a client holds as floats (e.g. a ccxt order book, contracts).

    ccxt.pro 4.5.90 does not check OKX checksums; an app that gets hold of a frame's
    ``checksum`` can compare it with this. Exact as long as OKX's strings are normalised
    decimals, which they are on the ``books`` channel.
    """
    b = [(wire_number(p), wire_number(q)) for p, q, *_ in bids[:CHECKSUM_DEPTH]]
    a = [(wire_number(p), wire_number(q)) for p, q, *_ in asks[:CHECKSUM_DEPTH]]
    return okx_checksum(b, a)

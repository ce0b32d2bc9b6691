"""OKX order-book checksum (the ``checksum`` field of the ``books`` channel).

OKX documents it as: take the best 25 bids and the best 25 asks, interleave them
``bid1:ask1:bid2:ask2:...`` where each level contributes ``price:size`` exactly as the
strings were sent on the wire (when one side runs out, the other side's remaining
levels follow on their own), join with ``:``, CRC-32 the ASCII bytes and read the
result as a *signed* 32-bit integer.

One module for both ends: the emulator signs the frames it sends with `okx_checksum`
(wire strings), and the okx venue checks the book ccxt holds (floats) with
`checksum_of_parsed`, so the two can never drift apart.
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
    exponent, no trailing zeros (``30244.0`` -> ``"30244"``, ``1e-05`` -> ``"0.00001"``).

    ``repr`` of a float is the shortest decimal that reads back as the same float, which
    is OKX's normalised string for any decimal of at most 17 significant digits; only
    exponent forms need the slower Decimal route. This runs 50 times per okx message.
    """
    text = repr(float(value))
    if "e" in text or "n" in text:  # 1e-05, 1e+16 (inf/nan never come from a book)
        text = format(Decimal(text).normalize(), "f")
    elif text.endswith(".0"):
        text = text[:-2]
    return "0" if text in ("-0", "") else text


def checksum_of_parsed(bids: Sequence[Sequence[float]], asks: Sequence[Sequence[float]]) -> int:
    """Checksum of a book a client holds as floats (e.g. a ccxt order book, contracts).

    ccxt.pro 4.5.90 does not check OKX checksums; the okx venue compares each frame's
    ``checksum`` with this. Exact as long as OKX's strings are normalised decimals,
    which they are on the ``books`` channel.
    """
    parts: list[str] = []
    nb, na = min(len(bids), CHECKSUM_DEPTH), min(len(asks), CHECKSUM_DEPTH)
    for i in range(max(nb, na)):
        if i < nb:
            b = bids[i]
            parts.append(f"{wire_number(b[0])}:{wire_number(b[1])}")
        if i < na:
            a = asks[i]
            parts.append(f"{wire_number(a[0])}:{wire_number(a[1])}")
    return to_signed32(zlib.crc32(":".join(parts).encode("ascii")))


def checksum_of_wire(
    bid_prices: Sequence[str],
    bid_sizes: Sequence[str],
    ask_prices: Sequence[str],
    ask_sizes: Sequence[str],
) -> int:
    """Checksum of a book kept as wire strings, best first (at most 25 per side used).

    The fast book path keeps OKX's own strings (`perptui.core.wire_book`), so nothing is
    formatted or concatenated: the strings are interleaved by slice assignment and joined
    once, all in C-level calls; this runs on every okx message.
    """
    n = CHECKSUM_DEPTH
    bp, bs, ap, as_ = bid_prices[:n], bid_sizes[:n], ask_prices[:n], ask_sizes[:n]
    common = min(len(bp), len(ap))
    # bid price, bid size, ask price, ask size, ... then the longer side's rest
    parts: list[str] = [""] * (4 * common)
    parts[0::4] = bp[:common]
    parts[1::4] = bs[:common]
    parts[2::4] = ap[:common]
    parts[3::4] = as_[:common]
    rest_p, rest_s = (bp, bs) if len(bp) > common else (ap, as_)
    if len(rest_p) > common:
        tail: list[str] = [""] * (2 * (len(rest_p) - common))
        tail[0::2] = rest_p[common:]
        tail[1::2] = rest_s[common:]
        parts += tail
    return to_signed32(zlib.crc32(":".join(parts).encode("ascii")))

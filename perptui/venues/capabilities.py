"""What each named venue supports, for `perptui doctor` and the README's table.

Static facts about the venues and perptui's adapters (no I/O); a test keeps the README's
table equal to `markdown_table()`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Capabilities:
    venue: str
    book_stream: str
    funding_interval: str
    predicted_rate: str
    history: str
    open_interest: str


CAPABILITIES: dict[str, Capabilities] = {
    c.venue: c
    for c in (
        Capabilities(
            "binance",
            "WS diff depth + REST snapshot (update ids)",
            "8 h; per symbol from fundingInfo",
            "no (the running estimate)",
            "funding and candles since listing",
            "yes",
        ),
        Capabilities(
            "bybit",
            "WS orderbook.50/200/1000 snapshot + deltas",
            "per instrument (fundingInterval)",
            "no (the running estimate)",
            "funding and candles since listing",
            "yes",
        ),
        Capabilities(
            "okx",
            "WS books (400 levels, seqId + checksum)",
            "8 h; some 4 h / 1 h",
            "where okx sends nextFundingRate",
            "funding 3 months; candles since listing",
            "yes",
        ),
        Capabilities(
            "hyperliquid",
            "WS l2Book, every push a full snapshot (20 levels)",
            "1 h",
            "yes (predictedFundings, its HlPerp entry)",
            "funding since listing (500/page); candles: latest 5000 per interval",
            "yes (coins; USD = OI x mark)",
        ),
        Capabilities(
            "dydx",
            "WS v4_orderbook (no sequence/checksum: reset on every snapshot, uncrossed)",
            "1 h",
            "no (nextFundingRate is the running hour's)",
            "funding and candles (1000/page, newest first)",
            "yes (/v4/perpetualMarkets)",
        ),
        Capabilities(
            "gmx",
            "none: a pool (liquidity and OI caps per side, price impact)",
            "continuous; shown per hour",
            "no",
            "no funding history (collect stores what it sees); candles: latest 10000, no volume",
            "yes (long and short, USD)",
        ),
    )
}
HEADERS = ("venue", "book stream", "funding interval", "predicted rate", "history depth", "OI")


def row(c: Capabilities) -> tuple[str, ...]:
    return (
        c.venue,
        c.book_stream,
        c.funding_interval,
        c.predicted_rate,
        c.history,
        c.open_interest,
    )


def markdown_table(venues: tuple[str, ...] | None = None) -> str:
    names = venues if venues is not None else tuple(CAPABILITIES)
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for name in names:
        c = CAPABILITIES.get(name)
        if c is not None:
            lines.append("| " + " | ".join(row(c)) + " |")
    return "\n".join(lines)


def text_lines(venues: tuple[str, ...]) -> list[str]:
    """The doctor's capability section: the table's rows for the configured venues."""
    known = tuple(v for v in venues if v in CAPABILITIES)
    out = ["  " + line for line in markdown_table(known).splitlines()]
    out += [
        f"  ({name}: a generic ccxt venue; capabilities as ccxt reports them)"
        for name in venues
        if name not in CAPABILITIES
    ]
    return out

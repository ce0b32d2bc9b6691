"""Which perpetuals on different venues are one trade: the same base in the same dollar.

A trader comparing funding or prices across venues compares BTC with BTC, whatever dollar
the venue quotes it in: binance's ``BTC/USDT:USDT``, Hyperliquid's and dYdX's
``BTC/USDC:USDC`` (ccxt's unified names), GMX's ``BTC/USD:USD``. Grouping by the exact
symbol would never put a USDT-margined market beside a USDC one, so the cross-venue rules
(funding divergence, executable price divergence, carry pairs) would miss exactly the
CEX-vs-DEX comparisons a carry trader runs. `peer_key` names the group instead: linear
perpetuals quoted and settled in USDT, USDC or USD share ``"<BASE>/USD*"``; anything else
(inverse coin-margined contracts, dated futures, other quotes) keeps its own symbol,
because its P&L is not in dollars and it is a different trade without a collateral hedge.

The assumption, and its error: USDT = USDC = USD. They are not exactly equal. Their
cross rate normally moves within a few basis points, but it has broken away for days
(USDC fell to about 0.88 USD on 11 March 2023; USDT traded near 0.95 in May 2022). What
the assumption costs depends on what is compared:

- *funding rates* are fractions of a position's notional, so a peg difference ``e``
  scales one side's rate by ``(1 + e)``: the compared spread is off by about ``e x rate``
  (0.1 % of a 0.01 % rate is 1e-7), far below any threshold; harmless even in a depeg;
- *prices* carry the peg one for one: with USDT at 0.999 USDC, ``BTC/USDT`` reads 0.1 %
  above ``BTC/USDC`` with nothing to arbitrage (the default price threshold is 0.05 %).
  The executable rule nets both taker fees, not the stablecoin cross rate, and a trader
  who takes such an edge holds the stablecoin leg too. Signals across quotes therefore
  record each venue's symbol (``inputs["symbols"]``) so a mixed-dollar signal shows as
  one.

Within one venue that lists a base in two dollars (binance has BTC/USDT and BTC/USDC),
one market stands for the venue: the first quote of `DOLLARS` (USDT, then USDC, then
USD, the order of depth on the venues that list several), so a group has one entry per
venue and a venue is never compared with itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

# Quote currencies taken as one US dollar, in the order a venue's market is preferred.
DOLLARS: tuple[str, ...] = ("USDT", "USDC", "USD")
DOLLAR_SUFFIX = "/USD*"

T = TypeVar("T")


def split_symbol(symbol: str) -> tuple[str, str, str]:
    """(base, quote, settle) of a unified symbol; settle '' for spot, expiry dropped."""
    base, _, rest = symbol.partition("/")
    quote, _, settle = rest.partition(":")
    return base, quote, settle.split("-", 1)[0]


def is_dollar_linear(symbol: str) -> bool:
    """A perpetual quoted and settled in one of `DOLLARS` (not inverse, not dated)."""
    base, quote, settle = split_symbol(symbol)
    dated = "-" in symbol.partition(":")[2]
    return bool(base) and not dated and quote in DOLLARS and settle in DOLLARS


def peer_key(symbol: str) -> str:
    """The group a market is compared in: ``"BTC/USD*"`` for dollar-linear perps, else
    the symbol itself."""
    if is_dollar_linear(symbol):
        return split_symbol(symbol)[0] + DOLLAR_SUFFIX
    return symbol


def _preference(symbol: str) -> tuple[int, str]:
    quote = split_symbol(symbol)[1]
    return (DOLLARS.index(quote) if quote in DOLLARS else len(DOLLARS), symbol)


def peer_groups(items: Iterable[tuple[str, str, T]]) -> dict[str, dict[str, T]]:
    """``{peer key: {venue: item}}`` from ``(venue, symbol, item)`` triples, one item per
    venue per group (the preferred dollar when a venue has several; see module doc)."""
    chosen: dict[str, dict[str, tuple[tuple[int, str], T]]] = {}
    for venue, symbol, item in items:
        group = chosen.setdefault(peer_key(symbol), {})
        rank = _preference(symbol)
        held = group.get(venue)
        if held is None or rank <= held[0]:  # ties (one symbol seen twice): the later
            group[venue] = (rank, item)
    return {key: {v: item for v, (_, item) in g.items()} for key, g in chosen.items()}


def peer_symbol(symbol: str, listed: Iterable[str]) -> str | None:
    """The market of ``listed`` (one venue's symbols) in ``symbol``'s group, preferring
    ``symbol`` itself; None when the venue has none."""
    key = peer_key(symbol)
    hits = [s for s in listed if s == symbol or peer_key(s) == key]
    if not hits:
        return None
    return symbol if symbol in hits else min(hits, key=_preference)

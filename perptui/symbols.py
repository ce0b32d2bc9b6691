"""What a user types for a market, and which perpetual each venue answers it with.

Two steps, both pure (no ccxt import: config parsing stays fast):

`parse_symbol` turns typed text into a unified ccxt symbol *request*:

- unified forms are kept as written (``BTC/USDT:USDT``, ``BTC/USDC:USDC``; ``BTC/USDT``
  stays a spot symbol so the venue can say it is not a perpetual);
- a bare base (``btc``, ``ETH`` — also Hyperliquid's native coin names) asks for the base's
  perpetual in the default quote; the venue step finds whatever quote it has;
- exchange ids: ``BTCUSDT`` (binance/bybit), ``BTC-USDT-SWAP`` (okx linear),
  ``UNI-USD-SWAP`` (okx *inverse*: quoted in USD, margined and settled in the coin, so
  ``UNI/USD:UNI``), ``BTC-USD`` (dYdX ticker: ``BTC/USD:USD``, a USD-family request).

`resolve_symbol` picks one venue's market for a request, in this order:

1. the exact unified symbol;
2. a venue-native id (``BTC-USD`` on dYdX, ``kPEPE`` on Hyperliquid), case-insensitive
   when only one market matches;
3. for a linear request quoted in a USD-family currency (USDT, USDC, USD), the venue's
   linear perpetual of the same base in that family — the requested quote first, then
   USDT, USDC, USD. So ``--symbols BTC`` is binance's BTC/USDT:USDT and Hyperliquid's and
   dYdX's BTC/USDC:USDC. Inverse requests only ever match inverse markets.

Anything else is `UnknownSymbol` with the venue's nearest names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Protocol, TypeVar

from perptui.core.peers import DOLLARS, split_symbol
from perptui.errors import UnknownSymbol

DEFAULT_QUOTE = "USDT"
# Quote currencies worth one US dollar: a request in one may be answered in another.
USD_FAMILY: tuple[str, ...] = DOLLARS
# Concatenated exchange ids (BTCUSDT). Not USD: coins such as SUSD end in it.
QUOTE_SUFFIXES: tuple[str, ...] = ("USDT", "USDC")

_SYMBOL_CHARS = re.compile(r"^[A-Z0-9][A-Z0-9._/:\-]*$")
_OKX_SWAP = re.compile(r"([A-Z0-9]+)-([A-Z0-9]+)-SWAP")
_DASH_PAIR = re.compile(r"([A-Z0-9]+)-([A-Z0-9]+)")


class Market(Protocol):
    """What resolution reads of a venue's market (`perptui.core.model.MarketInfo`)."""

    @property
    def symbol(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def base(self) -> str: ...
    @property
    def quote(self) -> str: ...
    @property
    def linear(self) -> bool: ...


def parse_symbol(raw: str, *, quote: str = DEFAULT_QUOTE) -> str:
    """Typed text -> unified symbol request; ValueError with the reason when it is none."""
    s = raw.strip().upper()
    if not s or not _SYMBOL_CHARS.match(s):
        raise ValueError(f"not a symbol: {raw!r}")
    if "/" in s:
        base, _, rest = s.partition("/")
        if not base or not rest or rest.startswith(":") or rest.endswith(":"):
            raise ValueError(f"not a symbol: {raw!r}")
        return s
    m = _OKX_SWAP.fullmatch(s)
    if m:
        base, q = m.groups()
        settle = base if q == "USD" else q  # okx coin-margined swaps are quoted in USD
        return f"{base}/{q}:{settle}"
    m = _DASH_PAIR.fullmatch(s)
    if m:
        base, q = m.groups()
        return f"{base}/{q}:{q}"
    if "-" in s or ":" in s:
        raise ValueError(f"not a symbol: {raw!r} (use the unified form, e.g. BTC/USDT:USDT)")
    for suffix in QUOTE_SUFFIXES:
        if s.endswith(suffix) and len(s) > len(suffix):
            return f"{s[: -len(suffix)]}/{suffix}:{suffix}"
    return f"{s}/{quote}:{quote}"


M = TypeVar("M", bound=Market)  # resolution hands back the caller's own market type


def resolve_symbol(requested: str, markets: Mapping[str, M], venue: str = "") -> M:
    """The market of `markets` (keyed by unified symbol) that answers `requested`."""
    found = markets.get(requested)
    if found is not None:
        return found
    by_id = [m for m in markets.values() if m.id.upper() == requested.strip().upper()]
    if len(by_id) == 1:
        return by_id[0]
    if "/" not in requested:
        try:
            requested = parse_symbol(requested)
        except ValueError:
            raise UnknownSymbol(_unknown(requested, markets, venue)) from None
        found = markets.get(requested)
        if found is not None:
            return found
    base, quote, settle = split_symbol(requested)
    dated = "-" in requested.partition(":")[2]  # a future asks for that expiry only
    if settle and not dated and quote in USD_FAMILY and settle != base:
        order = [quote, *(q for q in USD_FAMILY if q != quote)]
        same_base = [m for m in markets.values() if m.base.upper() == base and m.linear]
        for q in order:
            hits = [m for m in same_base if m.quote.upper() == q]
            if hits:
                return min(hits, key=lambda m: m.symbol)
    raise UnknownSymbol(_unknown(requested, markets, venue))


def _unknown(requested: str, markets: Mapping[str, Market], venue: str) -> str:
    head = f"{venue}: " if venue else ""
    near = difflib.get_close_matches(requested, list(markets), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(near)}?" if near else f" ({len(markets)} perpetuals)"
    return f"{head}no perpetual for {requested!r}{hint}"

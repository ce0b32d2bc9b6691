"""What a user types for a symbol or an exchange, turned into ccxt's names.

Both run before any network I/O, so a typo fails in the same words whatever the
command.  Whether a well-formed symbol exists on a venue is the venue layer's
question (``perptui.venues``); this module only decides the unified spelling.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from perptui.config.values import BadValue, venue_id
from perptui.errors import ConfigError, UnknownExchange
from perptui.symbols import DEFAULT_QUOTE, parse_symbol

# Longest unified symbol on any venue is ~40 characters; 100 leaves room, and a
# 10 kB paste fails here in one line instead of in a regex or a file name.
MAX_SYMBOL_LEN = 100
_UNIFIED = re.compile(r"^[A-Z0-9._\-]+/[A-Z0-9._\-]+(:[A-Z0-9._\-]+)?$")


def normalize_symbol(raw: str, *, quote: str = DEFAULT_QUOTE) -> str:
    """Typed text -> unified symbol request (rules in `perptui.symbols.parse_symbol`)."""
    if len(raw.strip()) > MAX_SYMBOL_LEN:
        raise ValueError(f"not a symbol: a {len(raw.strip())}-character string")
    symbol = parse_symbol(raw, quote=quote)
    if not _UNIFIED.match(symbol):  # e.g. "0:/0": a ':' inside the base
        raise ValueError(f"not a symbol: {raw!r} (use the unified form, e.g. BTC/USDT:USDT)")
    return symbol


# venues with their own adapter instead of a ccxt class (perptui.venues.registry.OWN_ADAPTERS)
OWN_ADAPTER_VENUES = frozenset({"gmx"})


def _ccxt_exchange_ids_dir() -> Path | None:
    """ccxt's async_support directory, found without importing ccxt (0.5-1 s)."""
    spec = importlib.util.find_spec("ccxt")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(next(iter(spec.submodule_search_locations))) / "async_support"
    return d if d.is_dir() else None


def check_venue_id(venue: str, source: str) -> str:
    """The lower-cased id if ccxt has such an exchange, else a one-line error."""
    try:
        v = venue_id(venue)
    except BadValue as exc:
        raise ConfigError(f"{source}: {exc}") from None
    if v in OWN_ADAPTER_VENUES:
        return v
    d = _ccxt_exchange_ids_dir()
    if d is not None and (v in {"base", "__init__"} or not (d / f"{v}.py").is_file()):
        raise UnknownExchange(
            f"unknown exchange {v!r} ({source}): not a ccxt exchange id (e.g. binance, bybit, okx)"
        )
    return v

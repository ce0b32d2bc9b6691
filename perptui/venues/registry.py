"""`make_venue`: exchange id -> Venue over the right ccxt client."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async

from perptui.errors import UnknownExchange
from perptui.venues.binance import BinanceVenue
from perptui.venues.bybit import BybitVenue
from perptui.venues.ccxt_venue import CcxtVenue
from perptui.venues.dydx import DydxVenue
from perptui.venues.gmx import GmxVenue, HttpTransport
from perptui.venues.hyperliquid import HyperliquidVenue
from perptui.venues.okx import OkxVenue

try:  # ccxt.pro ships inside ccxt; keep REST working if an install lacks it
    import ccxt.pro as ccxt_pro
except ImportError:  # pragma: no cover
    ccxt_pro = None

VENUE_CLASSES: dict[str, type[CcxtVenue]] = {
    cls.venue_id: cls
    for cls in (BinanceVenue, BybitVenue, OkxVenue, HyperliquidVenue, DydxVenue)
}
# ccxt class names that mean one of perptui's named venues
ALIASES = {"binanceusdm": "binance"}

_CREDENTIAL_KEYS = {
    "apiKey": "apiKey",
    "api_key": "apiKey",
    "key": "apiKey",
    "secret": "secret",
    "api_secret": "secret",
    "password": "password",
    "passphrase": "password",
    "uid": "uid",
}


# venues perptui reaches without ccxt (their own adapter over the venue's REST API)
OWN_ADAPTERS: dict[str, type[GmxVenue]] = {"gmx": GmxVenue}


def known_exchanges() -> list[str]:
    return sorted(set(ccxt.exchanges) | set(VENUE_CLASSES) | set(OWN_ADAPTERS))


def _unknown(exchange_id: str) -> UnknownExchange:
    names = known_exchanges()
    close = difflib.get_close_matches(exchange_id, names, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return UnknownExchange(
        f"unknown exchange {exchange_id!r} ({hint}ccxt knows {len(ccxt.exchanges)} exchanges; "
        "e.g. binance, bybit, okx)"
    )


def _credentials(credentials: Any) -> dict[str, str]:
    """apiKey/secret/password for ccxt's config, from a mapping or an object."""
    if credentials is None:
        return {}
    items: Iterable[tuple[str, Any]]
    if isinstance(credentials, Mapping):
        items = credentials.items()
    else:
        items = ((k, getattr(credentials, k, None)) for k in _CREDENTIAL_KEYS)
    out: dict[str, str] = {}
    for key, value in items:
        target = _CREDENTIAL_KEYS.get(key)
        if target and value:
            out[target] = str(value)
    return out


def make_venue(
    exchange_id: str,
    *,
    client: Any = None,
    credentials: Any = None,
    pro: bool = True,
    timeout_ms: int = 10_000,
    options: Mapping[str, Any] | None = None,
) -> CcxtVenue:
    """A Venue for `exchange_id` ("binance", "bybit", "okx" or any ccxt id).

    `client` injects a preconfigured ccxt instance (the emulator's `connect()` hands one
    pointed at 127.0.0.1); otherwise ccxt.pro is used when `pro` and ccxt.pro has the
    exchange, else ccxt.async_support. Credentials go into ccxt's config only.
    """
    key = (exchange_id or "").strip().lower()
    key = ALIASES.get(key, key)
    own = OWN_ADAPTERS.get(key)
    if own is not None:  # credentials unused: public market data only
        transport = client or HttpTransport(own.base_url, timeout_ms / 1000)
        # perptui's own adapters (no ccxt client) are Venues but not CcxtVenue subclasses
        return own(transport)  # type: ignore[return-value]
    cls = VENUE_CLASSES.get(key)
    if cls is None and key not in ccxt.exchanges:
        raise _unknown(exchange_id)
    if client is None:
        ccxt_name = cls.ccxt_class if cls is not None and cls.ccxt_class else key
        use_pro = pro and ccxt_pro is not None and ccxt_name in ccxt_pro.exchanges
        module: Any = ccxt_pro if use_pro else ccxt_async
        config: dict[str, Any] = {
            "enableRateLimit": True,
            "timeout": int(timeout_ms),
            "enableLastResponseHeaders": True,  # Retry-After for 429 backoff
        }
        config.update(_credentials(credentials))
        client = getattr(module, ccxt_name)(config)
    venue = (cls or CcxtVenue)(client, venue_id=None if cls is not None else key)
    if options:
        for name, value in options.items():
            current = client.options.get(name)
            if isinstance(value, Mapping) and isinstance(current, dict):
                client.options[name] = {**current, **value}
            else:
                client.options[name] = value
    return venue

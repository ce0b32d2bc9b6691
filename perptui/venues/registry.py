"""`make_venue`: exchange id -> Venue over the right ccxt client."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async

from perptui.errors import PerptuiError, UnknownExchange
from perptui.venues.binance import BinanceVenue
from perptui.venues.bybit import BybitVenue
from perptui.venues.ccxt_venue import CcxtVenue
from perptui.venues.dydx import DydxVenue
from perptui.venues.fast.venue import BOOK_PATHS, FAST_VENUE_CLASSES
from perptui.venues.gmx import GmxVenue, HttpTransport
from perptui.venues.hyperliquid import HyperliquidVenue
from perptui.venues.okx import OkxVenue

try:  # ccxt.pro ships inside ccxt; keep REST working if an install lacks it
    import ccxt.pro as ccxt_pro
except ImportError:  # pragma: no cover
    ccxt_pro = None

VENUE_CLASSES: dict[str, type[CcxtVenue]] = {
    cls.venue_id: cls for cls in (BinanceVenue, BybitVenue, OkxVenue, HyperliquidVenue, DydxVenue)
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

_LOOPBACK = re.compile(r"^(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$")


def library_summary() -> str:
    """The market-data library's version and reach, for ``perptui doctor``."""
    line = f"{ccxt_async.__version__} ({len(ccxt_async.exchanges)} exchanges"
    if ccxt_pro is None:  # pragma: no cover - ccxt.pro ships inside ccxt
        return line + ", no ccxt.pro: REST polling only)"
    return line + ", ccxt.pro available)"


def _loopback(hostport: str) -> str:
    if not _LOOPBACK.match(hostport):
        raise PerptuiError(f"REST redirect must be a loopback host:port, got {hostport!r}")
    return hostport


def point_rest_at(client: Any, hostport: str) -> None:
    """Point every REST base URL of a ccxt client at ``http://hostport`` (loopback only)."""
    _loopback(hostport)

    def rewrite(node: Any) -> Any:
        if isinstance(node, str):
            return re.sub(r"^(https?|wss?)://[^/]+", f"http://{hostport}", node)
        if isinstance(node, dict):
            return {k: rewrite(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    client.urls = dict(client.urls)
    client.urls["api"] = rewrite(client.urls.get("api"))


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


def upgrade_client(client: Any, cls: type[CcxtVenue]) -> None:
    """Give an injected stock ccxt.pro client the venue's validating subclass.

    The emulator (and tests) build plain ccxt.pro clients pointed at 127.0.0.1; the
    venue's subclass only overrides methods and adds no constructor state, so switching
    this one instance's class keeps every setting the caller made and patches nothing
    global.
    """
    pro_class = cls.pro_client_class
    if pro_class is not None and type(client) in pro_class.__bases__:
        client.__class__ = pro_class


def make_venue(
    exchange_id: str,
    *,
    client: Any = None,
    credentials: Any = None,
    pro: bool = True,
    timeout_ms: int = 10_000,
    options: Mapping[str, Any] | None = None,
    max_retries: int | None = None,
    rest_hostport: str | None = None,
    book_path: str = "fast",
) -> CcxtVenue:
    """A Venue for `exchange_id` ("binance", "bybit", "okx" or any ccxt id).

    `client` injects a preconfigured ccxt instance (the emulator's `connect()` hands one
    pointed at 127.0.0.1; a stock ccxt.pro client of a named venue is upgraded to its
    validating subclass); otherwise ccxt.pro is used when `pro` and ccxt.pro has the
    exchange, else ccxt.async_support. Credentials go into ccxt's config only.
    `max_retries` overrides the venue's transient-error retries (0: one attempt, as a
    health check wants); `rest_hostport` sends every REST request to that loopback
    address instead of the exchange (tests). `book_path`: "fast" streams binance, bybit
    and okx books through perptui's own reader (`perptui.venues.fast`), "ccxt" through
    ccxt.pro (every other venue always does).
    """
    if book_path not in BOOK_PATHS:
        raise PerptuiError(f"book path must be one of {', '.join(BOOK_PATHS)}, got {book_path!r}")
    key = (exchange_id or "").strip().lower()
    key = ALIASES.get(key, key)
    own = OWN_ADAPTERS.get(key)
    if own is not None:  # credentials unused: public market data only
        base_url = own.base_url if rest_hostport is None else f"http://{_loopback(rest_hostport)}"
        adapter = own(client or HttpTransport(base_url, timeout_ms / 1000))
        if max_retries is not None:
            adapter.max_retries = max_retries
        # perptui's own adapters (no ccxt client) are Venues but not CcxtVenue subclasses
        return adapter  # type: ignore[return-value]  # GMX's adapter implements the Venue contract without the ccxt base
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
        client_class = getattr(module, ccxt_name)
        if use_pro and cls is not None and cls.pro_client_class is not None:
            client_class = cls.pro_client_class
        client = client_class(config)
    elif cls is not None:
        upgrade_client(client, cls)
    if rest_hostport is not None:
        point_rest_at(client, rest_hostport)
    venue_class = cls or CcxtVenue
    is_pro = any(c.__module__.startswith("ccxt.pro.") for c in type(client).__mro__)
    if book_path == "fast" and is_pro and key in FAST_VENUE_CLASSES:
        venue_class = FAST_VENUE_CLASSES[key]
    venue = venue_class(client, venue_id=None if cls is not None else key, max_retries=max_retries)
    if options:
        for name, value in options.items():
            current = client.options.get(name)
            if isinstance(value, Mapping) and isinstance(current, dict):
                client.options[name] = {**current, **value}
            else:
                client.options[name] = value
    return venue

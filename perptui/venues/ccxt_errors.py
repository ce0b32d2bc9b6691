"""ccxt's error classes -> perptui's error kinds (`perptui.errors`).

The only place that knows ccxt's exception hierarchy; everything above the venue layer
reacts to perptui's kinds.  Order matters: ccxt derives InvalidNonce, DDoSProtection and
RequestTimeout from NetworkError, and BadSymbol from ExchangeError.
"""

from __future__ import annotations

import ccxt.async_support as ccxt_async

from perptui.core.text import one_line
from perptui.errors import (
    BookOutOfSync,
    CapabilityMissing,
    PerptuiError,
    RateLimited,
    UnknownSymbol,
    VenueError,
    VenueTimeout,
    VenueUnreachable,
)

_KINDS: tuple[tuple[type[Exception] | tuple[type[Exception], ...], type[PerptuiError]], ...] = (
    (ccxt_async.BadSymbol, UnknownSymbol),
    (ccxt_async.NotSupported, CapabilityMissing),
    (ccxt_async.InvalidNonce, BookOutOfSync),  # includes ChecksumError
    ((ccxt_async.DDoSProtection, ccxt_async.RateLimitExceeded), RateLimited),
    (ccxt_async.RequestTimeout, VenueTimeout),
    (ccxt_async.NetworkError, VenueUnreachable),
)

# What the venue layer catches around a ccxt call.
CcxtError = ccxt_async.BaseError


def kind_of(exc: BaseException) -> type[PerptuiError]:
    """The perptui error class for a ccxt error (VenueError when no narrower kind fits)."""
    for ccxt_kind, ours in _KINDS:
        if isinstance(exc, ccxt_kind):
            return ours
    return VenueError


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: the venue was unreachable, slow or throttling."""
    return isinstance(exc, ccxt_async.NetworkError)


def is_throttle(exc: BaseException) -> bool:
    """A 429 / 418 / DDoS-protection answer."""
    return isinstance(exc, ccxt_async.DDoSProtection | ccxt_async.RateLimitExceeded)


def translate(exc: BaseException, message: str | None = None) -> PerptuiError:
    """The perptui error for ``exc`` (raise it ``from exc`` to keep ccxt's for the log)."""
    text = message if message is not None else f"{type(exc).__name__}: {short(exc)}"
    return kind_of(exc)(text)


def short(exc: BaseException, limit: int = 200) -> str:
    """ccxt messages can be long JSON; one line of at most ``limit`` characters."""
    return one_line(exc, limit)

"""ccxt's error classes -> perptui's error kinds (`perptui.errors`).

The only place that knows ccxt's exception hierarchy; everything above the venue layer
reacts to perptui's kinds.  Order matters: ccxt derives InvalidNonce, DDoSProtection and
RequestTimeout from NetworkError, and BadSymbol from ExchangeError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


# A venue's answer that says the *request* was wrong, by the name a venue subclass gives it
# (`install_rejections`): ccxt errors outside NetworkError, so `CcxtVenue.call` does not retry.
REJECTIONS: dict[str, type[Exception]] = {
    "bad_request": ccxt_async.BadRequest,  # -> VenueError
    "unknown_symbol": ccxt_async.BadSymbol,  # -> UnknownSymbol
    "forbidden": ccxt_async.PermissionDenied,  # -> VenueError (a geo-block, a refused key)
}

# (HTTP status, parsed JSON body or None) -> (REJECTIONS key, the venue's own message) or None
Rejection = Callable[[int, Any], tuple[str, str] | None]


def install_rejections(client: Any, classify: Rejection) -> None:
    """Raise a non-retried ccxt error for the answers ``classify`` names.

    ccxt's shared HTTP table (``httpExceptions``) calls 400, 403 and 404 answers
    ExchangeNotAvailable, a NetworkError, and a retrying caller then repeats a request the
    venue has already said is wrong. ccxt runs the exchange's ``handle_errors`` before that
    table, so wrapping it on this one client reclassifies the answers first; the
    exchange's own handling still runs for everything ``classify`` passes over.
    """
    original = client.handle_errors

    def handle_errors(
        code: Any,
        reason: Any,
        url: Any,
        method: Any,
        headers: Any,
        body: Any,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> Any:
        try:
            status = int(code)
        except (TypeError, ValueError):
            status = 0
        hit = classify(status, response) if status >= 400 else None
        if hit is not None:
            kind, message = hit
            raise REJECTIONS[kind](f"{client.id} {method} {url} {status}: {message}")
        return original(
            code, reason, url, method, headers, body, response, request_headers, request_body
        )

    client.handle_errors = handle_errors


def short(exc: BaseException, limit: int = 200) -> str:
    """ccxt messages can be long JSON; one line of at most ``limit`` characters."""
    return one_line(exc, limit)

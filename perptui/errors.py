"""User-facing errors: the CLI prints their message on one line and exits 2.

The venue layer (``perptui.venues``) turns every error of the library underneath (ccxt)
into one of these, so callers - engine, jobs, doctor - decide what to do from perptui's
own kinds and never import the library's classes:

- ``UnknownSymbol``: the venue does not list the symbol;
- ``CapabilityMissing``: the venue cannot do this at all;
- ``VenueError``: the venue answered with an error (bad request, bad payload, ...);
  the library's error is kept as ``__cause__`` for the log;
- ``VenueUnreachable`` (a ``VenueError``): timeouts, disconnects, 5xx - transient;
  ``VenueTimeout`` and ``RateLimited`` narrow it down;
- ``BookOutOfSync`` (a ``VenueError``): a streamed book failed its sequence or checksum
  check; the venue drops it and rebuilds it from a fresh snapshot on the next watch.
"""

from __future__ import annotations


class PerptuiError(Exception):
    """Bad input or environment the user can fix; never shown as a traceback."""

    exit_code = 2


class ConfigError(PerptuiError):
    pass


class UnknownExchange(PerptuiError):
    pass


class UnknownSymbol(PerptuiError):
    pass


class VenueError(PerptuiError):
    """The venue answered with an error perptui has no narrower kind for."""


class VenueUnreachable(VenueError):
    """Transient: timeouts, dropped connections, 5xx (worth retrying with backoff)."""


class VenueTimeout(VenueUnreachable):
    """The venue did not answer within the request timeout."""


class RateLimited(VenueUnreachable):
    """The venue refused the request as too many (429, 418, DDoS protection)."""


class BookOutOfSync(VenueError):
    """A streamed book lost sync (sequence gap, checksum mismatch): resubscribe."""


class CapabilityMissing(PerptuiError):
    """The venue (per ccxt `exchange.has`) cannot do what was asked."""


class StoreError(PerptuiError):
    """DB path unusable, not a SQLite file, or corrupt."""

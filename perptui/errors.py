"""User-facing errors: the CLI prints their message on one line and exits 2."""

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


class VenueUnreachable(PerptuiError):
    pass


class CapabilityMissing(PerptuiError):
    """The venue (per ccxt `exchange.has`) cannot do what was asked."""


class StoreError(PerptuiError):
    """DB path unusable, not a SQLite file, or corrupt."""

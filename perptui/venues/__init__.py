"""Venue layer: perptui's records over ccxt / ccxt.pro (or the loopback emulator)."""

from __future__ import annotations

from perptui.venues.base import FUNDING, OHLCV, OnPage, Venue
from perptui.venues.ccxt_venue import CcxtVenue
from perptui.venues.registry import VENUE_CLASSES, known_exchanges, library_summary, make_venue

__all__ = [
    "FUNDING",
    "OHLCV",
    "VENUE_CLASSES",
    "CcxtVenue",
    "OnPage",
    "Venue",
    "known_exchanges",
    "library_summary",
    "make_venue",
]

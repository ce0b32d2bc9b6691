"""perptui: a terminal monitor and data pipeline for crypto perpetual futures."""

from __future__ import annotations

__version__ = "0.1.0"

"""The frozen records a loaded configuration is made of.

Defaults come from the settings table (``perptui.config.settings``), so a default
is written once; the ``[signals]`` section is ``perptui.core.signals.SignalThresholds``
itself (the table reads its defaults from there).  Credentials never show in a ``repr``: a Config can be logged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from perptui.config.settings import default_of
from perptui.core.signals import SignalThresholds

APP_NAME = "perptui"
# Shorter secrets would redact ordinary words out of every log line.
MIN_SECRET_LEN = 4


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "perptui.db"


def default_log_path() -> Path:
    """Where long-running jobs (collect) log when no --log-file is given."""
    return Path(platformdirs.user_log_dir(APP_NAME)) / "perptui.log"


@dataclass(frozen=True, slots=True)
class Credentials:
    """API credentials of one venue; never shown by repr."""

    api_key: str | None = field(default=None, repr=False)
    api_secret: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        def state(v: str | None) -> str:
            return "set" if v else "not set"

        return (
            f"Credentials(api_key={state(self.api_key)}, api_secret={state(self.api_secret)}, "
            f"password={state(self.password)})"
        )

    __str__ = __repr__

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

    def as_ccxt(self) -> dict[str, str]:
        """Options for a ccxt constructor (only the values that are set)."""
        out: dict[str, str] = {}
        if self.api_key:
            out["apiKey"] = self.api_key
        if self.api_secret:
            out["secret"] = self.api_secret
        if self.password:
            out["password"] = self.password
        return out

    def secrets(self) -> tuple[str, ...]:
        return tuple(v for v in (self.api_key, self.api_secret, self.password) if v)


@dataclass(frozen=True, slots=True)
class CollectCadence:
    """How often the headless collector does each job."""

    funding_every_s: float = default_of("collect.funding_every_s")
    snapshot_every_s: float = default_of("collect.snapshot_every_s")
    ohlcv_every_s: float = default_of("collect.ohlcv_every_s")
    timeframe: str = default_of("collect.timeframe")
    catchup_hours: float = default_of("collect.catchup_hours")


@dataclass(frozen=True, slots=True)
class BoardConfig:
    """The funding board's cadence and carry costs (``[board]``)."""

    refresh_s: float = default_of("board.refresh_s")
    default_fee_bps: float = default_of("board.default_fee_bps")
    taker_fee_bps: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(dict(default_of("board.taker_fee_bps")))
    )
    holding_hours: float = default_of("board.holding_hours")


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """Where signals are sent outside the terminal, and how often (``[alerts]``)."""

    webhook: str | None = field(default=default_of("alerts.webhook"), repr=False)
    command: str | None = default_of("alerts.command")
    rules: Mapping[str, float | None] = field(
        default_factory=lambda: MappingProxyType(dict(default_of("alerts.rules")))
    )
    max_per_hour: int = default_of("alerts.max_per_hour")
    min_interval_s: float = default_of("alerts.min_interval_s")
    quiet_hours: tuple[int, int] | None = default_of("alerts.quiet_hours")
    retries: int = default_of("alerts.retries")


@dataclass(frozen=True)
class Config:
    venues: tuple[str, ...] = default_of("venues")
    symbols: tuple[str, ...] = default_of("symbols")
    db_path: Path | str = field(default_factory=default_db_path)  # str: a postgresql:// URL
    book_path: str = default_of("book_path")
    log_db: bool = default_of("log_db")
    theme: str = default_of("theme")
    ui_hz: float = default_of("ui_hz")
    funding_poll_s: float = default_of("funding_poll_s")
    snapshot_every_s: float = default_of("snapshot_every_s")
    book_depth: int = default_of("book_depth")
    signals: SignalThresholds = field(default_factory=SignalThresholds)
    collect: CollectCadence = field(default_factory=CollectCadence)
    board: BoardConfig = field(default_factory=BoardConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    log_file: Path | None = None
    demo: bool = False
    verbose: int = 0
    config_file: Path | None = None  # the TOML file actually read, if any
    credentials: Mapping[str, Credentials] = field(
        default_factory=lambda: MappingProxyType({}), repr=False
    )

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={_shown(f.name, getattr(self, f.name))!r}"
            for f in dataclasses.fields(self)
            if f.repr
        )
        creds = ", ".join(
            f"{v}: api key {'set' if c.has_key else 'not set'}"
            for v, c in sorted(self.credentials.items())
        )
        return f"Config({shown}, credentials={{{creds}}})"

    __str__ = __repr__

    def credentials_for(self, venue: str) -> Credentials | None:
        return self.credentials.get(venue)

    def ensure_db_dir(self) -> None:
        """Create the parent of the *default* DB path on first run.

        A path the user chose is left alone: a typo in ``--db`` must be reported
        ("directory does not exist"), not silently create a directory tree.
        """
        if isinstance(self.db_path, Path) and self.db_path == default_db_path():
            self.db_path.parent.mkdir(parents=True, exist_ok=True)

    def secrets(self) -> tuple[str, ...]:
        """Every secret value configured, for log redaction."""
        out: list[str] = []
        for c in self.credentials.values():
            out.extend(c.secrets())
        if isinstance(self.db_path, str):
            password = urlsplit(self.db_path).password
            if password:
                out.append(password)
        return tuple(s for s in out if len(s) >= MIN_SECRET_LEN)


def _shown(name: str, value: Any) -> Any:
    """A field's value as repr shows it: a database URL without its password."""
    if name == "db_path" and isinstance(value, str):
        from perptui.store.backend import redact

        return redact(value)
    return value

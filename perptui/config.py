"""One frozen ``Config`` built from flags, environment, a TOML file and defaults.

Precedence, highest first: command-line flags > environment > TOML file > defaults.

The TOML file lives at ``<platform config dir>/perptui/config.toml`` unless
``--config PATH`` or ``PERPTUI_CONFIG`` names another one.  Every problem with it
(unreadable, invalid TOML, unknown key, wrong type, out of range) is a
``ConfigError`` whose one-line message names the file and the key, so the CLI can
print it and exit 2.

API credentials are optional (all market data is public).  They come from
``<VENUE>_API_KEY`` / ``<VENUE>_API_SECRET`` / ``<VENUE>_API_PASSWORD`` (any venue
id, upper-cased) or from ``[credentials.<venue>]`` in the file, and are kept out of
every ``repr`` so they cannot leak through logs or tracebacks.

Example file::

    venues = ["binance", "bybit", "okx"]
    symbols = ["BTC", "ETH", "SOLUSDT"]
    db = "~/perptui/perptui.db"
    theme = "dark"
    ui_hz = 5
    funding_poll_s = 15

    [signals]
    funding_arb = 0.001

    [collect]
    snapshot_every_s = 5

    [credentials.bybit]
    api_key = "..."
    api_secret = "..."
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from perptui.core.signals import SignalThresholds
from perptui.errors import ConfigError, UnknownExchange
from perptui.symbols import DEFAULT_QUOTE, parse_symbol

APP_NAME = "perptui"
DEFAULT_VENUES: tuple[str, ...] = ("binance", "bybit", "okx")
DEFAULT_SYMBOLS: tuple[str, ...] = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
# Shorter secrets would redact ordinary words out of every log line.
MIN_SECRET_LEN = 4


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "perptui.db"


def default_log_path() -> Path:
    """Where long-running jobs (collect) log when no --log-file is given."""
    return Path(platformdirs.user_log_dir(APP_NAME)) / "perptui.log"


# --------------------------------------------------------------------------- records


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

    funding_every_s: float = 3600.0  # plus at each venue's settlement
    snapshot_every_s: float = 1.0
    ohlcv_every_s: float = 3600.0
    timeframe: str = "1h"


@dataclass(frozen=True)
class Config:
    venues: tuple[str, ...] = DEFAULT_VENUES
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    db_path: Path | str = field(default_factory=default_db_path)  # str: a postgresql:// URL
    log_db: bool = True  # write snapshots/funding to the DB while monitoring
    theme: str = "dark"
    ui_hz: float = 5.0  # UI refresh clock, 4-10 Hz
    funding_poll_s: float = 15.0  # funding/mark/index/OI refresh, 10-30 s
    snapshot_every_s: float = 1.0  # book snapshot to DB cadence in the monitor
    book_depth: int = 20  # levels kept per side in snapshots / ladder
    signals: SignalThresholds = field(default_factory=SignalThresholds)
    collect: CollectCadence = field(default_factory=CollectCadence)
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


# --------------------------------------------------------------------------- symbols


def normalize_symbol(raw: str, *, quote: str = DEFAULT_QUOTE) -> str:
    """Typed text -> unified symbol request (rules in `perptui.symbols.parse_symbol`)."""
    return parse_symbol(raw, quote=quote)


# --------------------------------------------------------------------------- venues

_VENUE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
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
    v = venue.strip().lower()
    if not _VENUE_ID.match(v):
        raise ConfigError(f"{source}: not an exchange id: {venue!r}")
    if v in OWN_ADAPTER_VENUES:
        return v
    d = _ccxt_exchange_ids_dir()
    if d is not None and (v in {"base", "__init__"} or not (d / f"{v}.py").is_file()):
        raise UnknownExchange(
            f"unknown exchange {v!r} ({source}): not a ccxt exchange id (e.g. binance, bybit, okx)"
        )
    return v


# --------------------------------------------------------------------------- value parsing

Parser = Callable[[Any], Any]


class _Bad(Exception):
    """A value failed validation; the message says what was expected."""


def _describe(v: Any) -> str:
    return f"{type(v).__name__} {v!r}"


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        low = v.strip().lower()
        if low in {"1", "true", "yes", "on"}:
            return True
        if low in {"0", "false", "no", "off"}:
            return False
    raise _Bad(f"must be true or false, got {_describe(v)}")


def _number(lo: float | None = None, hi: float | None = None, *, integer: bool = False) -> Parser:
    def parse(v: Any) -> float | int:
        if isinstance(v, str):
            try:
                v = int(v) if integer else float(v)
            except ValueError:
                raise _Bad(
                    f"must be {'an integer' if integer else 'a number'}, got {v!r}"
                ) from None
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise _Bad(f"must be {'an integer' if integer else 'a number'}, got {_describe(v)}")
        if integer and not isinstance(v, int):
            raise _Bad(f"must be an integer, got {v!r}")
        if not math.isfinite(v):
            raise _Bad(f"must be a finite number, got {v!r}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            if hi is None:
                raise _Bad(f"must be >= {lo}, got {v}")
            raise _Bad(f"must be between {lo} and {hi}, got {v}")
        return int(v) if integer else float(v)

    return parse


def _positive(v: Any) -> float:
    out = _number(0)(v)
    if out <= 0:
        raise _Bad(f"must be > 0, got {out}")
    return out


def _string(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _Bad(f"must be a non-empty string, got {_describe(v)}")
    return v.strip()


def _path(v: Any) -> Path:
    return Path(_string(v)).expanduser()


def _db_location(v: Any) -> Path | str:
    """A SQLite file path, or a postgresql:// URL (kept as text: a Path would mangle it)."""
    text = _string(v)
    scheme, sep, _rest = text.partition("://")
    if not sep:
        return Path(text).expanduser()
    if scheme.lower() not in ("postgresql", "postgres"):
        raise _Bad(f"must be a file path or a postgresql:// URL, got a {scheme}:// URL")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - parses the port; ValueError if it is not a number
    except ValueError as exc:
        raise _Bad(f"not a usable PostgreSQL URL: {exc}") from None
    if not (parts.hostname or "host=" in parts.query) or not parts.path.strip("/"):
        raise _Bad("a PostgreSQL URL needs a host and a database: postgresql://user@host/db")
    return text


def _str_list(v: Any) -> list[str]:
    if isinstance(v, str):
        items = [p.strip() for p in v.split(",")]
    elif isinstance(v, list) and all(isinstance(p, str) for p in v):
        items = [p.strip() for p in v]
    else:
        raise _Bad(f"must be a list of strings, got {_describe(v)}")
    items = [p for p in items if p]
    if not items:
        raise _Bad("must name at least one item")
    return items


def _venues(v: Any) -> tuple[str, ...]:
    out: list[str] = []
    for item in _str_list(v):
        low = item.lower()
        if not _VENUE_ID.match(low):
            raise _Bad(f"not an exchange id: {item!r}")
        if low not in out:
            out.append(low)
    return tuple(out)


def _symbols(v: Any) -> tuple[str, ...]:
    out: list[str] = []
    for item in _str_list(v):
        try:
            sym = normalize_symbol(item)
        except ValueError as exc:
            raise _Bad(str(exc)) from None
        if sym not in out:
            out.append(sym)
    return tuple(out)


_TIMEFRAME = re.compile(r"^[1-9][0-9]*[mhdwM]$")


def _timeframe(v: Any) -> str:
    s = _string(v)
    if not _TIMEFRAME.match(s):
        raise _Bad(f"must be a timeframe like 1m, 1h, 4h, 1d, got {s!r}")
    return s


def _theme(v: Any) -> str:
    s = _string(v)
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", s):
        raise _Bad(f"must be a theme name like dark or light, got {s!r}")
    return s


# Top-level keys -> (Config field, parser).
_TOP: dict[str, tuple[str, Parser]] = {
    "venues": ("venues", _venues),
    "symbols": ("symbols", _symbols),
    "db": ("db_path", _db_location),
    "log_db": ("log_db", _bool),
    "theme": ("theme", _theme),
    "ui_hz": ("ui_hz", _number(4, 10)),
    "funding_poll_s": ("funding_poll_s", _number(10, 30)),
    "snapshot_every_s": ("snapshot_every_s", _number(0.1, 3600)),
    "book_depth": ("book_depth", _number(1, 1000, integer=True)),
    "log_file": ("log_file", _path),
}
_SIGNALS: dict[str, Parser] = {
    "funding_arb": _number(0, 1),
    "divergence": _number(0, 1),
    "imbalance": _number(0, 1),
    "imbalance_sustain_s": _number(0, 86_400),
    "fee_bps": _number(0, 1000),
    "slippage_bps": _number(0, 1000),
}
_COLLECT: dict[str, Parser] = {
    "funding_every_s": _number(10, 86_400),
    "snapshot_every_s": _number(0.1, 86_400),
    "ohlcv_every_s": _number(10, 86_400),
    "timeframe": _timeframe,
}
_CRED_KEYS = {"api_key": "api_key", "api_secret": "api_secret", "password": "password"}
_SECTIONS = ("signals", "collect", "credentials")

# Environment variables for settings (credentials are handled separately).
_ENV_TOP = {
    "PERPTUI_VENUES": "venues",
    "PERPTUI_SYMBOLS": "symbols",
    "PERPTUI_DB": "db",
    "PERPTUI_LOG_DB": "log_db",
    "PERPTUI_THEME": "theme",
    "PERPTUI_UI_HZ": "ui_hz",
    "PERPTUI_FUNDING_POLL_S": "funding_poll_s",
    "PERPTUI_SNAPSHOT_EVERY_S": "snapshot_every_s",
    "PERPTUI_BOOK_DEPTH": "book_depth",
    "PERPTUI_LOG_FILE": "log_file",
}


# --------------------------------------------------------------------------- the file


def _line_of(text: str, dotted_key: str) -> int | None:
    """Best-effort line number of a key (tomllib does not report them for valid TOML)."""
    *tables, key = dotted_key.split(".")
    start = 0
    if tables:
        header = re.compile(rf"^[ \t]*\[[ \t]*{re.escape('.'.join(tables))}[ \t]*\]", re.MULTILINE)
        m = header.search(text)
        if m:
            start = m.end()
    pat = re.compile(rf"^[ \t]*[\"']?{re.escape(key)}[\"']?[ \t]*=", re.MULTILINE)
    m = pat.search(text, start)
    return text.count("\n", 0, m.start()) + 1 if m else None


class _FileValues:
    """Validated values from the TOML file."""

    def __init__(self) -> None:
        self.top: dict[str, Any] = {}
        self.signals: dict[str, Any] = {}
        self.collect: dict[str, Any] = {}
        self.credentials: dict[str, dict[str, str]] = {}


def _read_file(path: Path, explicit: bool) -> _FileValues | None:
    """Parse and validate the TOML file; None when the default file is absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"config {path}: file not found") from None
        return None
    except IsADirectoryError:
        raise ConfigError(f"config {path}: is a directory, not a file") from None
    except PermissionError:
        raise ConfigError(f"config {path}: cannot read file (permission denied)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config {path}: not a text file (invalid UTF-8)") from None
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path}: invalid TOML: {exc}") from None

    def where(key: str) -> str:
        line = _line_of(text, key)
        return f"config {path}" + (f" line {line}" if line else "")

    def fail(key: str, why: str) -> ConfigError:
        return ConfigError(f"{where(key)}: key '{key}' {why}")

    out = _FileValues()
    for key, value in data.items():
        if key in _TOP:
            try:
                out.top[key] = _TOP[key][1](value)
            except _Bad as exc:
                raise fail(key, str(exc)) from None
        elif key in ("signals", "collect"):
            table = _SIGNALS if key == "signals" else _COLLECT
            if not isinstance(value, dict):
                raise fail(key, f"must be a table [{key}], got {_describe(value)}")
            dest = out.signals if key == "signals" else out.collect
            for sub, subval in value.items():
                name = f"{key}.{sub}"
                if sub not in table:
                    raise fail(name, f"is unknown (known: {', '.join(sorted(table))})")
                try:
                    dest[sub] = table[sub](subval)
                except _Bad as exc:
                    raise fail(name, str(exc)) from None
        elif key == "credentials":
            if not isinstance(value, dict):
                raise fail(key, f"must be a table [credentials.<venue>], got {_describe(value)}")
            for venue, creds in value.items():
                name = f"credentials.{venue}"
                if not _VENUE_ID.match(venue) or not isinstance(creds, dict):
                    raise fail(name, "must be a table [credentials.<exchange id>]")
                vals: dict[str, str] = {}
                for ck, cv in creds.items():
                    if ck not in _CRED_KEYS:
                        raise fail(
                            f"{name}.{ck}", f"is unknown (known: {', '.join(sorted(_CRED_KEYS))})"
                        )
                    if not isinstance(cv, str):
                        # Never echo the value: it may be a secret typed unquoted.
                        raise fail(f"{name}.{ck}", f"must be a string, got {type(cv).__name__}")
                    if cv:
                        vals[_CRED_KEYS[ck]] = cv
                out.credentials[venue] = vals
        else:
            known = sorted([*_TOP, *_SECTIONS])
            raise fail(key, f"is unknown (known: {', '.join(known)})")
    return out


# --------------------------------------------------------------------------- env


def _env_credentials(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``<VENUE>_API_KEY`` / ``_API_SECRET`` / ``_API_PASSWORD`` for any venue id."""
    out: dict[str, dict[str, str]] = {}
    pat = re.compile(r"^([A-Z][A-Z0-9_]*?)_API_(KEY|SECRET|PASSWORD)$")
    field_of = {"KEY": "api_key", "SECRET": "api_secret", "PASSWORD": "password"}
    for name, value in env.items():
        m = pat.match(name)
        if not m or not value:
            continue
        venue = m.group(1).lower()
        out.setdefault(venue, {})[field_of[m.group(2)]] = value
    return out


# --------------------------------------------------------------------------- load


def _flag(args: Any, name: str) -> Any:
    return getattr(args, name, None) if args is not None else None


def load_config(args: Any = None, env: Mapping[str, str] | None = None) -> Config:
    """Build the Config for a parsed argparse namespace (or None for defaults+env+file).

    The result is cached on ``args`` so the CLI and the command share one Config.
    """
    cached = getattr(args, "_perptui_config", None) if args is not None else None
    if isinstance(cached, Config):
        return cached
    env = os.environ if env is None else env

    # 1. which file
    flag_path = _flag(args, "config_path")
    if flag_path:
        path, explicit = Path(flag_path).expanduser(), True
    elif env.get("PERPTUI_CONFIG"):
        path, explicit = Path(env["PERPTUI_CONFIG"]).expanduser(), True
    else:
        path, explicit = default_config_path(), False
    file_values = _read_file(path, explicit)

    # 2. layer: defaults < file < env < flags (top-level settings)
    top: dict[str, Any] = dict(file_values.top) if file_values else {}
    for var, key in _ENV_TOP.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        try:
            top[key] = _TOP[key][1](raw)
        except _Bad as exc:
            raise ConfigError(f"environment {var}: {exc}") from None

    flag_sources = {
        "venues": ("venues", "--venues"),
        "symbols": ("symbols", "--symbols"),
        "db": ("db", "--db"),
        "log_file": ("log_file", "--log-file"),
        "theme": ("theme", "--theme"),
        "ui_hz": ("ui_hz", "--ui-hz"),
        "funding_poll_s": ("funding_poll_s", "--funding-poll"),
        "snapshot_every_s": ("snapshot_every_s", "--snapshot-every"),
        "book_depth": ("book_depth", "--book-depth"),
    }
    for key, (attr, flag) in flag_sources.items():
        raw = _flag(args, attr)
        if raw is None:
            continue
        try:
            top[key] = _TOP[key][1](raw)
        except _Bad as exc:
            raise ConfigError(f"{flag}: {exc}") from None
    if _flag(args, "no_log"):
        top["log_db"] = False

    # Venue ids are checked against ccxt once, whatever their source, so every
    # command rejects `--venues nosuchex` the same way before any network I/O.
    if "venues" in top:
        source = (
            "--venues"
            if _flag(args, "venues")
            else ("PERPTUI_VENUES" if env.get("PERPTUI_VENUES") else f"config {path}")
        )
        top["venues"] = tuple(check_venue_id(v, source) for v in top["venues"])

    # 3. sections (file only; the knobs are too many for flags or env)
    signals = SignalThresholds(**(file_values.signals if file_values else {}))
    collect = CollectCadence(**(file_values.collect if file_values else {}))

    # 4. credentials: env over file, field by field
    creds_raw: dict[str, dict[str, str]] = {}
    if file_values:
        for venue, vals in file_values.credentials.items():
            creds_raw[venue] = dict(vals)
    for venue, vals in _env_credentials(env).items():
        creds_raw.setdefault(venue, {}).update(vals)
    credentials = MappingProxyType(
        {v: Credentials(**vals) for v, vals in creds_raw.items() if vals}
    )

    kwargs: dict[str, Any] = {_TOP[k][0]: v for k, v in top.items()}
    config = Config(
        **kwargs,
        signals=signals,
        collect=collect,
        demo=bool(_flag(args, "demo")),
        verbose=int(_flag(args, "verbose") or 0),
        config_file=path if file_values is not None else None,
        credentials=credentials,
    )
    if args is not None:
        try:
            args._perptui_config = config
        except AttributeError:
            pass
    return config

"""One frozen ``Config`` built from flags, environment, a TOML file and defaults.

The package: ``settings`` (every setting described once: kind, range, default,
flag, env, TOML key, help), ``values`` (the kinds), ``toml_file``, ``load``,
``records`` (the frozen records) and ``symbols`` (symbol / exchange-id spelling).

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

from perptui.config.load import build_config, load_config
from perptui.config.records import (
    APP_NAME,
    MIN_SECRET_LEN,
    CollectCadence,
    Config,
    Credentials,
    SignalThresholds,
    default_config_path,
    default_db_path,
    default_log_path,
)
from perptui.config.settings import DEFAULT_SYMBOLS, DEFAULT_VENUES, SETTINGS, Setting
from perptui.config.symbols import DEFAULT_QUOTE, check_venue_id, normalize_symbol
from perptui.errors import ConfigError

__all__ = [
    "APP_NAME",
    "DEFAULT_QUOTE",
    "DEFAULT_SYMBOLS",
    "DEFAULT_VENUES",
    "MIN_SECRET_LEN",
    "SETTINGS",
    "CollectCadence",
    "Config",
    "ConfigError",
    "Credentials",
    "Setting",
    "SignalThresholds",
    "build_config",
    "check_venue_id",
    "default_config_path",
    "default_db_path",
    "default_log_path",
    "load_config",
    "normalize_symbol",
]

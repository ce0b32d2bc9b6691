"""``load_config``: defaults < TOML file < environment < flags, into one frozen Config.

Each source is validated by the settings table's kinds as it is read, so every
error names its source: ``--ui-hz: must be between 1 and 20, got 50``,
``environment PERPTUI_UI_HZ: ...``, ``config FILE line 3: key 'ui_hz' ...``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from perptui.config.records import (
    AlertsConfig,
    BoardConfig,
    CollectCadence,
    Config,
    Credentials,
    SignalThresholds,
    default_config_path,
)
from perptui.config.settings import SETTINGS, Setting
from perptui.config.symbols import check_venue_id
from perptui.config.toml_file import FileValues, read_file
from perptui.config.values import BadValue
from perptui.errors import ConfigError

_ENV_CRED = re.compile(r"^([A-Z][A-Z0-9_]*?)_API_(KEY|SECRET|PASSWORD)$")
_CRED_FIELD = {"KEY": "api_key", "SECRET": "api_secret", "PASSWORD": "password"}


def _flag(args: Any, name: str) -> Any:
    return getattr(args, name, None) if args is not None else None


def config_path(args: Any, env: Mapping[str, str]) -> tuple[Path, bool]:
    """The TOML file to read and whether the user named it (then it must exist)."""
    flag_path = _flag(args, "config_path")
    if flag_path:
        return Path(flag_path).expanduser(), True
    if env.get("PERPTUI_CONFIG"):
        return Path(env["PERPTUI_CONFIG"]).expanduser(), True
    return default_config_path(), False


def _parse(setting: Setting, raw: Any, source: str) -> Any:
    try:
        return setting.kind.parse(raw)
    except BadValue as exc:
        raise ConfigError(f"{source}: {exc}") from None


def layer_values(
    file_values: FileValues | None, env: Mapping[str, str], args: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """Setting key -> value from the file, then env, then flags; and where each came from."""
    values: dict[str, Any] = dict(file_values.values) if file_values else {}
    sources = {k: f"config {file_values.path}" for k in values} if file_values else {}
    for s in SETTINGS:
        raw = env.get(s.env)
        if raw:
            values[s.key] = _parse(s, raw, f"environment {s.env}")
            sources[s.key] = s.env
        raw = _flag(args, s.dest) if s.flag else None
        if raw is None:
            continue
        if s.switch is not None:
            values[s.key] = s.switch
        else:
            values[s.key] = _parse(s, raw, s.flag or s.key)
        sources[s.key] = s.flag or s.key
    # Venue ids are checked against ccxt once, whatever their source, so every
    # command rejects `--venues nosuchex` the same way before any network I/O.
    if "venues" in values:
        values["venues"] = tuple(check_venue_id(v, sources["venues"]) for v in values["venues"])
    return values, sources


def env_credentials(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``<VENUE>_API_KEY`` / ``_API_SECRET`` / ``_API_PASSWORD`` for any venue id."""
    out: dict[str, dict[str, str]] = {}
    for name, value in env.items():
        m = _ENV_CRED.match(name)
        if m and value:
            out.setdefault(m.group(1).lower(), {})[_CRED_FIELD[m.group(2)]] = value
    return out


def merge_credentials(
    file_values: FileValues | None, env: Mapping[str, str]
) -> Mapping[str, Credentials]:
    """Env over file, field by field; read-only mapping."""
    raw: dict[str, dict[str, str]] = {}
    if file_values:
        for venue, vals in file_values.credentials.items():
            raw[venue] = dict(vals)
    for venue, vals in env_credentials(env).items():
        raw.setdefault(venue, {}).update(vals)
    return MappingProxyType({v: Credentials(**vals) for v, vals in raw.items() if vals})


def build_config(values: Mapping[str, Any], **extra: Any) -> Config:
    """The Config for layered setting values (missing keys take their defaults)."""
    records = {
        "signals": SignalThresholds,
        "collect": CollectCadence,
        "board": BoardConfig,
        "alerts": AlertsConfig,
    }
    by_section: dict[str | None, dict[str, Any]] = {None: {}, **{k: {} for k in records}}
    for s in SETTINGS:
        if s.key in values:
            by_section[s.section][s.attr] = values[s.key]
    sections = {name: rec(**by_section[name]) for name, rec in records.items()}
    return Config(**by_section[None], **sections, **extra)


def load_config(args: Any = None, env: Mapping[str, str] | None = None) -> Config:
    """Build the Config for a parsed argparse namespace (or None for defaults+env+file).

    The result is cached on ``args`` so the CLI and the command share one Config.
    """
    cached = _flag(args, "_perptui_config")
    if isinstance(cached, Config):
        return cached
    env = os.environ if env is None else env
    path, explicit = config_path(args, env)
    file_values = read_file(path, explicit)
    values, _sources = layer_values(file_values, env, args)
    config = build_config(
        values,
        demo=bool(_flag(args, "demo")),
        verbose=int(_flag(args, "verbose") or 0),
        config_file=path if file_values is not None else None,
        credentials=merge_credentials(file_values, env),
    )
    if args is not None:
        try:
            args._perptui_config = config
        except AttributeError:
            pass
    return config

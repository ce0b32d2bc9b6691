"""Reading and validating the TOML config file against the settings table.

Every problem (unreadable, invalid TOML, unknown key, wrong type, out of range) is
a ``ConfigError`` whose one line names the file, the key and, when it can be
found, the line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perptui.config.settings import SECTIONS, section_keys
from perptui.config.values import BadValue, describe_value
from perptui.errors import ConfigError

_CRED_KEYS = ("api_key", "api_secret", "password")
_VENUE_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass
class FileValues:
    """Validated values from the file: setting key -> value, and credentials."""

    path: Path
    values: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)


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


def _read_text(path: Path, explicit: bool) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
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


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text
        self.out = FileValues(path)

    def fail(self, key: str, why: str) -> ConfigError:
        line = _line_of(self.text, key)
        where = f"config {self.path}" + (f" line {line}" if line else "")
        return ConfigError(f"{where}: key '{key}' {why}")

    def table(self, section: str | None, data: dict[str, Any]) -> None:
        known = section_keys(section)
        for name, value in data.items():
            dotted = f"{section}.{name}" if section else name
            if section is None and name in SECTIONS:
                if not isinstance(value, dict):
                    raise self.fail(name, f"must be a table [{name}], got {describe_value(value)}")
                self.table(name, value)
            elif section is None and name == "credentials":
                self.credentials(value)
            elif name in known:
                try:
                    self.out.values[known[name].key] = known[name].kind.parse(value)
                except BadValue as exc:
                    raise self.fail(dotted, str(exc)) from None
            else:
                names = sorted([*known, *SECTIONS, "credentials"] if section is None else known)
                raise self.fail(dotted, f"is unknown (known: {', '.join(names)})")

    def credentials(self, value: Any) -> None:
        if not isinstance(value, dict):
            raise self.fail(
                "credentials",
                f"must be a table [credentials.<venue>], got {describe_value(value)}",
            )
        for venue, creds in value.items():
            name = f"credentials.{venue}"
            if not _VENUE_ID.match(venue) or not isinstance(creds, dict):
                raise self.fail(name, "must be a table [credentials.<exchange id>]")
            vals: dict[str, str] = {}
            for ck, cv in creds.items():
                if ck not in _CRED_KEYS:
                    raise self.fail(f"{name}.{ck}", f"is unknown (known: {', '.join(_CRED_KEYS)})")
                if not isinstance(cv, str):
                    # Never echo the value: it may be a secret typed unquoted.
                    raise self.fail(f"{name}.{ck}", f"must be a string, got {type(cv).__name__}")
                if cv:
                    vals[ck] = cv
            self.out.credentials[venue] = vals


def read_file(path: Path, explicit: bool) -> FileValues | None:
    """Parse and validate the TOML file; None when the default file is absent."""
    text = _read_text(path, explicit)
    if text is None:
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path}: invalid TOML: {exc}") from None
    reader = _Reader(path, text)
    reader.table(None, data)
    return reader.out

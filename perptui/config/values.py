"""Kinds of setting value: each parses a raw value and says in words what it accepts.

A raw value arrives as a string (a flag or an environment variable) or as a TOML
value; the same kind validates all three, so ``--funding-every 1e-9`` fails with
the very range ``[collect] funding_every_s`` has.  ``describe()`` feeds ``--help``
and the generated settings table in docs/config.md.

A kind raises ``BadValue`` with a message that completes the sentence
"<where>: <message>" (the caller knows whether <where> is a flag, a variable or a
file line).
"""

from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from perptui.core.text import one_line
from perptui.core.units import DAY_MS, timeframe_ms

# Longer strings are never meaningful here and must not reach the file system
# (ENAMETOOLONG) or a regex on every keystroke.
MAX_TEXT = 4096
MAX_ITEMS = 500
_VENUE_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class BadValue(ValueError):
    """A value failed validation; the message says what was expected."""


def describe_value(v: Any) -> str:
    return f"{type(v).__name__} {_short(v)}"


def _short(v: Any) -> str:
    return one_line(repr(v), 60)


class Kind:
    """Base of the value kinds; subclasses implement ``parse`` and ``describe``."""

    metavar = "VALUE"

    def parse(self, v: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def argtype(self, flag: str) -> Any:
        """An argparse ``type=`` that validates with this kind (one-line usage error)."""

        def convert(text: str) -> Any:
            try:
                return self.parse(text)
            except BadValue as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None

        convert.__name__ = flag.lstrip("-")
        return convert


def _fmt(x: float) -> str:
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}"


@dataclass(frozen=True, slots=True)
class Number(Kind):
    """A finite number in [lo, hi]; ``above`` makes lo exclusive (> lo)."""

    lo: float | None = None
    hi: float | None = None
    integer: bool = False
    above: bool = False
    unit: str = ""

    @property
    # a property over Kind's class attribute: the value depends on the instance's unit
    def metavar(self) -> str:  # type: ignore[override]  # argparse reads metavar as a plain attribute; a property is what we need
        return "N" if self.integer else {"s": "S", "h": "H"}.get(self.unit, "X")

    def describe(self) -> str:
        what = "integer" if self.integer else "number"
        lo, hi = self.lo, self.hi
        u = f" {self.unit}" if self.unit else ""
        if lo is not None and hi is not None:
            if self.above:
                return f"{what} > {_fmt(lo)} and <= {_fmt(hi)}{u}"
            return f"{what} {_fmt(lo)}–{_fmt(hi)}{u}"
        if lo is not None:
            return f"{what} {'>' if self.above else '>='} {_fmt(lo)}{u}"
        return what

    def _range_error(self, v: float) -> BadValue:
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None:
            op = "above" if self.above else "between"
            joiner = "and at most" if self.above else "and"
            return BadValue(f"must be {op} {_fmt(lo)} {joiner} {_fmt(hi)}, got {_fmt(v)}")
        if lo is not None:
            return BadValue(f"must be {'>' if self.above else '>='} {_fmt(lo)}, got {_fmt(v)}")
        return BadValue(f"must be at most {_fmt(hi or 0)}, got {_fmt(v)}")

    def parse(self, v: Any) -> float | int:
        want = "an integer" if self.integer else "a number"
        if isinstance(v, str):
            text = v.strip()
            if len(text) > 64:
                raise BadValue(f"must be {want}, got a {len(text)}-character string")
            if not text.isascii():  # float() would take "１０" (full-width digits) as 10
                raise BadValue(f"must be {want} in ASCII digits, got {_short(text)}")
            try:
                v = int(text) if self.integer else float(text)
            except ValueError:
                raise BadValue(f"must be {want}, got {_short(text)}") from None
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise BadValue(f"must be {want}, got {describe_value(v)}")
        if self.integer and not isinstance(v, int):
            raise BadValue(f"must be an integer, got {v!r}")
        if not math.isfinite(v):
            raise BadValue(f"must be a finite number, got {v!r}")
        lo, hi = self.lo, self.hi
        if lo is not None and (v <= lo if self.above else v < lo):
            raise self._range_error(v)
        if hi is not None and v > hi:
            raise self._range_error(v)
        return int(v) if self.integer else float(v)


@dataclass(frozen=True, slots=True)
class Bool(Kind):
    metavar = "BOOL"

    def describe(self) -> str:
        return "true / false"

    def parse(self, v: Any) -> bool:
        if isinstance(v, bool):
            return v
        if isinstance(v, str):
            low = v.strip().lower()
            if low in {"1", "true", "yes", "on"}:
                return True
            if low in {"0", "false", "no", "off"}:
                return False
        raise BadValue(f"must be true or false, got {describe_value(v)}")


def text_value(v: Any) -> str:
    """A non-empty string of at most MAX_TEXT characters, stripped, without NUL."""
    if not isinstance(v, str) or not v.strip():
        raise BadValue(f"must be a non-empty string, got {describe_value(v)}")
    s = v.strip()
    if len(s) > MAX_TEXT:
        raise BadValue(f"is {len(s)} characters long (at most {MAX_TEXT})")
    if "\x00" in s:
        raise BadValue("must not contain a NUL character")
    return s


@dataclass(frozen=True, slots=True)
class Choice(Kind):
    choices: tuple[str, ...]
    metavar = "NAME"

    def describe(self) -> str:
        return " / ".join(self.choices)

    def parse(self, v: Any) -> str:
        s = text_value(v)
        if s not in self.choices:
            raise BadValue(f"must be one of {', '.join(self.choices)}, got {_short(s)}")
        return s


@dataclass(frozen=True, slots=True)
class FilePath(Kind):
    """A file path (``~`` expanded).  Existence is checked where the file is opened."""

    metavar = "PATH"

    def describe(self) -> str:
        return "path"

    def parse(self, v: Any) -> Path:
        return Path(os.path.expanduser(text_value(v)))


@dataclass(frozen=True, slots=True)
class DbTarget(Kind):
    """Where the database lives.  The one place a ``--db`` value is validated.

    A SQLite file path (``~`` expanded) or a ``postgresql://`` URL, kept as text (a
    Path would mangle it).  Every source (flag, env, file) goes through here.
    """

    metavar = "PATH|URL"

    def describe(self) -> str:
        return "SQLite file path or postgresql://user@host/db URL"

    def parse(self, v: Any) -> Path | str:
        text = text_value(v)
        scheme, sep, _rest = text.partition("://")
        if not sep:
            p = Path(os.path.expanduser(text))
            if any(len(part.encode()) > 255 for part in p.parts):
                raise BadValue("has a path component longer than 255 bytes")
            return p
        if scheme.lower() not in ("postgresql", "postgres"):
            raise BadValue(
                f"must be a file path or a postgresql:// URL, got a {_short(scheme)}:// URL"
            )
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - parses the port; ValueError if it is not a number
        except ValueError as exc:
            raise BadValue(f"not a usable PostgreSQL URL: {exc}") from None
        if not (parts.hostname or "host=" in parts.query) or not parts.path.strip("/"):
            raise BadValue(
                "a PostgreSQL URL needs a host and a database: postgresql://user@host/db"
            )
        return text


def str_list(v: Any) -> list[str]:
    if isinstance(v, str):
        if len(v) > MAX_TEXT * 4:
            raise BadValue(f"is {len(v)} characters long (at most {MAX_TEXT * 4})")
        items = [p.strip() for p in v.split(",")]
    elif isinstance(v, list | tuple) and all(isinstance(p, str) for p in v):
        items = [p.strip() for p in v]
    else:
        raise BadValue(f"must be a list of strings, got {describe_value(v)}")
    items = [p for p in items if p]
    if not items:
        raise BadValue("must name at least one item")
    if len(items) > MAX_ITEMS:
        raise BadValue(f"names {len(items)} items (at most {MAX_ITEMS})")
    return items


def venue_id(item: str) -> str:
    low = item.strip().lower()
    if not _VENUE_ID.match(low):
        raise BadValue(f"not an exchange id: {_short(item)}")
    return low


@dataclass(frozen=True, slots=True)
class Venues(Kind):
    metavar = "LIST"

    def describe(self) -> str:
        return "list of ccxt exchange ids"

    def parse(self, v: Any) -> tuple[str, ...]:
        out: list[str] = []
        for item in str_list(v):
            low = venue_id(item)
            if low not in out:
                out.append(low)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Symbols(Kind):
    metavar = "LIST"

    def describe(self) -> str:
        return "list of symbols (BTC, BTCUSDT, BTC/USDT:USDT)"

    def parse(self, v: Any) -> tuple[str, ...]:
        from perptui.config.symbols import normalize_symbol

        out: list[str] = []
        for item in str_list(v):
            try:
                sym = normalize_symbol(item)
            except ValueError as exc:
                raise BadValue(str(exc)) from None
            if sym not in out:
                out.append(sym)
        return tuple(out)


# Candle units the venues serve (no seconds or years), and the longest candle any venue
# serves; larger is a typo (and overflows ms arithmetic).  Reading is core.units'.
_TIMEFRAME_UNITS = "mhdwM"
_TIMEFRAME_MAX_MS = 366 * DAY_MS


@dataclass(frozen=True, slots=True)
class Timeframe(Kind):
    metavar = "TF"

    def describe(self) -> str:
        return "timeframe (1m, 5m, 1h, 4h, 1d, 1w, 1M)"

    def parse(self, v: Any) -> str:
        s = text_value(v)
        try:
            ok = s[-1:] in _TIMEFRAME_UNITS and timeframe_ms(s) <= _TIMEFRAME_MAX_MS
        except ValueError:
            ok = False
        if not ok or s != s.strip() or s.startswith("0"):
            raise BadValue(f"must be a timeframe like 1m, 1h, 4h, 1d, got {_short(s)}")
        return s


PORT = Number(1, 65535, integer=True)
SEED = Number(0, 2**32 - 1, integer=True)


@dataclass(frozen=True, slots=True)
class Text(Kind):
    """A non-empty string (a command line, a name)."""

    what: str = "text"
    metavar = "TEXT"

    def describe(self) -> str:
        return self.what

    def parse(self, v: Any) -> str:
        return text_value(v)


@dataclass(frozen=True, slots=True)
class HttpUrl(Kind):
    """An http(s) URL with a host (a webhook)."""

    metavar = "URL"

    def describe(self) -> str:
        return "http(s) URL"

    def parse(self, v: Any) -> str:
        s = text_value(v)
        parts = urlsplit(s)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadValue(f"must be an http:// or https:// URL with a host, got {_short(s)}")
        return s


@dataclass(frozen=True, slots=True)
class VenueNumbers(Kind):
    """Per-venue numbers: a TOML table ``{binance = 4.5}`` or ``"binance:4.5,okx:5"``."""

    number: Number = Number(0, 1000)
    metavar = "LIST"

    def describe(self) -> str:
        return f"venue:number pairs ({self.number.describe()} each)"

    def parse(self, v: Any) -> dict[str, float]:
        if isinstance(v, dict):
            items = list(v.items())
        else:
            items = []
            for part in str_list(v):
                name, sep, value = part.partition(":")
                if not sep:
                    raise BadValue(f"must be venue:number pairs, got {_short(part)}")
                items.append((name, value))
        out: dict[str, float] = {}
        for name, value in items:
            out[venue_id(str(name).strip())] = float(self.number.parse(value))
        return out


@dataclass(frozen=True, slots=True)
class HourRange(Kind):
    """Whole hours UTC ``"22-7"`` (end exclusive, may wrap midnight)."""

    metavar = "H-H"

    def describe(self) -> str:
        return "hours UTC start-end, e.g. 22-7"

    def parse(self, v: Any) -> tuple[int, int]:
        s = text_value(v) if not isinstance(v, list) else "-".join(str(x) for x in v)
        m = re.fullmatch(r"\s*(\d{1,2})\s*-\s*(\d{1,2})\s*", s)
        if not m or int(m.group(1)) > 23 or int(m.group(2)) > 24:
            raise BadValue(f"must be start-end hours UTC like 22-7, got {_short(s)}")
        return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True, slots=True)
class RuleThresholds(Kind):
    """Signal kinds to alert on, each with an optional minimum |value|:
    ``"funding_arb:0.002,divergence"`` (no number: the rule's own threshold)."""

    kinds: tuple[str, ...] = ("funding_arb", "divergence", "price_divergence", "imbalance")
    metavar = "LIST"

    def describe(self) -> str:
        return f"list of {'/'.join(self.kinds)}[:min |value|]"

    def parse(self, v: Any) -> dict[str, float | None]:
        if isinstance(v, dict):  # a TOML table {funding_arb = 0.002}
            pairs = [(str(k), None if x is None else x) for k, x in v.items()]
        else:
            pairs = []
            for part in str_list(v):
                key, sep, text = part.partition(":")
                pairs.append((key, text if sep else None))
        out: dict[str, float | None] = {}
        for name, value in pairs:
            name = name.strip()
            if name not in self.kinds:
                raise BadValue(f"unknown rule {_short(name)} (known: {', '.join(self.kinds)})")
            out[name] = None if value is None else float(Number(0, 1).parse(value))
        return out

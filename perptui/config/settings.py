"""Every setting, described once: key, kind (type and range), default, flag, env, help.

This table drives everything about a setting:

* the TOML file (``key``; a dotted key lives in its ``[section]``),
* the environment (``PERPTUI_<KEY>``, dots as underscores: ``PERPTUI_COLLECT_TIMEFRAME``),
* the command line (``flag`` on the subcommands in ``commands``; ``GLOBAL`` = every one),
* validation (``kind``: the same range whatever the source, so a flag cannot bypass
  what the file is held to),
* ``--help`` and the settings table in docs/config.md (``markdown_table``; a test
  checks the file matches).

Flags are parsed by argparse as plain strings and validated here, in
``perptui.config.load``, so an error names the flag in the same one line as a bad
file key names the file and line.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from perptui.config.values import (
    Bool,
    Choice,
    DbTarget,
    FilePath,
    HourRange,
    HttpUrl,
    Kind,
    Number,
    RuleThresholds,
    Symbols,
    Text,
    Timeframe,
    VenueNumbers,
    Venues,
)
from perptui.core.signals import SignalThresholds

GLOBAL = ("*",)
SECTIONS = ("signals", "collect", "board", "alerts")
DEFAULT_VENUES: tuple[str, ...] = ("binance", "bybit", "okx")
DEFAULT_SYMBOLS: tuple[str, ...] = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
_SIG = SignalThresholds()  # the [signals] record owns its defaults (perptui.core.signals)


@dataclass(frozen=True, slots=True)
class Setting:
    key: str  # TOML key; "section.name" for a key in [section]
    kind: Kind
    default: Any  # None: computed at run time (see help)
    help: str
    flag: str | None = None
    aliases: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()  # subcommands taking the flag; GLOBAL: all
    switch: Any = None  # not None: the flag takes no value and sets this one
    field: str | None = None  # Config attribute when it differs from the key

    @property
    def env(self) -> str:
        return "PERPTUI_" + self.key.upper().replace(".", "_")

    @property
    def dest(self) -> str:
        """argparse attribute of the flag (top-level keys keep their own name)."""
        return self.key.replace(".", "_")

    @property
    def section(self) -> str | None:
        return self.key.split(".", 1)[0] if "." in self.key else None

    @property
    def name(self) -> str:
        return self.key.rsplit(".", 1)[-1]

    @property
    def attr(self) -> str:
        return self.field or self.name

    def takes_flag(self, command: str | None) -> bool:
        if self.flag is None:
            return False
        if self.commands == GLOBAL:
            return True
        return command in self.commands

    def help_line(self) -> str:
        default = "" if self.default is None else f", default {_show(self.default)}"
        return f"{self.help} ({self.kind.describe()}{default}; env {self.env})"


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return ",".join(k if x is None else f"{k}:{_show(x)}" for k, x in v.items()) or "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return ",".join(str(x) for x in v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


_S = Setting
SETTINGS: tuple[Setting, ...] = (
    # ---- where and what
    _S("venues", Venues(), DEFAULT_VENUES, "exchanges (ccxt ids)", "--venues", commands=GLOBAL),
    _S("symbols", Symbols(), DEFAULT_SYMBOLS, "symbols watched", "--symbols", commands=GLOBAL),
    _S(
        "db",
        DbTarget(),
        None,
        "SQLite database file or postgresql:// URL (default: the platform data dir "
        "/perptui/perptui.db)",
        "--db",
        commands=GLOBAL,
        field="db_path",
    ),
    _S(
        "log_file",
        FilePath(),
        None,
        "also log to this file (its directory must exist)",
        "--log-file",
        commands=GLOBAL,
    ),
    _S(
        "book_path",
        Choice(("fast", "ccxt")),
        "fast",
        "how binance, bybit and okx books stream: perptui's own reader (fast) or ccxt.pro "
        "(every other venue always uses ccxt.pro)",
        "--book-path",
        commands=GLOBAL,
    ),
    # ---- the monitor
    _S(
        "log_db",
        Bool(),
        True,
        "write snapshots and funding to the database while monitoring",
        "--no-log",
        commands=("monitor",),
        switch=False,
    ),
    _S(
        "theme",
        Choice(("dark", "light")),
        "dark",
        "colour theme",
        "--theme",
        commands=("monitor", "replay"),
    ),
    _S(
        "ui_hz",
        Number(1, 20, unit="Hz"),
        # 4 Hz: the low end of the 4-10 Hz a live ladder wants; each frame is a hub
        # sample plus the rows that changed, so the UI's CPU scales with this
        4.0,
        "UI refresh clock",
        "--ui-hz",
        aliases=("--hz",),
        commands=("monitor", "replay"),
    ),
    _S(
        "funding_poll_s",
        Number(10, 30, unit="s"),
        15.0,
        "funding / mark / open-interest refresh in the monitor",
        "--funding-poll",
        commands=("monitor",),
    ),
    _S(
        "snapshot_every_s",
        Number(0.1, 3600, unit="s"),
        1.0,
        "book snapshot to the database, in the monitor",
        "--snapshot-every",
        commands=("monitor",),
    ),
    _S(
        "book_depth",
        Number(1, 1000, integer=True),
        25,
        "levels per side kept in a snapshot's raw_data (the replay ladder)",
        "--book-depth",
        commands=("monitor", "collect"),
    ),
    # ---- [signals]
    _S(
        "signals.funding_arb", Number(0, 1), _SIG.funding_arb, "|funding rate| above this is an arb"
    ),
    _S("signals.divergence", Number(0, 1), _SIG.divergence, "cross-venue funding difference"),
    _S(
        "signals.price_divergence",
        Number(0, 1),
        _SIG.price_divergence,
        "cross-venue mid-price difference (fraction)",
    ),
    _S("signals.imbalance", Number(0, 1), _SIG.imbalance, "|1 % band imbalance| to flag"),
    _S(
        "signals.imbalance_sustain_s",
        Number(0, 86_400, unit="s"),
        _SIG.imbalance_sustain_s,
        "how long the imbalance must hold",
    ),
    _S(
        "signals.fee_bps",
        Number(0, 1000, unit="bps"),
        _SIG.fee_bps,
        "fee per leg per trade in the carry backtest",
        "--fee-bps",
        commands=("backtest",),
    ),
    _S(
        "signals.slippage_bps",
        Number(0, 1000, unit="bps"),
        _SIG.slippage_bps,
        "slippage per leg in the carry backtest",
        "--slippage-bps",
        commands=("backtest",),
    ),
    # ---- [collect]
    _S(
        "collect.funding_every_s",
        Number(10, 86_400, unit="s"),
        3600.0,
        "funding poll (plus one just after each settlement)",
        "--funding-every",
        commands=("collect",),
    ),
    _S(
        "collect.snapshot_every_s",
        Number(0.1, 86_400, unit="s"),
        1.0,
        "book snapshot cadence of the collector",
        "--snapshot-every",
        commands=("collect",),
    ),
    _S(
        "collect.ohlcv_every_s",
        Number(10, 86_400, unit="s"),
        3600.0,
        "OHLCV catch-up cadence",
        "--ohlcv-every",
        commands=("collect",),
    ),
    _S(
        "collect.timeframe",
        Timeframe(),
        "1h",
        "candle timeframe",
        "--timeframe",
        commands=("collect", "backfill"),
    ),
    _S(
        "collect.catchup_hours",
        Number(1, 24 * 366, unit="h"),
        48.0,
        "window each catch-up looks back over",
        "--catchup-hours",
        commands=("collect",),
    ),
)

SETTINGS += (
    # ---- [board]: the market-wide funding board
    _S(
        "board.refresh_s",
        Number(10, 3600, unit="s"),
        60.0,
        "funding board refresh per venue (one bulk request where the venue has one)",
    ),
    _S(
        "board.default_fee_bps",
        Number(0, 100, unit="bps"),
        5.0,
        "taker fee per fill of a venue not in taker_fee_bps (carry net of fees)",
    ),
    _S(
        "board.taker_fee_bps",
        VenueNumbers(Number(0, 100)),
        {},
        "taker fee per fill per venue, e.g. binance:4.5,bybit:5.5",
    ),
    _S(
        "board.holding_hours",
        Number(1, 24 * 3650, unit="h"),
        168.0,
        "holding period the carry's entry+exit cost is spread over",
    ),
    # ---- [alerts]: signals outside the terminal
    _S("alerts.webhook", HttpUrl(), None, "POST each alert as JSON to this URL"),
    _S(
        "alerts.command",
        Text("command line"),
        None,
        "run this command per alert (JSON on stdin and in $PERPTUI_ALERT; no shell)",
    ),
    _S(
        "alerts.rules",
        RuleThresholds(),
        {"funding_arb": None, "divergence": None, "price_divergence": None},
        "rules that alert, each with an optional minimum |value|",
    ),
    _S(
        "alerts.max_per_hour",
        Number(1, 10_000, integer=True),
        30,
        "at most this many alerts an hour",
    ),
    _S(
        "alerts.min_interval_s",
        Number(0, 7 * 86_400, unit="s"),
        900.0,
        "the same rule on the same market alerts at most once per this",
    ),
    _S("alerts.quiet_hours", HourRange(), None, "no alerts in these hours (UTC)"),
    _S(
        "alerts.retries",
        Number(0, 20, integer=True),
        3,
        "retries of a failed webhook or command (doubling waits)",
    ),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}


def default_of(key: str) -> Any:
    return BY_KEY[key].default


def section_keys(section: str | None) -> dict[str, Setting]:
    """Settings of one [section] (None: the top level), by their key in that table."""
    return {s.name: s for s in SETTINGS if s.section == section}


def add_flags(
    parser: argparse.ArgumentParser | Any, command: str | None, *, suppress: bool = False
) -> None:
    """Add the flags of ``command``'s settings (GLOBAL ones only when command is None).

    ``suppress``: on subparsers, a global flag given before the command word must not
    be reset by the subparser's default.
    """
    for s in SETTINGS:
        if s.flag is None:
            continue
        if command is None and s.commands != GLOBAL:
            continue
        if command is not None and (s.commands == GLOBAL or command not in s.commands):
            continue
        default = argparse.SUPPRESS if suppress else None
        if s.switch is not None:
            parser.add_argument(
                s.flag, *s.aliases, dest=s.dest, action="store_const", const=s.switch,
                default=default, help=f"{s.help}: off (env {s.env})",
            )  # fmt: skip
        else:
            parser.add_argument(
                s.flag, *s.aliases, dest=s.dest, metavar=s.kind.metavar, default=default,
                help=s.help_line(),
            )  # fmt: skip


def markdown_table() -> str:
    """The settings table of docs/config.md (generated; tests check the file has it)."""
    rows = [
        "| TOML key | flag | env | accepts | default | what |",
        "|---|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        key = f"`[{s.section}]` `{s.name}`" if s.section else f"`{s.key}`"
        if s.flag is None:
            flag = "–"
        else:
            where = "" if s.commands == GLOBAL else " (" + ", ".join(s.commands) + ")"
            flag = ", ".join(f"`{f}`" for f in (s.flag, *s.aliases)) + where
        default = "–" if s.default is None else f"`{_show(s.default)}`"
        what = s.help.replace("|", "\\|")
        rows.append(f"| {key} | {flag} | `{s.env}` | {s.kind.describe()} | {default} | {what} |")
    return "\n".join(rows) + "\n"


TABLE_START = "<!-- settings table: generated, do not edit -->\n"
TABLE_END = "<!-- end of settings table -->"


def with_table(doc: str) -> str:
    """``doc`` with the text between the table markers replaced by ``markdown_table()``."""
    head, _, rest = doc.partition(TABLE_START)
    _, _, tail = rest.partition(TABLE_END)
    return head + TABLE_START + markdown_table() + TABLE_END + tail


if __name__ == "__main__":  # python -m perptui.config.settings docs/config.md
    import sys
    from pathlib import Path

    target = Path(sys.argv[1])
    target.write_text(with_table(target.read_text(encoding="utf-8")), encoding="utf-8")

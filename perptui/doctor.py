"""``perptui doctor``: what is installed, is the database usable, can we reach each venue.

The checks gather into a ``DoctorReport`` (plain data, easy to test) that
``format_report`` turns into text.  Live venue checks run concurrently; an offline
machine still gets its answer in seconds (a refused connection or failed DNS lookup
fails at once), and they say plainly when the network is the problem.  Secrets are
never shown: only "API key: set".

Timeouts are generous on purpose: a market listing is a large answer (binance's
exchangeInfo is megabytes, Hyperliquid's metaAndAssetCtxs lists every coin), a loaded
machine parses it slowly, and loading markets can take several requests one after
another (binance: exchangeInfo, then fundingInfo). So each request gets
`DEFAULT_TIMEOUT_S` and the whole load `LOAD_REQUESTS` of them. A venue that answers,
but slowly, reads "slow", never "unreachable": only a failed connection is that. The
demo checks its in-process emulator one venue at a time: the emulator and the clients
share one event loop, so concurrent checks would each report the sum of all their times.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perptui import __version__
from perptui.config import Config, default_db_path
from perptui.core.text import one_line
from perptui.errors import (
    PerptuiError,
    RateLimited,
    StoreError,
    UnknownSymbol,
    VenueError,
    VenueTimeout,
    VenueUnreachable,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0  # per request
LOAD_REQUESTS = 3  # the whole market load is bounded by this many request timeouts
SLOW_S = 3.0  # a load slower than this is reported as slow
UNREACHABLE = "unreachable (network down or blocked) — try `perptui --demo`"


class DoctorFailed(PerptuiError):
    """At least one check failed; the message summarises them on one line."""


@dataclass(frozen=True, slots=True)
class DbCheck:
    path: Path
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class VenueCheck:
    venue: str
    reachable: bool
    detail: str  # "reachable, 512 perpetual markets" / "unreachable (...)" / error text
    perpetuals: int | None = None
    elapsed_s: float = 0.0
    api_key_set: bool = False
    network_down: bool = False  # unreachable because of the network, not the venue's answer
    slow: bool = False  # answered slowly, or not within the timeout (not a refused connection)
    missing_symbols: tuple[str, ...] = ()  # configured symbols this venue does not list
    symbol_errors: dict[str, str] = field(default_factory=dict)
    resolved: dict[str, str] = field(default_factory=dict)  # requested symbol -> venue's market


@dataclass(frozen=True, slots=True)
class DoctorReport:
    environment: tuple[tuple[str, str], ...]
    database: DbCheck
    venues: tuple[VenueCheck, ...]
    symbols: tuple[str, ...]
    demo: bool
    timeout_s: float
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------- environment


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment_info(config: Config) -> tuple[tuple[str, str], ...]:
    try:
        from perptui.venues import library_summary

        ccxt_line = library_summary()
    except ImportError:
        ccxt_line = "not installed"
    if config.config_file is not None:
        cfg = str(config.config_file)
    else:
        cfg = "none (defaults, environment and flags)"
    return (
        ("perptui", __version__),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("platform", platform.platform()),
        ("ccxt", ccxt_line),
        ("textual", _dist_version("textual")),
        ("aiosqlite", _dist_version("aiosqlite")),
        ("config", cfg),
    )


# --------------------------------------------------------------------------- database


def check_db(path: Path | str, *, default_path: Path | None = None) -> DbCheck:
    """Can perptui use this DB file (or PostgreSQL URL)?  Read-only: never creates or migrates.

    What counts as an intact database is the store's call (``check_sqlite_file``);
    this adds the location checks without touching the file system.
    """
    from perptui.store.backend import is_postgres
    from perptui.store.db import check_sqlite_file

    if is_postgres(path):
        return _check_pg(str(path))
    path = Path(path)
    label = f"database {path}"
    if path.is_dir():
        return DbCheck(path, False, f"{label} is a directory, not a file")
    if path.exists():
        try:
            check_sqlite_file(path, label)
        except StoreError as exc:
            return DbCheck(path, False, str(exc))
        if not os.access(path, os.R_OK | os.W_OK):
            return DbCheck(path, False, f"{label}: file is read-only")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            # WAL needs its -wal/-shm files beside the database.
            return DbCheck(path, False, f"{label}: directory {path.parent} is read-only")
        return DbCheck(path, True, f"ok ({_human_size(path.stat().st_size)})")
    parent = path.parent
    if not parent.exists():
        if default_path is not None and path == default_path:
            # The default data dir is created on first run.
            return DbCheck(path, True, "will be created (with its directory)")
        return DbCheck(path, False, f"{label}: directory {parent} does not exist")
    if not parent.is_dir():
        return DbCheck(path, False, f"{label}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        return DbCheck(path, False, f"{label}: directory {parent} is read-only")
    return DbCheck(path, True, "will be created")


def _check_pg(url: str) -> DbCheck:
    """Connect and read the schema version; nothing is created or changed."""
    import asyncio

    from perptui.store import pg
    from perptui.store.backend import redact
    from perptui.store.migrations import LATEST_VERSION

    label = redact(url)

    async def probe() -> DbCheck:
        conn = await pg.open_connection(url, timeout=5.0)
        try:
            version, mode = await pg.schema_state(conn)
            server = conn.get_server_version()
        finally:
            await conn.close()
        where = f"PostgreSQL {server.major}"
        if version > LATEST_VERSION:
            return DbCheck(
                label,  # type: ignore[arg-type]  # label is a redacted str or PathLike; DbCheck shows it as text
                False,
                f"{label} has schema version {version}, newer than this perptui knows "
                f"({LATEST_VERSION}); upgrade perptui",
            )
        if mode is None:
            return DbCheck(label, True, f"ok ({where}; tables will be created)")  # type: ignore[arg-type]  # label is a redacted str or PathLike; DbCheck shows it as text
        return DbCheck(label, True, f"ok ({where}, schema {version}, {mode} partitions)")  # type: ignore[arg-type]  # label is a redacted str or PathLike; DbCheck shows it as text

    try:
        return asyncio.run(probe())
    except StoreError as exc:
        return DbCheck(label, False, str(exc))  # type: ignore[arg-type]  # label is a redacted str or PathLike; DbCheck shows it as text
    except Exception as exc:  # permissions on the schema table, a server going away
        return DbCheck(label, False, f"cannot use {label}: {exc}")  # type: ignore[arg-type]  # label is a redacted str or PathLike; DbCheck shows it as text


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


# --------------------------------------------------------------------------- venues


def _classify(exc: BaseException, timeout_s: float) -> tuple[str, bool, bool]:
    """(detail, network_down, slow) for an error raised while loading markets."""
    if isinstance(exc, TimeoutError):
        # our bound on the whole load: every request was answered in time, just not all
        return (
            f"slow: markets not loaded within {timeout_s * LOAD_REQUESTS:g} s "
            "(answering, but slowly) — raise --timeout",
            False,
            True,
        )
    if isinstance(exc, VenueTimeout):
        return (
            f"no answer within {timeout_s:g} s (slow or unreachable) — raise --timeout, "
            "or try `perptui --demo`",
            False,
            True,
        )
    if isinstance(exc, RateLimited):
        return "reachable but refusing requests (rate limited or banned)", False, False
    if isinstance(exc, VenueUnreachable):
        return UNREACHABLE, True, False
    if type(exc) is VenueError:
        # The venue layer keeps the library's error underneath; its class and message
        # say best what the venue answered.
        cause = exc.__cause__ or exc
        return f"error: {type(cause).__name__}: {one_line(cause)}", False, False
    if isinstance(exc, PerptuiError):
        return one_line(exc), False, False
    if isinstance(exc, OSError):
        return UNREACHABLE, True, False
    return f"error: {type(exc).__name__}: {one_line(exc)}", False, False


async def check_venue(
    venue: Any,
    config: Config,
    symbols: Sequence[str],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    slow_s: float = SLOW_S,
) -> VenueCheck:
    """Load a venue's perpetual markets once, look up the symbols, always close it.

    The count is the venue's own perpetual listing (what its ``load_markets`` kept)."""
    venue_id = venue.id
    creds = config.credentials_for(venue_id)
    key_set = bool(creds and creds.has_key)
    started = time.monotonic()
    try:
        try:
            # The ccxt timeout covers each request; this bounds the whole load.
            markets = await asyncio.wait_for(venue.load_markets(), timeout_s * LOAD_REQUESTS)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("doctor: %s load_markets failed: %r", venue_id, exc)
            detail, network_down, slow = _classify(exc, timeout_s)
            return VenueCheck(
                venue_id,
                False,
                detail,
                elapsed_s=time.monotonic() - started,
                api_key_set=key_set,
                network_down=network_down,
                slow=slow,
            )
        elapsed = time.monotonic() - started
        missing: list[str] = []
        errors: dict[str, str] = {}
        resolved: dict[str, str] = {}
        for sym in symbols:
            try:
                resolved[sym] = venue.market(sym).symbol
            except UnknownSymbol as exc:
                missing.append(sym)
                errors[sym] = one_line(exc)
        slow = elapsed > slow_s
        state = "reachable (slow)" if slow else "reachable"
        return VenueCheck(
            venue_id,
            True,
            f"{state}, {len(markets)} perpetual markets",
            perpetuals=len(markets),
            elapsed_s=elapsed,
            api_key_set=key_set,
            slow=slow,
            missing_symbols=tuple(missing),
            symbol_errors=errors,
            resolved=resolved,
        )
    finally:
        await _close_quietly(venue)


async def _close_quietly(venue: Any) -> None:
    try:
        await asyncio.wait_for(venue.close(), 2.0)
    except Exception as exc:  # closing must not hide the check's result
        log.debug("doctor: closing %s failed: %r", getattr(venue, "id", venue), exc)


async def _make_venues(
    config: Config, ids: Sequence[str], timeout_s: float, emulator: Any = None
) -> list[Any]:
    """One Venue per id, or UnknownExchange before any network I/O (closing the rest)."""
    from perptui.stack import make_venues

    # No credentials: doctor reads public data only, and a health check must never send
    # a key anywhere.  One attempt: a health check reports a dead network at once
    # instead of backing off for a minute the way a long-running worker should.
    return await make_venues(
        ids,
        config,
        emulator=emulator,
        pro=False,
        credentials=False,
        timeout_ms=int(timeout_s * 1000),
        max_retries=0,
    )


async def _check_all(
    config: Config, venues: Sequence[Any], timeout_s: float, *, one_by_one: bool = False
) -> list[VenueCheck]:
    def check(venue: Any) -> Any:
        return check_venue(venue, config, config.symbols, timeout_s=timeout_s)

    if one_by_one:  # sharing the event loop with an in-process emulator (module docstring)
        return [await check(v) for v in venues]
    return list(await asyncio.gather(*(check(v) for v in venues)))


async def _check_venues(config: Config, timeout_s: float) -> list[VenueCheck]:
    if not config.demo:
        venues = await _make_venues(config, config.venues, timeout_s)
        return await _check_all(config, venues, timeout_s)
    return await _check_venues_demo(config, timeout_s)


async def _check_venues_demo(config: Config, timeout_s: float) -> list[VenueCheck]:
    from perptui.stack import new_emulator

    try:
        from perptui.emulator.catalog import VENUES as EMULATED_VENUES
    except ImportError:
        EMULATED_VENUES = ("binance", "bybit", "okx")

    emulated = [v for v in config.venues if v in EMULATED_VENUES]
    results: dict[str, VenueCheck] = {
        v: VenueCheck(
            v, False, f"not in the demo emulator (it serves {', '.join(EMULATED_VENUES)})"
        )
        for v in config.venues
        if v not in EMULATED_VENUES
    }
    if emulated:
        emu = new_emulator(emulated, seed=0)
        await emu.start(port=0)
        try:
            venues = await _make_venues(config, emulated, timeout_s, emu)
            checks = await _check_all(config, venues, timeout_s, one_by_one=True)
        finally:
            await emu.stop()
        results.update({c.venue: c for c in checks})
    return [results[v] for v in config.venues]


def find_problems(
    database: DbCheck, venues: Sequence[VenueCheck], symbols: Sequence[str]
) -> list[str]:
    problems: list[str] = []
    if not database.ok:
        problems.append(database.detail)
    down = [v.venue for v in venues if not v.reachable and v.network_down]
    if down:
        problems.append(f"{', '.join(down)}: {UNREACHABLE}")
    for v in venues:
        if not v.reachable and not v.network_down:
            problems.append(f"{v.venue}: {v.detail}")
    reachable = [v for v in venues if v.reachable]
    if reachable:
        # A symbol listed on some venues but not others is normal (the monitor
        # shows a gap); one that no reachable venue lists is a typo to report.
        for sym in symbols:
            if all(sym in v.missing_symbols for v in reachable):
                first = reachable[0]
                problems.append(first.symbol_errors.get(sym) or f"unknown symbol {sym}")
    return problems


async def run_checks(config: Config, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> DoctorReport:
    env = environment_info(config)
    # in a thread: a PostgreSQL probe runs its own short event loop
    database = await asyncio.to_thread(check_db, config.db_path, default_path=default_db_path())
    venues = await _check_venues(config, timeout_s)
    problems = find_problems(database, venues, config.symbols)
    return DoctorReport(
        environment=env,
        database=database,
        venues=tuple(venues),
        symbols=tuple(config.symbols),
        demo=config.demo,
        timeout_s=timeout_s,
        problems=tuple(problems),
    )


# --------------------------------------------------------------------------- output


def capability_lines(venues: tuple[str, ...]) -> list[str]:
    from perptui.venues.capabilities import text_lines

    return text_lines(venues)


def format_report(report: DoctorReport) -> str:
    width = max(
        [len(k) for k, _ in report.environment] + [len(v.venue) for v in report.venues] + [8]
    )
    lines = ["perptui doctor", ""]
    for key, value in report.environment:
        lines.append(f"  {key:<{width}}  {value}")
    db = report.database
    if db.ok:
        lines.append(f"  {'database':<{width}}  {db.path}: {db.detail}")
    else:
        lines.append(f"  {'database':<{width}}  PROBLEM: {db.detail}")
    lines.append("")
    where = "demo emulator on 127.0.0.1" if report.demo else "live"
    lines.append(f"venues ({where}, timeout {report.timeout_s:g} s)")
    for v in report.venues:
        status = v.detail
        if v.reachable:
            status += f" ({v.elapsed_s:.2f} s)"
        key = "API key: set" if v.api_key_set else "API key: not set"
        lines.append(f"  {v.venue:<{width}}  {status}; {key}")
        if v.reachable and report.symbols:
            listed = [
                s if v.resolved.get(s, s) == s else f"{s} = {v.resolved[s]}"
                for s in report.symbols
                if s not in v.missing_symbols
            ]
            if listed:
                lines.append(f"  {'':<{width}}    symbols listed: {', '.join(listed)}")
            if v.missing_symbols:
                lines.append(f"  {'':<{width}}    not listed: {', '.join(v.missing_symbols)}")
    lines.append("")
    lines.append("capabilities")
    lines.extend(capability_lines(tuple(v.venue for v in report.venues)))
    lines.append("")
    if report.problems:
        lines.append(f"{len(report.problems)} problem(s):")
        lines.extend(f"  - {p}" for p in report.problems)
    else:
        lines.append("all checks passed")
    return "\n".join(lines)


def summary_line(report: DoctorReport) -> str:
    """One line for stderr when something failed."""
    first = report.problems[0]
    more = len(report.problems) - 1
    return first if more == 0 else f"{first} (and {more} more problem(s), see above)"

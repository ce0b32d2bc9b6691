"""Bad input, table-driven: every subcommand, flag, config key, env var and DB problem.

Each row is run through the real CLI (``perptui.cli.main``) in-process -- fast enough
to cover every setting from every source -- and must end in exit 2 with exactly one
line on stderr (``perptui: ...``), no traceback, and every database file involved
byte-identical (sha256) afterwards.  A representative subset runs as a subprocess
(``test_subprocess_subset``) so the interpreter's own exit path and traceback
printing are covered too.

The table is built from the settings table (``perptui.config.settings``), so a new
setting is covered from its flag, its environment variable and its TOML key the day
it is added; ``test_table_size`` prints how many rows there are.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import sqlite3
import subprocess
import tomllib
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_helpers import closed_loopback_port, hold_lock, make_corrupt_sqlite, make_not_sqlite
from loopback_venues import cli_command, redirect_live_venues

from perptui import cli
from perptui.config.settings import GLOBAL, SETTINGS, Setting
from perptui.config.values import Number

REPO = Path(__file__).resolve().parents[2]
LONG = "x" * 10_240  # a 10 kB paste
UNICODE = "бтк€😀"


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    config: str | None = None  # TOML text written to a file passed with --config
    db: str | None = None  # a DB problem kind (see make_db) passed with --db
    needle: str = ""  # must appear in the one stderr line
    paths_absent: tuple[str, ...] = ()  # relative to home: must not exist afterwards


# ----------------------------------------------------------------------------- values


def bad_numbers(k: Number) -> list[str]:
    """Values outside what `k` accepts, checked here independently of `k.parse`."""
    out = ["nan", "inf", "-inf", "1e400", "abc", "", " ", UNICODE, "１０", LONG[:5000], "0x1z"]
    lo, hi = k.lo, k.hi
    if lo is not None:
        out += ["-1", f"{lo - 1:g}" if k.integer else "-1e-9"]
        if lo > 0 or k.above:
            out += ["0"]
        if lo > 1e-9 and not k.integer:
            out += ["1e-9"]
    if hi is not None:
        out += [f"{hi * 10 + 1:.0f}", "1e308", "99999999999999999999999"]
    if k.integer:
        out += ["2.5"]
    # the oracle: every value here must really be out of range or not a number
    for v in out:
        try:
            x = float(v) if v.isascii() else float("nan")
        except ValueError:
            continue
        inside = math.isfinite(x) and (lo is None or x >= lo) and (hi is None or x <= hi)
        inside = inside and not (k.above and x == lo) and not (k.integer and x != int(x))
        assert not inside, (k, v)
    return out


BAD_TEXT = {
    "venues": ["", ",", "nosuchex", "BIN ANCE", UNICODE, LONG, ",".join(["binance"] * 600)],
    "symbols": ["", ",", "BTC USDT", UNICODE, LONG, "/USDT", "BTC/", "BTC/USDT:", "0:/0"],
    "db": ["", LONG, "x" * 300 + ".db", "sqlite:///tmp/x.db", "postgresql://"],
    "log_file": ["", LONG],
    "theme": ["", "solarized", UNICODE, LONG],
    "book_path": ["", "slow", "FAST", UNICODE, LONG],
    "log_db": ["maybe", "2", UNICODE],
    "collect.timeframe": ["0m", "0h", "1y", "-1h", "1.5h", "", UNICODE, LONG, "99999M"],
    "board.taker_fee_bps": ["", "binance", "binance:-1", "binance:abc", "bin ance:4", LONG],
    "alerts.webhook": ["", "ftp://x", "http://", "not a url", UNICODE, LONG],
    "alerts.command": ["", LONG],
    "alerts.rules": ["", "nope", "funding_arb:2", "funding_arb:x", UNICODE, LONG],
    "alerts.quiet_hours": ["", "22", "25-3", "a-b", UNICODE, LONG],
}


def value_cases(s: Setting) -> list[str]:
    if isinstance(s.kind, Number):
        return bad_numbers(s.kind)
    return BAD_TEXT.get(s.key, [])


REQUIRED = {
    "backtest": ("--symbol", "BTC", "--venue", "binance"),
    "export": ("--table", "funding"),
}


def command_of(s: Setting) -> str:
    return "doctor" if s.commands in ((), GLOBAL) else s.commands[0]


def toml_line(s: Setting, raw: str) -> str:
    """`raw` as a TOML number when TOML reads it as one, else as a string."""
    try:
        tomllib.loads(f"x = {raw}")
        literal = raw
    except tomllib.TOMLDecodeError:
        literal = '"' + raw.replace("\\", "\\\\").replace('"', '\\"') + '"'
    head = f"[{s.section}]\n" if s.section else ""
    return f"{head}{s.name} = {literal}\n"


def setting_cases() -> list[Case]:
    cases: list[Case] = []
    for s in SETTINGS:
        for i, raw in enumerate(value_cases(s)):
            if s.flag and s.switch is None:
                cmd = command_of(s)
                argv = (cmd, *REQUIRED.get(cmd, ()), f"{s.flag}={raw}")
                cases.append(Case(f"flag-{s.flag}-{i}", argv, needle=s.flag))
            if raw.strip():  # an empty variable means "unset", by design
                cases.append(Case(f"env-{s.env}-{i}", ("doctor",), env={s.env: raw}, needle=s.env))
            cases.append(
                Case(f"toml-{s.key}-{i}", ("doctor",), config=toml_line(s, raw), needle=s.key)
            )
    return cases


# Flags that are not settings: command-only options, each with its own range.
def option_cases() -> list[Case]:
    rows: list[tuple[str, tuple[str, ...], list[str]]] = [
        ("collect", ("--emulator-port",), ["-1", "0", "70000", "abc", "", "1e3"]),
        ("backfill", ("--emulator-port",), ["-1", "0", "70000", "nan"]),
        ("collect", ("--duration",), ["0", "-5", "nan", "inf", "abc", "1e12"]),
        ("collect", ("--seed",), ["-1", "abc", str(2**40), "1.5"]),
        ("backfill", ("--days",), ["0", "-1", "nan", "inf", "4000", "abc"]),
        ("backfill", ("--what",), ["", "candles", "funding,bogus", LONG]),
        ("backtest", ("--entry",), ["nan", "-1", "2", "abc"]),
        ("backtest", ("--exit",), ["nan", "-0.5", "inf"]),
        ("backtest", ("--notional",), ["0", "-1", "nan", "inf", "1e400"]),
        ("backtest", ("--rows",), ["-2", "abc", "1.5", "1e9"]),
        ("export", ("--chunk-rows",), ["0", "-1", "abc", "1e9"]),
        ("export", ("--format",), ["xlsx", "", UNICODE]),
        ("export", ("--since",), ["99999999999999999999999", "nan", "abc", "2026-13-45", LONG]),
        ("export", ("--until",), ["-99999999999999999999", "not a time", UNICODE]),
        ("export", ("--symbol",), ["BTC USDT", LONG, UNICODE, ""]),
        ("signals", ("--limit",), ["-1", "abc", "1e9"]),
        ("signals", ("--kind",), ["", "bogus", LONG]),
        ("signals", ("--since",), ["nan", "99999999999999999999999", "abc"]),
        ("signals", ("--funding",), ["both", ""]),
        ("emulator", ("--port",), ["-1", "70000", "abc"]),
        ("emulator", ("--speed",), ["0", "-1", "nan", "inf", "1e9"]),
        ("emulator", ("--fault",), ["bogus", "429:abc", "drop:every=" + "9" * 400 + "s"]),
        ("serve", ("--port",), ["-1", "70000", "abc"]),
        ("doctor", ("--timeout",), ["0", "-1", "100", "nan", "abc"]),
        ("replay", ("--speed",), ["0", "-1", "nan", "inf", "1e9"]),
    ]
    cases = []
    for cmd, flags, values in rows:
        for i, raw in enumerate(values):
            argv = (cmd, *REQUIRED.get(cmd, ()), f"{flags[0]}={raw}")
            cases.append(Case(f"opt-{cmd}{flags[0]}-{i}", argv))
    return cases


def misc_cases() -> list[Case]:
    missing = "no/such/dir"
    return [
        Case("unknown-command", ("frobnicate",)),
        Case("unknown-flag", ("collect", "--frobnicate")),
        Case("config-missing", ("doctor", "--config", "nope.toml"), needle="not found"),
        Case("config-unknown-key", ("doctor",), config="colour = 1\n", needle="unknown"),
        Case("config-not-toml", ("doctor",), config="venues = [\n", needle="invalid TOML"),
        Case("config-bad-section", ("doctor",), config="signals = 3\n", needle="table"),
        Case(
            "config-bad-credential",
            ("doctor",),
            config="[credentials.okx]\napi_key = 12345\n",
            needle="must be a string",
        ),
        Case(
            "log-file-missing-dir",
            ("doctor", "--log-file", f"{missing}/p.log"),
            needle="does not exist",
            paths_absent=("no",),
        ),
        Case("log-file-is-dir", ("doctor", "--log-file", "."), needle="log file"),
        Case(
            "export-o-missing-dir",
            ("export", "--table", "funding", "-o", f"{missing}/out.csv"),
            db="perptui",
            needle="does not exist",
            paths_absent=("no",),
        ),
        Case(
            "export-o-is-the-db",
            ("export", "--table", "funding", "-o", "@DB"),
            db="perptui",
            needle="is the database",
        ),
        Case(
            "export-o-is-the-db-relative",
            ("export", "--table", "funding", "-o", "./sub/../@DBNAME"),
            db="perptui",
            needle="is the database",
        ),
        Case(
            "export-o-is-the-db-symlink",
            ("export", "--table", "funding", "-o", "link.db"),
            db="perptui+link",
            needle="is the database",
        ),
        Case(
            "export-o-is-the-wal",
            ("export", "--table", "funding", "-o", "@DB-wal"),
            db="perptui",
            needle="is the database",
        ),
        Case(
            "export-parquet-stdout",
            ("export", "--table", "funding", "--format", "parquet"),
            db="perptui",
        ),
        Case(
            "backtest-same-venues",
            ("backtest", "--symbol", "BTC", "--venue", "okx", "--venue2", "okx"),
            db="perptui",
        ),
        Case("backtest-no-data", ("backtest", "--symbol", "BTC", "--venue", "okx"), db="perptui"),
        Case("replay-empty-db", ("replay",), db="perptui"),
        Case("replay-missing-db", ("replay",), db="missing", paths_absent=("missing.db",)),
        Case("signals-missing-db", ("signals",), db="missing", paths_absent=("missing.db",)),
        Case(
            "backfill-missing-dir",
            ("backfill", "--demo", "--days", "1"),
            db="missing-dir",
            paths_absent=("gone",),
        ),
        Case(
            "collect-missing-dir",
            ("collect", "--demo", "--duration", "1"),
            db="missing-dir",
            paths_absent=("gone",),
        ),
        Case("emulator-unknown-venue", ("emulator", "--venues", "kraken"), needle="emulator"),
    ]


def symbol_cases() -> list[Case]:
    """Well-formed symbols that no configured venue lists: exit 2 before the run."""
    out = []
    commands = (
        ("collect", ("--duration", "30")),
        ("backfill", ("--days", "1")),
        # the monitor: refused before its screen opens (or its headless loop starts)
        ("monitor", ("--headless",)),
        ("monitor", ()),
    )
    for cmd, extra in commands:
        name = "app" if cmd == "monitor" and not extra else cmd
        for i, sym in enumerate(["NOTACOIN", "BTC/USDT", "BTC/USD:BTC", "ETH-USD-SWAP"]):
            out.append(
                Case(
                    f"symbol-{name}-{i}",
                    (cmd, "--demo", "--venues", "binance,bybit", "--symbols", sym, *extra),
                    db="new",
                    needle="not a perpetual",
                    paths_absent=("new.db",),
                )
            )
    return out


# ----------------------------------------------------------------------------- DBs


def _perptui_db(path: Path, journal: str = "WAL") -> Path:
    from perptui.store.db import connect_sync

    connect_sync(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "INSERT INTO funding_rates (exchange, symbol, timestamp, funding_rate, kind) "
        "VALUES ('okx', 'BTC/USDT:USDT', 1, 0.0001, 'live')"
    )
    conn.execute(f"PRAGMA journal_mode = {journal}")
    conn.close()
    return path


def make_db(home: Path, kind: str) -> tuple[Path, Callable[[], None]]:
    """A database of `kind` under `home`, and a function releasing anything held."""
    release: Callable[[], None] = lambda: None  # noqa: E731
    p = home / "store.db"
    if kind == "directory":
        p.mkdir()
    elif kind == "not-sqlite":
        make_not_sqlite(p)
    elif kind == "corrupt":
        make_corrupt_sqlite(p)
    elif kind == "truncated":
        _perptui_db(p, "DELETE")
        conn = sqlite3.connect(p)
        conn.executemany(
            "INSERT INTO ohlcv (exchange, symbol, timeframe, timestamp, open) VALUES (?,?,?,?,?)",
            [("okx", "BTC/USDT:USDT", "1h", i, 1.0) for i in range(3000)],
        )
        conn.commit()
        conn.close()
        size = p.stat().st_size
        with p.open("r+b") as fh:
            fh.truncate(size // 2 + 100)
    elif kind == "newer":
        _perptui_db(p, "DELETE")
        conn = sqlite3.connect(p)
        conn.execute("PRAGMA user_version = 99")
        conn.close()
    elif kind == "foreign-users":
        conn = sqlite3.connect(p)
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT)")
        conn.execute("INSERT INTO users (name, email) VALUES ('ann', 'ann@example.org')")
        conn.commit()
        conn.close()
    elif kind == "foreign-ohlcv":
        conn = sqlite3.connect(p)
        conn.execute("CREATE TABLE ohlcv (ts INTEGER, o REAL, h REAL, l REAL, c REAL, v REAL)")
        conn.execute("INSERT INTO ohlcv VALUES (1, 1, 2, 0.5, 1.5, 10)")
        conn.commit()
        conn.close()
    elif kind == "foreign-mixed":  # perptui's table names plus one that is not
        _perptui_db(p, "DELETE")
        conn = sqlite3.connect(p)
        conn.execute("PRAGMA user_version = 0")
        conn.execute("CREATE TABLE accounts (id INTEGER)")
        conn.close()
    elif kind == "locked":
        _perptui_db(p, "DELETE")
        release = hold_lock(p, "BEGIN EXCLUSIVE")  # another writer, mid-transaction
    elif kind == "write-locked":  # perptui's WAL database, another writer mid-transaction
        _perptui_db(p)
        release = hold_lock(p, "BEGIN IMMEDIATE")  # the write lock; readers still read
    elif kind in ("perptui", "perptui+link"):
        _perptui_db(p)
        if kind == "perptui+link":
            (home / "link.db").symlink_to(p)
    elif kind == "missing":
        p = home / "missing.db"
    elif kind == "missing-dir":
        p = home / "gone" / "store.db"
    elif kind == "new":
        p = home / "new.db"
    else:
        raise AssertionError(kind)
    return p, release


DB_KINDS = [
    "directory", "not-sqlite", "corrupt", "truncated", "newer",
    "foreign-users", "foreign-ohlcv", "foreign-mixed", "locked",
]  # fmt: skip
DB_COMMANDS: dict[str, tuple[str, ...]] = {
    "export": ("export", "--table", "funding", "-o", "out.csv"),
    "export-stdout": ("export", "--table", "ohlcv"),
    "signals": ("signals",),
    "backtest": ("backtest", "--symbol", "BTC", "--venue", "okx"),
    "replay": ("replay",),
    "doctor": ("doctor", "--demo", "--venues", "binance", "--timeout", "5"),
    "backfill": ("backfill", "--demo", "--venues", "binance", "--symbols", "BTC", "--days", "1"),
    "collect": ("collect", "--demo", "--venues", "binance", "--symbols", "BTC", "--duration", "1"),
}


def db_cases() -> list[Case]:
    # Readers are not blocked by another writer (WAL): only the writing jobs refuse,
    # before their run starts rather than at their first commit.
    locked = [
        Case(
            f"db-write-locked-{name}",
            DB_COMMANDS[name],
            db="write-locked",
            needle="locked by another writer",
        )
        for name in ("collect", "backfill")
    ]
    return [
        Case(f"db-{kind}-{name}", argv, db=kind)
        for kind in DB_KINDS
        for name, argv in DB_COMMANDS.items()
    ] + locked


ALL_CASES = setting_cases() + option_cases() + misc_cases() + symbol_cases() + db_cases()


# ----------------------------------------------------------------------------- running


def digest(paths: list[Path]) -> dict[str, str]:
    out = {}
    for p in paths:
        if p.is_file():
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.exists():
            out[p.name] = "dir:" + ",".join(sorted(x.name for x in p.iterdir()))
        else:
            out[p.name] = "absent"
    return out


def isolate(home: Path, monkeypatch: pytest.MonkeyPatch, extra: dict[str, str]) -> None:
    from perptui.store import db as store_db

    # A locked database is waited for (busy_timeout), then refused: wait less here.
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 300)
    for var in list(os.environ):
        if var.startswith("PERPTUI_") or var.endswith(("_API_KEY", "_API_SECRET", "_API_PASSWORD")):
            monkeypatch.delenv(var)
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(home / "xdg" / name.lower()))
    redirect_live_venues(monkeypatch, f"127.0.0.1:{closed_loopback_port()}")
    for k, v in extra.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(home)


def prepare(case: Case, home: Path) -> tuple[list[str], list[Path], Callable[[], None]]:
    argv = list(case.argv)
    watched: list[Path] = []
    release: Callable[[], None] = lambda: None  # noqa: E731
    if case.config is not None:
        cfg = home / "config.toml"
        cfg.write_text(case.config, encoding="utf-8")
        argv += ["--config", str(cfg)]
    if case.db is not None:
        db, release = make_db(home, case.db)
        argv = [a.replace("@DBNAME", db.name).replace("@DB", str(db)) for a in argv]
        (home / "sub").mkdir(exist_ok=True)
        argv += ["--db", str(db)]
        watched = [db, db.with_name(db.name + "-journal")]
        if not _wal_mode(db):
            # no WAL switch either: a -wal file appearing beside it would be one
            watched.append(db.with_name(db.name + "-wal"))
    return argv, watched, release


def _wal_mode(db: Path) -> bool:
    """Header bytes 18-19 are 2 in a WAL database (a reader there may add an empty -wal)."""
    if not db.is_file():
        return False
    with db.open("rb") as fh:
        header = fh.read(20)
    return len(header) == 20 and header[18] == 2 and header[19] == 2


def run_in_process(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return int(code), out.getvalue(), err.getvalue()


def check(case: Case, code: int, out: str, err: str) -> None:
    lines = err.splitlines()
    assert "Traceback" not in err + out, err
    assert code == 2, (case.id, code, err[-2000:])
    assert len(lines) == 1, (case.id, err[-2000:])
    assert lines[0].startswith("perptui: "), lines[0]
    assert "internal error" not in lines[0]
    assert case.needle in lines[0], (case.needle, lines[0])
    assert len(lines[0]) < 2000, "the one line must stay readable"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_bad_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, case.env)
    argv, watched, release = prepare(case, tmp_path)
    before = digest(watched)
    try:
        code, out, err = run_in_process(argv)
    finally:
        release()
    check(case, code, out, err)
    assert digest(watched) == before, "a refused command changed the database"
    for rel in case.paths_absent:
        assert not (tmp_path / rel).exists(), f"{rel} was created"


def test_table_size() -> None:
    """At least one row per setting and source, per DB problem and command."""
    flags = {s.flag for s in SETTINGS if s.flag and s.switch is None}
    covered = {c.argv[-1].split("=")[0] for c in ALL_CASES if c.id.startswith("flag-")}
    assert flags <= covered
    assert {s.env for s in SETTINGS} <= {k for c in ALL_CASES for k in c.env}
    print(f"{len(ALL_CASES)} bad inputs in the table")
    assert len(ALL_CASES) >= 400


# ----------------------------------------------------------------------------- subprocess

SUBSET = [
    "flag---ui-hz-0",
    "flag---funding-every-13",
    "flag---timeframe-0",
    "opt-collect--emulator-port-2",
    "opt-backtest--notional-2",
    "opt-export--since-0",
    "flag---venues-5",
    "flag---db-1",
    "log-file-missing-dir",
    "export-o-is-the-db-symlink",
    "db-foreign-users-signals",
    "db-foreign-ohlcv-collect",
    "db-newer-backfill",
    "db-corrupt-doctor",
    "symbol-collect-1",
    "symbol-app-0",
    "db-write-locked-collect",
]
BY_ID = {c.id: c for c in ALL_CASES}


def run_subprocess(argv: list[str], home: Path, env_extra: dict[str, str], prefix=()) -> tuple:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PERPTUI_") and not k.endswith(("_API_KEY", "_API_SECRET"))
    }
    env.update(
        {n: str(home / "xdg" / n.lower()) for n in ("XDG_CONFIG_HOME", "XDG_DATA_HOME")},
        XDG_STATE_HOME=str(home / "xdg" / "state"),
        PYTHONPATH=str(REPO),
        **env_extra,
    )
    proc = subprocess.run(
        [*prefix, *cli_command(f"127.0.0.1:{closed_loopback_port()}", *argv)],
        cwd=home, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.timeout(180)
@pytest.mark.parametrize("case_id", SUBSET)
def test_subprocess_subset(case_id: str, tmp_path: Path) -> None:
    case = BY_ID[case_id]
    argv, watched, release = prepare(case, tmp_path)
    before = digest(watched)
    try:
        code, out, err = run_subprocess(argv, tmp_path, case.env)
    finally:
        release()
    check(case, code, out, err)
    assert digest(watched) == before


@pytest.mark.timeout(180)
@pytest.mark.parametrize("command", ["monitor", "doctor", "export", "collect"])
def test_read_only_database_file(command: str) -> None:
    """chmod 444 binds only for a normal user: run as nobody when the tests are root."""
    import shutil
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(prefix="perptui-ro-"))
    try:
        _read_only_case(command, tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _read_only_case(command: str, tmp_path: Path) -> None:
    import shutil

    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: chmod cannot stop root")
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    tmp_path.chmod(0o777)
    db = _perptui_db(tmp_path / "ro.db", "DELETE")
    db.chmod(0o444)
    argv = {
        "monitor": ["--demo", "--headless"],
        "doctor": ["doctor", "--demo", "--venues", "binance"],
        "export": ["export", "--table", "funding", "-o", str(tmp_path / "o.csv")],
        "collect": ["collect", "--demo", "--venues", "binance", "--duration", "1"],
    }[command]
    before = digest([db])
    home = tmp_path / "home"
    home.mkdir(mode=0o777)
    code, out, err = run_subprocess([*argv, "--db", str(db)], home, {}, prefix)
    if command == "export":
        # reading a read-only perptui database is fine; writing it is not
        assert code == 0, err
    else:
        check(Case("ro", tuple(argv), needle="read-only"), code, out, err)
    assert digest([db]) == before

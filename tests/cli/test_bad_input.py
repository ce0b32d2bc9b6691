"""Bad input through the real CLI in its own process: exit 2, exactly one stderr line, no traceback.

Every run gets an empty config/data home and its live venues pointed at a closed
127.0.0.1 port (`loopback_venues`), so nothing can reach a real exchange host; the reachable
path uses the in-process loopback emulator (`--demo`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_helpers import closed_loopback_port, make_corrupt_sqlite, make_not_sqlite
from cli_server import CliServer, Run, without_settings
from loopback_venues import cli_command

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def unprivileged() -> list[str]:
    """Command prefix that makes chmod bind: nothing for a normal user, setpriv for root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: chmod cannot stop root")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def shared_home() -> Iterator[Path]:
    """A home the unprivileged user can use (pytest's tmp dirs are 0700 root)."""
    base = Path(tempfile.mkdtemp(prefix="perptui-bad-input-"))
    base.chmod(0o777)
    try:
        yield base
    finally:
        for p in base.rglob("*"):
            if p.is_dir():
                p.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


def cli_env(home: Path) -> dict[str, str]:
    return {
        **without_settings(os.environ),
        "XDG_CONFIG_HOME": str(home / "xdg-config"),
        "XDG_DATA_HOME": str(home / "xdg-data"),
        "XDG_STATE_HOME": str(home / "xdg-state"),
        "PYTHONUNBUFFERED": "1",
    }


def subprocess_cli(
    home: Path, *args: str, prefix: list[str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter: for a run as another user, and the interpreter's start path."""
    return subprocess.run(
        [*(prefix or []), *cli_command(f"127.0.0.1:{closed_loopback_port()}", *args)],
        cwd=REPO,
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


RunCli = Callable[..., Run]


@pytest.fixture
def run_cli(cli_server: CliServer) -> RunCli:
    """``run_cli(home, *args)``: perptui in its own process, forked from the CLI server."""

    def run(home: Path, *args: str, timeout: float = 60) -> Run:
        proc = cli_server.run(
            list(args),
            env=cli_env(home),
            cwd=REPO,
            timeout=timeout,
            hostport=f"127.0.0.1:{closed_loopback_port()}",
        )
        assert not proc.timed_out, (args, f"killed after {timeout:g}s", proc.stderr[-2000:])
        return proc

    return run


def assert_one_line_error(proc: Run | subprocess.CompletedProcess[str], *needles: str) -> str:
    lines = proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("perptui: ")
    for needle in needles:
        assert needle in line, line
    return line


# --------------------------------------------------------------------------- exchanges / symbols


def test_unknown_exchange_id(home: Path, run_cli: RunCli) -> None:
    proc = run_cli(home, "doctor", "--venues", "nosuchex")
    assert_one_line_error(proc, "unknown exchange 'nosuchex'")


@pytest.mark.parametrize("command", ["collect", "backfill", "monitor"])
def test_unknown_exchange_id_in_other_commands(home: Path, command: str, run_cli: RunCli) -> None:
    args = ["--venues", "nosuchex"] if command == "monitor" else [command, "--venues", "nosuchex"]
    assert_one_line_error(run_cli(home, *args), "unknown exchange 'nosuchex'")


def test_unknown_symbol(home: Path, run_cli: RunCli) -> None:
    proc = run_cli(home, "doctor", "--demo", "--venues", "binance", "--symbols", "NOPE/USDT:USDT")
    assert_one_line_error(proc, "NOPE/USDT:USDT")


def test_non_perpetual_symbol(home: Path, run_cli: RunCli) -> None:
    # BTC/USDT is the spot market: perptui only knows perpetual swaps.
    proc = run_cli(home, "doctor", "--demo", "--venues", "bybit", "--symbols", "BTC/USDT")
    assert_one_line_error(proc, "BTC/USDT")


def test_malformed_symbol(home: Path, run_cli: RunCli) -> None:
    proc = run_cli(home, "doctor", "--symbols", "BTC USDT")
    assert_one_line_error(proc, "--symbols: not a symbol")


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("venues = [\n", "invalid TOML"),
        ("ui_hz = 5\nui_hz == 6\n", "line 2"),
        ("colour = 'red'\n", "key 'colour' is unknown"),
        ("ui_hz = 'fast'\n", "key 'ui_hz' must be a number"),
        ("funding_poll_s = 600\n", "key 'funding_poll_s' must be between 10 and 30"),
    ],
    ids=["truncated", "syntax-line", "unknown-key", "wrong-type", "out-of-range"],
)
def test_invalid_config(home: Path, content: str, needle: str, run_cli: RunCli) -> None:
    path = home / "config.toml"
    path.write_text(content)
    line = assert_one_line_error(run_cli(home, "--config", str(path), "doctor"), needle)
    assert str(path) in line


def test_default_config_location_is_validated_too(home: Path, run_cli: RunCli) -> None:
    path = home / "xdg-config" / "perptui" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text("[signals]\nfunding_arb = -1\n")
    assert_one_line_error(run_cli(home, "doctor"), str(path), "signals.funding_arb")


def test_missing_config_file(home: Path, run_cli: RunCli) -> None:
    assert_one_line_error(
        run_cli(home, "doctor", "--config", str(home / "nope.toml")), "file not found"
    )


def test_unreadable_config(home: Path, run_cli: RunCli) -> None:
    (home / "dir.toml").mkdir()
    assert_one_line_error(run_cli(home, "doctor", "--config", str(home / "dir.toml")), "directory")
    (home / "bin.toml").write_bytes(b"\x00\xff\xfe binary")
    assert_one_line_error(
        run_cli(home, "doctor", "--config", str(home / "bin.toml")), "not a text file"
    )


def test_permission_denied_config(shared_home: Path) -> None:
    prefix = unprivileged()
    path = shared_home / "private.toml"
    path.write_text("ui_hz = 5\n")
    path.chmod(0)
    proc = subprocess_cli(shared_home, "doctor", "--config", str(path), prefix=prefix)
    assert_one_line_error(proc, str(path), "permission denied")


# --------------------------------------------------------------------------- database


def _bad_db(home: Path, kind: str) -> tuple[Path, str]:
    if kind == "missing-dir":
        return home / "no" / "such" / "dir" / "p.db", "does not exist"
    if kind == "not-sqlite":
        return make_not_sqlite(home / "prices.csv"), "not a SQLite database"
    if kind == "corrupt":
        return make_corrupt_sqlite(home / "broken.db"), "corrupt"
    if kind == "directory":
        return home, "is a directory"
    raise AssertionError(kind)


DB_KINDS = ["missing-dir", "not-sqlite", "corrupt", "directory"]


@pytest.mark.parametrize("kind", DB_KINDS)
def test_bad_db_doctor(home: Path, kind: str) -> None:
    path, needle = _bad_db(home, kind)
    # a true subprocess per DB problem: the interpreter's own start and exit path
    proc = subprocess_cli(home, "doctor", "--venues", "okx", "--timeout", "2", "--db", str(path))
    # The DB problem comes first; the (closed-port) venue problem is counted after it.
    line = assert_one_line_error(proc, str(path), needle)
    assert "more problem" in line


@pytest.mark.parametrize("kind", DB_KINDS)
def test_bad_db_export(home: Path, kind: str, run_cli: RunCli) -> None:
    """The normal path: a command opening the DB through the store gets a StoreError."""
    path, needle = _bad_db(home, kind)
    args = ["export", "--db", str(path), "--table", "funding", "--format", "csv"]
    usage = run_cli(home, "export", "--help").stdout
    out_flag = next((f for f in ("--output", "--out", "-o") if f" {f} " in usage), None)
    if out_flag:
        args += [out_flag, str(home / "out.csv")]
    proc = run_cli(home, *args)
    assert_one_line_error(proc, needle)


def test_db_in_read_only_directory(shared_home: Path) -> None:
    prefix = unprivileged()
    ro = shared_home / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    proc = subprocess_cli(
        shared_home, "doctor", "--venues", "okx", "--timeout", "2", "--db", str(ro / "p.db"),
        prefix=prefix,
    )  # fmt: skip
    assert_one_line_error(proc, str(ro / "p.db"), "read-only")
    assert not (ro / "p.db").exists()


@pytest.mark.parametrize("kind", ["missing-dir", "not-sqlite", "corrupt", "directory"])
def test_bad_db_monitor_fails_before_the_screen_opens(
    home: Path, kind: str, run_cli: RunCli
) -> None:
    path, needle = _bad_db(home, kind)
    # --demo --headless: should the check ever pass, it talks to loopback only and
    # the short timeout turns a hang into a failure.
    proc = run_cli(home, "--demo", "--headless", "--db", str(path), timeout=30)
    assert_one_line_error(proc, needle)
    if kind == "missing-dir":
        # A user's typo in --db is reported, never "fixed" by creating directories.
        assert not path.parent.exists()


@pytest.mark.parametrize("command", ["backfill", "collect"])
def test_db_in_missing_directory_for_jobs(home: Path, command: str, run_cli: RunCli) -> None:
    path, needle = _bad_db(home, "missing-dir")
    proc = run_cli(home, command, "--demo", "--db", str(path), timeout=30)
    assert_one_line_error(proc, needle)
    assert not path.parent.exists()


# --------------------------------------------------------------------------- network


def test_unreachable_venue(home: Path, run_cli: RunCli) -> None:
    proc = run_cli(home, "doctor", "--venues", "binance", "--timeout", "2")
    assert_one_line_error(proc, "binance", "unreachable (network down or blocked)", "--demo")
    assert "binance" in proc.stdout and "unreachable" in proc.stdout


def test_log_file_that_cannot_be_opened(home: Path, run_cli: RunCli) -> None:
    proc = run_cli(home, "doctor", "--log-file", str(home))
    assert_one_line_error(proc, "log file", "cannot open")

"""Helpers for the CLI/doctor/bad-input tests: broken DB files, a closed loopback port,
another process holding a database lock."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def closed_loopback_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound then released: connects are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_not_sqlite(path: Path) -> Path:
    path.write_text("timestamp,rate\n1700000000000,0.0001\n" * 20, encoding="utf-8")
    return path


def make_corrupt_sqlite(path: Path) -> Path:
    """A file with a valid SQLite header whose table and index pages are garbage."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    conn.executemany("INSERT INTO t (b) VALUES (?)", [("x" * 100,)] * 2000)
    conn.execute("CREATE INDEX t_b ON t (b)")
    conn.commit()
    conn.close()
    with path.open("r+b") as fh:
        fh.seek(4096 * 3)
        fh.write(b"\xab" * 4096 * 4)
    return path


def isolate_config_env(monkeypatch, home: Path) -> Path:
    """No user config, no real credentials: platformdirs and env point into `home`."""
    import os

    for var in list(os.environ):
        if var.startswith("PERPTUI_") or var.endswith(("_API_KEY", "_API_SECRET", "_API_PASSWORD")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))
    monkeypatch.setenv("HOME", str(home / "home"))
    return home


_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute(sys.argv[2])
print("held", flush=True)
sys.stdin.read()  # until the test closes our stdin
conn.execute("ROLLBACK")
"""


def hold_lock(path: Path, begin: str) -> Callable[[], None]:
    """Another process opens `path` and stays inside `begin` (e.g. BEGIN EXCLUSIVE).

    A separate process, not a connection in the test's own: POSIX drops every fcntl lock
    a process holds on a file as soon as that process closes *any* descriptor of the file
    (reading its bytes for a checksum does), and SQLite shares locks between connections
    of one process -- neither is how another writer looks to perptui.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), begin],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    if proc.stdout.readline().strip() != "held":
        proc.kill()
        raise AssertionError(f"lock holder failed ({proc.wait()})")

    def release() -> None:
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0, "lock holder failed"

    return release

"""Crash trials: ``collect`` and ``backfill`` SIGKILLed at random points during heavy writes.

A standalone ``perptui emulator`` serves the venues; each trial starts the real CLI
against it on one database, waits until the writer has acknowledged something
(``--ack-log``: keys of committed records, fsynced per batch), lets it run a random
while longer and SIGKILLs it.  After every kill:

* ``PRAGMA integrity_check`` is ok;
* every record the journal acknowledged is in the database;
* no unique key occurs twice in any table.

Trials run back to back on the same file, so later ones start from a hot WAL left
by the kill.  Then backfill runs to the end and a re-run over the covered window
makes no history request (counted by the emulator).  SIGTERM at a random moment
(start-up included) must end the collector with exit 0 within a bound.

Short profile (CI): 10 kills per job (20 in all), 10 SIGTERMs.  Longer:
``PERPTUI_CRASH_TRIALS=100`` (per job).  Seed: ``PERPTUI_CRASH_SEED``.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from perptui.jobs.ack import read_acks

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

REPO = Path(__file__).resolve().parents[2]
TRIALS = int(os.environ.get("PERPTUI_CRASH_TRIALS", "10"))
SEED = int(os.environ.get("PERPTUI_CRASH_SEED", "20261201"))
SIGTERM_BOUND_S = 30.0  # generous: two cores shared by many test processes
HISTORY_PATHS = re.compile(r"kline|candles|funding.?rate.?hist|fundingRate|funding/history")
KEYS = {
    "funding_rates": ("exchange", "symbol", "kind", "timestamp"),
    "order_book_snapshots": ("exchange", "symbol", "timestamp"),
    "ohlcv": ("exchange", "symbol", "timeframe", "timestamp"),
    "signals": ("kind", "exchange", "symbol", "timestamp"),
}


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPTUI_")}
    env.update(
        XDG_CONFIG_HOME=str(home / "cfg"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    home = tmp_path_factory.mktemp("emu")
    proc = subprocess.Popen(
        [sys.executable, "-m", "perptui", "--venues", "binance,bybit,okx", "emulator", "--port", "0"],
        env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        yield int(m.group(1))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def history_requests(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/health", timeout=10) as r:
        served = json.load(r)["requests"]
    return sum(n for path, n in served.items() if HISTORY_PATHS.search(path))


def stored_keys(db: Path) -> dict[str, set[tuple]]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        out = {}
        for table, cols in KEYS.items():
            rows = conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
            keys = set(rows)
            assert len(keys) == len(rows), f"duplicate keys in {table}"
            out[table] = keys
        return out
    finally:
        conn.close()


TABLE_OF = {"funding": "funding_rates", "snapshots": "order_book_snapshots", "ohlcv": "ohlcv"}


def ack_key(k: dict) -> tuple[str, tuple]:
    t = k["t"]
    if t == "funding":
        return "funding_rates", (k["x"], k["s"], k["kind"], k["ts"])
    if t == "snapshots":
        return "order_book_snapshots", (k["x"], k["s"], k["ts"])
    if t == "ohlcv":
        return "ohlcv", (k["x"], k["s"], k["tf"], k["ts"])
    if t == "signals":
        return "signals", (k["kind"], k["x"], k["s"], k["ts"])
    raise AssertionError(k)


def assert_acked_present(db: Path, journal: Path) -> int:
    keys = stored_keys(db)
    acks = read_acks(journal)
    missing = [a for a in acks if ack_key(a)[1] not in keys[ack_key(a)[0]]]
    assert not missing, f"{len(missing)} acknowledged records missing, e.g. {missing[:3]}"
    return len(acks)


def spawn(args: list[str], home: Path, log: Path) -> subprocess.Popen:
    fh = log.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "perptui", *args],
            env=_env(home), stdout=fh, stderr=fh, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        fh.close()


def wait_for_acks(journal: Path, at_least: int, proc: subprocess.Popen, log: Path, timeout=90):
    deadline = time.monotonic() + timeout
    while len(read_acks(journal)) < at_least:
        if proc.poll() is not None:
            return False  # finished before the kill (a short backfill): fine
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"nothing acknowledged in {timeout}s: {log.read_text()[-2000:]}")
        time.sleep(0.02)
    return True


def kill_trials(cmd: list[str], db: Path, journal: Path, home: Path, rng: random.Random) -> list:
    log = home / f"{cmd[0]}.log"
    results = []
    for trial in range(TRIALS):
        before = len(read_acks(journal))
        proc = spawn([*cmd[1:], "--db", str(db), "--ack-log", str(journal)], home, log)
        try:
            running = wait_for_acks(journal, before + 1, proc, log)
            if running:
                time.sleep(rng.uniform(0.0, 1.5))  # somewhere in the heavy writes
                proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        acked = assert_acked_present(db, journal)
        results.append((trial, proc.returncode, acked))
    return results


@pytest.mark.timeout(900)
def test_collect_sigkill_trials(emulator: int, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    db, journal = tmp_path / "collect.db", tmp_path / "collect.ack"
    cmd = [
        "collect", "--venues", "binance,bybit,okx", "--symbols", "BTC,ETH,SOL",
        "collect", "--emulator-port", str(emulator), "--snapshot-every", "0.1",
        "--catchup-hours", "72", "--log-file", str(tmp_path / "c.log"),
    ]  # fmt: skip
    results = kill_trials(cmd, db, journal, tmp_path, rng)
    killed = [r for r in results if r[1] == -signal.SIGKILL]
    assert len(killed) == TRIALS, results
    print(f"collect: {TRIALS} kills, {results[-1][2]} records acknowledged, all present")


@pytest.mark.timeout(900)
def test_backfill_sigkill_trials_then_resume_makes_no_request(
    emulator: int, tmp_path: Path
) -> None:
    rng = random.Random(SEED + 1)
    db, journal = tmp_path / "backfill.db", tmp_path / "backfill.ack"
    base = [
        "--venues", "binance,bybit,okx", "--symbols", "BTC,ETH,SOL",
        "backfill", "--emulator-port", str(emulator), "--days", "120", "--no-progress",
        "--log-file", str(tmp_path / "b.log"),
    ]  # fmt: skip
    results = kill_trials(["backfill", *base], db, journal, tmp_path, rng)
    killed = sum(1 for r in results if r[1] == -signal.SIGKILL)
    assert killed >= TRIALS // 2, results  # the rest finished before their kill point
    # finish, then the same window again: nothing left to ask for
    done = subprocess.run(
        [sys.executable, "-m", "perptui", *base, "--db", str(db)],
        env=_env(tmp_path), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    before = history_requests(emulator)
    again = subprocess.run(
        [sys.executable, "-m", "perptui", *base, "--db", str(db)],
        env=_env(tmp_path), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert history_requests(emulator) - before == 0
    acked = assert_acked_present(db, journal)
    print(f"backfill: {killed} kills of {TRIALS}, {acked} acknowledged, resume made 0 requests")


@pytest.mark.timeout(900)
def test_collect_sigterm_at_any_moment_exits_0(emulator: int, tmp_path: Path) -> None:
    rng = random.Random(SEED + 2)
    db = tmp_path / "term.db"
    cmd = [
        "--venues", "binance,bybit,okx", "--symbols", "BTC,ETH", "collect",
        "--emulator-port", str(emulator), "--snapshot-every", "0.2", "--db", str(db),
        "--log-file", str(tmp_path / "t.log"),
    ]  # fmt: skip
    outcomes = []
    for trial in range(TRIALS):
        log = tmp_path / f"term-{trial}.log"
        proc = spawn(cmd, tmp_path, log)
        # from 0.25 s: before that the interpreter itself is starting (default disposition)
        delay = rng.uniform(0.25, 8.0)  # start-up, market load, streaming, catch-up
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        try:
            code = proc.wait(timeout=SIGTERM_BOUND_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(
                f"trial {trial}: no exit {SIGTERM_BOUND_S:.0f}s after SIGTERM at {delay:.2f}s: "
                f"{log.read_text()[-2000:]}"
            )
        outcomes.append((round(delay, 2), code, round(time.monotonic() - t0, 2)))
        assert code == 0, (trial, delay, log.read_text()[-2000:])
        assert "Traceback" not in log.read_text()
        if db.exists():
            stored_keys(db)  # integrity ok, no duplicates
    print(f"SIGTERM trials (delay s, exit, seconds to exit): {outcomes}")

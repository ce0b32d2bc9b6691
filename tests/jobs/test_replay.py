"""Replay of a database written by `perptui collect` (on the emulator): reads, keys, clock."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from emulator_helpers import wait_for

from perptui.core.timespec import parse_moment
from perptui.core.units import utc_text
from perptui.errors import ConfigError, StoreError
from perptui.jobs.replay import ReplaySource
from perptui.store.replay_read import ReplayReader
from perptui.ui.replay import ReplayApp

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """A real collect run: 3 emulated venues x 2 symbols, one snapshot a second."""
    db = tmp_path_factory.mktemp("replay") / "collected.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "perptui", "--db", str(db), "--symbols", "BTC,ETH"]
    cmd += ["collect", "--demo", "--duration", "15"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        # A collector that does not stop is a bug of its own (tests/jobs cover stop
        # and SIGTERM); what it committed before is what this module replays.
        proc.kill()
        proc.wait()
    with sqlite3.connect(db) as conn:
        (span,) = conn.execute(
            "SELECT MAX(timestamp) - MIN(timestamp) FROM order_book_snapshots"
        ).fetchone()
    assert span >= 8_000, "the recording is too short to exercise playback"
    return db


class FakeMonotonic:
    """Wall time the test moves by hand, so playback positions are exact."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def sql_snapshot_at(db: Path, ex: str, sym: str, t: int) -> tuple[int, str] | None:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT timestamp, raw_data FROM order_book_snapshots WHERE exchange=? AND symbol=? "
            "AND timestamp <= ? ORDER BY timestamp DESC LIMIT 1",
            (ex, sym, t),
        ).fetchone()


def test_reader_point_reads_use_indexes_and_match_the_rows(recorded: Path) -> None:
    reader = ReplayReader(recorded)
    try:
        markets = reader.markets()
        with sqlite3.connect(recorded) as conn:
            expected = conn.execute(
                "SELECT DISTINCT exchange, symbol FROM order_book_snapshots ORDER BY 1, 2"
            ).fetchall()
            first, last = conn.execute(
                "SELECT MIN(timestamp), MAX(timestamp) FROM order_book_snapshots"
            ).fetchone()
            plan = " ".join(
                str(r[-1])
                for r in conn.execute(
                    "EXPLAIN QUERY PLAN SELECT timestamp, raw_data FROM order_book_snapshots "
                    "WHERE exchange = ? AND symbol = ? AND timestamp <= ? "
                    "ORDER BY timestamp DESC LIMIT 1",
                    ("okx", "BTC/USDT:USDT", last),
                )
            )
        assert markets == [tuple(r) for r in expected] and len(markets) == 6
        assert reader.bounds(markets) == (first, last)
        assert "USING INDEX" in plan and "SCAN" not in plan.replace("SCAN CONSTANT", "")
        for m in markets:
            mid_t = sum(reader.bounds([m])) // 2  # inside this market's own recording
            row = reader.snapshot_at(m, mid_t)
            ts, raw = sql_snapshot_at(recorded, *m, mid_t)
            assert row is not None and row.timestamp == ts
            assert row.bids[0][0] < row.asks[0][0] and f"{row.bids[0][0]}" in raw
    finally:
        reader.close()


async def test_replay_plays_pauses_steps_seeks_and_ends(recorded: Path) -> None:
    mono = FakeMonotonic()
    source = ReplaySource(str(recorded), play=False, monotonic=mono)
    app = ReplayApp(source, hz=10, load_funding_history=False)
    first, last = source.first_ms, source.last_ms
    async with app.run_test(size=(120, 40)) as pilot:
        health = app.query_one("#health")
        await wait_for(lambda: source.loads >= 1, timeout=10)
        await pilot.pause()
        assert source.clock() == first
        assert f"replay {utc_text(first, seconds=True)}, 1x, paused" in health.hint

        # Play: three seconds of wall time are three seconds of recording.
        await pilot.press("space")
        mono.t += 3.0
        pos = first + 3000
        await wait_for(lambda: source._fed_to == pos, timeout=10)
        await pilot.pause()
        for ex, sym in source.markets:
            shown = source.hub.latest_book(ex, sym)
            ts, _ = sql_snapshot_at(recorded, ex, sym, pos) or (None, None)
            assert (shown.timestamp if shown else None) == ts
        assert "playing" in health.hint

        # Pause: the recording clock stands still while wall time goes on.
        await pilot.press("space")
        mono.t += 5.0
        assert source.clock() == pos and not source.playing

        # Speed: 2x doubles the recording time per wall second.
        await pilot.press("right_parenthesis")
        assert source.speed == 2.0
        await pilot.press("space")
        mono.t += 1.0
        assert source.clock() == pos + 2000
        await pilot.press("space")
        pos = source.clock()

        # Seek prompt: a relative time, then a time of day.
        await pilot.press("g")
        await pilot.press(*"-2s", "enter")
        await pilot.pause()
        assert source.clock() == pos - 2000
        await wait_for(lambda: source._fed_to == pos - 2000, timeout=10)
        target = parse_moment(utc_text(first, seconds=True)[11:19], first)  # HH:MM:SS of the start
        await pilot.press("g")
        await pilot.press(*utc_text(first, seconds=True)[11:19], "enter")
        await pilot.pause()
        assert source.clock() == max(first, target)

        # Step: the next logged snapshot of any market.
        here = source.clock()
        with sqlite3.connect(recorded) as conn:
            (nxt,) = conn.execute(
                "SELECT MIN(timestamp) FROM order_book_snapshots WHERE timestamp > ?", (here,)
            ).fetchone()
        await pilot.press("full_stop")
        assert source.clock() == nxt

        # Seek past the end clamps; playing on reaches the end and says so.
        await pilot.press("right_curly_bracket")
        assert source.clock() == last
        await pilot.press("less_than_sign")
        assert source.clock() == max(first, last - 60_000)
        source.seek(last - 500)
        await pilot.press("space")
        mono.t += 1.0
        await wait_for(lambda: source.ended, timeout=5)
        await pilot.pause(0.2)
        assert "end of recording" in health.hint and source.clock() == last
        # Space at the end plays again from the start.
        await pilot.press("space")
        assert source.playing and source.clock() == first


def test_replay_refuses_bad_selection_and_empty_db(recorded: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="select nothing"):
        ReplaySource(str(recorded), start="2000-01-01", end="2000-01-02")
    with pytest.raises(ConfigError, match="--from/--to"):
        ReplaySource(str(recorded), start="yesterday-ish")
    src = ReplaySource(str(recorded), start="-3s")  # relative to the end of the recording
    assert src.first_ms == src.last_ms - 3000
    empty = tmp_path / "empty.db"
    from perptui.store.db import connect_sync

    connect_sync(empty).close()  # a perptui DB with no rows
    with pytest.raises(StoreError, match="no order-book snapshots"):
        ReplaySource(str(empty))


def test_replay_cli_bad_input_is_one_line_and_leaves_the_file_alone(
    recorded: Path, tmp_path: Path
) -> None:
    before = recorded.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for args in (
        ["--db", str(recorded), "replay", "--speed", "0"],
        ["--db", str(recorded), "replay", "--speed", "nan"],
        ["--db", str(recorded), "replay", "--from", "not a time"],
        ["--db", str(tmp_path / "missing.db"), "replay"],
    ):
        r = subprocess.run(
            [sys.executable, "-m", "perptui", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert recorded.read_bytes() == before
    assert not (tmp_path / "missing.db").exists()


async def test_replay_reads_the_same_recording_from_postgresql(recorded: Path, pg_url: str) -> None:
    # The recording copied by `perptui migrate`, then replayed from the server.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "perptui", "migrate", "--from", str(recorded), "--to", pg_url]
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
    lite, pg = ReplaySource(str(recorded), play=False), ReplaySource(pg_url, play=False)
    try:
        assert pg.markets == lite.markets and (pg.first_ms, pg.last_ms) == (
            lite.first_ms,
            lite.last_ms,
        )
        target = (lite.first_ms + lite.last_ms) // 2
        hub_lite, _ = lite._rebuild(target)
        hub_pg, _ = pg._rebuild(target)
        for m in lite.markets:
            a, b = hub_lite.latest_book(*m), hub_pg.latest_book(*m)
            assert (a.timestamp, a.bids, a.asks) == (b.timestamp, b.bids, b.asks)
        assert pg.step(True) == lite.step(True)
    finally:
        await lite.stop()
        await pg.stop()

"""Soak: the monitor and `collect` side by side on the emulator, watched for leaks.

    python -m bench.soak                    # CI profile: 5 min
    python -m bench.soak --minutes 65       # the long run (>= 1 h)
    python -m bench.soak --minutes 5 --out soak.json

Three processes, as a user would run them:

* ``perptui emulator`` (3 venues) on a loopback port;
* ``perptui collect --emulator-port PORT`` over 3 venues x 10 symbols, into its DB;
* the monitor: the Textual app (``MonitorApp`` on an ``EngineBackend``) run headless
  through Textual's ``run_test``, over the same venues and symbols, logging to its own DB.

The collector and the monitor each sample themselves every few seconds (RSS, open file
descriptors, open sockets, asyncio tasks) into a JSON-lines file: the monitor from a task
in its app loop, the collector from a task this harness adds to the loop `collect`
runs on (``bench.soak child-collect`` wraps ``perptui.cli.main``; nothing in perptui is
changed for it).  At the end the collector gets SIGTERM and must exit 0 in bounded time.

Verdict: after the warm-up (the first 20 % of the run, at least 60 s), RSS may grow by at
most 5 % (median of the last fifth against the median of the first fifth after warm-up),
tasks, fds and sockets must not trend up (the last fifth's median no higher than the
first fifth's max + a small slack), and each DB must hold the rows the snapshot cadence promises
(keys x seconds / cadence, >= 90 %).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

VENUES = ("binance", "bybit", "okx")
SYMBOLS = tuple(
    f"{b}/USDT:USDT"
    for b in ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "ADA", "AVAX", "LINK", "LTC")
)
SAMPLE_EVERY_S = 5.0
RSS_GROWTH_GOAL = 0.05
ROWS_GOAL = 0.90
SLACK = {"tasks": 5, "fds": 4, "sockets": 3}
STOP_TIMEOUT_S = 30.0


# --------------------------------------------------------------------------- sampling


def process_sample() -> dict[str, Any]:
    """RSS (kB), open fds and open sockets of this process, from /proc."""
    rss = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
                break
    fds = sockets = 0
    for name in os.listdir("/proc/self/fd"):
        fds += 1
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                sockets += 1
    return {"rss_kb": rss, "fds": fds, "sockets": sockets}


async def sample_loop(out: Path, every_s: float = SAMPLE_EVERY_S) -> None:
    t0 = time.monotonic()
    with out.open("a") as fh:
        while True:
            s = process_sample()
            s["t"] = round(time.monotonic() - t0, 1)
            s["tasks"] = len(asyncio.all_tasks())
            fh.write(json.dumps(s) + "\n")
            fh.flush()
            await asyncio.sleep(every_s)


def child_collect(samples: Path, argv: list[str]) -> int:
    """Run `perptui collect` (argv) with a sampling task on its event loop."""
    from perptui import cli

    real_run = asyncio.run

    def run_with_sampler(main: Any, **kwargs: Any) -> Any:
        async def wrapped() -> Any:
            sampler = asyncio.get_running_loop().create_task(sample_loop(samples))
            try:
                return await main
            finally:
                sampler.cancel()

        return real_run(wrapped(), **kwargs)

    asyncio.run = run_with_sampler  # type: ignore[assignment]  # this child process only
    try:
        return cli.main(argv)
    finally:
        asyncio.run = real_run  # type: ignore[assignment]


async def _monitor(port: int, db: Path, samples: Path, seconds: float) -> int:
    from perptui.config import Config
    from perptui.emulator import Emulator
    from perptui.ui.app import MonitorApp
    from perptui.ui.backend import EngineBackend

    config = Config(venues=VENUES, symbols=SYMBOLS, db_path=db)
    emu = Emulator(seed=0, venues=VENUES)
    emu.port = port  # client side only: the standalone emulator serves
    backend = EngineBackend(config, emulator=emu)
    app = MonitorApp(backend, hz=5)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with app.run_test(size=(180, 50)) as pilot:
        sampler = loop.create_task(sample_loop(samples))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        sampler.cancel()
        await pilot.press("q")
    return 0


def child_monitor(port: int, db: Path, samples: Path, seconds: float) -> int:
    return asyncio.run(_monitor(port, db, samples, seconds))


# --------------------------------------------------------------------------- the run


@dataclass
class Series:
    name: str
    samples: int
    rss_warm_kb: float
    rss_end_kb: float
    rss_growth: float
    tasks: tuple[int, int]  # (first fifth's max, last fifth's median)
    fds: tuple[int, int]
    sockets: tuple[int, int]
    problems: list[str] = field(default_factory=list)


@dataclass
class SoakReport:
    minutes: float
    started_utc: str
    venues: tuple[str, ...]
    symbols: int
    snapshot_every_s: float
    collect_exit: int | None
    collect_stop_s: float | None
    collect_rows: int
    collect_rows_expected: int
    monitor_exit: int | None
    monitor_rows: int
    monitor_rows_expected: int
    series: list[Series]
    machine: dict[str, Any]
    problems: list[str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def analyse(name: str, path: Path, seconds: float) -> Series:
    rows = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    warm_until = max(60.0, 0.2 * seconds)
    after = [r for r in rows if r["t"] >= warm_until]
    problems: list[str] = []
    if len(after) < 5:
        return Series(name, len(rows), 0, 0, 0, (0, 0), (0, 0), (0, 0), ["too few samples"])
    fifth = max(1, len(after) // 5)
    first, last = after[:fifth], after[-fifth:]
    rss0 = statistics.median(r["rss_kb"] for r in first)
    rss1 = statistics.median(r["rss_kb"] for r in last)
    growth = (rss1 - rss0) / rss0 if rss0 else 0.0
    if growth > RSS_GROWTH_GOAL:
        problems.append(f"{name}: RSS grew {growth:.1%} after warm-up")

    def flat(key: str) -> tuple[int, int]:
        # Tasks come and go with every poll; a leak shows as the last fifth's *typical*
        # count above anything seen early on.
        warm = max(r[key] for r in first)
        end = round(statistics.median(r[key] for r in last))
        if end > warm + max(SLACK[key], 0.1 * warm):
            problems.append(f"{name}: {key} {warm} -> {end}")
        return warm, end

    return Series(
        name,
        len(rows),
        rss0,
        rss1,
        round(growth, 4),
        flat("tasks"),
        flat("fds"),
        flat("sockets"),
        problems,
    )


def count_rows(db: Path, cadence_s: float = 1.0) -> tuple[int, int]:
    """(snapshot rows, rows the cadence promises from each key's first row to the end).

    Counting from the first row leaves out start-up (interpreter, markets, first
    subscription), which is not what the cadence promises anything about.
    """
    con = sqlite3.connect(db)
    try:
        rows = int(con.execute("SELECT COUNT(*) FROM order_book_snapshots").fetchone()[0])
        end = con.execute("SELECT MAX(timestamp) FROM order_book_snapshots").fetchone()[0]
        firsts = con.execute(
            "SELECT MIN(timestamp) FROM order_book_snapshots GROUP BY exchange, symbol"
        ).fetchall()
    finally:
        con.close()
    expected = sum(int((end - f) / 1000 / cadence_s) + 1 for (f,) in firsts) if end else 0
    return rows, expected


def run_soak(minutes: float, workdir: Path, progress: Any = print) -> SoakReport:
    from bench.faults import machine_info

    seconds = minutes * 60
    started_utc = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    machine = machine_info()
    port = free_port()
    py = sys.executable
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    logs = {n: (workdir / f"{n}.log").open("w") for n in ("emulator", "collect", "monitor")}
    emu = subprocess.Popen(
        [py, "-m", "perptui", "--venues", ",".join(VENUES), "emulator", "--port", str(port)],
        stdout=logs["emulator"],
        stderr=subprocess.STDOUT,
        env=env,
    )
    collect_db, monitor_db = workdir / "collect.db", workdir / "monitor.db"
    collect_samples, monitor_samples = workdir / "collect.jsonl", workdir / "monitor.jsonl"
    collect = monitor = None
    problems: list[str] = []
    collect_exit = monitor_exit = None
    stop_s = None
    try:
        _wait_port(port, 30)
        common = ["--venues", ",".join(VENUES), "--symbols", ",".join(SYMBOLS)]
        collect = subprocess.Popen(
            [
                py,
                "-m",
                "bench.soak",
                "child-collect",
                str(collect_samples),
                "--db",
                str(collect_db),
                *common,
                "collect",
                "--emulator-port",
                str(port),
                "--no-signals",
            ],
            stdout=logs["collect"],
            stderr=subprocess.STDOUT,
            env=env,
        )
        monitor = subprocess.Popen(
            [
                py,
                "-m",
                "bench.soak",
                "child-monitor",
                str(port),
                str(monitor_db),
                str(monitor_samples),
                str(seconds + 30),
            ],
            stdout=logs["monitor"],
            stderr=subprocess.STDOUT,
            env=env,
        )
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            time.sleep(min(30.0, seconds - (time.monotonic() - started)))
            for name, proc in (("collect", collect), ("monitor", monitor)):
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited early with {proc.returncode}")
            progress(f"soak: {(time.monotonic() - started) / 60:.1f} of {minutes:g} min")
        elapsed = time.monotonic() - started
        t = time.monotonic()
        collect.send_signal(signal.SIGTERM)
        monitor.send_signal(signal.SIGTERM)
        try:
            collect_exit = collect.wait(STOP_TIMEOUT_S)
            stop_s = round(time.monotonic() - t, 2)
        except subprocess.TimeoutExpired:
            problems.append(f"collect did not exit within {STOP_TIMEOUT_S:g} s of SIGTERM")
        try:
            monitor_exit = monitor.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            problems.append(f"monitor did not exit within {STOP_TIMEOUT_S:g} s of SIGTERM")
    finally:
        for proc in (collect, monitor, emu):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        for fh in logs.values():
            fh.close()
    if collect_exit != 0:
        problems.append(f"collect exit status {collect_exit}")
    if monitor_exit != 0:
        problems.append(f"monitor exit status {monitor_exit}")
    series = [
        analyse("collect", collect_samples, elapsed),
        analyse("monitor", monitor_samples, elapsed),
    ]
    for s in series:
        problems.extend(s.problems)
    keys = len(VENUES) * len(SYMBOLS)
    (c_rows, c_expected), (m_rows, m_expected) = count_rows(collect_db), count_rows(monitor_db)
    for name, rows, expected in (("collect", c_rows, c_expected), ("monitor", m_rows, m_expected)):
        if expected < keys or rows < ROWS_GOAL * expected:
            problems.append(f"{name}: {rows} snapshot rows, cadence promises {expected}")
    return SoakReport(
        minutes=round(elapsed / 60, 2),
        started_utc=started_utc,
        venues=VENUES,
        symbols=len(SYMBOLS),
        snapshot_every_s=1.0,
        collect_exit=collect_exit,
        collect_stop_s=stop_s,
        collect_rows=c_rows,
        collect_rows_expected=c_expected,
        monitor_exit=monitor_exit,
        monitor_rows=m_rows,
        monitor_rows_expected=m_expected,
        series=series,
        machine={**machine, "loadavg_end": os.getloadavg()},
        problems=problems,
    )


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"emulator not listening on {port}")
        time.sleep(0.2)


def format_report(r: SoakReport) -> list[str]:
    from bench.faults import _load

    m = r.machine
    lines = [
        f"soak {r.minutes:g} min started {r.started_utc}: {len(r.venues)} venues x "
        f"{r.symbols} symbols, snapshot every {r.snapshot_every_s:g} s",
        f"machine: {m.get('cpus')} cpus {m.get('cpu', '?')}, load "
        f"{_load(m.get('loadavg_start'))} -> {_load(m.get('loadavg_end'))} (shared box)",
        f"collect: exit {r.collect_exit} {r.collect_stop_s} s after SIGTERM; snapshot rows "
        f"{r.collect_rows} / {r.collect_rows_expected} expected "
        f"({r.collect_rows / max(1, r.collect_rows_expected):.1%})",
        f"monitor: exit {r.monitor_exit}; snapshot rows {r.monitor_rows} / "
        f"{r.monitor_rows_expected} ({r.monitor_rows / max(1, r.monitor_rows_expected):.1%})",
    ]
    for s in r.series:
        lines.append(
            f"{s.name}: {s.samples} samples; RSS {s.rss_warm_kb / 1024:.1f} -> "
            f"{s.rss_end_kb / 1024:.1f} MB ({s.rss_growth:+.1%}); tasks {s.tasks[0]} -> "
            f"{s.tasks[1]}; fds {s.fds[0]} -> {s.fds[1]}; sockets {s.sockets[0]} -> "
            f"{s.sockets[1]} (early max -> late median)"
        )
    lines.append("goals met" if not r.problems else "goals NOT met: " + "; ".join(r.problems))
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["child-collect"]:
        return child_collect(Path(argv[1]), argv[2:])
    if argv[:1] == ["child-monitor"]:
        return child_monitor(int(argv[1]), Path(argv[2]), Path(argv[3]), float(argv[4]))
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--out", type=Path, help="also write the report as JSON here")
    ap.add_argument("--workdir", type=Path, help="keep DBs, samples and logs here")
    args = ap.parse_args(argv)
    with contextlib.ExitStack() as stack:
        workdir = args.workdir
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="perptui-soak-")))
        workdir.mkdir(parents=True, exist_ok=True)
        stamp = lambda m: print(time.strftime("%H:%M:%S ") + m, flush=True)  # noqa: E731
        report = run_soak(args.minutes, workdir, stamp)
    print("\n".join(format_report(report)), flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps(asdict(report), indent=1, default=str) + "\n")
    return 0 if not report.problems else 1


if __name__ == "__main__":
    sys.exit(main())

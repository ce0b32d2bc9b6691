"""PostgreSQL store: writer throughput vs SQLite, 4 collectors vs 1, a full `collect --all`.

Needs a server: PERPTUI_BENCH_PG_URL (or PERPTUI_TEST_PG_URL; `bash .ci/postgres`
prints one) for a role that may create databases.  Each measurement gets a fresh
database, dropped afterwards.  Without a server the module prints one line
saying so.

1. rows/s through the real Writer (batch_rows=1000, put() until close() returns)
   into SQLite and into PostgreSQL: the same records, in this run.
2. 1 writer process vs 4 concurrent writer processes (each a collector's share,
   disjoint symbols) into one PostgreSQL database: aggregate rows/s, client CPU
   (the writer processes) and server CPU (PostgreSQL backends, read from the
   postmaster's reaped-children times).
3. `perptui collect --all` with books for every emulated perpetual of binance,
   bybit and okx, into PostgreSQL, the emulator in its own process: collector
   CPU as a share of one core, writer drops, and writer lag (snapshot time to
   the row's created_at in the database: batching + commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from urllib.request import urlopen

from perptui.core.model import BookSnapshot, Candle
from perptui.store.writer import Writer

REPO = Path(__file__).resolve().parent.parent
POSTMASTER_PID_FILES = ("/var/run/postgresql/15-main.pid",)


def server_url() -> str | None:
    return os.environ.get("PERPTUI_BENCH_PG_URL") or os.environ.get("PERPTUI_TEST_PG_URL")


def _with_db(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, f"/{name}", p.query, p.fragment))


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _fetch(url: str, sql: str) -> list:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


class FreshDb:
    def __init__(self, server: str) -> None:
        self.server = server
        self.name = f"perptui_bench_{uuid.uuid4().hex[:10]}"
        self.url = _with_db(server, self.name)

    def __enter__(self) -> str:
        asyncio.run(_admin(self.server, f"CREATE DATABASE {self.name}"))
        return self.url

    def __exit__(self, *exc: object) -> None:
        asyncio.run(_admin(self.server, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"))


def candles(n: int, symbol: str = "BTC/USDT:USDT") -> list[Candle]:
    return [
        Candle("binance", symbol, "1m", i * 60_000, 100.0, 101.0, 99.0, 100.5, 12.5)
        for i in range(n)
    ]


def books(n: int, levels: int = 50) -> list[BookSnapshot]:
    bids = tuple((65_000.0 - 0.1 * (k + 1), 0.5 + k % 7) for k in range(levels))
    asks = tuple((65_000.0 + 0.1 * (k + 1), 0.4 + k % 5) for k in range(levels))
    # One day of 1 s snapshots per 86 400 rows: a realistic number of partitions.
    return [
        BookSnapshot("binance", "BTC/USDT:USDT", 1_704_067_200_000 + i * 1000, bids, asks)
        for i in range(n)
    ]


def writer_rate(location: str | Path, records: list, batch_rows: int = 1000) -> tuple[float, float]:
    """(rows/s, CPU s of this process per 1k rows) from first put() to close() returning."""

    async def go() -> tuple[float, float]:
        w = Writer(location, batch_rows=batch_rows, flush_interval=0.25)
        await w.start()
        t, c = time.perf_counter(), time.process_time()
        for r in records:
            await w.put(r)
        await w.close()
        took, cpu = time.perf_counter() - t, time.process_time() - c
        assert w.rows_written == len(records), (w.rows_written, len(records))
        return len(records) / took, cpu / len(records) * 1000

    return asyncio.run(go())


def _postmaster_children_cpu() -> float | None:
    """CPU seconds of PostgreSQL backends that have exited (cutime + cstime of the postmaster)."""
    for f in POSTMASTER_PID_FILES:
        try:
            pid = int(Path(f).read_text().split()[0])
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            continue
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return None


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def fleet(url: str, processes: int, rows: int) -> dict[str, float]:
    """`processes` writer processes, each writing rows/processes candles of its own symbols."""
    share = rows // processes
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cpu0, srv0 = _children_cpu(), _postmaster_children_cpu()
    t = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.bench_pg", "_writer", url, str(k), str(share)],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(processes)
    ]
    outs = [json.loads(p.communicate()[0]) for p in procs]
    wall = time.perf_counter() - t
    assert all(p.returncode == 0 for p in procs)
    time.sleep(0.5)  # let the postmaster reap the backends
    srv1 = _postmaster_children_cpu()
    written = sum(o["rows"] for o in outs)
    return {
        "rows_per_s": written / wall,
        "client_cpu_per_1k": (_children_cpu() - cpu0) / written * 1000,
        "server_cpu_per_1k": (srv1 - srv0) / written * 1000
        if srv0 is not None and srv1 is not None
        else float("nan"),
        "wall": wall,
    }


def _writer_process(url: str, k: int, n: int) -> None:
    """A fleet member: n candles spread over 10 symbols of its own (disjoint from the others)."""
    per = n // 10
    records = [c for s in range(10) for c in candles(per, f"S{k}X{s}/USDT:USDT")]
    rate, _cpu = writer_rate(url, records)
    print(json.dumps({"rows": len(records), "rate": rate}))


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def collect_all(url: str, seconds: float, book_path: str = "fast") -> dict[str, float]:
    """`perptui collect --all` with every emulated perpetual's book, emulator in its own process.

    CPU is sampled from /proc over the steady-state part of the run (after a warm-up
    that covers start-up and the first catch-up).  The run ends with SIGTERM; a
    collector that has not exited 30 s later is killed and reported as such.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPTUI_")}
    env["PYTHONPATH"] = str(REPO)
    warmup = min(15.0, seconds / 3)
    with tempfile.TemporaryDirectory(prefix="perptui-bench-") as tmp:
        env.update(HOME=tmp, XDG_CONFIG_HOME=str(Path(tmp) / "cfg"))
        journal = Path(tmp) / "observed.jsonl"
        emu = subprocess.Popen(
            [sys.executable, "-m", "perptui", "emulator", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            first = emu.stdout.readline() if emu.stdout else ""
            port = int(first.split("127.0.0.1:")[1].split()[0])
            symbols = asyncio.run(_emulated_symbols(port))
            bases = sorted({s.split("/")[0] for s in symbols})
            sys.path.insert(0, str(REPO / "tests"))
            from journalled_collect import command  # the collector's record journal

            argv, child_env = command(
                journal,
                "--db",
                url,
                "--log-file",
                str(Path(tmp) / "c.log"),
                "--venues",
                "binance,bybit,okx",
                "--symbols",
                ",".join(bases),
                "collect",
                "--book-path",
                book_path,
                "--emulator-port",
                str(port),
                "--all",
                "--snapshot-every",
                "1",
                "--catchup-hours",
                "6",
                "--no-signals",
                env=env,
            )
            proc = subprocess.Popen(
                argv,
                env=child_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(warmup)
            h0 = _emulator_health(port)
            c0, t0 = _proc_cpu(proc.pid), time.perf_counter()
            time.sleep(seconds - warmup)
            c1, t1 = _proc_cpu(proc.pid), time.perf_counter()
            h1 = _emulator_health(port)
            proc.send_signal(signal.SIGTERM)
            try:
                _out, err = proc.communicate(timeout=30)
                clean = proc.returncode == 0
            except subprocess.TimeoutExpired:
                proc.kill()
                _out, err = proc.communicate()
                clean = False
        finally:
            emu.terminate()
            emu.wait(10)
        observed = {
            (k["x"], k["s"], k["ts"])
            for k in (json.loads(x) for x in journal.read_text().splitlines() if x.endswith("}"))
            if k["t"] == "snapshots"
        }
    status = [ln for ln in err.splitlines() if "stopped after" in ln]
    dropped = int(status[-1].split(" dropped ")[1].split()[0].replace(",", "")) if status else None

    def counted(name: str) -> int | None:
        if not status or f" {name} " not in status[-1]:
            return None
        return int(status[-1].split(f" {name} ")[1].split()[0].replace(",", ""))

    q = asyncio.run(
        _fetch(
            url,
            "SELECT count(*), count(DISTINCT (exchange, symbol)), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY created_at - timestamp), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY created_at - timestamp), "
            "max(created_at - timestamp) FROM order_book_snapshots",
        )
    )[0]
    sessions = {v: h1["sessions"][v] for v in ("binance", "bybit", "okx")}
    return {
        # what fed the collector: the emulator's CPU and its websocket frames a second
        # (it shares the 2 cores; when it saturates, the feed is its rate, not demand's)
        "emu_cpu_frac": (h1["cpu_s"] - h0["cpu_s"]) / (t1 - t0),
        "emu_frames_per_s": (h1["stats"]["ws_messages"] - h0["stats"]["ws_messages"]) / (t1 - t0),
        "sessions_opened": sum(x["opened"] for x in sessions.values()),
        "cut_for_rate": sum(x["cut_for_rate"] for x in sessions.values()),
        "symbols": len(symbols),
        "books": q[1],
        "snapshots": q[0],
        "observed": len(observed),
        "cpu_frac": (c1 - c0) / (t1 - t0),
        "dropped": dropped,
        "resyncs": counted("resyncs"),  # a message lost on the wire breaks a sequence chain
        "reconnects": counted("reconnects"),
        "clean": clean,
        "lag_p50_ms": q[2],
        "lag_p99_ms": q[3],
        "lag_max_ms": q[4],
        "wall": seconds,
        "book_path": book_path,
    }


def _emulator_health(port: int) -> dict[str, Any]:
    with urlopen(f"http://127.0.0.1:{port}/_emulator/health", timeout=10) as r:
        return json.loads(r.read())


def collect_line(c: dict[str, Any]) -> str:
    end = (
        f"writer dropped {c['dropped']}, stream gaps (lost messages, resynced) "
        f"{c.get('resyncs')}, reconnects {c.get('reconnects')}"
        if c["clean"]
        else "did NOT exit within 30 s of SIGTERM (killed; writer counters unknown)"
    )
    return (
        f"pg collect --all, book path {c['book_path']}, books for every emulated perp of "
        f"binance/bybit/okx ({c['symbols']} symbols; {c['books']} books, "
        f"{c['snapshots']:,} snapshots stored of {c['observed']:,} observed, {c['wall']:.0f} s, "
        f"{_load()}): collector CPU {c['cpu_frac'] * 100:.0f}% of one core (steady state), "
        f"{end}; writer lag p50 {c['lag_p50_ms']:.0f} ms / p99 {c['lag_p99_ms']:.0f} ms / "
        f"max {c['lag_max_ms']:.0f} ms; fed by the emulator at {c['emu_frames_per_s']:,.0f} "
        f"frames/s ({c['emu_cpu_frac'] * 100:.0f}% of a core), {c['sessions_opened']} websocket "
        f"sessions opened, {c['cut_for_rate']} cut for rate"
    )


def _load() -> str:
    with contextlib.suppress(OSError):
        return "load avg " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    return "load unknown"


async def _emulated_symbols(port: int) -> list[str]:
    from perptui.config import Config
    from perptui.stack import open_venues

    out: set[str] = set()
    config = Config(venues=("binance", "bybit", "okx"))
    async with open_venues(config, emulator_port=port) as session:
        for v in session.venues:
            out |= set(await v.load_markets())
    return sorted(out)


def run(quick: bool) -> list[str]:
    server = server_url()
    if not server:
        return [
            "pg: skipped — no PostgreSQL (set PERPTUI_BENCH_PG_URL; `bash .ci/postgres` prints one)"
        ]
    lines: list[str] = []
    n_candles, n_books = (20_000, 4_000) if quick else (100_000, 20_000)
    with tempfile.TemporaryDirectory(prefix="perptui-bench-") as tmp:
        for label, records in (
            ("1m candles", candles(n_candles)),
            ("50-level books", books(n_books)),
        ):
            sq, sq_cpu = writer_rate(Path(tmp) / f"{label[:3]}.db", records)
            with FreshDb(server) as url:
                pgr, pg_cpu = writer_rate(url, records)
            lines.append(
                f"pg writer batch 1000, {len(records):,} {label}: SQLite {sq:,.0f} rows/s, "
                f"PostgreSQL {pgr:,.0f} rows/s = {pgr / sq:.2f}x; writer-process CPU "
                f"{sq_cpu * 1000:.1f} vs {pg_cpu * 1000:.1f} ms/1k rows"
            )
    rows = 40_000 if quick else 200_000
    with FreshDb(server) as url:
        one = fleet(url, 1, rows)
    with FreshDb(server) as url:
        four = fleet(url, 4, rows)
    lines.append(
        f"pg fleet, {rows:,} candles into one database: 1 writer {one['rows_per_s']:,.0f} rows/s, "
        f"4 writers {four['rows_per_s']:,.0f} rows/s = {four['rows_per_s'] / one['rows_per_s']:.2f}x; "
        f"client CPU {one['client_cpu_per_1k'] * 1000:.0f} vs {four['client_cpu_per_1k'] * 1000:.0f} ms/1k rows, "
        f"server CPU {one['server_cpu_per_1k'] * 1000:.0f} vs {four['server_cpu_per_1k'] * 1000:.0f} ms/1k rows "
        f"(2 cores shared with other work)"
    )
    seconds = 20.0 if quick else 60.0
    for book_path in ("fast", "ccxt"):
        with FreshDb(server) as url:
            c = collect_all(url, seconds, book_path)
        lines.append(collect_line(c))
    return lines


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "_writer":
        _writer_process(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        for line in run("--quick" in sys.argv):
            print(line)

"""Fault campaign: the engine against the loopback emulator under every fault type.

    python -m bench.faults                      # CI profile, ~2.5 min
    python -m bench.faults --long               # ~62 min (two seeded cycles)
    python -m bench.faults --seed 7 --out faults.json

One process runs the emulator (3 venues), real ccxt.pro clients through perptui's
venues, the engine, the hub and the writer on a real SQLite file.  A seeded schedule
walks through the fault types one at a time, each phase followed by a quiet phase:

    periodic and random disconnects, 429 bursts with Retry-After, 418, 5xx, stalls,
    sequence gaps, withheld messages (never healed), bad okx checksums, withheld
    messages on a checksum-only okx stream, malformed frames, slow REST
    (+ the long profile ends each cycle with every fault at once).

While it runs, **every book the hub is handed is compared with the emulator's book at
that book's own sequence** (the emulator keeps a bounded ring of its true book per
sequence): a book that differs is a wrong book published.  The report, from the same
run: crashes, wrong books, gaps injected / detected / resynced, time to detect a stall
against the configured stale threshold, reconnects, the writer's queue high-water mark
and drops, and per fault phase the snapshot coverage (stored snapshots per key over the
clock ticks of the configured cadence), the longest hole, and rows per venue per minute before,
during and after the fault.

Goals per single fault: coverage >= 90 % and no hole longer than 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from perptui.core.model import BookSnapshot
from perptui.engine.engine import Engine
from perptui.engine.hub import Hub
from perptui.engine.workers import WorkerSettings

VENUES = ("binance", "bybit", "okx")
COVERAGE_GOAL = 0.90
HOLE_GOAL_S = 15.0
STALE_RATIO_GOAL = 2.0
TRUTH_DEPTH = 50  # levels per side compared with the truth (published books are cut at 5 %)
SEQUENCE_KINDS = ("gap", "withhold", "checksum")

log = logging.getLogger("bench.faults")


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    name: str
    symbols: tuple[str, ...]
    phase_s: float  # length of one fault phase
    quiet_s: float  # fault-free phase after each fault (the "after" figures)
    cycles: int
    snapshot_every_s: float = 1.0
    stale_after_s: float = 3.0
    mix: bool = False  # end each cycle with every fault at once (reported, no goal)
    every_venue: bool = False  # every fault on every venue (else each type once)


CI = Profile(
    "ci",
    ("BTC/USDT:USDT", "ETH/USDT:USDT"),
    phase_s=22.0,
    quiet_s=6.0,
    cycles=1,
    stale_after_s=1.0,
)
LONG = Profile(
    "long",
    ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"),
    phase_s=100.0,
    quiet_s=40.0,
    cycles=2,
    stale_after_s=5.0,
    mix=True,
    every_venue=True,
)


@dataclass(frozen=True)
class FaultStep:
    """One fault type as a seeded recipe: ``FaultPlan.inject`` keyword sets.

    A trial applies a step to one venue (faults are scoped to it), so the three venues
    each run a different single fault at the same time and every figure of a trial is
    that venue's alone.
    """

    name: str
    faults: tuple[dict[str, Any], ...]
    bursts: int = 1  # injections spread over the phase (429 bursts)
    okx_checksum_only: bool = False
    stall: bool = False  # measure time to detect the stall
    sequence: bool = False  # counts towards gaps injected / detected / resynced
    venues: tuple[str, ...] = VENUES  # where the fault exists (checksums: okx only)


def steps(p: Profile) -> tuple[FaultStep, ...]:
    ph = p.phase_s
    stall_ms = int((2 * p.stale_after_s + 0.5) * 1000)

    def every(share: float) -> int:
        return max(500, int(ph * share * 1000))

    return (
        FaultStep("periodic disconnects", ({"kind": "disconnect", "every": every(0.3)},)),
        FaultStep("random disconnects", ({"kind": "drop", "every": every(0.15), "prob": 0.5},)),
        FaultStep(
            "429 bursts + Retry-After", ({"kind": "429", "count": 6, "retry_after": 1},), bursts=3
        ),
        FaultStep("418 ban", ({"kind": "418", "count": 2, "retry_after": 2},)),
        FaultStep("5xx", ({"kind": "5xx", "prob": 0.3, "status": 503},)),
        FaultStep("stall", ({"kind": "stall", "count": 1, "duration": stall_ms},), stall=True),
        FaultStep("sequence gaps", ({"kind": "gap", "every": every(0.25)},), sequence=True),
        FaultStep(
            "withheld messages", ({"kind": "withhold", "every": every(0.25)},), sequence=True
        ),
        FaultStep(
            "bad checksums",
            ({"kind": "checksum", "every": every(0.25)},),
            sequence=True,
            venues=("okx",),
        ),
        FaultStep(
            "withheld, checksum-only stream",
            ({"kind": "withhold", "every": every(0.25)},),
            okx_checksum_only=True,
            sequence=True,
            venues=("okx",),
        ),
        FaultStep("malformed frames", ({"kind": "malformed", "prob": 0.005},)),
        FaultStep("slow REST", ({"kind": "latency", "ms": 2500, "jitter": 1000, "only": "rest"},)),
    )


Trial = tuple[str, FaultStep]  # (venue, step)


def schedule(p: Profile, rng: random.Random, every_venue: bool) -> list[list[Trial]]:
    """Phases of concurrent trials, one per venue at most.

    ``every_venue``: every fault on every venue where it exists (the long profile);
    otherwise every fault type once, on a venue drawn from the seeded RNG (CI).
    """
    all_steps = list(steps(p))
    per_venue: dict[str, list[FaultStep]] = {v: [] for v in VENUES}
    if every_venue:
        for st in all_steps:
            for v in st.venues:
                per_venue[v].append(st)
    else:
        # each type once; venue-specific types first, the rest to the least loaded venue
        for st in sorted(all_steps, key=lambda st: len(st.venues)):
            least = min(len(per_venue[v]) for v in st.venues)
            v = rng.choice([v for v in st.venues if len(per_venue[v]) == least])
            per_venue[v].append(st)
    for queue in per_venue.values():
        rng.shuffle(queue)
    rounds = max(len(q) for q in per_venue.values())
    return [[(v, q[i]) for v, q in per_venue.items() if i < len(q)] for i in range(rounds)]


# --------------------------------------------------------------------------- checking


@dataclass
class VenueCounts:
    checked: int = 0
    wrong: int = 0
    unknown: int = 0  # the book's sequence is no longer (or never was) in the truth ring
    resyncs: int = 0
    resynced: int = 0  # resyncs followed by a verified book
    repair_s: list[float] = field(default_factory=list)


class CheckedHub(Hub):
    """The hub, comparing every book it is handed with the emulator's truth first.

    A subclass, so the engine and workers run unchanged: ``published`` is called
    with every book that becomes what the UI shows and the store writes (a set
    book, or a venue's live book when the hub copies it).
    """

    def __init__(self, emu: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.emu = emu
        self.counts: dict[str, VenueCounts] = {}
        self.wrong_samples: list[dict[str, Any]] = []
        self.phase = "warm-up"
        self._samples_in_phase: dict[str, int] = {}
        self._pending: dict[str, list[float]] = {}

    def _c(self, venue: str) -> VenueCounts:
        c = self.counts.get(venue)
        if c is None:
            c = self.counts[venue] = VenueCounts()
        return c

    def published(self, book: BookSnapshot) -> None:
        verdict = self.verify(book)
        c = self._c(book.exchange)
        if verdict == "ok":
            c.checked += 1
            pending = self._pending.pop(book.exchange, None)
            if pending:
                now = time.monotonic()
                c.resynced += len(pending)
                c.repair_s.extend(now - t for t in pending)
        elif verdict == "wrong":
            c.checked += 1
            c.wrong += 1
        else:
            c.unknown += 1

    def count_resync(self, exchange: str, error: str = "") -> None:
        self._c(exchange).resyncs += 1
        self._pending.setdefault(exchange, []).append(time.monotonic())
        super().count_resync(exchange, error)

    def verify(self, book: BookSnapshot) -> str:
        slot = self._keys.get((book.exchange, book.symbol))
        market = slot.market if slot is not None else None
        cs = market.contract_size if market is not None and market.linear else 1.0
        truths = self.emu.truth_at(book.exchange, book.symbol, nonce=book.nonce, ts=book.timestamp)
        if not truths:
            return "unknown"
        for truth in truths:
            if _same(book.bids, truth.bids, cs) and _same(book.asks, truth.asks, cs):
                return "ok"
        self._samples_in_phase[self.phase] = self._samples_in_phase.get(self.phase, 0) + 1
        if self._samples_in_phase[self.phase] <= 3 and len(self.wrong_samples) < 60:
            t = truths[-1]
            self.wrong_samples.append(
                {
                    "phase": self.phase,
                    "venue": book.exchange,
                    "symbol": book.symbol,
                    "nonce": book.nonce,
                    "ts": book.timestamp,
                    "first_diff": _first_diff(book, t, cs),
                }
            )
        return "wrong"


def _same(got: Any, want: Any, cs: float) -> bool:
    n = min(len(got), len(want), TRUTH_DEPTH)
    if n == 0 and (got or want):
        return False
    for (gp, ga), (wp, wa) in zip(got[:n], want[:n], strict=True):
        if gp != wp or not math.isclose(ga, wa * cs, rel_tol=1e-9, abs_tol=1e-12):
            return False
    return True


def _first_diff(book: BookSnapshot, truth: Any, cs: float) -> str:
    for side in ("bids", "asks"):
        got, want = getattr(book, side), getattr(truth, side)
        for i, (g, w) in enumerate(zip(got[:TRUTH_DEPTH], want[:TRUTH_DEPTH], strict=False)):
            if g[0] != w[0] or not math.isclose(g[1], w[1] * cs, rel_tol=1e-9):
                return f"{side}[{i}]: published {g} vs truth ({w[0]}, {w[1] * cs})"
    return "length"


# --------------------------------------------------------------------------- the run


@dataclass
class Window:
    """A span of the run and what the stored snapshots say about it."""

    start_ms: int
    end_ms: int
    coverage: float = 0.0  # stored snapshots / clock ticks in the window, mean over keys
    worst: float = 0.0  # the worst key's coverage
    max_hole_s: float = 0.0  # longest gap between stored snapshots beginning in the window
    rows_per_min: float = 0.0  # rows of the venue(s) measured, per minute


@dataclass
class TrialResult:
    """One fault on one venue, with that venue's figures."""

    fault: str
    venue: str
    cycle: int
    before: Window  # the quiet phase before
    during: Window
    after: Window  # the quiet phase after (recovery)
    injected: int = 0  # sequence faults fired (gaps, withheld messages, bad checksums)
    detected: int = 0  # resyncs counted by the venue's health meanwhile
    wrong_books: int = 0  # published books that differed from the truth (during + after)
    reconnects: int = 0
    stale_detect_s: float | None = None  # stall trials: time until the health said so


@dataclass
class Report:
    profile: str
    seed: int
    started_utc: str
    seconds: float
    venues: tuple[str, ...]
    symbols: tuple[str, ...]
    snapshot_every_s: float
    stale_after_s: float
    crashes: int
    crash_notes: list[str]
    books_checked: int
    wrong_books: int
    unverifiable_books: int
    wrong_samples: list[dict[str, Any]]
    gaps_injected: int
    gaps_detected: int
    gaps_resynced: int
    repair_s_max: float | None
    reconnects: int
    malformed_skipped: int
    writer_queue_high_water: int
    writer_dropped: int
    engine_submit_errors: int
    clock_ticks: int  # the engine clock's snapshot rounds
    clock_ticks_late: int  # rounds that ran a period or more late (then caught up)
    clock_ticks_given_up: int  # rounds never run (clock > its catch-up bound behind)
    stray_connections: int  # dropped websockets that kept streaming (closed at once)
    rows_total: int
    baseline: Window
    trials: list[TrialResult]
    mixes: list[Window]
    machine: dict[str, Any]

    def failures(self) -> list[str]:
        """Goals not met (empty = every goal met)."""
        out = []
        if self.crashes:
            out.append(f"crashes: {self.crashes}")
        if self.wrong_books:
            out.append(f"wrong books published: {self.wrong_books}")
        if self.writer_dropped or self.engine_submit_errors:
            out.append(f"writer drops: {self.writer_dropped} / {self.engine_submit_errors}")
        for t in self.trials:
            name = f"{t.venue} {t.fault}"
            if t.during.coverage < COVERAGE_GOAL:
                out.append(f"{name}: coverage {t.during.coverage:.1%} < {COVERAGE_GOAL:.0%}")
            hole = max(t.during.max_hole_s, t.after.max_hole_s)
            if hole > HOLE_GOAL_S:
                out.append(f"{name}: hole {hole:.1f}s > {HOLE_GOAL_S:.0f}s")
            if t.fault == "stall" and (
                t.stale_detect_s is None or t.stale_detect_s > STALE_RATIO_GOAL * self.stale_after_s
            ):
                out.append(f"{name}: stale detected after {t.stale_detect_s}s")
        return out


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    with contextlib.suppress(OSError):
        info["loadavg_start"] = os.getloadavg()
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as fh:
        info["cpu"] = next(ln.split(":", 1)[1].strip() for ln in fh if "model name" in ln)
    with contextlib.suppress(OSError, StopIteration), open("/proc/meminfo") as fh:
        info["mem"] = next(ln.split(":", 1)[1].strip() for ln in fh if "MemTotal" in ln)
    return info


def _now_ms() -> int:
    return int(time.time() * 1000)


class Campaign:
    """Emulator + venues + checked hub + engine + writer, and the schedule's bookkeeping."""

    def __init__(self, profile: Profile, seed: int, db_path: Path) -> None:
        from perptui.emulator import Emulator

        self.p = profile
        self.seed = seed
        self.db_path = db_path
        self.rng = random.Random(f"campaign:{seed}")
        self.emu = Emulator(seed=seed, venues=VENUES, symbols=profile.symbols)
        self.hub = CheckedHub(
            self.emu, profile.symbols, VENUES, stale_after_s=profile.stale_after_s
        )
        self.states: list[tuple[float, dict[str, str]]] = []
        self.high_water = 0
        self.crash_notes: list[str] = []
        self.writer: Any = None
        self.engine: Engine | None = None

    def on_loop_error(self, _loop: Any, ctx: dict[str, Any]) -> None:
        self.crash_notes.append(str(ctx.get("message") or ctx.get("exception"))[:200])

    async def start(self) -> None:
        from perptui.store.writer import Writer
        from perptui.venues import make_venue

        await self.emu.start()
        self.emu.keep_truth(depth=TRUTH_DEPTH, seconds=30)
        settings = WorkerSettings(
            stale_after_s=self.p.stale_after_s,
            funding_poll_s=5.0,
            request_timeout_s=10.0,
            backoff_base=0.2,
            backoff_cap=5.0,
            seed=self.seed,
        )
        self.writer = Writer(self.db_path, flush_interval=0.25)
        await self.writer.start()
        venues = [make_venue(v, client=self.emu.connect(v)) for v in VENUES]
        self.engine = Engine(
            venues,
            self.p.symbols,
            self.hub,
            self.writer,
            snapshot_every_s=self.p.snapshot_every_s,
            settings=settings,
            signals=False,
        )
        await self.engine.start()

    async def monitor(self) -> None:
        while True:
            self.high_water = max(self.high_water, self.writer.queue_depth)
            view = self.hub.sample()
            self.states.append((time.monotonic(), {v: h.state for v, h in view.health.items()}))
            if len(self.states) > 20_000:
                del self.states[:10_000]
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        assert self.engine is not None
        tasks = [t for w in self.engine.workers.values() for t in w._tasks]
        await self.engine.stop()
        for t in tasks:
            if t.done() and not t.cancelled() and t.exception() is not None:
                self.crash_notes.append(f"{t.get_name()}: {t.exception()!r}"[:200])
        await self.writer.close()
        await self.emu.stop()

    async def wait_all_books(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        hub = self.hub
        while not all(hub.latest_book(v, s) is not None for v in VENUES for s in self.p.symbols):
            if time.monotonic() > deadline:
                raise RuntimeError("books did not arrive from every venue")
            await asyncio.sleep(0.1)

    def reconnects(self) -> dict[str, int]:
        return {v: h.reconnects for v, h in self.hub.sample().health.items()}

    def resyncs(self) -> dict[str, int]:
        return {v: c.resyncs for v, c in self.hub.counts.items()}

    def wrong(self) -> dict[str, int]:
        return {v: c.wrong for v, c in self.hub.counts.items()}

    async def quiet(self, seconds: float, label: str) -> tuple[int, int]:
        self.hub.phase = label
        start = _now_ms()
        await asyncio.sleep(seconds)
        return start, _now_ms()

    async def run_phase(
        self, trials: list[Trial], cycle: int, before: tuple[int, int]
    ) -> tuple[list[TrialResult], tuple[int, int]]:
        """Run one phase of concurrent single-venue trials, then its quiet phase."""
        emu, p = self.emu, self.p
        okx = emu.server.wires["okx"]
        rc0, rs0, wr0 = self.reconnects(), self.resyncs(), self.wrong()
        fired: dict[str, list[Any]] = {v: [] for v, _ in trials}
        t0 = time.monotonic()

        def inject() -> None:
            for venue, step in trials:
                for spec in step.faults:
                    spec = dict(spec)
                    kind = spec.pop("kind")
                    fired[venue].append(emu.faults.inject(venue, kind, **spec))

        if any(st.okx_checksum_only for _, st in trials):
            okx.send_seq_ids = False
        inject()
        self.hub.phase = " | ".join(f"{v}: {st.name}" for v, st in trials)
        start = _now_ms()
        bursts = max(st.bursts for _, st in trials)
        for _ in range(1, bursts):
            await asyncio.sleep(p.phase_s / bursts)
            for venue, step in trials:  # only the bursty faults again
                if step.bursts > 1:
                    for spec in step.faults:
                        spec = dict(spec)
                        kind = spec.pop("kind")
                        fired[venue].append(emu.faults.inject(venue, kind, **spec))
        await asyncio.sleep(max(0.0, p.phase_s - (time.monotonic() - t0)))
        during = (start, _now_ms())
        emu.faults.clear()
        okx.send_seq_ids = True
        after = await self.quiet(p.quiet_s, "after " + self.hub.phase)
        rc1, rs1, wr1 = self.reconnects(), self.resyncs(), self.wrong()
        results = []
        for venue, step in trials:
            r = TrialResult(
                step.name,
                venue,
                cycle,
                Window(*before),
                Window(*during),
                Window(*after),
                reconnects=rc1.get(venue, 0) - rc0.get(venue, 0),
                wrong_books=wr1.get(venue, 0) - wr0.get(venue, 0),
            )
            if step.sequence:
                r.injected = sum(f.fired for f in fired[venue] if f.kind in SEQUENCE_KINDS)
                r.detected = rs1.get(venue, 0) - rs0.get(venue, 0)
            if step.stall:
                seen = next(
                    (
                        t
                        for t, st in self.states
                        if t >= t0 and st.get(venue) in ("stale", "reconnecting")
                    ),
                    None,
                )
                r.stale_detect_s = None if seen is None else round(seen - t0, 2)
            results.append(r)
        return results, after

    async def run_mix(self, before: tuple[int, int]) -> tuple[Window, tuple[int, int]]:
        """Every fault on every venue at once (reported; no goal)."""
        emu, p = self.emu, self.p
        seen: set[tuple[str, str]] = set()
        for step in steps(p):
            for spec in step.faults:
                if spec["kind"] == "stall":
                    continue
                for venue in step.venues:
                    if (venue, spec["kind"]) in seen:
                        continue
                    seen.add((venue, spec["kind"]))
                    params = {k: v for k, v in spec.items() if k != "kind"}
                    emu.faults.inject(venue, spec["kind"], **params)
        self.hub.phase = "all faults at once"
        start = _now_ms()
        await asyncio.sleep(p.phase_s)
        window = Window(start, _now_ms())
        emu.faults.clear()
        after = await self.quiet(p.quiet_s, "after all faults at once")
        return window, after


async def run_campaign(
    profile: Profile = CI,
    seed: int = 1,
    db_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    say = progress or (lambda _m: None)
    started = time.monotonic()
    started_utc = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    machine = machine_info()
    loop = asyncio.get_running_loop()
    previous_handler = loop.get_exception_handler()
    tmp = None
    if db_path is None:
        tmp = tempfile.TemporaryDirectory(prefix="perptui-faults-")
        db_path = Path(tmp.name) / "faults.db"
    c = Campaign(profile, seed, db_path)
    loop.set_exception_handler(c.on_loop_error)
    trials: list[TrialResult] = []
    mixes: list[Window] = []
    mon: asyncio.Task[None] | None = None
    try:
        await c.start()
        mon = loop.create_task(c.monitor())
        await c.wait_all_books(timeout=60)
        say("all books live; baseline")
        base = await c.quiet(profile.phase_s, "baseline")
        before = base
        for cycle in range(1, profile.cycles + 1):
            for phase in schedule(profile, c.rng, profile.every_venue):
                say("faults: " + " | ".join(f"{v}: {st.name}" for v, st in phase))
                results, before = await c.run_phase(phase, cycle, before)
                trials.extend(results)
                for r in results:
                    say(
                        f"  {r.venue} {r.fault}: wrong {r.wrong_books}, injected "
                        f"{r.injected} detected {r.detected}, reconnects {r.reconnects}, "
                        f"stale after {r.stale_detect_s}"
                    )
            if profile.mix:
                say("all faults at once")
                window, before = await c.run_mix(before)
                mixes.append(window)
    finally:
        if mon is not None:
            mon.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await mon
        await c.stop()
        loop.set_exception_handler(previous_handler)

    baseline = Window(*base)
    rows_total = _score(db_path, profile, baseline, trials, mixes)
    if tmp is not None:
        tmp.cleanup()
    counts = c.hub.counts.values()
    view = c.hub.sample()
    repairs = [t for n in counts for t in n.repair_s]
    return Report(
        profile=profile.name,
        seed=seed,
        started_utc=started_utc,
        seconds=round(time.monotonic() - started, 1),
        venues=VENUES,
        symbols=profile.symbols,
        snapshot_every_s=profile.snapshot_every_s,
        stale_after_s=profile.stale_after_s,
        crashes=len(c.crash_notes),
        crash_notes=c.crash_notes[:20],
        books_checked=sum(n.checked for n in counts),
        wrong_books=sum(n.wrong for n in counts),
        unverifiable_books=sum(n.unknown for n in counts),
        wrong_samples=c.hub.wrong_samples,
        gaps_injected=sum(t.injected for t in trials),
        gaps_detected=sum(t.detected for t in trials),
        gaps_resynced=sum(n.resynced for n in counts),
        repair_s_max=round(max(repairs), 2) if repairs else None,
        reconnects=sum(h.reconnects for h in view.health.values()),
        malformed_skipped=sum(h.malformed for h in view.health.values()),
        writer_queue_high_water=c.high_water,
        writer_dropped=c.writer.dropped,
        engine_submit_errors=c.engine.submit_errors if c.engine else 0,
        clock_ticks=c.engine.ticks if c.engine else 0,
        clock_ticks_late=c.engine.ticks_late if c.engine else 0,
        clock_ticks_given_up=c.engine.ticks_given_up if c.engine else 0,
        stray_connections=sum(
            int(getattr(v.client, "stray_connections", 0) or 0)
            for v in (c.engine.venues if c.engine else [])
        ),
        rows_total=rows_total,
        baseline=baseline,
        trials=trials,
        mixes=mixes,
        machine={**machine, "loadavg_end": os.getloadavg()},
    )


def _measure(
    w: Window, series: dict[tuple[str, str], list[int]], keys: list[tuple[str, str]], slot_ms: int
) -> None:
    """Fill a window's coverage, longest hole and rows/min from the stored timestamps."""
    cover: list[float] = []
    hole = 0.0
    rows = 0
    slots = max(1, (w.end_ms - w.start_ms) // slot_ms)
    for key in keys:
        full = series.get(key, [])
        ts = [t for t in full if w.start_ms <= t < w.end_ms]
        rows += len(ts)
        # The clock logs at most one snapshot per key per tick, so rows / ticks is the
        # share of the cadence kept (book timestamps jitter around the tick, so counting
        # filled time slots would undercount a perfect series).
        cover.append(min(1.0, len(ts) / slots))
        # holes that begin inside the window, measured on the whole series
        nxt = [t for t in full if t >= w.end_ms][:1] or [w.end_ms]
        for a, b in zip([w.start_ms, *ts], [*ts, *nxt], strict=True):
            hole = max(hole, (b - a) / 1000)
    w.coverage = round(sum(cover) / len(cover), 4) if cover else 0.0
    w.worst = round(min(cover), 4) if cover else 0.0
    w.max_hole_s = round(hole, 2)
    w.rows_per_min = round(rows / max(1e-9, (w.end_ms - w.start_ms) / 60_000), 1)


def _score(
    db: Path, p: Profile, baseline: Window, trials: list[TrialResult], mixes: list[Window]
) -> int:
    """Coverage, holes and rows/min of every window, from what the writer stored."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT exchange, symbol, timestamp FROM order_book_snapshots"
        ).fetchall()
    finally:
        con.close()
    series: dict[tuple[str, str], list[int]] = {}
    for ex, sym, ts in rows:
        series.setdefault((ex, sym), []).append(int(ts))
    for ts_list in series.values():
        ts_list.sort()
    slot_ms = int(p.snapshot_every_s * 1000)
    every_key = [(v, s) for v in VENUES for s in p.symbols]
    _measure(baseline, series, every_key, slot_ms)
    for w in mixes:
        _measure(w, series, every_key, slot_ms)
    for t in trials:
        keys = [(t.venue, s) for s in p.symbols]
        for w in (t.before, t.during, t.after):
            _measure(w, series, keys, slot_ms)
    return len(rows)


# --------------------------------------------------------------------------- output


def format_report(r: Report) -> list[str]:
    m = r.machine
    lines = [
        f"fault campaign ({r.profile}, seed {r.seed}) started {r.started_utc}, {r.seconds:.0f} s",
        f"machine: {m.get('cpus')} cpus {m.get('cpu', '?')}, {m.get('mem', '?')}, load "
        f"{_load(m.get('loadavg_start'))} -> {_load(m.get('loadavg_end'))} (shared box)",
        f"venues {', '.join(r.venues)} x {len(r.symbols)} symbols; snapshot every "
        f"{r.snapshot_every_s:g} s; stale after {r.stale_after_s:g} s",
        f"crashes {r.crashes}; books checked against the truth {r.books_checked}, "
        f"wrong {r.wrong_books}, unverifiable {r.unverifiable_books}",
        f"gaps injected {r.gaps_injected} / detected {r.gaps_detected} / resynced "
        f"{r.gaps_resynced} (slowest repair {r.repair_s_max} s)",
        f"reconnects {r.reconnects}; malformed frames skipped {r.malformed_skipped}",
        f"writer queue high-water {r.writer_queue_high_water}, dropped {r.writer_dropped}, "
        f"engine submit errors {r.engine_submit_errors}; rows {r.rows_total}",
        f"engine clock: {r.clock_ticks} rounds, {r.clock_ticks_late} late (caught up), "
        f"{r.clock_ticks_given_up} given up; stray connections closed {r.stray_connections}",
        f"baseline: coverage {r.baseline.coverage:.1%}, hole {r.baseline.max_hole_s:.1f} s, "
        f"{r.baseline.rows_per_min:g} rows/min (all venues)",
        "",
        f"{'venue':<8} {'fault':<31} {'cover':>6} {'worst':>6} {'hole':>5} {'wrong':>5} "
        f"{'inj/det':>7} {'rc':>3} {'stale':>5}  rows/min before/during/after",
    ]
    for t in r.trials:
        seq = f"{t.injected}/{t.detected}" if t.injected or t.detected else ""
        stale = "" if t.stale_detect_s is None else f"{t.stale_detect_s:g}"
        hole = max(t.during.max_hole_s, t.after.max_hole_s)
        lines.append(
            f"{t.venue:<8} {t.fault[:31]:<31} {t.during.coverage:>6.1%} {t.during.worst:>6.1%} "
            f"{hole:>5.1f} {t.wrong_books:>5} {seq:>7} {t.reconnects:>3} {stale:>5}  "
            f"{t.before.rows_per_min:g}/{t.during.rows_per_min:g}/{t.after.rows_per_min:g}"
        )
    for w in r.mixes:
        lines.append(
            f"all faults at once: coverage {w.coverage:.1%} (worst {w.worst:.1%}), "
            f"hole {w.max_hole_s:.1f} s, {w.rows_per_min:g} rows/min"
        )
    fails = r.failures()
    lines.append("")
    lines.append("goals met" if not fails else "goals NOT met: " + "; ".join(fails))
    for w in r.wrong_samples[:5]:
        lines.append(f"  wrong book: {w}")
    for c in r.crash_notes[:5]:
        lines.append(f"  crash: {c}")
    return lines


def _load(v: Any) -> str:
    return "?" if not v else "/".join(f"{x:.1f}" for x in v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n")[0])
    ap.add_argument("--long", action="store_true", help="the >= 1 h profile")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, help="also write the report as JSON here")
    ap.add_argument("--db", type=Path, help="keep the SQLite file here (default: a temp dir)")
    ap.add_argument("--cycles", type=int, help="cycles of the schedule (default: the profile's)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    profile = LONG if args.long else CI
    if args.cycles is not None:
        profile = replace(profile, cycles=max(1, args.cycles))
    stamp = lambda m: print(time.strftime("%H:%M:%S ") + m, flush=True)  # noqa: E731
    report = asyncio.run(run_campaign(profile, args.seed, args.db, stamp))
    text = "\n".join(format_report(report))
    print(text, flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps(asdict(report), indent=1, default=str) + "\n")
    return 0 if not report.failures() else 1


if __name__ == "__main__":
    sys.exit(main())

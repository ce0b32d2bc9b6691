"""Shared helpers for emulator tests (any venue): emulator lifetime, polling, the
convergence loop, watching through a dropped connection, shape comparison.

Importable from other test modules: ``from tests.emulator_helpers import ...`` or, with
``tests`` on sys.path (pytest rootdir conftest), ``from emulator_helpers import ...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import ccxt

from perptui.emulator import Emulator, TruthBook

# Errors after which an app re-calls watch_order_book (ccxt resubscribes and resyncs).
RESYNC_ERRORS: tuple[type[BaseException], ...] = (ccxt.ChecksumError, ccxt.NetworkError)

TRUTH_NONCE: Callable[[TruthBook], int] = lambda t: t.nonce  # noqa: E731  binance-style ids


@contextlib.asynccontextmanager
async def running(emu: Emulator) -> AsyncIterator[Emulator]:
    """``emu`` started on a free port for the block, stopped after it (fixture bodies)."""
    await emu.start()
    yield emu
    await emu.stop()


async def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``cond`` every 5 ms; AssertionError if it is still false after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


async def watch_through_drop(
    emu: Emulator, client: Any, venue: str, symbol: str, *, updates: int, warmup: int = 20
) -> int:
    """Watch ``warmup`` book updates, drop the venue's connection once, then watch until
    ``updates`` more succeed (re-calling after each ccxt NetworkError, as the app does).
    Returns how many NetworkErrors the watcher saw."""
    for _ in range(warmup):
        await client.watch_order_book(symbol)
    emu.faults.inject(venue, "drop", count=1)
    errors = done = 0
    while done < updates:
        try:
            await client.watch_order_book(symbol)
            done += 1
        except ccxt.NetworkError:
            errors += 1
    return errors


@dataclass
class ConvergeReport:
    updates: int = 0  # watch_order_book returns (one per applied diff batch)
    comparisons: int = 0  # full-book equality checks passed
    errors: list[str] = field(default_factory=list)  # resync-triggering errors seen
    max_levels: tuple[int, int] = (0, 0)


def client_levels(
    client: Any, symbol: str
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    ob = client.orderbooks[symbol]
    return [(float(p), float(a)) for p, a, *_ in ob["bids"]], [
        (float(p), float(a)) for p, a, *_ in ob["asks"]
    ]


async def assert_book_matches(
    emu: Emulator,
    client: Any,
    venue: str,
    symbol: str,
    *,
    client_nonce: Callable[[Any], Any] = lambda ob: ob["nonce"],
    truth_nonce: Callable[[TruthBook], int] = TRUTH_NONCE,
    timeout: float = 5.0,
) -> TruthBook:
    """Pause the book, let the client drain its frames to the truth's update id, and
    compare every level of both sides. Resumes stepping afterwards."""
    emu.pause()
    try:
        deadline = time.monotonic() + timeout
        truth = emu.truth_book(venue, symbol)
        while True:
            ob = client.orderbooks.get(symbol) if hasattr(client, "orderbooks") else None
            if ob is not None and client_nonce(ob) == truth_nonce(truth):
                break
            if time.monotonic() > deadline:
                got = None if ob is None else client_nonce(ob)
                raise AssertionError(
                    f"{venue} {symbol}: client stuck at update id {got}, truth at "
                    f"{truth_nonce(truth)}"
                )
            await asyncio.sleep(0.01)
        bids, asks = client_levels(client, symbol)
        assert len(truth.bids) >= 500 and len(truth.asks) >= 500, "truth book too thin"
        for side, got, want in (("bids", bids, truth.bids), ("asks", asks, truth.asks)):
            if got != list(want):
                n = next(
                    (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
                    min(len(got), len(want)),
                )
                raise AssertionError(
                    f"{venue} {symbol} {side} differ at level {n}: client "
                    f"{got[n : n + 2]} ({len(got)} levels) vs truth {list(want[n : n + 2])} "
                    f"({len(want)} levels) at update id {truth_nonce(truth)}"
                )
        return truth
    finally:
        emu.resume()


async def converge(
    emu: Emulator,
    client: Any,
    venue: str,
    symbol: str,
    *,
    updates: int,
    compare_every: int = 250,
    on_update: Callable[[int], None] | None = None,
    client_nonce: Callable[[Any], Any] = lambda ob: ob["nonce"],
    truth_nonce: Callable[[TruthBook], int] = TRUTH_NONCE,
    watch_timeout: float = 10.0,
    limit: int | None = None,
) -> ConvergeReport:
    """Watch ``symbol`` like the app does (re-calling after resync errors) for ``updates``
    book updates, comparing the whole book with the truth every ``compare_every`` updates
    and at the end."""
    report = ConvergeReport()
    since_compare = 0
    while report.updates < updates:
        try:
            await asyncio.wait_for(client.watch_order_book(symbol, limit), watch_timeout)
        except RESYNC_ERRORS as exc:
            report.errors.append(type(exc).__name__)
            if len(report.errors) > 20:
                raise AssertionError(f"too many resyncs: {report.errors}") from exc
            continue
        except TimeoutError as exc:
            # a stalled stream, or a frame ccxt could not parse (its receive loop stops
            # silently): the app treats the feed as stale and reconnects
            report.errors.append("Stale")
            if len(report.errors) > 20:
                raise AssertionError(f"too many resyncs: {report.errors}") from exc
            await client.close()
            continue
        report.updates += 1
        since_compare += 1
        if on_update is not None:
            on_update(report.updates)
        if since_compare >= compare_every:
            await assert_book_matches(
                emu, client, venue, symbol, client_nonce=client_nonce, truth_nonce=truth_nonce
            )
            report.comparisons += 1
            since_compare = 0
    truth = await assert_book_matches(
        emu, client, venue, symbol, client_nonce=client_nonce, truth_nonce=truth_nonce
    )
    report.comparisons += 1
    report.max_levels = (len(truth.bids), len(truth.asks))
    return report


# ----------------------------------------------------------------------------- shapes


def shape(value: Any, quirks: Iterable[str] = (), path: str = "$") -> Any:
    """JSON shape: dicts by key, lists by their (uniform) element shape, leaves by type.

    ``quirks``: paths (``$.E``, ``$[*].openTime``) where a recorded string holding an
    integer stands for a JSON number (ccxt's recorder stringifies some numeric fields)."""
    quirks = tuple(quirks)
    if isinstance(value, dict):
        return {k: shape(v, quirks, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        if not value:
            return []
        shapes = [shape(v, quirks, f"{path}[*]") for v in value]
        # levels/candles: every element shares one shape; heterogeneous lists keep order
        first = shapes[0]
        if all(s == first for s in shapes):
            return [first]
        return ["tuple", *shapes]
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        if path in quirks and value.lstrip("-").isdigit():
            return "number"
        return "string"
    return type(value).__name__


def shape_diff(got: Any, want: Any, path: str = "$", subset: bool = False) -> list[str]:
    """Differences between two shapes (empty = equal). ``subset``: ``got`` may lack keys."""
    out: list[str] = []
    if isinstance(want, dict) and isinstance(got, dict):
        for k in want:
            if k not in got:
                if not subset:
                    out.append(f"{path}.{k}: missing in emulator payload")
            else:
                out += shape_diff(got[k], want[k], f"{path}.{k}", subset)
        for k in got:
            if k not in want:
                out.append(f"{path}.{k}: emulator sends a field the recording lacks")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if not want or not got:
            return out
        if want[0] == "tuple" or got[0] == "tuple":
            w = want[1:] if want[0] == "tuple" else want * (len(got) - 1)
            g = got[1:] if got[0] == "tuple" else got * max(1, len(w))
            for i, (a, b) in enumerate(zip(g, w, strict=False)):
                out += shape_diff(a, b, f"{path}[{i}]", subset)
            return out
        return shape_diff(got[0], want[0], f"{path}[*]", subset)
    if got != want:
        out.append(f"{path}: emulator {got!r} vs recorded {want!r}")
    return out

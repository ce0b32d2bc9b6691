"""Signals over stored history and the funding-carry backtest, computed and rendered.

The rules are the monitor's own pure functions (``perptui.core.signals``,
``perptui.core.backtest``); this module only feeds them stored rows in time order and turns
the results into rich tables and a terminal chart.

Signals over history fire once per episode, as in the live engine: a level rule
(funding arb, funding divergence) fires when its condition becomes true for a series
and again only after it has been false; the imbalance tracker fires once per sustained
run by itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from perptui.core import signals as rules
from perptui.core.backtest import CarryBacktestResult, carry_backtest
from perptui.core.funding import interval_from_history
from perptui.core.model import FundingInfo, Signal
from perptui.core.numbers import finite_float
from perptui.core.peers import peer_groups
from perptui.store.read import iter_rows, load_funding

DB = str | os.PathLike[str]
ALIGN_MS = 60_000  # settlements a few ms apart across venues are the same settlement


# --------------------------------------------------------------------------- signals


def funding_infos(df: pd.DataFrame) -> Iterator[FundingInfo]:
    """Stored funding rows as the FundingInfo records the rules take.

    Settled rows carry no interval of their own; it is inferred per series from the
    spacing of its settlements (as the backtest does).
    """
    intervals: dict[tuple[str, str, str], float | None] = {}
    for (ex, sym, kind), part in df.groupby(["exchange", "symbol", "kind"], sort=False):
        intervals[(ex, sym, kind)] = (
            interval_from_history(part["timestamp"].tolist()) if kind == "settled" else None
        )
    cols = ("exchange", "symbol", "timestamp", "funding_rate", "next_funding_time",
            "interval_hours", "mark_price", "index_price", "predicted_rate", "kind")  # fmt: skip
    for ex, sym, ts, rate, nft, ih, mark, index, pred, kind in df[list(cols)].itertuples(
        index=False, name=None
    ):
        hours = finite_float(ih) or intervals.get((ex, sym, kind))
        yield FundingInfo(
            exchange=ex,
            symbol=sym,
            timestamp=int(ts),
            funding_rate=finite_float(rate),
            next_funding_time=None if pd.isna(nft) else int(nft),
            interval_hours=hours,
            mark_price=finite_float(mark),
            index_price=finite_float(index),
            predicted_rate=finite_float(pred),
        )


class Episodes:
    """Once-per-episode filter for level rules: a signal is news when its series did not
    have it active at the previous step."""

    def __init__(self) -> None:
        self._active: dict[tuple[str, ...], set[tuple[str, str, str, str]]] = {}

    def update(self, series: tuple[str, ...], fired: Sequence[Signal]) -> list[Signal]:
        """`fired`: what the rule returned for `series` at this step (empty: condition off)."""
        keys = {(s.kind, s.exchange, s.symbol, s.direction): s for s in fired}
        before = self._active.get(series, set())
        news = [s for k, s in keys.items() if k not in before]
        if keys:
            self._active[series] = set(keys)
        else:
            self._active.pop(series, None)
        return news


def funding_signals(
    db: DB,
    thresholds: rules.SignalThresholds,
    *,
    venues: Sequence[str] | None = None,
    symbols: Sequence[str] | None = None,
    since: int | None = None,
    until: int | None = None,
    kind: str | None = "settled",
) -> list[Signal]:
    """Funding arb per stored observation and cross-venue divergence per settlement."""
    df = load_funding(db, since=since, until=until, kind=kind)
    if venues:
        df = df[df["exchange"].isin(list(venues))]
    if symbols:
        df = df[df["symbol"].isin(list(symbols))]
    if df.empty:
        return []
    df = df.sort_values(["timestamp", "exchange", "symbol"], kind="stable")
    out: list[Signal] = []
    arb = Episodes()
    infos = list(funding_infos(df))
    for f in infos:
        sig = rules.funding_arb(f, thresholds, now_ms=f.timestamp)
        out.extend(arb.update(("funding_arb", f.exchange, f.symbol), [sig] if sig else []))
    # divergence: venues' rates at the same settlement (or observation minute), per peer
    # group (one base, USDT = USDC = USD: perptui.core.peers)
    div = Episodes()
    by_slot: dict[int, list[FundingInfo]] = {}
    for f in infos:
        by_slot.setdefault(round(f.timestamp / ALIGN_MS) * ALIGN_MS, []).append(f)
    for slot_ms, fs in sorted(by_slot.items()):
        groups = peer_groups((f.exchange, f.symbol, f) for f in fs)
        for key, per_venue in sorted(groups.items()):
            if len(per_venue) < 2:
                continue
            legs = {v: f.symbol for v, f in per_venue.items()}
            fired = [
                rules.with_legs(sig, legs)
                for sig in rules.funding_divergence(per_venue, thresholds, now_ms=slot_ms)
            ]
            out.extend(div.update(("divergence", "*", key), fired))
    out.sort(key=lambda s: (s.timestamp, s.kind, s.exchange, s.symbol))
    return out


def imbalance_signals(
    db: DB,
    thresholds: rules.SignalThresholds,
    *,
    venues: Sequence[str] | None = None,
    symbols: Sequence[str] | None = None,
    since: int | None = None,
    until: int | None = None,
    max_gap_s: float = 10.0,
    chunksize: int = 50_000,
) -> list[Signal]:
    """Sustained book imbalance over stored snapshots, streamed in chunks."""
    tracker = rules.SustainedImbalance.from_thresholds(thresholds, max_gap_s=max_gap_s)
    filters = {"exchange": list(venues) if venues else None,
               "symbol": list(symbols) if symbols else None, "since": since, "until": until}  # fmt: skip
    out: list[Signal] = []
    # snapshots stream in (exchange, symbol, timestamp) order: one series after another
    for chunk in iter_rows(db, "snapshots", filters, chunksize=chunksize):
        for ex, sym, ts, imb in chunk[["exchange", "symbol", "timestamp", "imbalance"]].itertuples(
            index=False, name=None
        ):
            sig = tracker.update(ex, sym, finite_float(imb), int(ts))
            if sig is not None:
                out.append(sig)
    return out


def backtest_dict(result: CarryBacktestResult) -> dict[str, Any]:
    """JSON-friendly summary + rows (for --json and scripts)."""
    return {
        "mode": result.mode,
        "settlements": len(result.rows),
        "entry_threshold": result.entry_threshold,
        "exit_threshold": result.exit_threshold,
        "fee_bps": result.fee_bps,
        "slippage_bps": result.slippage_bps,
        "notional": result.notional,
        "interval_hours": list(result.interval_hours),
        "funding_pnl": result.funding_pnl,
        "costs": result.costs,
        "net_pnl": result.net_pnl,
        "annualized_return": result.annualized_return,
        "max_drawdown": result.max_drawdown,
        "trades": result.trades,
        "settlements_held": result.settlements_held,
        "rows": [
            {
                "timestamp": r.timestamp,
                "rate_a": r.rate_a,
                "rate_b": r.rate_b,
                "position": r.position,
                "new_position": r.new_position,
                "funding_pnl": r.funding_pnl,
                "cost": r.cost,
                "pnl": r.pnl,
                "cumulative": r.cumulative,
            }
            for r in result.rows
        ],
    }


@dataclass(frozen=True, slots=True)
class BacktestInput:
    venue: str
    symbol: str
    venue2: str | None
    a: pd.DataFrame
    b: pd.DataFrame | None


def load_backtest_input(
    db: DB,
    venue: str,
    symbol: str,
    venue2: str | None = None,
    since: int | None = None,
    until: int | None = None,
) -> BacktestInput:
    a = load_funding(db, exchange=venue, symbol=symbol, since=since, until=until, kind="settled")
    b = None
    if venue2:
        b = load_funding(
            db, exchange=venue2, symbol=symbol, since=since, until=until, kind="settled"
        )
    return BacktestInput(venue, symbol, venue2, a, b)


def run_backtest(inp: BacktestInput, **params: Any) -> CarryBacktestResult:
    return carry_backtest(inp.a, inp.b, **params)


__all__ = [
    "Episodes",
    "backtest_dict",
    "funding_infos",
    "funding_signals",
    "imbalance_signals",
    "load_backtest_input",
    "run_backtest",
]

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
from perptui.core.units import utc_text
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
    # divergence: venues' rates at the same settlement (or observation minute)
    div = Episodes()
    by_slot: dict[tuple[int, str], dict[str, FundingInfo]] = {}
    for f in infos:
        slot = (round(f.timestamp / ALIGN_MS) * ALIGN_MS, f.symbol)
        by_slot.setdefault(slot, {})[f.exchange] = f
    for (slot_ms, symbol), per_venue in sorted(by_slot.items()):
        if len(per_venue) < 2:
            continue
        fired = rules.funding_divergence(per_venue, thresholds, now_ms=slot_ms)
        out.extend(div.update(("divergence", "*", symbol), fired))
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


# --------------------------------------------------------------------------- rendering


def signals_table(found: Sequence[Signal], limit: int | None = None) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    shown = list(found)[-limit:] if limit else list(found)
    table = Table(title="signals over stored history", title_justify="left", pad_edge=False)
    for col, justify in (("time (UTC)", "left"), ("kind", "left"), ("venue", "left"),
                         ("symbol", "left"), ("action", "left"), ("value", "right"),
                         ("threshold", "right")):  # fmt: skip
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]  # justify: a str from the column table, one of rich's names
    for s in shown:
        table.add_row(
            utc_text(s.timestamp), s.kind, s.exchange, s.symbol, s.direction,
            f"{s.value:+.6f}", f"{s.threshold:g}",
        )  # fmt: skip
    counts: dict[str, int] = {}
    for s in found:
        counts[s.kind] = counts.get(s.kind, 0) + 1
    summary = ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none"
    more = f" (last {len(shown)} shown)" if len(shown) < len(found) else ""
    return Group(table, Text(f"{len(found)} signals: {summary}{more}", style="dim"))


def cumulative_chart(values: Sequence[float], *, width: int = 72, height: int = 8) -> list[str]:
    """A block chart of a series (one column per bucket, last value of each bucket).

    Rows top to bottom; the zero line is marked with '·' where it falls inside the range.
    """
    if not values:
        return ["(no data)"]
    n = len(values)
    cols = min(width, n)
    picked = [values[min(n - 1, (i + 1) * n // cols - 1)] for i in range(cols)]
    lo, hi = min(min(picked), 0.0), max(max(picked), 0.0)
    span = hi - lo or 1.0
    levels = height * 8
    blocks = " ▁▂▃▄▅▆▇█"
    heights = [round((v - lo) / span * levels) for v in picked]
    zero = round((0.0 - lo) / span * levels)
    rows = []
    for r in range(height - 1, -1, -1):
        base = r * 8
        line = []
        for h in heights:
            fill = max(0, min(8, h - base))
            ch = blocks[fill]
            if ch == " " and base <= zero < base + 8 and lo < 0 < hi:
                ch = "·"
            line.append(ch)
        rows.append("".join(line))
    return rows


def backtest_render(
    result: CarryBacktestResult,
    *,
    title: str,
    rows: int | None = 20,
    notional_label: str = "",
) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    summary = Table(title=title, title_justify="left", show_header=False, pad_edge=False)
    summary.add_column("what")
    summary.add_column("value", justify="right")
    ann = result.annualized_return
    for what, value in (
        ("settlements", f"{len(result.rows)}"),
        ("period", f"{utc_text(result.rows[0].timestamp) if result.rows else '-'} .. "
                   f"{utc_text(result.rows[-1].timestamp) if result.rows else '-'}"),
        ("entry / exit threshold", f"{result.entry_threshold:g} / {result.exit_threshold:g}"),
        ("fee + slippage (bps per leg)", f"{result.fee_bps:g} + {result.slippage_bps:g}"),
        ("funding earned", _money(result.funding_pnl, notional_label)),
        ("costs", _money(result.costs, notional_label)),
        ("net P&L", _money(result.net_pnl, notional_label)),
        ("return on notional", f"{result.return_on_notional * 100:+.4f}%"),
        ("annualized", "-" if ann is None else f"{ann * 100:+.2f}%"),
        ("max drawdown", _money(result.max_drawdown, notional_label)),
        ("trades / settlements held", f"{result.trades} / {result.settlements_held}"),
    ):  # fmt: skip
        summary.add_row(what, value)

    detail = Table(title="per settlement", title_justify="left", pad_edge=False)
    two = result.mode == "perp_perp"
    cols = ["time (UTC)", "rate A"] + (["rate B"] if two else []) + [
        "pos", "funding", "cost", "pnl", "cumulative"]  # fmt: skip
    for col in cols:
        detail.add_column(col, justify="left" if col.startswith("time") else "right", no_wrap=True)
    shown = result.rows if rows is None else result.rows[-rows:] if rows > 0 else ()
    for r in shown:
        cells = [utc_text(r.timestamp), _rate(r.rate_a)] + ([_rate(r.rate_b)] if two else []) + [
            f"{r.position:+d}" if r.position else "0",
            f"{r.funding_pnl:+.6g}", f"{r.cost:.6g}", f"{r.pnl:+.6g}", f"{r.cumulative:+.6g}"]  # fmt: skip
        detail.add_row(*cells)
    chart = cumulative_chart([r.cumulative for r in result.rows])
    parts: list[Any] = [summary]
    if shown:
        parts.append(detail)
        if len(shown) < len(result.rows):
            parts.append(
                Text(f"(last {len(shown)} of {len(result.rows)} settlements)", style="dim")
            )
    values = [r.cumulative for r in result.rows]
    parts.append(Text("cumulative P&L", style="bold"))
    if values:
        parts.append(Text(f"max {max(values):+.6g}", style="dim"))
    parts.extend(Text(line, style="cyan") for line in chart)
    if values:
        parts.append(Text(f"min {min(values):+.6g}   final {values[-1]:+.6g}", style="dim"))
    return Group(*parts)


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.4f}%"


def _money(x: float, label: str) -> str:
    return f"{x:+,.6g}{(' ' + label) if label else ''}"


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
    "backtest_render",
    "cumulative_chart",
    "funding_infos",
    "funding_signals",
    "imbalance_signals",
    "load_backtest_input",
    "run_backtest",
    "signals_table",
]

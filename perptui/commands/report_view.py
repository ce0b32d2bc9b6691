"""Console rendering of the signals and backtest reports (``perptui signals``,
``perptui backtest``): rich tables, the cumulative-PnL chart and the backtest summary.

The numbers are computed in `perptui.jobs.report` (and `perptui.core`); this module only
turns them into text, beside the other commands' console output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perptui.core.backtest import CarryBacktestResult
from perptui.core.model import Signal
from perptui.core.units import utc_text


def signals_table(found: Sequence[Signal], limit: int | None = None) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    shown = list(found)[-limit:] if limit else list(found)
    table = Table(title="signals over stored history", title_justify="left", pad_edge=False)
    for col, justify in (("time (UTC)", "left"), ("kind", "left"), ("venue", "left"),
                         ("symbol", "left"), ("action", "left"), ("value", "right"),
                         ("threshold", "right")):  # fmt: skip
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]  # justify is one of rich's names, taken from the column table
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


__all__ = ["backtest_render", "cumulative_chart", "signals_table"]

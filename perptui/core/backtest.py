"""Funding-carry backtest on settled funding history.  Pure: no I/O, no clock.

Two set-ups, one rule:

* one venue, perp vs spot: x = the venue's funding rate.  Position +1 is
  "short perp / long spot" (receives positive funding), -1 "long perp / short
  spot" (receives negative funding).
* two venues, perp A vs perp B: x = rate_A - rate_B.  Position +1 is "short A /
  long B", -1 the reverse.

Either way the funding earned at a settlement is ``position * x * notional``, and
the position is delta-neutral, so price moves are ignored (the premise of the
trade; basis moves between legs are not modelled).

Timing, without look-ahead: the position held *through* settlement t was
decided right after settlement t-1 from what was known then.  After each
settlement the rule looks at the signal s (the latest settled rate, or the
difference of the two venues' latest rates, rescaled to ``rate_basis_hours`` as
the live signals do):

1. holding and ``position * s < exit_threshold`` -> close (funding no longer
   pays enough in our favour);
2. flat and ``|s| > entry_threshold`` -> open with ``position = sign(s)``, the
   side that receives the funding.

So the first settlement after the one that crossed the threshold is the first
one earned.  A close and an open at the same settlement is a flip.

Costs: ``fee_bps`` and ``slippage_bps`` per leg per trade, two legs per
position (perp + spot, or perp A + perp B): opening costs
``2 * (fee_bps + slippage_bps) / 1e4 * notional``, closing the same again, a flip
both.  With ``close_at_end`` (default) a position still open after the last
settlement is closed there and pays its exit costs, so the totals are realised.

Two-venue series are aligned on settlement times rounded to ``align_ms``
(venues stamp settlements a few ms late); where only one venue settles at a
time, the other pays nothing then.  This handles venues with different funding
intervals (e.g. 1 h vs 8 h) correctly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from perptui.core.funding import interval_from_history
from perptui.core.signals import DEFAULT_THRESHOLDS, SignalThresholds, comparable_rate
from perptui.core.units import YEAR_MS

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, slots=True)
class BacktestRow:
    timestamp: int  # settlement time, ms
    payment: float  # x paid at this settlement: the rate, or rate_A - rate_B (0 where none)
    signal: float  # rescaled signal known right after this settlement (drives the trade)
    position: int  # held through this settlement: +1 / -1 / 0
    funding_pnl: float  # position * payment * notional
    new_position: int  # held after trading at this settlement
    cost: float  # fees + slippage of that trade (>= 0)
    pnl: float  # funding_pnl - cost
    cumulative: float
    rate_a: float | None = None  # raw settled rates at this time (None: venue did not settle)
    rate_b: float | None = None


@dataclass(frozen=True, slots=True)
class CarryBacktestResult:
    rows: tuple[BacktestRow, ...]
    mode: str  # "perp_spot" | "perp_perp"
    entry_threshold: float
    exit_threshold: float
    fee_bps: float
    slippage_bps: float
    notional: float
    interval_hours: tuple[float | None, ...]  # per venue, as used for rescaling
    funding_pnl: float
    costs: float
    net_pnl: float
    annualized_return: float | None  # net / notional scaled by elapsed time; None if no time
    max_drawdown: float  # largest fall of cumulative P&L from its running peak (>= 0)
    trades: int  # positions opened (a flip opens one)
    settlements_held: int  # settlements earned with a position on
    elapsed_ms: int
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Per-settlement table as a DataFrame (timestamp as UTC datetime column too)."""
        import pandas as pd

        columns = [f.name for f in fields(BacktestRow)]
        frame = pd.DataFrame([[getattr(r, c) for c in columns] for r in self.rows], columns=columns)
        frame.insert(1, "time", pd.to_datetime(frame["timestamp"], unit="ms", utc=True))
        return frame

    @property
    def return_on_notional(self) -> float:
        return self.net_pnl / self.notional if self.notional else 0.0


# --------------------------------------------------------------------------- input shapes


def _to_ms(t: Any) -> int:
    if isinstance(t, int | float):
        return int(t)
    if hasattr(t, "timestamp"):  # datetime / pandas Timestamp
        return round(t.timestamp() * 1000)
    raise TypeError(f"cannot read a timestamp from {t!r}")


def as_funding_series(data: Any) -> list[tuple[int, float]]:
    """(timestamp_ms, rate) pairs, sorted, one per timestamp (last wins), NaN dropped.

    Accepts a list of (timestamp, rate) pairs, FundingRecord/FundingInfo-like
    objects (``.timestamp``, ``.funding_rate``), a DataFrame with ``timestamp``
    and ``funding_rate`` (or ``rate``) columns, or a Series of rates indexed by
    time.  Timestamps may be epoch ms or datetimes.
    """
    pairs: Iterable[tuple[Any, Any]]
    columns = getattr(data, "columns", None)
    if columns is not None:
        rate_col = "funding_rate" if "funding_rate" in columns else "rate"
        if "timestamp" not in columns or rate_col not in columns:
            raise ValueError("funding DataFrame needs 'timestamp' and 'funding_rate' columns")
        pairs = zip(data["timestamp"].tolist(), data[rate_col].tolist(), strict=True)
    elif hasattr(data, "index") and hasattr(data, "tolist"):  # pandas Series
        pairs = zip(data.index.tolist(), data.tolist(), strict=True)
    else:
        pairs = (
            (item.timestamp, item.funding_rate) if hasattr(item, "funding_rate") else item
            for item in data
        )
    by_ts: dict[int, float] = {}
    for t, rate in pairs:
        if rate is None:
            continue
        r = float(rate)
        if math.isfinite(r):
            by_ts[_to_ms(t)] = r
    return sorted(by_ts.items())


def _align(series: list[tuple[int, float]], align_ms: int) -> dict[int, float]:
    if align_ms <= 1:
        return dict(series)
    return {round(t / align_ms) * align_ms: r for t, r in series}


# --------------------------------------------------------------------------- the backtest


def carry_backtest(
    series: Any,
    other: Any = None,
    *,
    entry_threshold: float | None = None,
    exit_threshold: float | None = None,
    fee_bps: float | None = None,
    slippage_bps: float | None = None,
    notional: float = 1.0,
    interval_hours: float | None = None,
    other_interval_hours: float | None = None,
    thresholds: SignalThresholds = DEFAULT_THRESHOLDS,
    close_at_end: bool = True,
    align_ms: int = 60_000,
) -> CarryBacktestResult:
    """Backtest the funding-carry rule (see module docstring).

    ``series``: settled funding of the perp (venue A); ``other``: venue B's, for
    perp vs perp.  The entry threshold defaults to ``thresholds``' (the live signals'
    ``funding_arb`` for perp vs spot, ``divergence`` for perp vs perp), and so do
    fees, slippage and the rate basis; the exit threshold defaults to half the entry one.
    Intervals default to the median settlement spacing of each series (8 h if it
    cannot be told).
    """
    two = other is not None
    if entry_threshold is None:
        entry_threshold = thresholds.divergence if two else thresholds.funding_arb
    if exit_threshold is None:
        exit_threshold = entry_threshold / 2
    fee_bps = thresholds.fee_bps if fee_bps is None else fee_bps
    slippage_bps = thresholds.slippage_bps if slippage_bps is None else slippage_bps
    _check(entry_threshold, exit_threshold, fee_bps, slippage_bps, notional)
    basis_hours = thresholds.rate_basis_hours

    a = as_funding_series(series)
    b = as_funding_series(other) if two else []
    ia = interval_hours or interval_from_history(t for t, _ in a)
    ib = (other_interval_hours or interval_from_history(t for t, _ in b)) if two else None
    a_at = _align(a, align_ms) if two else dict(a)
    b_at = _align(b, align_ms) if two else {}
    times = sorted(set(a_at) | set(b_at))

    run = _Run(notional, (fee_bps + slippage_bps) / 1e4 * notional, two)
    last_a: float | None = None
    last_b: float | None = None
    for i, t in enumerate(times):
        ra, rb = a_at.get(t), b_at.get(t)
        last_a = ra if ra is not None else last_a
        last_b = rb if rb is not None else last_b
        signal = _signal(last_a, last_b, ia, ib, two, basis_hours)
        run.settle(
            t,
            ra,
            rb,
            signal,
            entry_threshold,
            exit_threshold,
            close=close_at_end and i == len(times) - 1,
        )

    elapsed = times[-1] - times[0] if times else 0
    net = run.funding_total - run.cost_total
    return CarryBacktestResult(
        rows=tuple(run.rows),
        mode="perp_perp" if two else "perp_spot",
        entry_threshold=entry_threshold,
        exit_threshold=exit_threshold,
        fee_bps=fee_bps,
        slippage_bps=slippage_bps,
        notional=notional,
        interval_hours=(ia, ib) if two else (ia,),
        funding_pnl=run.funding_total,
        costs=run.cost_total,
        net_pnl=net,
        annualized_return=(net / notional) * YEAR_MS / elapsed if elapsed > 0 else None,
        max_drawdown=run.max_dd,
        trades=run.trades,
        settlements_held=run.held,
        elapsed_ms=elapsed,
        params={
            "rate_basis_hours": basis_hours,
            "close_at_end": close_at_end,
            "align_ms": align_ms,
        },
    )


def _check(
    entry: float, exit_: float, fee_bps: float, slippage_bps: float, notional: float
) -> None:
    if not entry >= 0 or not math.isfinite(entry):
        raise ValueError("entry_threshold must be a non-negative number")
    if not exit_ <= entry:
        raise ValueError("exit_threshold must not exceed entry_threshold (it would churn)")
    if fee_bps < 0 or slippage_bps < 0 or not notional > 0:
        raise ValueError("fee_bps and slippage_bps must be >= 0, notional > 0")


class _Run:
    """The position and running totals of one backtest, one settlement at a time."""

    def __init__(self, notional: float, leg_cost: float, two: bool) -> None:
        self.notional, self.leg_cost, self.two = notional, leg_cost, two
        self.position = 0
        self.cumulative = self.peak = self.max_dd = 0.0
        self.funding_total = self.cost_total = 0.0
        self.trades = self.held = 0
        self.rows: list[BacktestRow] = []

    def settle(
        self,
        t: int,
        ra: float | None,
        rb: float | None,
        signal: float | None,
        entry: float,
        exit_: float,
        *,
        close: bool,
    ) -> None:
        """Earn settlement ``t`` on the position held through it, then trade on ``signal``."""
        position = self.position
        payment = (ra or 0.0) - (rb or 0.0)
        funding_pnl = position * payment * self.notional
        if position:
            self.held += 1
        new_position = position
        if signal is not None:
            if new_position and new_position * signal < exit_:
                new_position = 0
            if not new_position and abs(signal) > entry:
                new_position = 1 if signal > 0 else -1
        if close:
            new_position = 0
        if new_position and new_position != position:
            self.trades += 1
        # Two legs per unit of position change: open/close 2 legs, a flip 4.
        cost = abs(new_position - position) * 2 * self.leg_cost
        pnl = funding_pnl - cost
        self.cumulative += pnl
        self.funding_total += funding_pnl
        self.cost_total += cost
        self.peak = max(self.peak, self.cumulative)
        self.max_dd = max(self.max_dd, self.peak - self.cumulative)
        self.rows.append(
            BacktestRow(
                timestamp=t,
                payment=payment,
                signal=signal if signal is not None else 0.0,
                position=position,
                funding_pnl=funding_pnl,
                new_position=new_position,
                cost=cost,
                pnl=pnl,
                cumulative=self.cumulative,
                rate_a=ra,
                rate_b=rb if self.two else None,
            )
        )
        self.position = new_position


def _signal(
    last_a: float | None,
    last_b: float | None,
    ia: float | None,
    ib: float | None,
    two: bool,
    basis_hours: float | None,
) -> float | None:
    if last_a is None:
        return None
    sa = comparable_rate(last_a, ia, basis_hours)
    if not two:
        return sa
    if last_b is None:
        return None
    return sa - comparable_rate(last_b, ib, basis_hours)

"""Trading signals from the seed's rules, as pure functions with configurable thresholds.

* ``funding_arb``: one venue's funding rate is large -> hold the side that
  receives it against spot ("short perp / long spot" when positive).
* ``funding_divergence``: venues disagree on the funding rate of one market ->
  long the low-rate venue, short the high-rate one. Callers compare a peer group
  (`perptui.core.peers`: one base, USDT = USDC = USD), not one exact symbol.
* ``price_divergence``: venues disagree on the mid price of one symbol.
* ``SustainedImbalance``: book imbalance stays beyond a threshold for N seconds.
* ``carry_backtest`` (implemented in ``perptui.core.backtest``, re-exported here):
  what the funding rules would have earned on a settled history.

Funding thresholds are per ``rate_basis_hours`` (8 h by default, the seed's
implicit interval).  A rate from a market settling every ``h`` hours is rescaled
to ``rate * 8 / h`` before the comparison, so 0.02 % per hour (0.16 % per 8 h)
is treated as the large carry it is and markets with different intervals are
compared like for like.  For 8-hour markets this is exactly the seed's rule on
the raw rate; ``rate_basis_hours=None`` compares raw per-settlement rates.

Every ``Signal`` carries its inputs (JSON-friendly scalars) so the UI can show
why it fired and the ``signals`` table can store it.  Times are passed in, never
read from a clock, so the same functions serve the live monitor and history.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perptui.core.funding import annualized, basis, interval_or_default, rescale
from perptui.core.model import FundingInfo, Signal
from perptui.core.peers import split_symbol


@dataclass(frozen=True, slots=True)
class SignalThresholds:
    """The rules' thresholds (rates as fractions: 0.001 = 0.1 %), as the ``[signals]``
    section of the config file spells them, plus the costs the carry backtest charges
    for trading on these rules (so one record carries everything a signal run needs)."""

    funding_arb: float = 0.001  # |funding rate| per rate_basis_hours above this -> arb
    divergence: float = 0.0005  # cross-venue funding-rate difference above this
    price_divergence: float = 0.0005  # 0.05 % mid-price difference across venues
    imbalance: float = 0.3  # |1 % band imbalance| above this...
    imbalance_sustain_s: float = 30.0  # ...held at least this long
    rate_basis_hours: float | None = 8.0  # see module docstring; None: raw rates
    fee_bps: float = 5.0  # per leg per entry/exit, charged by the carry backtest
    slippage_bps: float = 2.0  # per leg, likewise

    def __post_init__(self) -> None:
        for name in ("funding_arb", "divergence", "price_divergence", "imbalance",
                     "fee_bps", "slippage_bps"):  # fmt: skip
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"threshold {name} must be a non-negative number, got {value!r}")
        if not (0 <= self.imbalance <= 1):
            raise ValueError(f"imbalance threshold must be within [0, 1], got {self.imbalance!r}")
        if not self.imbalance_sustain_s >= 0:
            raise ValueError("imbalance_sustain_s must be >= 0")
        if self.rate_basis_hours is not None and not self.rate_basis_hours > 0:
            raise ValueError("rate_basis_hours must be positive or None")


DEFAULT_THRESHOLDS = SignalThresholds()


def _threshold(thr: SignalThresholds | float | None, name: str) -> tuple[float, float | None]:
    """(threshold, rate basis hours) from either a SignalThresholds or a bare number."""
    if thr is None:
        thr = DEFAULT_THRESHOLDS
    if isinstance(thr, SignalThresholds):
        return float(getattr(thr, name)), thr.rate_basis_hours
    return float(thr), DEFAULT_THRESHOLDS.rate_basis_hours


def comparable_rate(rate: float, interval_hours: float | None, basis_hours: float | None) -> float:
    """The rate as compared with thresholds: rescaled to ``basis_hours`` unless None."""
    if basis_hours is None:
        return rate
    return rescale(rate, interval_hours, basis_hours)


def _usable(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


# --------------------------------------------------------------------------- funding


def funding_arb(
    funding: FundingInfo,
    thr: SignalThresholds | float | None = None,
    *,
    now_ms: int | None = None,
) -> Signal | None:
    """Signal when |funding| exceeds the threshold, on the side that receives it.

    Positive funding: longs pay shorts -> "short perp / long spot"; negative:
    "long perp / short spot".  ``value`` is the (rescaled) rate that was
    compared; ``inputs["annualized_carry"]`` is the yearly carry of the raw rate
    at the market's real interval (8 h assumed when unknown, flagged in
    ``inputs["interval_assumed"]``).  Timestamp: ``now_ms`` or the observation's.
    """
    threshold, basis_hours = _threshold(thr, "funding_arb")
    rate = funding.funding_rate
    if not _usable(rate):
        return None
    assert rate is not None
    hours, assumed = interval_or_default(funding.interval_hours)
    value = comparable_rate(rate, hours, basis_hours)
    if not abs(value) > threshold:
        return None
    carry = annualized(abs(rate), hours)
    return Signal(
        kind="funding_arb",
        exchange=funding.exchange,
        symbol=funding.symbol,
        timestamp=int(now_ms if now_ms is not None else funding.timestamp),
        direction="short perp / long spot" if rate > 0 else "long perp / short spot",
        value=value,
        threshold=threshold,
        inputs={
            "funding_rate": rate,
            "interval_hours": hours,
            "interval_assumed": assumed,
            "rate_basis_hours": basis_hours,
            "annualized_carry": carry,
            "next_funding_time": funding.next_funding_time,
            "predicted_rate": funding.predicted_rate,
            "mark_price": funding.mark_price,
            "index_price": funding.index_price,
            "basis": basis(funding.mark_price, funding.index_price),
        },
    )


def _venue_pair_signal(
    kind: str,
    low_venue: str,
    high_venue: str,
    *,
    symbol: str,
    timestamp: int,
    value: float,
    threshold: float,
    inputs: dict[str, Any],
) -> Signal:
    """A cross-venue signal: long the low venue, short the high one.

    ``exchange`` is "<low>|<high>" and ``inputs`` starts with both venue names, so every
    cross-venue kind reads (and is stored) the same way.
    """
    return Signal(
        kind=kind,
        exchange=f"{low_venue}|{high_venue}",
        symbol=symbol,
        timestamp=timestamp,
        direction=f"long {low_venue} / short {high_venue}",
        value=value,
        threshold=threshold,
        inputs={"low_venue": low_venue, "high_venue": high_venue, **inputs},
    )


def with_legs(sig: Signal, symbols: Mapping[str, str]) -> Signal:
    """A cross-venue signal over a peer group (`perptui.core.peers`) naming each venue's
    market: the venues' symbols differ by quote (BTC/USDT:USDT beside BTC/USDC:USDC).
    ``symbol`` is the high (short) leg's market; ``inputs["symbols"]`` has every venue's
    and ``inputs["mixed_quotes"]`` says whether the dollars differ (see peers' docstring
    for what that assumption costs a price comparison)."""
    high = str(sig.inputs.get("high_venue", ""))
    low = str(sig.inputs.get("low_venue", ""))
    quotes = {split_symbol(symbols[v])[1] for v in (low, high) if v in symbols}
    return Signal(
        kind=sig.kind,
        exchange=sig.exchange,
        symbol=symbols.get(high, sig.symbol),
        timestamp=sig.timestamp,
        direction=sig.direction,
        value=sig.value,
        threshold=sig.threshold,
        inputs={**sig.inputs, "symbols": dict(symbols), "mixed_quotes": len(quotes) > 1},
    )


def funding_divergence(
    fundings: Mapping[str, FundingInfo],
    thr: SignalThresholds | float | None = None,
    *,
    now_ms: int | None = None,
) -> list[Signal]:
    """Cross-venue funding spread for one symbol: ``{venue: FundingInfo}``.

    Compares the highest and lowest (rescaled) rate; when their difference
    exceeds the threshold returns one signal "long <low> / short <high>" with
    ``value`` = the difference and ``exchange`` = "<low>|<high>".  Venues with
    no rate are skipped; fewer than two usable venues -> no signal.  A list so
    callers can ``extend`` results over symbols.
    """
    threshold, basis_hours = _threshold(thr, "divergence")
    rows: list[tuple[float, str, FundingInfo, float]] = []
    for venue, f in fundings.items():
        if not _usable(f.funding_rate):
            continue
        assert f.funding_rate is not None
        hours, _ = interval_or_default(f.interval_hours)
        rows.append((comparable_rate(f.funding_rate, hours, basis_hours), venue, f, hours))
    if len(rows) < 2:
        return []
    rows.sort(key=lambda r: (r[0], r[1]))  # venue name breaks ties deterministically
    low_value, low_venue, low, low_hours = rows[0]
    high_value, high_venue, high, high_hours = rows[-1]
    diff = high_value - low_value
    if not diff > threshold:
        return []
    assert low.funding_rate is not None and high.funding_rate is not None
    low_ann = annualized(low.funding_rate, low_hours)
    high_ann = annualized(high.funding_rate, high_hours)
    assert low_ann is not None and high_ann is not None
    return [
        _venue_pair_signal(
            "divergence",
            low_venue,
            high_venue,
            symbol=high.symbol,
            timestamp=int(now_ms if now_ms is not None else max(low.timestamp, high.timestamp)),
            value=diff,
            threshold=threshold,
            inputs={
                "low_rate": low.funding_rate,
                "high_rate": high.funding_rate,
                "low_interval_hours": low_hours,
                "high_interval_hours": high_hours,
                "rate_basis_hours": basis_hours,
                "annualized_spread": high_ann - low_ann,
                "venues": len(rows),
            },
        )
    ]


def price_divergence(
    mids: Mapping[str, float | None],
    thr: SignalThresholds | float | None = None,
    *,
    symbol: str = "",
    now_ms: int = 0,
) -> list[Signal]:
    """Cross-venue mid-price spread for one symbol: ``{venue: mid}``.

    ``value`` = (high - low) / low.  Signal "long <low> / short <high>" when it
    exceeds the threshold.  Missing or non-positive mids are skipped.
    """
    if isinstance(thr, SignalThresholds) or thr is None:
        threshold = (thr or DEFAULT_THRESHOLDS).price_divergence
    else:
        threshold = float(thr)
    usable = sorted(
        ((float(m), v) for v, m in mids.items() if m is not None and math.isfinite(m) and m > 0),
    )
    if len(usable) < 2:
        return []
    (low_mid, low_venue), (high_mid, high_venue) = usable[0], usable[-1]
    rel = (high_mid - low_mid) / low_mid
    if not rel > threshold:
        return []
    return [
        _venue_pair_signal(
            "price_divergence",
            low_venue,
            high_venue,
            symbol=symbol,
            timestamp=int(now_ms),
            value=rel,
            threshold=threshold,
            inputs={
                "low_mid": low_mid,
                "high_mid": high_mid,
                "venues": len(usable),
            },
        )
    ]


def executable_divergence(
    tops: Mapping[str, tuple[float | None, float | None]],
    fees: Mapping[str, float] | None = None,
    threshold: float = 0.0,
    *,
    symbol: str = "",
    now_ms: int = 0,
) -> list[Signal]:
    """Cross-venue price divergence that can be traded: ``{venue: (best bid, best ask)}``.

    Buying at one venue's best ask and selling at another's best bid earns
    ``bid / ask - 1`` before costs; ``fees`` (taker fee per venue, a fraction, 0 when
    absent) are paid on both fills.  The signal fires when the best such edge net of
    fees exceeds ``threshold``: "long <ask venue> / short <bid venue>".  Mids that
    differ by less than the spreads (the venues' books overlap) never fire, however
    far apart the mids are in basis points.  Crossed or one-sided tops are skipped.
    """
    fee = fees or {}
    usable = {
        v: (float(b), float(a))
        for v, (b, a) in tops.items()
        if b is not None and a is not None and math.isfinite(b) and math.isfinite(a) and 0 < b <= a
    }
    best: tuple[float, float, str, str] | None = None
    for buy, (_, ask) in usable.items():
        for sell, (bid, _) in usable.items():
            if buy == sell:
                continue
            gross = bid / ask - 1.0
            net = gross - fee.get(buy, 0.0) - fee.get(sell, 0.0)
            if best is None or (net, gross) > (best[0], best[1]):
                best = (net, gross, buy, sell)
    if best is None or not best[0] > threshold:
        return []
    net, gross, buy, sell = best
    return [
        _venue_pair_signal(
            "price_divergence",
            buy,
            sell,
            symbol=symbol,
            timestamp=int(now_ms),
            value=net,
            threshold=threshold,
            inputs={
                "buy_ask": usable[buy][1],
                "sell_bid": usable[sell][0],
                "gross_edge": gross,
                "buy_fee": fee.get(buy, 0.0),
                "sell_fee": fee.get(sell, 0.0),
                "net_edge": net,
                "venues": len(usable),
            },
        )
    ]


# --------------------------------------------------------------------------- imbalance


@dataclass(slots=True)
class _Run:
    start_ms: int
    last_ms: int
    sign: int
    fired: bool = False


class SustainedImbalance:
    """Fires once when |imbalance| stays above ``threshold`` for ``seconds``.

    Feed it every sample with the sample's time; it keeps one run per
    (exchange, symbol).  A run ends (and the tracker re-arms) when |imbalance|
    drops to the threshold or below, turns to the other side, or is unknown
    (None / NaN).  "Continuously" is judged from the samples seen; with
    ``max_gap_s`` set, two samples further apart than that also break the run,
    so a stalled feed cannot look like a sustained imbalance.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLDS.imbalance,
        seconds: float = DEFAULT_THRESHOLDS.imbalance_sustain_s,
        *,
        max_gap_s: float | None = None,
    ) -> None:
        if not (0 <= threshold <= 1) or seconds < 0:
            raise ValueError("threshold must be in [0, 1] and seconds >= 0")
        self.threshold = float(threshold)
        self.seconds = float(seconds)
        self.max_gap_ms = None if max_gap_s is None else float(max_gap_s) * 1000.0
        self._runs: dict[tuple[str, str], _Run] = {}

    @classmethod
    def from_thresholds(
        cls, thr: SignalThresholds, *, max_gap_s: float | None = None
    ) -> SustainedImbalance:
        return cls(thr.imbalance, thr.imbalance_sustain_s, max_gap_s=max_gap_s)

    def update(
        self, exchange: str, symbol: str, imbalance: float | None, now_ms: int
    ) -> Signal | None:
        key = (exchange, symbol)
        if imbalance is None or not math.isfinite(imbalance) or abs(imbalance) <= self.threshold:
            self._runs.pop(key, None)
            return None
        sign = 1 if imbalance > 0 else -1
        run = self._runs.get(key)
        broken = run is not None and (
            run.sign != sign
            or now_ms < run.last_ms
            or (self.max_gap_ms is not None and now_ms - run.last_ms > self.max_gap_ms)
        )
        if run is None or broken:
            run = self._runs[key] = _Run(start_ms=now_ms, last_ms=now_ms, sign=sign)
        run.last_ms = now_ms
        held_ms = now_ms - run.start_ms
        if run.fired or held_ms < self.seconds * 1000.0:
            return None
        run.fired = True
        return Signal(
            kind="imbalance",
            exchange=exchange,
            symbol=symbol,
            timestamp=int(now_ms),
            direction="bid-heavy: buy pressure" if sign > 0 else "ask-heavy: sell pressure",
            value=imbalance,
            threshold=self.threshold,
            inputs={
                "imbalance": imbalance,
                "since_ms": run.start_ms,
                "held_s": held_ms / 1000.0,
                "required_s": self.seconds,
                "side": "bid" if sign > 0 else "ask",
            },
        )

    def active(self, exchange: str, symbol: str) -> bool:
        """True while a run above the threshold is in progress (fired or not)."""
        return (exchange, symbol) in self._runs

    def forget(self, exchange: str, symbol: str) -> None:
        """Drop the run of a market no longer watched."""
        self._runs.pop((exchange, symbol), None)

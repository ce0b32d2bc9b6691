"""The seed's signal rules over the whole board (every perpetual, not just watched ones).

* ``funding_arb`` on every row (rate compared per 8 h, as in ``perptui.core.signals``);
* ``divergence``: per peer group (one base, USDT = USDC = USD: `perptui.core.peers`),
  the venues' funding rates (per 8 h) further apart than the threshold;
* ``price_divergence``: per peer group, the best bid of one venue above the best ask of
  another by more than both taker fees (``executable_divergence``) - not a mid compare.

Returns every condition that holds now; the caller decides which are news (episodes).
"""

from __future__ import annotations

from collections.abc import Iterable

from perptui.core import signals as rules
from perptui.core.board import BoardRow, CarryCosts
from perptui.core.model import FundingInfo, Signal
from perptui.core.peers import peer_groups


def _funding(row: BoardRow) -> FundingInfo:
    return FundingInfo(
        exchange=row.venue,
        symbol=row.symbol,
        timestamp=row.timestamp,
        funding_rate=row.funding_rate,
        next_funding_time=row.next_funding_time,
        interval_hours=None if row.interval_assumed else row.interval_hours,
        mark_price=row.mark_price,
        index_price=row.index_price,
        predicted_rate=row.predicted_rate,
    )


def market_signals(
    rows: Iterable[BoardRow],
    thresholds: rules.SignalThresholds | None = None,
    costs: CarryCosts | None = None,
    *,
    price_edge: float = 0.0,
    now_ms: int = 0,
) -> list[Signal]:
    thr = thresholds or rules.DEFAULT_THRESHOLDS
    c = costs or CarryCosts()
    out: list[Signal] = []
    rows = list(rows)
    for row in rows:
        if row.funding_rate is not None:
            sig = rules.funding_arb(_funding(row), thr, now_ms=now_ms)
            if sig is not None:
                out.append(sig)
    for per_venue in peer_groups((r.venue, r.symbol, r) for r in rows if r.base).values():
        if len(per_venue) < 2:
            continue
        symbols = {v: r.symbol for v, r in per_venue.items()}
        fundings = {v: _funding(r) for v, r in per_venue.items() if r.funding_rate is not None}
        for sig in rules.funding_divergence(fundings, thr, now_ms=now_ms):
            out.append(rules.with_legs(sig, symbols))
        tops = {v: (r.bid, r.ask) for v, r in per_venue.items()}
        fees = {v: c.fee(v) for v in per_venue}
        symbol = next(iter(per_venue.values())).symbol
        for sig in rules.executable_divergence(
            tops, fees, price_edge, symbol=symbol, now_ms=now_ms
        ):
            out.append(rules.with_legs(sig, symbols))
    return out

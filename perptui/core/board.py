"""The funding board: every perpetual of every venue as comparable rows, and the carry
between venues.  Pure functions over frozen records; no I/O, no clock.

Rates are fractions per settlement (0.0001 = 0.01 %).  Markets settle every 1, 4 or 8
hours, so every comparison goes through the rate *per hour of holding*: ``rate_8h`` and
``apr`` are derived from it, and a 1 h market paying 0.01 % is ranked with an 8 h market
paying 0.08 %, not with one paying 0.01 %.

Carry between two venues (long the perpetual where funding is low, short where it is
high) earns the short leg's funding and pays the long leg's, per hour.  Costs are a taker
fee per leg on entry and again on exit; spread over a holding period of ``holding_hours``
they become a yearly drag subtracted from the APR spread::

    apr_spread = short_apr - long_apr
    cost       = 2 * (fee_long + fee_short)          # fractions of notional
    cost_apr   = cost * HOURS_PER_YEAR / holding_hours
    net_apr    = apr_spread - cost_apr
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from perptui.core.funding import DAYS_PER_YEAR, basis, interval_or_default
from perptui.core.model import MarketQuote
from perptui.core.numbers import finite_float
from perptui.core.peers import peer_groups

HOURS_PER_YEAR = 24 * DAYS_PER_YEAR
BPS = 1e-4


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One (venue, perpetual) on the board, with everything derived from its quote."""

    venue: str
    symbol: str
    base: str
    funding_rate: float | None
    interval_hours: float
    interval_assumed: bool  # the venue did not say; 8 h assumed
    rate_1h: float | None
    rate_8h: float | None
    apr: float | None
    predicted_rate: float | None
    next_funding_time: int | None
    basis: float | None
    mark_price: float | None
    index_price: float | None
    bid: float | None
    ask: float | None
    open_interest_usd: float | None
    volume_24h_usd: float | None
    timestamp: int
    previous_interval_hours: float | None = None  # set while a recent change is shown
    interval_changed_at: int | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# Columns a board can be sorted by, in display order; the value None always sorts last.
SORT_COLUMNS: tuple[str, ...] = (
    "venue",
    "symbol",
    "funding_rate",
    "interval_hours",
    "rate_8h",
    "apr",
    "predicted_rate",
    "next_funding_time",
    "basis",
    "open_interest_usd",
    "volume_24h_usd",
)
# Sorted high-to-low by default: a funding trader looks for the largest numbers first.
DESCENDING_BY_DEFAULT = frozenset(
    {
        "funding_rate",
        "rate_8h",
        "apr",
        "predicted_rate",
        "basis",
        "open_interest_usd",
        "volume_24h_usd",
    }
)


def board_row(q: MarketQuote, previous: BoardRow | None = None) -> BoardRow:
    """Derive a row; ``previous`` (the same market's last row) carries interval changes."""
    hours, assumed = interval_or_default(q.interval_hours)
    rate = finite_float(q.funding_rate)
    per_hour = rate / hours if rate is not None else None
    prev_hours = previous.previous_interval_hours if previous is not None else None
    changed_at = previous.interval_changed_at if previous is not None else None
    if (
        previous is not None
        and not assumed
        and not previous.interval_assumed
        and previous.interval_hours != hours
    ):
        prev_hours, changed_at = previous.interval_hours, q.timestamp
    return BoardRow(
        venue=q.exchange,
        symbol=q.symbol,
        base=q.base,
        funding_rate=rate,
        interval_hours=hours,
        interval_assumed=assumed,
        rate_1h=per_hour,
        rate_8h=per_hour * 8 if per_hour is not None else None,
        apr=per_hour * HOURS_PER_YEAR if per_hour is not None else None,
        predicted_rate=finite_float(q.predicted_rate),
        next_funding_time=q.next_funding_time,
        basis=basis(q.mark_price, q.index_price, stated=q.basis),
        mark_price=finite_float(q.mark_price),
        index_price=finite_float(q.index_price),
        bid=finite_float(q.bid),
        ask=finite_float(q.ask),
        open_interest_usd=finite_float(q.open_interest_usd),
        volume_24h_usd=finite_float(q.volume_24h_usd),
        timestamp=q.timestamp,
        previous_interval_hours=prev_hours,
        interval_changed_at=changed_at,
    )


def board_rows(
    quotes: Iterable[MarketQuote], previous: Mapping[tuple[str, str], BoardRow] | None = None
) -> list[BoardRow]:
    prev = previous or {}
    return [board_row(q, prev.get((q.exchange, q.symbol))) for q in quotes]


def sort_key(column: str) -> Callable[[BoardRow], Any]:
    if column not in SORT_COLUMNS:
        raise ValueError(f"unknown column {column!r} (choose from {', '.join(SORT_COLUMNS)})")

    def key(row: BoardRow) -> Any:
        value = getattr(row, column)
        return (value is None, value if value is not None else 0, row.venue, row.symbol)

    return key


def sort_rows(
    rows: Iterable[BoardRow], column: str = "apr", descending: bool | None = None
) -> list[BoardRow]:
    """Rows ordered by ``column``; missing values last in either direction."""
    desc = column in DESCENDING_BY_DEFAULT if descending is None else descending
    key = sort_key(column)
    present = [r for r in rows if getattr(r, column) is not None]
    absent = [r for r in rows if getattr(r, column) is None]
    present.sort(key=key, reverse=desc)
    absent.sort(key=lambda r: (r.venue, r.symbol))
    return present + absent


def filter_rows(
    rows: Iterable[BoardRow],
    text: str = "",
    *,
    min_oi_usd: float = 0.0,
    min_volume_usd: float = 0.0,
    venues: Iterable[str] | None = None,
) -> list[BoardRow]:
    """Rows whose venue or symbol contains ``text`` (case-insensitive) and that clear
    the OI / volume floors (a row with unknown OI fails a positive OI floor)."""
    needle = text.strip().upper()
    keep_venues = {v.lower() for v in venues} if venues else None
    out = []
    for r in rows:
        if keep_venues is not None and r.venue not in keep_venues:
            continue
        if needle and needle not in r.symbol.upper() and needle not in r.venue.upper():
            continue
        if min_oi_usd > 0 and not (r.open_interest_usd or 0.0) >= min_oi_usd:
            continue
        if min_volume_usd > 0 and not (r.volume_24h_usd or 0.0) >= min_volume_usd:
            continue
        out.append(r)
    return out


# --------------------------------------------------------------------------- carry


@dataclass(frozen=True, slots=True)
class CarryCosts:
    """Taker fee per venue (bp of notional per fill) and the holding period."""

    taker_fee_bps: Mapping[str, float] = field(default_factory=dict)
    default_fee_bps: float = 5.0
    holding_hours: float = 168.0  # a week

    def __post_init__(self) -> None:
        if not (math.isfinite(self.holding_hours) and self.holding_hours > 0):
            raise ValueError("holding_hours must be a positive number")
        for venue, fee in {**self.taker_fee_bps, "default": self.default_fee_bps}.items():
            if not (math.isfinite(fee) and fee >= 0):
                raise ValueError(f"taker fee of {venue} must be >= 0 bp, got {fee!r}")

    def fee(self, venue: str) -> float:
        """Taker fee of ``venue`` as a fraction."""
        return float(self.taker_fee_bps.get(venue, self.default_fee_bps)) * BPS


@dataclass(frozen=True, slots=True)
class CarryPair:
    """The best long/short venue pair of one base asset, with every input."""

    base: str
    long_venue: str
    short_venue: str
    long_symbol: str
    short_symbol: str
    long_rate: float
    short_rate: float
    long_interval_hours: float
    short_interval_hours: float
    long_rate_1h: float
    short_rate_1h: float
    long_apr: float
    short_apr: float
    apr_spread: float
    long_fee: float
    short_fee: float
    round_trip_cost: float
    holding_hours: float
    cost_apr: float
    net_apr: float
    venues: int
    oi_weighted_apr: float | None
    volume_weighted_apr: float | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def weighted_apr(
    rows: Sequence[BoardRow], weight: Callable[[BoardRow], float | None]
) -> float | None:
    """Average APR of ``rows`` weighted by ``weight`` (rows without weight or APR skipped)."""
    num = den = 0.0
    for r in rows:
        w = weight(r)
        if r.apr is None or w is None or not w > 0:
            continue
        num += r.apr * w
        den += w
    return num / den if den > 0 else None


def by_base(rows: Iterable[BoardRow]) -> dict[str, list[BoardRow]]:
    """Rows with an APR grouped by peer group (`perptui.core.peers`: one base, USDT =
    USDC = USD; inverse contracts apart), one row per venue (its preferred dollar)."""
    usable = ((r.venue, r.symbol, r) for r in rows if r.apr is not None and r.base)
    return {key: list(g.values()) for key, g in peer_groups(usable).items()}


def best_pair(base: str, rows: Sequence[BoardRow], costs: CarryCosts) -> CarryPair | None:
    """Long the venue with the lowest APR, short the highest (ties: venue name)."""
    usable = [r for r in rows if r.apr is not None and r.rate_1h is not None]
    if len({r.venue for r in usable}) < 2:
        return None
    ranked = sorted(usable, key=lambda r: (r.apr, r.venue))
    lo, hi = ranked[0], ranked[-1]
    assert lo.apr is not None and hi.apr is not None and lo.funding_rate is not None
    assert hi.funding_rate is not None and lo.rate_1h is not None and hi.rate_1h is not None
    long_fee, short_fee = costs.fee(lo.venue), costs.fee(hi.venue)
    cost = 2 * (long_fee + short_fee)
    cost_apr = cost * HOURS_PER_YEAR / costs.holding_hours
    spread = hi.apr - lo.apr
    return CarryPair(
        base=base,
        long_venue=lo.venue,
        short_venue=hi.venue,
        long_symbol=lo.symbol,
        short_symbol=hi.symbol,
        long_rate=lo.funding_rate,
        short_rate=hi.funding_rate,
        long_interval_hours=lo.interval_hours,
        short_interval_hours=hi.interval_hours,
        long_rate_1h=lo.rate_1h,
        short_rate_1h=hi.rate_1h,
        long_apr=lo.apr,
        short_apr=hi.apr,
        apr_spread=spread,
        long_fee=long_fee,
        short_fee=short_fee,
        round_trip_cost=cost,
        holding_hours=costs.holding_hours,
        cost_apr=cost_apr,
        net_apr=spread - cost_apr,
        venues=len({r.venue for r in usable}),
        oi_weighted_apr=weighted_apr(usable, lambda r: r.open_interest_usd),
        volume_weighted_apr=weighted_apr(usable, lambda r: r.volume_24h_usd),
    )


def carry_pairs(rows: Iterable[BoardRow], costs: CarryCosts | None = None) -> list[CarryPair]:
    """Best pair of every base listed on two venues or more, best net APR first."""
    c = costs or CarryCosts()
    pairs = [p for rs in by_base(rows).values() if (p := best_pair(rs[0].base, rs, c))]
    pairs.sort(key=lambda p: (-p.net_apr, p.base))
    return pairs


# --------------------------------------------------------------------------- episodes


class Episodes:
    """Once-per-episode gate: a condition reported while it lasts fires only on entry.

    ``update(active_keys)`` returns the keys that just became active; a key leaves its
    episode when it is absent from an update (and fires again if it comes back).
    """

    def __init__(self) -> None:
        self._active: set[Any] = set()

    def update(self, keys: Iterable[Any]) -> set[Any]:
        now = set(keys)
        fresh = now - self._active
        self._active = now
        return fresh

    def update_scope(self, scope: Callable[[Any], bool], keys: Iterable[Any]) -> set[Any]:
        """Like ``update`` but only for keys where ``scope(key)``: one venue's refresh
        must not end the episodes of the venues it did not see."""
        now = set(keys)
        kept = {k for k in self._active if not scope(k)}
        fresh = now - self._active
        self._active = kept | now
        return fresh

    @property
    def active(self) -> frozenset[Any]:
        return frozenset(self._active)

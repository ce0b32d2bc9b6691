"""Pool-based perpetuals (GMX v2): fixed-point scales, funding asymmetry, price impact.

GMX has no order book and no funding settlements. Traders take the other side of a pool;
funding flows continuously from the larger open-interest side to the smaller, and the
pool charges a borrowing fee on top. Everything here is pure arithmetic on the integers
GMX publishes; the sources of every scale are cited where it is used.

Scales (gmx-io/gmx-synthetics contracts/utils/Precision.sol: FLOAT_PRECISION = 10^30;
gmx-io/gmx-interface sdk/src/utils/tokens/utils.ts ``parseContractPrice``):

- USD amounts (open interest, liquidity) are USD x 10^30;
- a token price is USD x 10^30 per *smallest unit* of the token, so a price in USD per
  whole token is ``raw / 10^(30 - token decimals)``;
- funding and borrowing factors are rates x 10^30. On chain they are per second
  (``fundingFactorPerSecond``, ``borrowingFactorPerSecondForLongs``); gmx-interface turns
  them into a period's rate by multiplying with the period's seconds
  (sdk/src/utils/fees/index.ts ``getFundingFactorPerPeriod`` /
  ``getBorrowingFactorPerPeriod``), a year being 31,536,000 s
  (src/components/NetRateChart ``rateToProjectedPercent``).
"""

from __future__ import annotations

from dataclasses import dataclass

FLOAT_PRECISION = 10**30
SECONDS_PER_HOUR = 3_600
SECONDS_PER_YEAR = 31_536_000  # 365 d, GMX's own projection year
HOURS_PER_YEAR = SECONDS_PER_YEAR // SECONDS_PER_HOUR  # 8760


def usd(raw: int | str) -> float:
    """USD x 10^30 -> USD."""
    return int(raw) / FLOAT_PRECISION


def token_price_usd(raw: int | str, token_decimals: int) -> float:
    """GMX oracle price (USD x 10^30 per smallest unit) -> USD per whole token."""
    return int(raw) / 10 ** (30 - int(token_decimals))


def factor(raw: int | str) -> float:
    """A 10^30 fixed-point factor -> plain number."""
    return int(raw) / FLOAT_PRECISION


def per_hour(rate: float, period_s: int) -> float:
    """A rate over `period_s` seconds -> the same rate per hour (continuous, linear)."""
    return rate * SECONDS_PER_HOUR / period_s


def receiving_rate(paying_rate: float, paying_oi: float, receiving_oi: float) -> float | None:
    """What the smaller side earns: the payers' funding spread over fewer positions.

    gmx-interface getFundingFactorPerPeriod: the receiving side's factor is the paying
    factor x paying OI / receiving OI (the same USD flow over a smaller base)."""
    if receiving_oi <= 0:
        return None
    return paying_rate * paying_oi / receiving_oi


@dataclass(frozen=True, slots=True)
class ImpactQuote:
    size_usd: float
    long_bps: float  # price impact of opening a long of `size_usd` (negative = cost)
    short_bps: float


@dataclass(frozen=True, slots=True)
class PoolState:
    """One GMX market's live state, per side. Rates are per hour, GMX's sign: a positive
    funding rate is received by that side, a negative one paid; borrowing is a cost."""

    exchange: str
    symbol: str
    timestamp: int
    funding_long_h: float | None
    funding_short_h: float | None
    borrowing_long_h: float | None
    borrowing_short_h: float | None
    oi_long_usd: float | None
    oi_short_usd: float | None
    available_long_usd: float | None  # what can still be opened on that side
    available_short_usd: float | None
    impacts: tuple[ImpactQuote, ...] = ()

    @property
    def paying_side(self) -> str | None:
        """'long' / 'short' (who pays funding now), None when nobody does."""
        fl, fs = self.funding_long_h or 0.0, self.funding_short_h or 0.0
        if fl < 0 or fs > 0:
            return "long"
        if fs < 0 or fl > 0:
            return "short"
        return None

    @property
    def cap_long_usd(self) -> float | None:
        """Open-interest cap of the long side as the pool states it (OI + available)."""
        if self.oi_long_usd is None or self.available_long_usd is None:
            return None
        return self.oi_long_usd + self.available_long_usd

    @property
    def cap_short_usd(self) -> float | None:
        if self.oi_short_usd is None or self.available_short_usd is None:
            return None
        return self.oi_short_usd + self.available_short_usd


def annualized(rate_h: float | None) -> float | None:
    return None if rate_h is None else rate_h * HOURS_PER_YEAR


def price_impact_usd(
    long_oi: float,
    short_oi: float,
    size_usd: float,
    is_long: bool,
    factor_positive: float,
    factor_negative: float,
    exponent: float,
) -> float:
    """Position price impact of opening `size_usd`, in USD (positive = in the trader's favour).

    gmx-synthetics PricingUtils.getPriceImpactUsd: with d the OI imbalance |long - short|
    before and d' after the trade, a trade that shrinks the imbalance earns
    (d^e - d'^e) x positive factor, one that grows it pays (d'^e - d^e) x negative factor,
    and one that flips it earns on the way to balance and pays past it.
    """
    before = long_oi - short_oi
    after = before + (size_usd if is_long else -size_usd)
    d0, d1 = abs(before), abs(after)
    if before == 0 or (before > 0) == (after > 0) or after == 0:
        if d1 < d0:
            return (d0**exponent - d1**exponent) * factor_positive
        return -(d1**exponent - d0**exponent) * factor_negative
    # crossing: improve to zero, then worsen on the other side
    return d0**exponent * factor_positive - d1**exponent * factor_negative


def impact_quotes(
    long_oi: float,
    short_oi: float,
    sizes: tuple[float, ...],
    factor_positive: float,
    factor_negative: float,
    exponent: float,
) -> tuple[ImpactQuote, ...]:
    out = []
    for size in sizes:
        args = (factor_positive, factor_negative, exponent)
        lo = price_impact_usd(long_oi, short_oi, size, True, *args)
        sh = price_impact_usd(long_oi, short_oi, size, False, *args)
        out.append(ImpactQuote(size, lo / size * 1e4, sh / size * 1e4))
    return tuple(out)

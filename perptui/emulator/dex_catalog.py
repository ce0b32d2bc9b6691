"""Emulated markets of the three DEX venues: Hyperliquid, dYdX v4 and GMX v2.

They list the same underlyings as the CEX venues, quoted in USDC (Hyperliquid, dYdX:
``BTC/USDC:USDC``) or in USD against a pool (GMX: ``BTC/USD:USD``), with funding every
hour (GMX: continuous, shown per hour). Ticks keep five significant figures at the
anchor price, as Hyperliquid's price rule does; lots are Hyperliquid's ``szDecimals``
(10^-szDecimals, from the recorded ``meta`` universe where the coin is in it).

Each DEX lists every major and its own share of the long tail (`TAIL_SHARE`, drawn per
venue and coin like the CEX listings in ``universe``), so the three listings differ as
the real ones do: Hyperliquid lists most of what the CEXes list, dYdX v4 fewer, GMX v2 a
short list of pools.
"""

from __future__ import annotations

import hashlib
import math
from decimal import Decimal

from perptui.emulator import universe
from perptui.emulator.catalog import ASSETS, MAJORS, VenueMarket

DEX_VENUES: tuple[str, ...] = ("hyperliquid", "dydx", "gmx")
QUOTES: dict[str, str] = {"hyperliquid": "USDC", "dydx": "USDC", "gmx": "USD"}
# Share of the long tail each DEX lists (GMX v2 has about 90 markets on Arbitrum).
TAIL_SHARE: dict[str, float] = {"hyperliquid": 0.75, "dydx": 0.55, "gmx": 0.25}
# Hyperliquid szDecimals (meta universe): lot = 10^-szDecimals
SZ_DECIMALS: dict[str, int] = {
    "BTC": 5, "ETH": 4, "SOL": 2, "BNB": 3, "XRP": 0, "DOGE": 0, "ADA": 0, "AVAX": 2,
    "LINK": 1, "LTC": 2, "DOT": 1, "TRX": 0, "SUSHI": 1, "NEAR": 1, "ARB": 1, "OP": 1,
    "SUI": 1, "APT": 2,
}  # fmt: skip


def five_sig_tick(price: float) -> Decimal:
    return Decimal(1).scaleb(math.floor(math.log10(price)) - 4)


def gmx_address(base: str) -> str:
    """A stable, checksum-free fake market token address for the emulated GMX pool."""
    return "0x" + hashlib.sha256(f"gmx-pool-{base}".encode()).hexdigest()[:40]


def dex_venue_id(venue: str, base: str) -> str:
    if venue == "dydx":
        return f"{base}-USD"
    if venue == "gmx":
        return gmx_address(base)
    return base  # hyperliquid: the coin name


def dex_listed(venue: str, base: str) -> bool:
    """Every major; a deterministic `TAIL_SHARE` of the tail, drawn per venue and coin."""
    return base in MAJORS or universe.unit(venue, base, "dex-listed") < TAIL_SHARE[venue]


def dex_venue_markets(venue: str) -> tuple[VenueMarket, ...]:
    if venue not in DEX_VENUES:
        raise KeyError(f"unknown emulator venue {venue!r}")
    out = []
    for base, asset in ASSETS.items():
        if not dex_listed(venue, base):
            continue
        lot = Decimal(1).scaleb(-SZ_DECIMALS.get(base, 1))
        out.append(
            VenueMarket(
                venue=venue,
                base=base,
                quote=QUOTES[venue],
                venue_id=dex_venue_id(venue, base),
                tick=five_sig_tick(asset.price),
                lot=lot,
                min_qty=lot,
                max_qty=Decimal(10_000_000),
                contract_size=Decimal(1),
                funding_interval_h=1,
                asset=asset,
            )
        )
    return tuple(out)

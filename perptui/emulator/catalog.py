"""Market definitions for the emulator: which perps each venue lists, on which tick and lot.

Built-in values mirror the real venues closely enough for the book and the clients' precision
handling to behave as live (tick/lot/contract size). When the recorded ccxt market files are
available (``$PERPTUI_FIXTURES`` or ``<repo>/../shared/fixtures/exchanges``), their tick, lot,
contract size and amount limits override the built-ins; the emulator never *needs* them.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path

from perptui.emulator import universe

VENUES: tuple[str, ...] = ("binance", "bybit", "okx", "hyperliquid", "dydx", "gmx")

# Listing date of every emulated market: history (candles, funding) starts here.
LISTING_MS = 1_640_995_200_000  # 2022-01-01T00:00:00Z


@dataclass(frozen=True)
class Asset:
    """Venue-independent facts about an underlying."""

    base: str
    price: float  # long-run anchor price in USDT
    vol: float  # annualised volatility of the fair price
    oi_usd: float  # typical open interest (USDT notional) on a big venue
    volume_usd: float  # typical 24 h quote volume on a big venue


@dataclass(frozen=True)
class VenueMarket:
    """One USDT-margined linear perpetual as listed on one venue."""

    venue: str
    base: str
    quote: str
    venue_id: str  # BTCUSDT (binance, bybit) / BTC-USDT-SWAP (okx)
    tick: Decimal  # price increment
    lot: Decimal  # amount increment, in the venue's native unit (contracts on okx)
    min_qty: Decimal
    max_qty: Decimal
    contract_size: Decimal  # base units per native amount unit (1 except okx)
    funding_interval_h: int
    asset: Asset

    @property
    def symbol(self) -> str:
        return f"{self.base}/{self.quote}:{self.quote}"

    @property
    def price_decimals(self) -> int:
        return _decimals(self.tick)

    @property
    def qty_decimals(self) -> int:
        return _decimals(self.lot)

    def fmt_price(self, ticks: int) -> str:
        """Wire string of a price given as an integer number of ticks."""
        return _fmt_units(ticks, self.tick)

    def fmt_qty(self, lots: int) -> str:
        """Wire string of an amount given as an integer number of lots."""
        return _fmt_units(lots, self.lot)

    def fmt_float_price(self, value: float) -> str:
        return f"{round(value / float(self.tick)) * float(self.tick):.{self.price_decimals}f}"


@lru_cache(maxsize=4096)
def _decimals(step: Decimal) -> int:
    exp = step.normalize().as_tuple().exponent
    return max(0, -int(exp))


@lru_cache(maxsize=4096)
def _step_parts(step: Decimal) -> tuple[int, int, int]:
    """``step`` as (integer multiple of 10^-d, d, 10^d): exact, so a price in ticks
    formats with integer arithmetic (a 1000-level frame formats 2,000 numbers)."""
    d = _decimals(step)
    return int(step.scaleb(d)), d, 10**d


def _fmt_units(units: int, step: Decimal) -> str:
    mult, d, scale = _step_parts(step)
    value = units * mult
    if not d:
        return str(value)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), scale)
    return f"{sign}{whole}.{frac:0{d}d}"


ASSETS: dict[str, Asset] = {
    a.base: a
    for a in (
        Asset("BTC", 68000.0, 0.60, 8.0e9, 1.2e10),
        Asset("ETH", 3400.0, 0.72, 4.5e9, 7.0e9),
        Asset("SOL", 150.0, 0.95, 2.0e9, 3.0e9),
        Asset("BNB", 580.0, 0.60, 6.0e8, 6.0e8),
        Asset("XRP", 0.55, 0.85, 9.0e8, 1.5e9),
        Asset("DOGE", 0.15, 1.00, 1.0e9, 1.8e9),
        Asset("ADA", 0.45, 0.90, 4.0e8, 5.0e8),
        Asset("AVAX", 32.0, 1.00, 3.5e8, 4.0e8),
        Asset("LINK", 15.0, 0.95, 3.5e8, 4.0e8),
        Asset("LTC", 80.0, 0.80, 3.0e8, 4.0e8),
        Asset("DOT", 6.5, 0.90, 2.0e8, 2.5e8),
        Asset("TRX", 0.12, 0.55, 1.5e8, 1.5e8),
        Asset("SUSHI", 1.0, 1.10, 4.0e7, 8.0e7),
        Asset("NEAR", 5.0, 1.05, 2.0e8, 2.5e8),
        Asset("ARB", 1.0, 1.05, 2.0e8, 3.0e8),
        Asset("OP", 2.0, 1.05, 1.5e8, 2.0e8),
        Asset("SUI", 1.2, 1.15, 3.0e8, 5.0e8),
        Asset("APT", 9.0, 1.05, 1.5e8, 2.0e8),
    )
}

# (tick, lot, min_qty, max_qty[, contract_size]) per venue. okx amounts are contracts.
_BINANCE: dict[str, tuple[str, str, str, str]] = {
    "BTC": ("0.10", "0.001", "0.001", "1000"),
    "ETH": ("0.01", "0.001", "0.001", "10000"),
    "SOL": ("0.0100", "1", "1", "1000000"),
    "BNB": ("0.010", "0.01", "0.01", "2000"),
    "XRP": ("0.0001", "0.1", "0.1", "10000000"),
    "DOGE": ("0.000010", "1", "1", "50000000"),
    "ADA": ("0.00010", "1", "1", "10000000"),
    "AVAX": ("0.0010", "1", "1", "1000000"),
    "LINK": ("0.001", "0.01", "0.01", "1000000"),
    "LTC": ("0.01", "0.001", "0.001", "10000"),
    "DOT": ("0.001", "0.1", "0.1", "1000000"),
    "TRX": ("0.00001", "1", "1", "50000000"),
    "SUSHI": ("0.0001", "1", "1", "10000000"),
    "NEAR": ("0.0010", "1", "1", "1000000"),
    "ARB": ("0.0001", "0.1", "0.1", "10000000"),
    "OP": ("0.0001000", "0.1", "0.1", "10000000"),
    "SUI": ("0.000100", "0.1", "0.1", "10000000"),
    "APT": ("0.00010", "0.1", "0.1", "1000000"),
}
_BYBIT: dict[str, tuple[str, str, str, str]] = {
    "BTC": ("0.10", "0.001", "0.001", "1190"),
    "ETH": ("0.01", "0.01", "0.01", "7240"),
    "SOL": ("0.010", "0.1", "0.1", "79770"),
    "BNB": ("0.10", "0.01", "0.01", "2400"),
    "XRP": ("0.0001", "1", "1", "2540000"),
    "DOGE": ("0.00001", "1", "1", "27600000"),
    "ADA": ("0.0001", "1", "1", "6300000"),
    "AVAX": ("0.001", "0.1", "0.1", "110000"),
    "LINK": ("0.001", "0.1", "0.1", "220000"),
    "LTC": ("0.01", "0.1", "0.1", "35000"),
    "DOT": ("0.001", "0.1", "0.1", "500000"),
    "TRX": ("0.00001", "1", "1", "24000000"),
    "SUSHI": ("0.0001", "0.1", "0.1", "1500000"),
    "NEAR": ("0.001", "0.1", "0.1", "700000"),
    "ARB": ("0.0001", "0.1", "0.1", "3500000"),
    "OP": ("0.0001", "0.1", "0.1", "1600000"),
    "SUI": ("0.00010", "10", "10", "2700000"),
    "APT": ("0.0001", "0.01", "0.01", "420000"),
}
_OKX: dict[str, tuple[str, str, str, str, str]] = {
    "BTC": ("0.1", "0.01", "0.01", "10000", "0.01"),
    "ETH": ("0.01", "0.01", "0.01", "10000", "0.1"),
    "SOL": ("0.01", "0.01", "0.01", "100000", "1"),
    "BNB": ("0.01", "0.01", "0.01", "10000", "0.01"),
    "XRP": ("0.0001", "0.01", "0.01", "100000", "100"),
    "DOGE": ("0.00001", "0.01", "0.01", "100000", "1000"),
    "ADA": ("0.0001", "0.1", "0.1", "100000", "100"),
    "AVAX": ("0.001", "0.1", "0.1", "100000", "1"),
    "LINK": ("0.001", "0.1", "0.1", "100000", "1"),
    "LTC": ("0.01", "0.1", "0.1", "100000", "1"),
    "DOT": ("0.001", "0.1", "0.1", "100000", "1"),
    "TRX": ("0.00001", "0.1", "0.1", "100000", "1000"),
    "SUSHI": ("0.0001", "1", "1", "100000", "1"),
    "NEAR": ("0.001", "1", "1", "100000", "10"),
    "ARB": ("0.0001", "1", "1", "100000", "10"),
    "OP": ("0.001", "0.1", "0.1", "100000", "1"),
    "SUI": ("0.0001", "1", "1", "100000", "1"),
    "APT": ("0.001", "0.1", "0.1", "100000", "1"),
}

# Most markets settle every 8 h; a few settle faster, as on the real venues.
_FUNDING_INTERVAL_H: dict[str, dict[str, int]] = {
    "binance": {"SUSHI": 4, "ARB": 4, "SUI": 4, "TRX": 1},
    "bybit": {"SUSHI": 4, "APT": 4, "NEAR": 1},
    "okx": {"SUI": 4, "OP": 4},
}

# The hand-tuned majors above; the long tail (``universe``) is added to ASSETS below.
MAJORS: tuple[str, ...] = tuple(ASSETS)
for _base in universe.TAIL_BASES:
    _t = universe.tail_asset(_base)
    ASSETS[_base] = Asset(_base, _t.price, _t.vol, _t.oi_usd, _t.volume_usd)

# Everything an emulated venue lists by default: majors first, then the tail.
DEFAULT_SYMBOLS: tuple[str, ...] = tuple(f"{b}/USDT:USDT" for b in ASSETS)
MAJOR_SYMBOLS: tuple[str, ...] = tuple(f"{b}/USDT:USDT" for b in MAJORS)


def _tail_row(venue: str, base: str) -> tuple[str, ...]:
    """(tick, lot, min, max[, contract size]) of a generated market."""
    price = ASSETS[base].price
    tick, lot = universe.steps(price)
    if venue == "okx":  # okx sizes in contracts of ~10 USDT each
        exp = max(-3, min(6, round(math.log10(10.0 / price))))
        return (tick, "1", "1", "100000", universe._pow10(exp))
    return (tick, lot, lot, str(int(5e6 / price / float(lot)) * Decimal(lot)))


def venue_market_id(venue: str, base: str, quote: str = "USDT") -> str:
    if venue == "okx":
        return f"{base}-{quote}-SWAP"
    return f"{base}{quote}"


def fixtures_root() -> Path | None:
    """Recorded payload directory if present; the emulator works without it."""
    env = os.environ.get("PERPTUI_FIXTURES")
    candidates = [Path(env)] if env else []
    repo = Path(__file__).resolve().parents[2]
    candidates.append(repo.parent / "shared" / "fixtures" / "exchanges")
    for c in candidates:
        if c.is_dir():
            return c
    return None


def _dec(value: object) -> Decimal:
    return Decimal(str(value)).normalize()


@cache
def _fixture_overrides(venue: str) -> dict[str, dict[str, Decimal]]:
    """tick/lot/contract size/limits of the linear USDT swaps in the recorded markets file."""
    root = fixtures_root()
    if root is None:
        return {}
    path = root / venue / "markets.json"
    if not path.is_file():
        return {}
    try:
        markets = json.loads(path.read_text())["markets"]
    except (OSError, ValueError, KeyError):
        return {}
    out: dict[str, dict[str, Decimal]] = {}
    for m in markets.values():
        if not (m.get("swap") and m.get("linear") and m.get("quote") == "USDT"):
            continue
        prec = m.get("precision") or {}
        limits = (m.get("limits") or {}).get("amount") or {}
        row: dict[str, Decimal] = {}
        if prec.get("price"):
            row["tick"] = _dec(prec["price"])
        if prec.get("amount"):
            row["lot"] = _dec(prec["amount"])
        if m.get("contractSize"):
            row["contract_size"] = _dec(m["contractSize"])
        if limits.get("min"):
            row["min_qty"] = _dec(limits["min"])
        if limits.get("max"):
            row["max_qty"] = _dec(limits["max"])
        out[m["base"]] = row
    return out


def _with_scale(text: str, like: str) -> Decimal:
    """Keep the built-in's number of decimals (binance sends '0.10', not '0.1')."""
    value = Decimal(text)
    return value.quantize(Decimal(like)) if _decimals(Decimal(like)) >= _decimals(value) else value


@cache
def venue_markets(venue: str) -> tuple[VenueMarket, ...]:
    """Every emulated perp on ``venue`` (fixture values override built-ins where recorded)."""
    table: dict[str, tuple[str, ...]]
    if venue == "binance":
        table = dict(_BINANCE)
    elif venue == "bybit":
        table = dict(_BYBIT)
    elif venue == "okx":
        table = dict(_OKX)
    elif venue in ("hyperliquid", "dydx", "gmx"):
        from perptui.emulator.dex_catalog import dex_venue_markets

        return dex_venue_markets(venue)
    else:
        raise KeyError(f"unknown emulator venue {venue!r}")
    for base in universe.TAIL_BASES:
        if universe.listed_on(venue, base):
            table[base] = _tail_row(venue, base)
    overrides = _fixture_overrides(venue)
    intervals = dict(_FUNDING_INTERVAL_H.get(venue, {}))
    for base in universe.TAIL_BASES:
        intervals.setdefault(base, universe.tail_interval(venue, base))
    out: list[VenueMarket] = []
    for base, row in table.items():
        tick, lot, min_qty, max_qty = (Decimal(x) for x in row[:4])
        contract = Decimal(row[4]) if len(row) > 4 else Decimal(1)
        ov = overrides.get(base, {})
        if "tick" in ov and ov["tick"] != tick.normalize():
            tick = _with_scale(str(ov["tick"]), row[0])
        if "lot" in ov and ov["lot"] != lot.normalize():
            lot = _with_scale(str(ov["lot"]), row[1])
        min_qty = ov.get("min_qty", min_qty)
        max_qty = ov.get("max_qty", max_qty)
        contract = ov.get("contract_size", contract)
        out.append(
            VenueMarket(
                venue=venue,
                base=base,
                quote="USDT",
                venue_id=venue_market_id(venue, base),
                tick=tick,
                lot=lot,
                min_qty=min_qty,
                max_qty=max_qty,
                contract_size=contract,
                funding_interval_h=intervals.get(base, 8),
                asset=ASSETS[base],
            )
        )
    return tuple(out)

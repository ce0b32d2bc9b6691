"""The long tail of the emulated market: a few hundred altcoin perpetuals beyond the majors.

A funding trader scans the whole listing, not three symbols, so each emulated venue lists
well over 150 perpetuals. The handful of hand-tuned majors live in ``catalog``; this module
generates the rest deterministically from a name list (no randomness that depends on the
process): price, volatility, open interest and volume spread over orders of magnitude,
which venues list each asset (most on two or three, some on one only), each venue's funding
interval for it (8 h / 4 h / 1 h mixes that differ between venues, as on the live ones) and
the funding regime it sits in (a sustained premium on some alts, a venue-specific
disagreement on others).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

# Tickers of the long tail (names only; every number below is generated from them).
TAIL_BASES: tuple[str, ...] = tuple(
    """
    AAVE UNI MKR COMP CRV SNX YFI BAL LDO RPL FXS CVX PENDLE GMX DYDX JUP PYTH JTO WIF BONK
    FLOKI SHIB PEPE BOME MEW POPCAT BRETT TURBO MOG NEIRO GOAT PNUT ACT CHILLGUY MOODENG
    FET AGIX OCEAN RNDR TAO WLD ARKM AI16Z VIRTUAL GRASS IO ATH AIOZ NMR PHB
    ATOM OSMO INJ SEI TIA DYM SAGA ALT MANTA STRK ZK ZRO BLAST TAIKO SCR EIGEN ETHFI REZ
    ENA ONDO OM USUAL MORPHO ME HYPE MOVE KAITO BERA IP LAYER S SONIC
    FIL AR STX ICP HBAR ALGO XLM VET EGLD FLOW KAVA ROSE ZIL IOTA XTZ EOS NEO QTUM ONT ICX
    WAVES KSM ZEC DASH XMR ETC BCH BSV RVN CFX CKB KAS TON NOT DOGS HMSTR CATI MAJOR X
    SAND MANA AXS GALA ENJ IMX APE ILV MAGIC YGG PIXEL PORTAL BEAM XAI SUPER ALICE GMT
    CHZ FLM CELR ONE SKL STORJ ANKR BAND API3 TRB UMA LRC DENT HOT SXP RSR CHR COTI OGN
    MASK LPT GRT ENS SSV ID CYBER HOOK HIGH EDU MAV ARPA PERP BLUR JOE RDNT WOO DODO C98
    LUNA LUNC USTC MINA CELO ASTR GLMR MOVR BICO KNC ZRX BAT IOTX AUDIO MTL OXT POWR
    AEVO BB NFP AXL ORDI SATS RATS MUBI TRU BNT LQTY SUN JST BTT WIN ONG RIF NKN
    VANRY PRIME ZETA ALPHA DAR BAKE LINA ACE XVG SPELL RUNE THETA TFUEL KDA GAS
    """.split()
)

# Share of the tail each venue lists, and the interval mix it uses for it: real venues
# moved many alts to 4 h (binance, okx) or 1 h / 4 h (bybit) and keep majors on 8 h.
_LISTED_SHARE = {"binance": 0.86, "bybit": 0.84, "okx": 0.70}
_INTERVAL_MIX: dict[str, tuple[tuple[int, float], ...]] = {
    "binance": ((8, 0.62), (4, 0.33), (1, 0.05)),
    "bybit": ((8, 0.50), (4, 0.35), (1, 0.15)),
    "okx": ((8, 0.78), (4, 0.17), (1, 0.05)),
}
# Share of the tail in a sustained one-sided funding regime, and of (venue, asset) pairs
# where one venue's premium sits apart from the others'.
REGIME_SHARE = 0.08
DISAGREE_SHARE = 0.10


def unit(*parts: object) -> float:
    """A deterministic number in [0, 1) per key (crc32 of the parts)."""
    return zlib.crc32(":".join(str(p) for p in parts).encode()) / 2**32


@dataclass(frozen=True)
class TailAsset:
    base: str
    price: float
    vol: float
    oi_usd: float
    volume_usd: float


def tail_asset(base: str) -> TailAsset:
    """Prices from 1e-5 to ~500 USDT; OI from 0.2 M to 400 M; volume 0.3-6 x OI."""
    price = 10 ** (-5 + 7.7 * unit(base, "price"))
    oi = 10 ** (5.3 + 3.3 * unit(base, "oi") ** 1.4)
    turnover = 0.3 + 5.7 * unit(base, "turnover")
    vol = 0.8 + 0.9 * unit(base, "vol")
    return TailAsset(base, _sig(price, 4), vol, _sig(oi, 3), _sig(oi * turnover, 3))


def _sig(x: float, digits: int) -> float:
    return float(f"{x:.{digits}g}")


def listed_on(venue: str, base: str) -> bool:
    """Most of the tail trades on two or three venues; every tenth asset on one only."""
    if unit(base, "solo") < 0.10:
        venues = tuple(_LISTED_SHARE)
        return venue == venues[int(unit(base, "solo-venue") * len(venues))]
    return unit(venue, base, "listed") < _LISTED_SHARE.get(venue, 0.75)


def tail_interval(venue: str, base: str) -> int:
    u = unit(venue, base, "interval")
    for hours, share in _INTERVAL_MIX.get(venue, ((8, 1.0),)):
        if u < share:
            return hours
        u -= share
    return 8


def regime_bps(base: str) -> float:
    """Sustained premium (bp of price) of an asset in a one-sided regime, else 0.

    Set so the funding it drives sits at or beyond +-0.1 % per 8 h (the premium has to
    clear the +-0.05 % interest clamp first)."""
    if unit(base, "regime") >= REGIME_SHARE:
        return 0.0
    sign = 1.0 if unit(base, "regime-sign") < 0.6 else -1.0
    return sign * (13.0 + 12.0 * unit(base, "regime-size"))


def disagreement_bps(venue: str, base: str) -> float:
    """A venue-specific premium offset (bp) where this venue disagrees with the rest."""
    if unit(venue, base, "disagree") >= DISAGREE_SHARE:
        return 0.0
    sign = 1.0 if unit(venue, base, "disagree-sign") < 0.5 else -1.0
    return sign * (6.0 + 8.0 * unit(venue, base, "disagree-size"))


def steps(price: float) -> tuple[str, str]:
    """(tick, lot) for a generated market: ~5 significant price digits, ~1-10 USDT lots."""
    tick_exp = math.floor(math.log10(price)) - 4
    lot_exp = max(-3, min(6, math.floor(math.log10(5.0 / price))))
    return _pow10(tick_exp), _pow10(lot_exp)


def _pow10(exp: int) -> str:
    return f"{10.0**exp:.{max(0, -exp)}f}"

"""GMX v2 oracle-keeper REST wire format (Arbitrum): tokens, markets, tickers, pool info.

``/tokens``, ``/markets`` and ``/prices/tickers`` follow the recorded gmx-interface
fixtures (README_dex.md); ``/markets/info`` was never recorded in full, so it follows
GMX's documented field list (openInterest*, availableLiquidity*, poolAmount*,
fundingRate*, borrowingRate*, netRate* per side) plus the position impact parameters
(``positionImpactFactorPositive/Negative``, ``positionImpactExponentFactor``) that the
pool panel's price-impact quotes need. ``/prices/candles`` answers
``{"period", "candles": [[t_seconds, o, h, l, c], ...]}`` newest first, no volume.

Scales as in `perptui.core.pool`: USD x 10^30, prices x 10^(30 - token decimals), rates as
yearly 10^30 factors in GMX's sign (negative = that side pays). The paying side is the
larger open interest; the receiving side's rate is the paying rate x OI ratio.

Errors: ``{"message": ...}`` with HTTP 400 / 404 / 429 / 500.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from perptui.core.pool import FLOAT_PRECISION, HOURS_PER_YEAR, SECONDS_PER_YEAR
from perptui.core.units import DAY_MS, HOUR_MS, MINUTE_MS
from perptui.emulator.catalog import VenueMarket
from perptui.emulator.venue_base import ClientConfig, VenueWire, WireError

PERIODS_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "1h": HOUR_MS,
    "4h": 4 * HOUR_MS,
    "1d": DAY_MS,
}
CANDLES_MAX = 10_000
USDC = ("USDC", "0xaf88d065e77c8cC2239327C5EDb3A432268e5831", 6)  # Arbitrum native USDC
DECIMALS = {"BTC": 8, "DOGE": 8, "XRP": 6, "LTC": 8, "ADA": 6, "TRX": 6, "SUI": 9, "APT": 8}
IMPACT_POSITIVE = 25 * 10**16  # 2.5e-13 per USD^2 (10^30 fixed point)
IMPACT_NEGATIVE = 5 * 10**17  # 5e-13
IMPACT_EXPONENT = 2 * FLOAT_PRECISION


class GmxError(WireError):
    default_status = 400


def token_address(symbol: str) -> str:
    return "0x" + hashlib.sha256(f"gmx-token-{symbol}".encode()).hexdigest()[:40]


class GmxWire(VenueWire):
    name = "gmx"

    # ------------------------------------------------------------------ protocol
    def client_config(self) -> ClientConfig:
        return ClientConfig("gmx", {})  # no ccxt class: Emulator.connect builds the transport

    rest_error = GmxError

    def rest_error_body(self, e: WireError) -> Any:
        return {"message": e.msg}

    def error_body(self, kind: str, message: str) -> tuple[int, Any]:
        status = {"bad_param": 400, "bad_symbol": 404, "not_found": 404, "rate_limit": 429}
        return status.get(kind, 500 if kind != "ban" else 429), {"message": message}

    def add_routes(self, router: web.UrlDispatcher, prefix: str) -> None:
        self.add_get_routes(
            router,
            prefix,
            {
                "/tokens": self.tokens,
                "/markets": self.markets,
                "/markets/info": self.markets_info,
                "/prices/tickers": self.tickers,
                "/prices/candles": self.candles,
                "/ping": lambda q: {"ok": True},
            },
        )

    async def ws_handler(self, request: web.Request) -> web.StreamResponse:
        return self.error_response("not_found", "GMX has no websocket API")

    # ------------------------------------------------------------------ helpers
    def decimals(self, m: VenueMarket) -> int:
        return DECIMALS.get(m.base, 18)

    def raw_price(self, m: VenueMarket, usd: float) -> int:
        return round(usd * 10 ** (30 - self.decimals(m)))

    def _ordered(self) -> list[VenueMarket]:
        return sorted(self.sim.markets(self.name), key=lambda m: (m.base != "BTC", m.base))

    def market_entry(self, m: VenueMarket) -> dict[str, Any]:
        addr = token_address(m.base)
        return {
            "name": f"{m.base}/USD [{m.base}-USDC]",
            "marketToken": m.venue_id,
            "indexToken": addr,
            "longToken": addr,
            "shortToken": USDC[1],
            "isListed": True,
            "listingDate": "2023-08-08T00:00:00.000Z",
        }

    # ------------------------------------------------------------------ REST
    def tokens(self, q: Any) -> Any:
        rows = [{"symbol": m.base, "address": token_address(m.base), "decimals": self.decimals(m)}
                for m in self._ordered()]  # fmt: skip
        rows.append({"symbol": USDC[0], "address": USDC[1], "decimals": USDC[2]})
        return {"tokens": rows}

    def markets(self, q: Any) -> Any:
        return {"markets": [self.market_entry(m) for m in self._ordered()]}

    def tickers(self, q: Any) -> Any:
        now = self.now_ms()
        rows = []
        for m in self._ordered():
            px = self.sim.index_price(self.name, m.symbol, now)
            rows.append(
                {
                    "tokenAddress": token_address(m.base),
                    "tokenSymbol": m.base,
                    "minPrice": str(self.raw_price(m, px * (1 - 5e-5))),
                    "maxPrice": str(self.raw_price(m, px * (1 + 5e-5))),
                    "updatedAt": now,
                    "timestamp": now // 1000,
                }
            )
        rows.append(
            {"tokenAddress": USDC[1], "tokenSymbol": "USDC", "minPrice": str(10**24),
             "maxPrice": str(10**24), "updatedAt": now, "timestamp": now // 1000}
        )  # fmt: skip
        return rows

    def pool_entry(self, m: VenueMarket, now: int) -> dict[str, Any]:
        sim = self.sim
        mark = sim.mark_price(self.name, m.symbol, now)
        total = sim.open_interest(self.name, m.symbol, now) * mark
        premium = sim.premium(self.name, m.symbol, now)
        long_share = 0.5 + max(-0.2, min(0.2, premium * 200))
        oi_long, oi_short = total * long_share, total * (1 - long_share)
        # the larger side pays a rate growing with the imbalance (per year)
        pay = abs(sim.funding_now(self.name, m.symbol, now).rate) * HOURS_PER_YEAR
        longs_pay = oi_long >= oi_short
        pay_oi, recv_oi = (oi_long, oi_short) if longs_pay else (oi_short, oi_long)
        recv = pay * pay_oi / recv_oi if recv_oi > 0 else 0.0
        f_long, f_short = (-pay, recv) if longs_pay else (recv, -pay)
        b_long = 0.04 + 0.1 * oi_long / max(total, 1.0)
        b_short = 0.04 + 0.1 * oi_short / max(total, 1.0)

        def e30(x: float) -> str:
            return str(round(x * FLOAT_PRECISION))

        entry = self.market_entry(m)
        entry.update(
            {
                "openInterestLong": e30(oi_long),
                "openInterestShort": e30(oi_short),
                "availableLiquidityLong": e30(max(0.0, 1.5 * total - oi_long)),
                "availableLiquidityShort": e30(max(0.0, 1.5 * total - oi_short)),
                "poolAmountLong": str(round(total / mark * 10 ** self.decimals(m))),
                "poolAmountShort": str(round(total * 10 ** USDC[2])),
                "fundingRateLong": e30(f_long),
                "fundingRateShort": e30(f_short),
                "borrowingRateLong": e30(b_long),
                "borrowingRateShort": e30(b_short),
                "netRateLong": e30(f_long - b_long),
                "netRateShort": e30(f_short - b_short),
                "positionImpactFactorPositive": str(IMPACT_POSITIVE),
                "positionImpactFactorNegative": str(IMPACT_NEGATIVE),
                "positionImpactExponentFactor": str(IMPACT_EXPONENT),
            }
        )
        return entry

    def markets_info(self, q: Any) -> Any:
        now = self.now_ms()
        return {"markets": [self.pool_entry(m, now) for m in self._ordered()]}

    def candles(self, q: Any) -> Any:
        symbol = q.get("tokenSymbol")
        if not symbol:
            raise GmxError(400, "tokenSymbol is required")
        tf = PERIODS_MS.get(q.get("period", ""))
        if tf is None:
            raise GmxError(400, f"period must be one of {', '.join(PERIODS_MS)}")
        try:
            limit = min(max(int(q.get("limit", 1000)), 1), CANDLES_MAX)
        except ValueError:
            raise GmxError(400, "limit must be an integer") from None
        m = next((x for x in self.sim.markets(self.name) if x.base == symbol.upper()), None)
        if m is None:
            raise GmxError(404, f"token {symbol} not found", 404)
        now = self.now_ms()
        rows = self.sim.candles(self.name, m.symbol, tf, now // tf * tf - (limit - 1) * tf, now)
        return {
            "period": q["period"],
            "candles": [
                [int(r[0]) // 1000, *(round(float(x), 8) for x in r[1:5])] for r in rows[::-1]
            ],
        }


WIRE = GmxWire

__all__ = ["SECONDS_PER_YEAR", "WIRE", "GmxWire"]

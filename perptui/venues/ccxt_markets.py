"""The perpetual listing of a ccxt venue: which markets count, their contract terms, and
resolving the names users type to one of them."""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import Any, ClassVar

from ccxt.base.decimal_to_precision import DECIMAL_PLACES, SIGNIFICANT_DIGITS

from perptui.core.model import (
    MarketInfo,
)
from perptui.core.numbers import finite_float
from perptui.errors import CapabilityMissing, UnknownSymbol
from perptui.symbols import resolve_symbol
from perptui.venues.ccxt_client import CcxtClient


class CcxtMarkets(CcxtClient):
    """Market loading and lookup on top of the ccxt client (`ccxt_client`)."""

    perp_subtypes: ClassVar[frozenset[str]] = frozenset({"linear", "inverse"})
    default_funding_interval_hours: ClassVar[float | None] = None

    async def load_markets(self, reload: bool = False) -> dict[str, MarketInfo]:
        if self._markets is not None and not reload:
            return self._markets
        raw = await self.call("loadMarkets", self.client.load_markets, reload)
        perps = {sym: self.market_info(m) for sym, m in raw.items() if self.is_perpetual(m)}
        if not perps and self.client.has.get("swap") is False:
            raise CapabilityMissing(f"{self.id}: ccxt lists no swap markets for this exchange")
        self._markets = perps
        await self.load_funding_intervals()
        return self._markets

    def is_perpetual(self, m: dict[str, Any]) -> bool:
        if not m.get("swap") or m.get("expiry") is not None or m.get("active") is False:
            return False
        subtype = "linear" if m.get("linear") else "inverse" if m.get("inverse") else None
        return subtype in self.perp_subtypes

    def market_info(self, m: dict[str, Any]) -> MarketInfo:
        contract_size = finite_float(m.get("contractSize")) or 1.0
        lot = self._precision(m, "amount")
        linear = bool(m.get("linear"))
        return MarketInfo(
            exchange=self.id,
            symbol=m["symbol"],
            id=str(m["id"]),
            base=m.get("base") or "",
            quote=m.get("quote") or "",
            settle=m.get("settle") or "",
            linear=linear,
            contract_size=contract_size,
            tick_size=self._precision(m, "price"),
            lot_size=_round(lot * contract_size) if lot is not None and linear else None,
            funding_interval_hours=self.market_funding_interval(m),
        )

    def _precision(self, m: dict[str, Any], key: str) -> float | None:
        value = finite_float((m.get("precision") or {}).get(key))
        if value is None:
            return None
        mode = getattr(self.client, "precisionMode", None)
        if mode == DECIMAL_PLACES:
            return 10.0 ** (-value)
        if mode == SIGNIFICANT_DIGITS:
            return None
        return value

    def market_funding_interval(self, m: dict[str, Any]) -> float | None:
        """Hours between settlements as the market definition states (hook)."""
        return self.default_funding_interval_hours

    async def load_funding_intervals(self) -> None:
        """Hook: venues that publish intervals separately fetch them here."""

    def set_funding_interval(self, symbol: str, hours: float) -> None:
        if self._markets is None:
            return
        m = self._markets.get(symbol)
        if m is not None and m.funding_interval_hours != hours:
            self._markets[symbol] = replace(m, funding_interval_hours=hours)

    def market(self, symbol: str) -> MarketInfo:
        if self._markets is None:
            raise RuntimeError(f"{self.id}: call load_markets() before market()")
        found = self._markets.get(symbol)
        if found is not None:
            return found
        if symbol not in (getattr(self.client, "markets", None) or {}):
            # not a market ccxt knows under this name (a known non-perpetual is reported
            # as such below): a venue-native id, or the base in another USD-stable quote
            try:
                return resolve_symbol(symbol, self._markets, self.id)
            except UnknownSymbol:
                pass
        raise UnknownSymbol(self._unknown_symbol_message(symbol))

    def _unknown_symbol_message(self, symbol: str) -> str:
        perps = sorted(self._markets or {})
        raw = (getattr(self.client, "markets", None) or {}).get(symbol)
        if raw is not None:
            kind = raw.get("type") or "non-perpetual"
            if raw.get("swap") and raw.get("active") is False:
                kind = "inactive swap"
            elif raw.get("swap") and not self.is_perpetual(raw):
                kind = "swap outside this venue's perpetual set"
            head = f"{self.id}: {symbol!r} is a {kind} market, not a perpetual swap"
        else:
            head = f"{self.id}: unknown symbol {symbol!r}"
        by_id = (getattr(self.client, "markets_by_id", None) or {}).get(symbol) or []
        suggestions = [m["symbol"] for m in by_id if m.get("symbol") in (self._markets or {})]
        suggestions += difflib.get_close_matches(symbol, perps, n=3, cutoff=0.6)
        suggestions += difflib.get_close_matches(symbol.upper(), perps, n=3, cutoff=0.6)
        unique = list(dict.fromkeys(suggestions))[:3]
        if unique:
            return f"{head}; did you mean {', '.join(unique)}?"
        return f"{head} ({len(perps)} perpetual markets loaded)"

    async def perp(self, symbol: str) -> MarketInfo:
        await self.load_markets()
        return self.market(symbol)

    def base_amount(self, m: MarketInfo, contracts: float | None) -> float | None:
        if contracts is None:
            return None
        return _round(contracts * m.contract_size) if m.linear else None

    def listed_at(self, m: MarketInfo) -> int | None:
        """Listing time from the ccxt market (`created`), when the venue publishes it."""
        raw = (getattr(self.client, "markets", None) or {}).get(m.symbol) or {}
        created = raw.get("created")
        return int(created) if isinstance(created, int | float) and created > 0 else None


def _round(x: float) -> float:
    """Drop binary noise from contracts x contract size (13807 x 0.01 -> 138.07)."""
    return float(f"{x:.12g}")

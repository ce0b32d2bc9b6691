"""Peer groups (one base, USDT = USDC = USD) and the cross-venue rules that use them."""

from __future__ import annotations

import pytest

from perptui.core.board import CarryCosts, board_rows, carry_pairs
from perptui.core.market_signals import market_signals
from perptui.core.model import FundingInfo, MarketQuote
from perptui.core.peers import peer_groups, peer_key, peer_symbol
from perptui.core.signals import SignalThresholds, funding_divergence, with_legs

T0 = 1_700_000_000_000


def quote(venue: str, symbol: str, rate: float, hours: float = 8.0, **kw) -> MarketQuote:
    return MarketQuote(
        exchange=venue,
        symbol=symbol,
        base=symbol.split("/")[0],
        timestamp=T0,
        funding_rate=rate,
        interval_hours=hours,
        next_funding_time=T0 + 3_600_000,
        **kw,
    )


def test_peer_key_one_dollar_for_linear_perps_only() -> None:
    dollar = {"BTC/USDT:USDT", "BTC/USDC:USDC", "BTC/USD:USD", "BTC/USD:USDC"}
    assert {peer_key(s) for s in dollar} == {"BTC/USD*"}
    # inverse (coin-margined), dated futures, other quotes and spot keep their own symbol
    for own in ("BTC/USD:BTC", "BTC/USDT:USDT-251226", "BTC/EUR:EUR", "BTC/USDT"):
        assert peer_key(own) == own
    assert peer_key("ETH/USDC:USDC") != peer_key("BTC/USDC:USDC")


def test_one_market_per_venue_the_preferred_dollar() -> None:
    items = [
        ("binance", "BTC/USDC:USDC", "b-usdc"),
        ("binance", "BTC/USDT:USDT", "b-usdt"),  # binance lists both: USDT stands for it
        ("hyperliquid", "BTC/USDC:USDC", "hl"),
        ("gmx", "BTC/USD:USD", "gmx"),
        ("bybit", "BTC/USD:BTC", "inverse"),
    ]
    groups = peer_groups(items)
    assert groups["BTC/USD*"] == {"binance": "b-usdt", "hyperliquid": "hl", "gmx": "gmx"}
    assert groups["BTC/USD:BTC"] == {"bybit": "inverse"}
    listed = ["BTC/USDC:USDC", "BTC/USDT:USDT", "ETH/USDT:USDT"]
    assert peer_symbol("BTC/USDC:USDC", listed) == "BTC/USDC:USDC"  # exact first
    assert peer_symbol("BTC/USD:USD", listed) == "BTC/USDT:USDT"
    assert peer_symbol("BTC/USDT:USDT", ["BTC/USD:BTC"]) is None


def test_divergence_across_quotes_names_both_markets() -> None:
    # binance 0.01 % per 8 h; Hyperliquid 0.01 % per hour = 0.08 % per 8 h: 0.07 % apart
    rows = board_rows(
        [
            quote("binance", "BTC/USDT:USDT", 0.0001),
            quote("hyperliquid", "BTC/USDC:USDC", 0.0001, 1.0),
            quote("bybit", "BTC/USD:BTC", 0.01),  # inverse: never a leg of the dollar group
        ]
    )
    sigs = [
        s for s in market_signals(rows, SignalThresholds(), now_ms=T0) if s.kind == "divergence"
    ]
    [sig] = sigs
    assert sig.direction == "long binance / short hyperliquid"
    assert sig.value == pytest.approx(0.0008 - 0.0001)
    assert sig.symbol == "BTC/USDC:USDC"  # the short leg's market
    assert sig.inputs["symbols"] == {"binance": "BTC/USDT:USDT", "hyperliquid": "BTC/USDC:USDC"}
    assert sig.inputs["mixed_quotes"] is True


def test_with_legs_flags_one_dollar_groups_as_unmixed() -> None:
    f = {
        v: FundingInfo(v, "ETH/USDT:USDT", T0, r, None, 8.0)
        for v, r in (("binance", 0.0001), ("bybit", 0.001))
    }
    [sig] = funding_divergence(f, SignalThresholds(), now_ms=T0)
    legs = with_legs(sig, {"binance": "ETH/USDT:USDT", "bybit": "ETH/USDT:USDT"})
    assert legs.inputs["mixed_quotes"] is False and legs.symbol == "ETH/USDT:USDT"


def test_carry_pairs_across_quotes_and_inverse_apart() -> None:
    rows = board_rows(
        [
            quote("binance", "SOL/USDT:USDT", -0.0002),
            quote("dydx", "SOL/USDC:USDC", 0.00005, 1.0),
            quote("okx", "SOL/USD:SOL", 0.003),  # inverse SOL: alone in its group, no pair
        ]
    )
    [pair] = carry_pairs(rows, CarryCosts())
    assert (pair.base, pair.long_venue, pair.short_venue) == ("SOL", "binance", "dydx")
    assert (pair.long_symbol, pair.short_symbol) == ("SOL/USDT:USDT", "SOL/USDC:USDC")
    assert pair.venues == 2

"""Symbol requests and their resolution against each venue's perpetuals."""

from __future__ import annotations

import pytest

from perptui.core.model import MarketInfo
from perptui.errors import UnknownSymbol
from perptui.symbols import parse_symbol, resolve_symbol


def mk(venue: str, symbol: str, vid: str) -> MarketInfo:
    base, rest = symbol.split("/")
    quote, settle = rest.split(":")
    return MarketInfo(venue, symbol, vid, base, quote, settle, settle != base, 1.0, None, None, 1.0)


BINANCE = {
    m.symbol: m
    for m in (mk("binance", "BTC/USDT:USDT", "BTCUSDT"), mk("binance", "BTC/USDC:USDC", "BTCUSDC"))
}
HYPER = {
    m.symbol: m
    for m in (
        mk("hyperliquid", "BTC/USDC:USDC", "BTC"),
        mk("hyperliquid", "KPEPE/USDC:USDC", "kPEPE"),
    )
}
DYDX = {
    m.symbol: m
    for m in (mk("dydx", "BTC/USDC:USDC", "BTC-USD"), mk("dydx", "ETH/USDC:USDC", "ETH-USD"))
}
OKX = {
    m.symbol: m
    for m in (
        mk("okx", "UNI/USDT:USDT", "UNI-USDT-SWAP"),
        mk("okx", "UNI/USD:UNI", "UNI-USD-SWAP"),
        mk("okx", "BTC/USD:USD", "BTC-USD-X"),
    )
}


def test_btc_finds_each_venues_btc_perpetual_whatever_its_quote() -> None:
    req = parse_symbol("btc")
    assert resolve_symbol(req, BINANCE).symbol == "BTC/USDT:USDT"  # exact first
    assert resolve_symbol(req, HYPER).symbol == "BTC/USDC:USDC"
    assert resolve_symbol(req, DYDX).symbol == "BTC/USDC:USDC"
    # the requested quote wins over the family order where both exist
    assert resolve_symbol("BTC/USDC:USDC", BINANCE).id == "BTCUSDC"
    assert resolve_symbol("BTC/USD:USDC", BINANCE).symbol == "BTC/USDT:USDT"


def test_venue_native_ids() -> None:
    assert resolve_symbol("BTC-USD", DYDX).symbol == "BTC/USDC:USDC"
    assert resolve_symbol(parse_symbol("BTC-USD"), DYDX).symbol == "BTC/USDC:USDC"
    assert resolve_symbol("kpepe", HYPER).symbol == "KPEPE/USDC:USDC"
    assert resolve_symbol("ETH", HYPER | DYDX).id == "ETH-USD"
    assert resolve_symbol("UNI-USD-SWAP", OKX).symbol == "UNI/USD:UNI"


def test_okx_inverse_id_is_coin_margined_and_matches_only_inverse() -> None:
    assert parse_symbol("UNI-USD-SWAP") == "UNI/USD:UNI"  # not UNI/USD:USD
    assert resolve_symbol(parse_symbol("UNI-USD-SWAP"), OKX).symbol == "UNI/USD:UNI"
    with pytest.raises(UnknownSymbol):
        resolve_symbol("UNI/USD:UNI", BINANCE | HYPER)  # no linear stand-in for inverse


def test_dated_futures_and_unknown_bases_are_not_guessed() -> None:
    with pytest.raises(UnknownSymbol, match="no perpetual for 'BTC/USDT:USDT-251226'"):
        resolve_symbol("BTC/USDT:USDT-251226", BINANCE)
    with pytest.raises(UnknownSymbol, match="dydx: no perpetual for 'SOL/USDT:USDT'"):
        resolve_symbol("sol", DYDX, "dydx")
    with pytest.raises(UnknownSymbol):
        resolve_symbol("BTC/EUR:EUR", BINANCE)  # EUR is not a USD-family quote


def test_ambiguous_native_id_is_not_picked() -> None:
    twins = {m.symbol: m for m in (mk("x", "A/USDT:USDT", "AB"), mk("x", "B/USDT:USDT", "ab"))}
    with pytest.raises(UnknownSymbol):
        resolve_symbol("AB", twins)

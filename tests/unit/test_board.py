"""The funding board's maths: rows, sorting/filtering, carry pairs, market-wide signals."""

from __future__ import annotations

import math

import pytest

from perptui.core.board import (
    HOURS_PER_YEAR,
    CarryCosts,
    Episodes,
    board_row,
    board_rows,
    carry_pairs,
    filter_rows,
    sort_rows,
)
from perptui.core.market_signals import market_signals
from perptui.core.model import MarketQuote
from perptui.core.signals import SignalThresholds, executable_divergence

T0 = 1_700_000_000_000


def q(venue: str, base: str, rate: float | None, hours: float | None = 8.0, **kw) -> MarketQuote:
    fields = dict(
        exchange=venue,
        symbol=f"{base}/USDT:USDT",
        base=base,
        timestamp=T0,
        funding_rate=rate,
        interval_hours=hours,
        next_funding_time=T0 + 3_600_000,
    )
    fields.update(kw)
    return MarketQuote(**fields)


def test_row_normalises_rates_per_hour_of_holding() -> None:
    one_h = board_row(q("bybit", "X", 0.0001, 1.0))
    eight_h = board_row(q("okx", "X", 0.0008, 8.0))
    assert one_h.rate_8h == pytest.approx(0.0008) and eight_h.rate_8h == pytest.approx(0.0008)
    assert one_h.apr == pytest.approx(0.0001 * HOURS_PER_YEAR) == eight_h.apr
    assert one_h.apr == pytest.approx(0.876)
    unknown = board_row(q("okx", "Y", 0.0001, None))
    assert unknown.interval_assumed and unknown.interval_hours == 8.0
    assert board_row(q("okx", "Z", None)).apr is None


def test_row_basis_from_mark_and_index_unless_the_venue_states_it() -> None:
    derived = board_row(q("binance", "X", 0.0001, mark_price=101.0, index_price=100.0))
    assert derived.basis == pytest.approx(0.01)
    stated = board_row(q("okx", "X", 0.0001, mark_price=101.0, index_price=100.0, basis=0.002))
    assert stated.basis == 0.002


def test_interval_change_is_remembered_with_its_time() -> None:
    first = board_row(q("binance", "X", 0.0001, 8.0))
    moved = board_row(q("binance", "X", 0.0001, 4.0, timestamp=T0 + 60_000), first)
    assert moved.interval_hours == 4.0
    assert moved.previous_interval_hours == 8.0 and moved.interval_changed_at == T0 + 60_000
    later = board_row(q("binance", "X", 0.0001, 4.0, timestamp=T0 + 120_000), moved)
    assert later.previous_interval_hours == 8.0 and later.interval_changed_at == T0 + 60_000
    # an unstated interval is not a change
    assert board_row(q("binance", "X", 0.0001, None), later).interval_changed_at == T0 + 60_000
    assert board_row(q("binance", "Y", 0.0001, 8.0), first).interval_changed_at is None


def test_sort_and_filter() -> None:
    rows = board_rows(
        [
            q("binance", "AAA", 0.0003, open_interest_usd=5e6, volume_24h_usd=1e6),
            q("bybit", "BBB", -0.0004, 4.0, open_interest_usd=2e8, volume_24h_usd=9e8),
            q("okx", "CCC", None, open_interest_usd=1e7),
            q("okx", "AAB", 0.0001, 1.0),
        ]
    )
    by_apr = [r.symbol[:3] for r in sort_rows(rows, "apr")]
    assert by_apr == ["AAB", "AAA", "BBB", "CCC"]  # 0.0001/h > 0.0003/8h > negative; None last
    assert [r.symbol[:3] for r in sort_rows(rows, "apr", descending=False)][:3] == [
        "BBB",
        "AAA",
        "AAB",
    ]
    assert [r.venue for r in sort_rows(rows, "venue")] == ["binance", "bybit", "okx", "okx"]
    with pytest.raises(ValueError, match="unknown column"):
        sort_rows(rows, "nope")
    assert {r.symbol[:3] for r in filter_rows(rows, "aa")} == {"AAA", "AAB"}
    assert {r.venue for r in filter_rows(rows, "BYB")} == {"bybit"}
    assert {r.symbol[:3] for r in filter_rows(rows, min_oi_usd=6e6)} == {"BBB", "CCC"}
    assert {r.symbol[:3] for r in filter_rows(rows, min_volume_usd=1e6)} == {"AAA", "BBB"}
    assert {r.venue for r in filter_rows(rows, venues=["okx"])} == {"okx"}


def test_carry_pair_by_hand() -> None:
    costs = CarryCosts(
        taker_fee_bps={"binance": 4.0, "bybit": 5.5}, default_fee_bps=5.0, holding_hours=24 * 7
    )
    rows = board_rows(
        [
            q("binance", "ETH", 0.0001, 8.0, open_interest_usd=3e9, volume_24h_usd=1e9),
            q("bybit", "ETH", 0.00005, 1.0, open_interest_usd=1e9, volume_24h_usd=3e9),
            q("okx", "ETH", -0.0002, 8.0, open_interest_usd=0.0, volume_24h_usd=None),
            q("okx", "SOLO", 0.01),  # one venue only: no pair
        ]
    )
    [pair] = carry_pairs(rows, costs)
    # per hour: binance 0.0000125, bybit 0.00005, okx -0.000025
    assert (pair.long_venue, pair.short_venue) == ("okx", "bybit")
    assert pair.long_apr == pytest.approx(-0.000025 * 8760)
    assert pair.short_apr == pytest.approx(0.00005 * 8760)
    assert pair.apr_spread == pytest.approx(0.000075 * 8760)
    cost = 2 * (5.0e-4 + 5.5e-4)
    assert pair.round_trip_cost == pytest.approx(cost)
    assert pair.cost_apr == pytest.approx(cost * 8760 / 168)
    assert pair.net_apr == pytest.approx(0.000075 * 8760 - cost * 8760 / 168)
    # okx has no OI weight (0) and no volume: it drops out of both averages
    assert pair.oi_weighted_apr == pytest.approx((0.0000125 * 3e9 + 0.00005 * 1e9) * 8760 / 4e9)
    assert pair.volume_weighted_apr == pytest.approx((0.0000125 * 1e9 + 0.00005 * 3e9) * 8760 / 4e9)
    assert pair.venues == 3


def test_carry_pairs_rank_by_net_apr_and_reject_bad_costs() -> None:
    rows = board_rows(
        [q("a", "X", 0.0001), q("b", "X", 0.0002), q("a", "Y", 0.0), q("b", "Y", 0.001)]
    )
    assert [p.base for p in carry_pairs(rows)] == ["Y", "X"]
    with pytest.raises(ValueError):
        CarryCosts(holding_hours=0)
    with pytest.raises(ValueError):
        CarryCosts(taker_fee_bps={"a": -1.0})
    # a short holding period makes the same spread a loss
    [_, x] = carry_pairs(rows, CarryCosts(holding_hours=1.0))
    assert x.net_apr < 0 < x.apr_spread


def test_executable_divergence_needs_bid_above_ask_net_of_fees() -> None:
    # mids 0.15000 vs 0.15008 (5.3 bp apart) but each spread is 8 bp: the books overlap
    overlap = {"a": (0.14994, 0.15006), "b": (0.15002, 0.15014)}
    assert executable_divergence(overlap) == []
    # b's bid 0.1503 above a's ask 0.15006 by 16 bp: fires gross, not after 2 x 10 bp fees
    crossed = {"a": (0.14994, 0.15006), "b": (0.1503, 0.1504)}
    [sig] = executable_divergence(crossed, symbol="DOGE", now_ms=T0)
    assert sig.direction == "long a / short b"
    assert sig.inputs["gross_edge"] == pytest.approx(0.1503 / 0.15006 - 1)
    assert executable_divergence(crossed, {"a": 0.001, "b": 0.001}) == []
    [net] = executable_divergence(crossed, {"a": 0.0005, "b": 0.0005})
    assert net.value == pytest.approx(0.1503 / 0.15006 - 1 - 0.001)
    assert executable_divergence({"a": (None, 1.0), "b": (2.0, 1.0)}) == []  # crossed/missing


def test_market_signals_and_episodes() -> None:
    thr = SignalThresholds()
    rows = board_rows(
        [
            q("binance", "HOT", 0.0015),  # > 0.1 % per 8 h
            q("bybit", "HOT", 0.0002, 1.0),  # 0.16 % per 8 h: also hot, after rescaling
            q("okx", "HOT", 0.0001, 8.0, bid=1.02, ask=1.03),
            q("binance", "PX", 0.0001, bid=1.000, ask=1.001),
            q("bybit", "PX", 0.0001, bid=1.004, ask=1.005),
        ]
    )
    sigs = market_signals(rows, thr, CarryCosts(default_fee_bps=1.0), now_ms=T0)
    kinds = sorted((s.kind, s.exchange, s.symbol) for s in sigs)
    assert ("funding_arb", "binance", "HOT/USDT:USDT") in kinds
    assert ("funding_arb", "bybit", "HOT/USDT:USDT") in kinds
    assert ("divergence", "okx|bybit", "HOT/USDT:USDT") in kinds
    assert ("price_divergence", "binance|bybit", "PX/USDT:USDT") in kinds
    assert not any(k[0] == "funding_arb" and k[1] == "okx" for k in kinds)
    ep = Episodes()
    keys = {(s.kind, s.exchange, s.symbol) for s in sigs}
    assert ep.update(keys) == keys
    assert ep.update(keys) == set()  # same episode: nothing new
    assert ep.update(set()) == set() and ep.update(keys) == keys  # ended, then back
    only_okx = lambda k: "okx" in k[1].split("|")  # noqa: E731
    assert ep.update_scope(only_okx, set()) == set()
    assert ep.active == {k for k in keys if not only_okx(k)}
    assert math.isfinite(sigs[0].value)

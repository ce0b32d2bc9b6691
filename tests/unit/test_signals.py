from __future__ import annotations

import json

import pytest

from perptui.core.model import FundingInfo, Signal
from perptui.core.signals import (
    DEFAULT_THRESHOLDS,
    SignalThresholds,
    SustainedImbalance,
    funding_arb,
    funding_divergence,
    price_divergence,
)

T0 = 1_700_000_000_000


def fi(rate, interval=8.0, exchange="binance", symbol="BTC/USDT:USDT", **kw) -> FundingInfo:
    return FundingInfo(
        exchange=exchange,
        symbol=symbol,
        timestamp=T0,
        funding_rate=rate,
        next_funding_time=T0 + 3_600_000,
        interval_hours=interval,
        **kw,
    )


def test_default_thresholds_are_the_seeds():
    assert DEFAULT_THRESHOLDS.funding_arb == 0.001
    assert DEFAULT_THRESHOLDS.divergence == 0.0005
    assert DEFAULT_THRESHOLDS.imbalance == 0.3
    assert DEFAULT_THRESHOLDS.imbalance_sustain_s > 0
    with pytest.raises(AttributeError):
        DEFAULT_THRESHOLDS.funding_arb = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    "kw",
    [
        {"funding_arb": -0.1},
        {"imbalance": 1.5},
        {"imbalance_sustain_s": -1},
        {"rate_basis_hours": 0},
    ],
)
def test_bad_thresholds_rejected(kw):
    with pytest.raises(ValueError):
        SignalThresholds(**kw)


# --------------------------------------------------------------------------- funding arb


def test_funding_arb_positive_rate_shorts_perp():
    s = funding_arb(fi(0.0015, mark_price=101.0, index_price=100.0))
    assert isinstance(s, Signal)
    assert s.kind == "funding_arb"
    assert s.direction == "short perp / long spot"
    assert s.value == pytest.approx(0.0015)
    assert s.threshold == 0.001
    assert s.exchange == "binance" and s.symbol == "BTC/USDT:USDT" and s.timestamp == T0
    # 0.15 % per 8 h = 0.0015 * 3 * 365 = 164.25 % a year
    assert s.inputs["annualized_carry"] == pytest.approx(1.6425)
    assert s.inputs["interval_hours"] == 8.0 and s.inputs["interval_assumed"] is False
    assert s.inputs["basis"] == pytest.approx(0.01)
    assert s.inputs["funding_rate"] == 0.0015
    json.dumps(s.inputs)  # storable as-is


def test_funding_arb_negative_rate_longs_perp_with_carry_positive():
    s = funding_arb(fi(-0.002, interval=4.0), now_ms=T0 + 5)
    assert s is not None
    assert s.direction == "long perp / short spot"
    assert s.timestamp == T0 + 5
    # 4 h market: 0.2 % per 4 h is 0.4 % per 8 h; carry 0.002 * 6 * 365 = 438 %
    assert s.value == pytest.approx(-0.004)
    assert s.inputs["annualized_carry"] == pytest.approx(4.38)


@pytest.mark.parametrize("rate", [0.001, -0.001, 0.0009, 0.0, None, float("nan")])
def test_funding_arb_quiet_at_or_below_threshold(rate):
    assert funding_arb(fi(rate)) is None


def test_funding_arb_rescales_short_intervals():
    # 0.02 % per hour = 0.16 % per 8 h: a large carry the raw rate would hide.
    s = funding_arb(fi(0.0002, interval=1.0))
    assert s is not None and s.value == pytest.approx(0.0016)
    assert s.inputs["annualized_carry"] == pytest.approx(0.0002 * 24 * 365)
    # ...unless the caller asks for raw per-settlement rates.
    raw = SignalThresholds(rate_basis_hours=None)
    assert funding_arb(fi(0.0002, interval=1.0), raw) is None


def test_funding_arb_unknown_interval_assumes_8h_and_says_so():
    s = funding_arb(fi(0.002, interval=None))
    assert s is not None
    assert s.inputs["interval_hours"] == 8.0 and s.inputs["interval_assumed"] is True


def test_funding_arb_threshold_configurable_both_ways():
    assert funding_arb(fi(0.0006), 0.0005) is not None
    assert funding_arb(fi(0.0006), SignalThresholds(funding_arb=0.0005)) is not None
    assert funding_arb(fi(0.0015), SignalThresholds(funding_arb=0.002)) is None


# --------------------------------------------------------------------------- divergence


def test_funding_divergence_long_low_short_high():
    fundings = {
        "binance": fi(0.0001, exchange="binance"),
        "bybit": fi(0.0008, exchange="bybit"),
        "okx": fi(-0.0002, exchange="okx"),
    }
    [s] = funding_divergence(fundings)
    assert s.kind == "divergence"
    assert s.direction == "long okx / short bybit"
    assert s.exchange == "okx|bybit"
    assert s.value == pytest.approx(0.0010)
    assert s.threshold == 0.0005
    assert s.inputs["low_rate"] == -0.0002 and s.inputs["high_rate"] == 0.0008
    # (0.0008 - (-0.0002)) * 3 * 365 = 1.095
    assert s.inputs["annualized_spread"] == pytest.approx(1.095)
    assert s.inputs["venues"] == 3
    json.dumps(s.inputs)


def test_funding_divergence_quiet_below_threshold_and_with_one_venue():
    assert funding_divergence({"a": fi(0.0001), "b": fi(0.0005)}) == []  # 0.04 %
    assert funding_divergence({"a": fi(0.0001), "b": fi(0.0006)}) == []  # exactly 0.05 %: not >
    assert funding_divergence({"a": fi(0.0001), "b": fi(0.0006001)}) != []
    assert funding_divergence({"a": fi(0.01)}) == []
    assert funding_divergence({"a": fi(0.01), "b": fi(None)}) == []
    assert funding_divergence({}) == []


def test_funding_divergence_compares_like_for_like_intervals():
    # Hourly 0.01 % is 0.08 % per 8 h; versus 0.01 % per 8 h the gap is 0.07 %.
    fundings = {"hourly": fi(0.0001, interval=1.0), "eight": fi(0.0001, interval=8.0)}
    [s] = funding_divergence(fundings)
    assert s.direction == "long eight / short hourly"
    assert s.value == pytest.approx(0.0007)
    assert s.inputs["annualized_spread"] == pytest.approx(0.0001 * 8760 - 0.0001 * 1095)
    # Same raw rates with raw comparison: no difference at all.
    assert funding_divergence(fundings, SignalThresholds(rate_basis_hours=None)) == []


def test_price_divergence():
    [s] = price_divergence({"a": 100.0, "b": 100.2, "c": 100.01}, symbol="X", now_ms=T0)
    assert s.kind == "price_divergence"
    assert s.direction == "long a / short b"
    assert s.value == pytest.approx(0.002)
    assert s.symbol == "X" and s.timestamp == T0
    assert price_divergence({"a": 100.0, "b": 100.04}) == []
    assert price_divergence({"a": 100.0, "b": None, "c": 0.0}) == []
    assert price_divergence({"a": 100.0, "b": 100.04}, 0.0001) != []


# --------------------------------------------------------------------------- imbalance


def test_sustained_imbalance_fires_once_after_duration_then_rearms():
    tr = SustainedImbalance(threshold=0.3, seconds=30)
    assert tr.update("binance", "BTC", 0.5, T0) is None
    assert tr.update("binance", "BTC", 0.4, T0 + 10_000) is None
    assert tr.update("binance", "BTC", 0.35, T0 + 29_999) is None
    s = tr.update("binance", "BTC", 0.45, T0 + 30_000)
    assert s is not None
    assert s.kind == "imbalance" and s.direction.startswith("bid-heavy")
    assert s.value == 0.45 and s.threshold == 0.3
    assert s.inputs["since_ms"] == T0 and s.inputs["held_s"] == 30.0
    json.dumps(s.inputs)
    # Still above: no repeat.
    assert tr.update("binance", "BTC", 0.6, T0 + 60_000) is None
    assert tr.active("binance", "BTC")
    # Drops to the threshold (not above): re-arms.
    assert tr.update("binance", "BTC", 0.3, T0 + 61_000) is None
    assert not tr.active("binance", "BTC")
    assert tr.update("binance", "BTC", -0.5, T0 + 62_000) is None
    s2 = tr.update("binance", "BTC", -0.5, T0 + 92_000)
    assert s2 is not None and s2.direction.startswith("ask-heavy")
    assert s2.inputs["side"] == "ask"


def test_sustained_imbalance_dip_resets_the_clock():
    tr = SustainedImbalance(0.3, 30)
    tr.update("x", "S", 0.5, T0)
    tr.update("x", "S", 0.1, T0 + 20_000)  # dip
    assert tr.update("x", "S", 0.5, T0 + 30_000) is None
    assert tr.update("x", "S", 0.5, T0 + 59_999) is None
    assert tr.update("x", "S", 0.5, T0 + 60_000) is not None


def test_sustained_imbalance_side_flip_and_unknown_reset():
    tr = SustainedImbalance(0.3, 10)
    tr.update("x", "S", 0.5, T0)
    assert tr.update("x", "S", -0.5, T0 + 10_000) is None  # other side: new run
    assert tr.update("x", "S", None, T0 + 15_000) is None  # unknown breaks it
    assert tr.update("x", "S", -0.5, T0 + 16_000) is None
    assert tr.update("x", "S", float("nan"), T0 + 17_000) is None
    assert tr.update("x", "S", -0.5, T0 + 18_000) is None
    assert tr.update("x", "S", -0.5, T0 + 28_000) is not None


def test_sustained_imbalance_markets_are_independent():
    tr = SustainedImbalance(0.3, 5)
    tr.update("a", "S", 0.9, T0)
    tr.update("b", "S", 0.9, T0 + 4_000)
    assert tr.update("a", "S", 0.9, T0 + 5_000) is not None
    assert tr.update("b", "S", 0.9, T0 + 5_000) is None
    assert tr.update("b", "S", 0.9, T0 + 9_000) is not None
    tr.forget("a", "S")
    assert not tr.active("a", "S")


def test_sustained_imbalance_max_gap_breaks_run():
    tr = SustainedImbalance(0.3, 30, max_gap_s=5)
    tr.update("x", "S", 0.5, T0)
    assert tr.update("x", "S", 0.5, T0 + 40_000) is None  # stalled feed: restart here
    assert tr.update("x", "S", 0.5, T0 + 44_000) is None
    # Without max_gap the same samples fire.
    tr2 = SustainedImbalance(0.3, 30)
    tr2.update("x", "S", 0.5, T0)
    assert tr2.update("x", "S", 0.5, T0 + 40_000) is not None


def test_sustained_imbalance_zero_seconds_fires_immediately():
    tr = SustainedImbalance.from_thresholds(SignalThresholds(imbalance=0.2, imbalance_sustain_s=0))
    assert tr.update("x", "S", -0.25, T0) is not None

"""Funding-carry backtest on series small enough to check by hand.

Cost convention in these tests: fee 5 bps + slippage 5 bps = 10 bps per leg, two
legs per position -> opening or closing costs 0.002 on a notional of 1.0.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from perptui.core.backtest import as_funding_series, carry_backtest
from perptui.core.model import FundingRecord

H8 = 8 * 3_600_000
H4 = 4 * 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
COSTS = {"fee_bps": 5.0, "slippage_bps": 5.0}


def series(rates, step=H8, t0=T0):
    return [(t0 + i * step, r) for i, r in enumerate(rates)]


def test_perp_vs_spot_hand_computed():
    #   t  rate    held  funding   trade after settlement        cost    cumulative
    #   0  0.0005   0    0         |0.0005| <= 0.001: stay flat   0       0
    #   1  0.0015   0    0         0.0015 > 0.001: open short    0.002  -0.002
    #   2  0.0020  +1   +0.0020    0.0020 >= exit: hold           0       0.0000
    #   3  0.0012  +1   +0.0012    hold                           0       0.0012
    #   4  0.0004  +1   +0.0004    0.0004 < exit 0.0005: close   0.002  -0.0004
    #   5  0.0001   0    0         flat                           0      -0.0004
    # funding 0.0036, costs 0.004, net -0.0004 over 5 x 8 h = 40 h
    # annualized -0.0004 * 8760 / 40 = -0.0876; max drawdown 0.002 (0 -> -0.002)
    r = carry_backtest(
        series([0.0005, 0.0015, 0.0020, 0.0012, 0.0004, 0.0001]),
        entry_threshold=0.001,
        exit_threshold=0.0005,
        **COSTS,
    )
    assert r.mode == "perp_spot"
    assert [row.position for row in r.rows] == [0, 0, 1, 1, 1, 0]
    assert [row.new_position for row in r.rows] == [0, 1, 1, 1, 0, 0]
    assert [row.funding_pnl for row in r.rows] == pytest.approx([0, 0, 0.002, 0.0012, 0.0004, 0])
    assert [row.cost for row in r.rows] == pytest.approx([0, 0.002, 0, 0, 0.002, 0])
    assert [row.cumulative for row in r.rows] == pytest.approx(
        [0, -0.002, 0.0, 0.0012, -0.0004, -0.0004]
    )
    assert r.funding_pnl == pytest.approx(0.0036)
    assert r.costs == pytest.approx(0.004)
    assert r.net_pnl == pytest.approx(-0.0004)
    assert r.elapsed_ms == 5 * H8
    assert r.annualized_return == pytest.approx(-0.0876)
    assert r.max_drawdown == pytest.approx(0.002)
    assert r.trades == 1
    assert r.settlements_held == 3
    assert r.interval_hours == (8.0,)


def test_negative_funding_goes_long_perp_and_profits_net_of_costs():
    #   t  rate     held  funding                         cost     cumulative
    #   0 -0.0030    0    0        open long perp (-1)    0.002   -0.002
    #   1 -0.0030   -1    +0.003                          0        0.001
    #   2 -0.0025   -1    +0.0025                         0        0.0035
    #   3 -0.0020   -1    +0.002   last row: closed       0.002    0.0035
    # net 0.0035 over 24 h -> annualized 0.0035 * 365 = 1.2775
    r = carry_backtest(series([-0.003, -0.003, -0.0025, -0.002]), **COSTS)
    assert [row.position for row in r.rows] == [0, -1, -1, -1]
    assert r.funding_pnl == pytest.approx(0.0075)
    assert r.costs == pytest.approx(0.004)
    assert r.net_pnl == pytest.approx(0.0035)
    assert r.annualized_return == pytest.approx(0.0035 * 365)
    assert r.max_drawdown == pytest.approx(0.002)
    assert r.trades == 1


def test_open_position_left_open_when_asked():
    r = carry_backtest(series([-0.003, -0.003, -0.0025, -0.002]), close_at_end=False, **COSTS)
    assert r.rows[-1].new_position == -1
    assert r.costs == pytest.approx(0.002)
    assert r.net_pnl == pytest.approx(0.0055)


def test_flip_pays_four_legs():
    # Default exit = entry / 2 = 0.0005.
    #   t  rate     held  funding     trade                           cost
    #   0  0.002     0     0          open short (+1)                0.002
    #   1 -0.002    +1    -0.002      +1 * -0.002 < exit: close,
    #                                 |-0.002| > entry: open long    0.004
    #   2 -0.002    -1    +0.002      hold; last row: close           0.002
    r = carry_backtest(series([0.002, -0.002, -0.002]), **COSTS)
    assert [row.position for row in r.rows] == [0, 1, -1]
    assert [row.cost for row in r.rows] == pytest.approx([0.002, 0.004, 0.002])
    assert r.funding_pnl == pytest.approx(0.0)
    assert r.net_pnl == pytest.approx(-0.008)
    assert r.trades == 2
    # cumulative: -0.002, -0.008, -0.008 -> drawdown from the starting 0
    assert r.max_drawdown == pytest.approx(0.008)


def test_perp_vs_perp_hand_computed():
    # A pays more than B: short A / long B (+1) earns rate_A - rate_B.
    #   t  A        B        diff     held  funding   trade          cost
    #   0  0.0003   0.0001   0.0002    0    0         flat           0
    #   1  0.0010   0.0002   0.0008    0    0         > 0.0005 open  0.002
    #   2  0.0012   0.0001   0.0011   +1   +0.0011    hold           0
    #   3  0.0004   0.0002   0.0002   +1   +0.0002    < 0.00025 close (last) 0.002
    # net 0.0013 - 0.004 = -0.0027
    a = series([0.0003, 0.0010, 0.0012, 0.0004])
    # B stamped a few ms late, as venues do: alignment to the minute pairs them.
    b = [(t + 7, r) for t, r in series([0.0001, 0.0002, 0.0001, 0.0002])]
    r = carry_backtest(a, b, **COSTS)
    assert r.mode == "perp_perp"
    assert r.entry_threshold == 0.0005 and r.exit_threshold == 0.00025
    assert [row.payment for row in r.rows] == pytest.approx([0.0002, 0.0008, 0.0011, 0.0002])
    assert [row.position for row in r.rows] == [0, 0, 1, 1]
    assert r.funding_pnl == pytest.approx(0.0013)
    assert r.net_pnl == pytest.approx(-0.0027)
    assert r.trades == 1


def test_perp_vs_perp_different_intervals():
    # A settles every 4 h, B every 8 h.  Signal compares 8 h equivalents:
    # A 0.0005 per 4 h = 0.0010 per 8 h; B 0.0001 per 8 h -> 0.0009 > 0.0005.
    # Times (h):   0     4     8     12    16
    # A pays     .0005 .0005 .0005 .0005 .0005
    # B pays     .0001   -   .0001   -   .0001
    # Open after t=0 (cost 0.002).  Held through 4, 8, 12, 16:
    #   4: +0.0005   8: +0.0004   12: +0.0005   16: +0.0004   = 0.0018
    # Close at the end (0.002): net 0.0018 - 0.004 = -0.0022
    a = series([0.0005] * 5, step=H4)
    b = series([0.0001] * 3, step=H8)
    r = carry_backtest(a, b, **COSTS)
    assert r.interval_hours == (4.0, 8.0)
    assert [row.payment for row in r.rows] == pytest.approx(
        [0.0004, 0.0005, 0.0004, 0.0005, 0.0004]
    )
    assert [row.signal for row in r.rows] == pytest.approx([0.0009] * 5)
    assert [row.rate_b for row in r.rows] == [0.0001, None, 0.0001, None, 0.0001]
    assert r.funding_pnl == pytest.approx(0.0018)
    assert r.net_pnl == pytest.approx(-0.0022)


def test_cheap_costs_make_the_same_trade_profitable():
    rates = [0.0015] + [0.0012] * 30  # ten days of 0.12 % per 8 h
    r = carry_backtest(series(rates), fee_bps=2.0, slippage_bps=1.0)
    # open after t0 (2 legs x 3 bps = 0.0006), earn 30 x 0.0012, close 0.0006
    assert r.net_pnl == pytest.approx(30 * 0.0012 - 0.0012)
    assert r.annualized_return == pytest.approx(r.net_pnl * 365 / 10)
    assert r.max_drawdown == pytest.approx(0.0006)


def test_notional_scales_pnl():
    r1 = carry_backtest(series([0.002, 0.002, 0.002]), **COSTS)
    r10 = carry_backtest(series([0.002, 0.002, 0.002]), notional=10.0, **COSTS)
    assert r10.net_pnl == pytest.approx(10 * r1.net_pnl)
    assert r10.annualized_return == pytest.approx(r1.annualized_return)


def test_quiet_series_never_trades():
    r = carry_backtest(series([0.0001, -0.0002, 0.0003]), **COSTS)
    assert r.trades == 0 and r.net_pnl == 0.0 and r.max_drawdown == 0.0
    assert r.annualized_return == 0.0


def test_empty_and_single_row():
    r = carry_backtest([])
    assert r.rows == () and r.net_pnl == 0.0 and r.annualized_return is None
    r1 = carry_backtest([(T0, 0.01)])
    assert r1.trades == 0  # opening and closing at the only settlement is no trade
    assert r1.annualized_return is None


def test_inputs_in_every_shape_agree():
    pairs = series([0.0005, 0.0015, 0.0020, 0.0012, 0.0004])
    records = [FundingRecord("binance", "BTC/USDT:USDT", t, r) for t, r in pairs]
    frame = pd.DataFrame(
        {"timestamp": [t for t, _ in pairs], "funding_rate": [r for _, r in pairs]}
    )
    dt_frame = frame.assign(timestamp=pd.to_datetime(frame["timestamp"], unit="ms", utc=True))
    indexed = pd.Series([r for _, r in pairs], index=[t for t, _ in pairs])
    # reversed, a repeated timestamp and a NaN rate: sorted, deduplicated, dropped
    shuffled = [*reversed(pairs), pairs[0], (T0 + 99 * H8, float("nan"))]
    want = carry_backtest(pairs, **COSTS)
    for shape in (records, frame, dt_frame, indexed, shuffled):
        got = carry_backtest(shape, **COSTS)
        assert [r.timestamp for r in got.rows] == [r.timestamp for r in want.rows]
        assert got.net_pnl == pytest.approx(want.net_pnl)
    aware = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert as_funding_series([(aware, 0.1)]) == [(T0, 0.1)]


def test_to_frame():
    r = carry_backtest(series([0.0005, 0.0015, 0.0020]), **COSTS)
    f = r.to_frame()
    assert list(f["cumulative"]) == pytest.approx([row.cumulative for row in r.rows])
    assert {"timestamp", "time", "position", "funding_pnl", "cost", "cumulative"} <= set(f.columns)
    assert f["time"].iloc[0] == pd.Timestamp("2024-01-01", tz="UTC")


@pytest.mark.parametrize(
    "kw",
    [
        {"entry_threshold": 0.001, "exit_threshold": 0.002},
        {"fee_bps": -1},
        {"notional": 0},
        {"entry_threshold": -0.1},
    ],
)
def test_bad_parameters(kw):
    with pytest.raises(ValueError):
        carry_backtest(series([0.001]), **kw)


def test_bad_frame_columns():
    with pytest.raises(ValueError):
        carry_backtest(pd.DataFrame({"t": [1], "x": [0.1]}))

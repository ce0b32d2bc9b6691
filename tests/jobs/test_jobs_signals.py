"""`perptui signals` and `perptui backtest` over a database filled by hand.

The backtest numbers below are computed by hand from the rule in perptui.core.backtest:
the position held through settlement t is decided right after settlement t-1; opening
or closing costs 2 legs x (fee + slippage) x notional.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from perptui.cli import main
from perptui.core.model import BookSnapshot, FundingRecord
from perptui.store.read import load_signals
from perptui.store.writer import Writer

H = 3_600_000
T0 = 1_700_006_400_000  # on the 8 h grid
SYM = "BTC/USDT:USDT"


async def write(db: Path, records) -> None:
    async with Writer(db) as w:
        for r in records:
            await w.put(r)


def run_json(capsys, argv: list[str]) -> dict:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_perp_vs_spot_backtest_matches_hand_computed_pnl(tmp_path: Path, capsys) -> None:
    db = tmp_path / "bt.db"
    rates = [0.002, 0.0015, 0.0003, 0.0001, 0.0001]
    asyncio.run(
        write(db, [FundingRecord("binance", SYM, T0 + i * 8 * H, r) for i, r in enumerate(rates)])
    )
    out = run_json(
        capsys,
        ["--db", str(db), "backtest", "--symbol", "BTC", "--venue", "binance", "--entry", "0.001",
         "--fee-bps", "5", "--slippage-bps", "2", "--notional", "10000", "--json"],
    )  # fmt: skip
    # t0: 0.2 % > 0.1 % -> open short perp / long spot: cost 2 x 7 bps x 10000 = 14
    # t1: earn 0.15 % x 10000 = 15 ; 0.15 % >= exit 0.05 % -> hold
    # t2: earn 0.03 % = 3 ; 0.03 % < 0.05 % -> close: 14
    # t3, t4: flat
    assert out["funding_pnl"] == pytest.approx(18.0)
    assert out["costs"] == pytest.approx(28.0)
    assert out["net_pnl"] == pytest.approx(-10.0)
    assert [r["cumulative"] for r in out["rows"]] == pytest.approx(
        [-14.0, 1.0, -10.0, -10.0, -10.0]
    )
    assert out["max_drawdown"] == pytest.approx(14.0)  # from the starting 0 down to -14
    # -10 / 10000 over 32 hours, scaled to a year
    assert out["annualized_return"] == pytest.approx(-0.001 * 8760 / 32)
    assert out["trades"] == 1 and out["settlements_held"] == 2

    # the rich rendering of the same run: table + chart, no traceback
    capsys.readouterr()
    assert main(["--db", str(db), "backtest", "--symbol", "BTC", "--venue", "binance",
                 "--entry", "0.001", "--notional", "10000", "--rows", "-1"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "net P&L" in text and "-10" in text and "cumulative P&L" in text
    assert "█" in text or "▁" in text


def test_backtest_takes_entry_and_costs_from_the_config_signals(tmp_path: Path, capsys) -> None:
    db = tmp_path / "cfg.db"
    rates = [0.002, 0.0015, 0.0003, 0.0001]
    asyncio.run(
        write(db, [FundingRecord("binance", SYM, T0 + i * 8 * H, r) for i, r in enumerate(rates)])
    )
    argv = ["--db", str(db), "backtest", "--symbol", "BTC", "--venue", "binance", "--json"]
    cfg = tmp_path / "perptui.toml"
    # entry above every rate: no trade at all, whatever the defaults would do
    cfg.write_text("[signals]\nfunding_arb = 0.005\n")
    out = run_json(capsys, ["--config", str(cfg), *argv])
    assert out["entry_threshold"] == pytest.approx(0.005) and out["trades"] == 0
    # entry 0.1 %, exit 0.05 %, 3 + 1 bps a leg: the hand-computed run of the test above
    cfg.write_text("[signals]\nfunding_arb = 0.001\nfee_bps = 3\nslippage_bps = 1\n")
    out = run_json(capsys, ["--config", str(cfg), *argv, "--notional", "10000"])
    assert (out["fee_bps"], out["slippage_bps"]) == (3.0, 1.0)
    assert out["costs"] == pytest.approx(2 * 2 * 4 / 1e4 * 10000)
    assert out["funding_pnl"] == pytest.approx(18.0) and out["trades"] == 1


def test_perp_vs_perp_backtest_and_errors(tmp_path: Path, capsys) -> None:
    db = tmp_path / "pp.db"
    a = [0.0010, 0.0010, 0.0010, 0.0002]
    b = [0.0001, 0.0001, 0.0001, 0.0001]
    recs = [FundingRecord("binance", SYM, T0 + i * 8 * H, r) for i, r in enumerate(a)]
    recs += [
        FundingRecord("okx", SYM, T0 + i * 8 * H + 7, r) for i, r in enumerate(b)
    ]  # a few ms late
    asyncio.run(write(db, recs))
    out = run_json(
        capsys,
        ["--db", str(db), "backtest", "--symbol", "BTC", "--venue", "binance", "--venue2", "okx",
         "--entry", "0.0005", "--exit", "0.0002", "--fee-bps", "1", "--slippage-bps", "0", "--json"],
    )  # fmt: skip
    # spread 0.09 % > 0.05 % at t0 -> short binance / long okx; earns 0.09 % at t1 and t2,
    # t3 spread 0.01 % earned (0.0001) then < exit -> closed; open + close 2 x 2 x 1 bp
    assert out["mode"] == "perp_perp"
    assert out["funding_pnl"] == pytest.approx(0.0009 + 0.0009 + 0.0001)
    assert out["costs"] == pytest.approx(0.0004)
    assert out["net_pnl"] == pytest.approx(0.0015)

    capsys.readouterr()
    assert main(["--db", str(db), "backtest", "--symbol", "ETH", "--venue", "binance"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no settled funding" in err[0]


def test_signals_fire_once_per_episode_and_save(tmp_path: Path, capsys) -> None:
    db = tmp_path / "sig.db"
    # binance: above 0.1 % for 3 settlements (one episode), below, above again (second)
    bin_rates = [0.0015, 0.0020, 0.0012, 0.0001, 0.0011, 0.0001]
    okx_rates = [0.0001] * 6  # divergence vs binance whenever binance is high
    recs = [FundingRecord("binance", SYM, T0 + i * 8 * H, r) for i, r in enumerate(bin_rates)]
    recs += [FundingRecord("okx", SYM, T0 + i * 8 * H, r) for i, r in enumerate(okx_rates)]
    # a book leaning bid for 40 s at 1 s snapshots: one sustained imbalance (30 s rule)
    bids, asks = ((100.0, 10.0),), ((100.1, 1.0),)
    recs += [BookSnapshot("bybit", SYM, T0 + i * 1000, bids, asks) for i in range(40)]
    asyncio.run(write(db, recs))
    capsys.readouterr()
    assert main(["--db", str(db), "signals", "--json", "--save"]) == 0
    found = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    arb = [s for s in found if s["kind"] == "funding_arb"]
    assert [s["timestamp"] for s in arb] == [T0, T0 + 4 * 8 * H]
    assert all(s["direction"] == "short perp / long spot" for s in arb)
    div = [s for s in found if s["kind"] == "divergence"]
    assert [s["timestamp"] for s in div] == [T0, T0 + 4 * 8 * H]
    assert div[0]["exchange"] == "okx|binance"
    imb = [s for s in found if s["kind"] == "imbalance"]
    assert len(imb) == 1 and imb[0]["exchange"] == "bybit"
    assert imb[0]["timestamp"] == T0 + 30_000
    assert len(load_signals(db)) == len(found) == 5

    capsys.readouterr()
    assert main(["--db", str(db), "signals", "--kind", "imbalance"]) == 0
    text = capsys.readouterr().out
    assert "1 signals: imbalance 1" in text


def test_stored_divergence_compares_usdt_and_usdc_markets_of_one_base(
    tmp_path: Path, capsys
) -> None:
    """binance's BTC/USDT:USDT (8 h) and Hyperliquid's BTC/USDC:USDC (hourly) are one
    peer group: 0.01 % per hour is 0.08 % per 8 h against binance's 0.01 %."""
    db = tmp_path / "peers.db"
    recs = [FundingRecord("binance", SYM, T0 + i * 8 * H, 0.0001) for i in range(3)]
    recs += [FundingRecord("hyperliquid", "BTC/USDC:USDC", T0 + i * H, 0.0001) for i in range(17)]
    asyncio.run(write(db, recs))
    capsys.readouterr()
    assert main(["--db", str(db), "signals", "--json", "--kind", "divergence"]) == 0
    found = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [s["timestamp"] for s in found] == [T0]  # one episode over the three settlements
    [sig] = found
    assert sig["exchange"] == "binance|hyperliquid" and sig["symbol"] == "BTC/USDC:USDC"
    assert sig["value"] == pytest.approx(0.0008 - 0.0001)
    assert sig["inputs"]["symbols"] == {"binance": SYM, "hyperliquid": "BTC/USDC:USDC"}
    assert sig["inputs"]["mixed_quotes"] is True

"""Export round-trips through pandas: what `perptui export` writes is what the store holds."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from perptui.cli import main
from perptui.core.model import BookSnapshot, Candle, FundingInfo, FundingRecord, Signal
from perptui.jobs.export import export
from perptui.store.read import load_funding, load_ohlcv, load_signals, load_snapshots
from perptui.store.writer import Writer

H = 3_600_000
T0 = 1_700_000_000_000


async def fill(db: Path) -> None:
    async with Writer(db, batch_rows=50) as w:
        for i in range(250):
            for venue in ("binance", "okx"):
                await w.put(
                    FundingRecord(venue, "BTC/USDT:USDT", T0 + i * 8 * H, 1e-4 * (i % 7 - 3))
                )
                await w.put(
                    Candle(
                        venue,
                        "ETH/USDT:USDT",
                        "1h",
                        T0 + i * H,
                        100 + i,
                        101 + i,
                        99 + i,
                        100.5 + i,
                        10.0 * i,
                    )
                )
        for i in range(150):
            # optional fields NULL in some rows: the export schema must not depend on the chunk
            await w.put(
                FundingInfo(
                    "bybit",
                    "SOL/USDT:USDT",
                    T0 + i * 60_000,
                    2e-4,
                    T0 + 8 * H,
                    8.0,
                    mark_price=None if i < 100 else 150.0 + i,
                    index_price=None,
                    predicted_rate=None,
                )
            )
            await w.put(
                BookSnapshot(
                    "bybit",
                    "SOL/USDT:USDT",
                    T0 + i * 1000,
                    ((150.0, 2.0), (149.9, 1.0)),
                    ((150.1, 3.0),),
                )
            )
        await w.put(
            Signal(
                "funding_arb",
                "binance",
                "BTC/USDT:USDT",
                T0,
                "short perp / long spot",
                0.002,
                0.001,
                {"a": 1},
            )
        )


@pytest.fixture
async def db(tmp_path: Path) -> Path:
    path = tmp_path / "x.db"
    await fill(path)
    return path


def _same(exported: pd.DataFrame, stored: pd.DataFrame) -> None:
    stored = stored.drop(columns=["datetime"]).reset_index(drop=True)
    exported = exported.drop(columns=["datetime"]).reset_index(drop=True)
    assert list(exported.columns) == list(stored.columns)
    for col in stored.columns:
        a, b = exported[col], stored[col]
        if pd.api.types.is_float_dtype(b):
            assert ((a - b).abs().fillna(0) < 1e-12).all() and (a.isna() == b.isna()).all(), col
        else:
            assert [None if pd.isna(x) else x for x in a] == [
                None if pd.isna(x) else x for x in b
            ], col


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize(
    ("table", "loader"),
    [("funding", load_funding), ("ohlcv", load_ohlcv), ("snapshots", load_snapshots)],
)
def test_round_trip_in_chunks(db: Path, tmp_path: Path, fmt: str, table: str, loader) -> None:
    out = tmp_path / f"{table}.{fmt}"
    result = export(db, table, fmt, out, chunksize=64)
    stored = loader(db)
    assert result.rows == len(stored) > 64
    assert result.chunks == math.ceil(len(stored) / 64)  # streamed, not loaded whole
    back = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    _same(back, stored)
    if fmt == "parquet":
        assert str(back["datetime"].dtype).startswith("datetime64")


def test_signals_and_filters_through_the_cli(db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "f.parquet"
    since = T0 + 100 * 8 * H
    code = main(
        [
            "--db",
            str(db),
            "export",
            "--table",
            "funding",
            "--format",
            "parquet",
            "--venue",
            "okx",
            "--symbol",
            "BTC",
            "--since",
            str(since),
            "-o",
            str(out),
        ]
    )
    assert code == 0
    back = pd.read_parquet(out)
    _same(back, load_funding(db, exchange="okx", symbol="BTC/USDT:USDT", since=since))
    assert set(back["exchange"]) == {"okx"} and back["timestamp"].min() == since

    code = main(["--db", str(db), "export", "--table", "signals", "--format", "csv"])
    assert code == 0
    csv_text = capsys.readouterr().out
    from io import StringIO

    sig = pd.read_csv(StringIO(csv_text))
    assert len(sig) == 1 and sig.loc[0, "kind"] == "funding_arb"
    assert len(load_signals(db)) == 1


def test_empty_selection_writes_a_header_and_errors_are_one_line(
    db: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "none.csv"
    assert (
        main(["--db", str(db), "export", "--table", "ohlcv", "--venue", "nope", "-o", str(out)])
        == 0
    )
    assert pd.read_csv(out).empty and "timestamp" in pd.read_csv(out).columns
    capsys.readouterr()
    assert main(["--db", str(tmp_path / "missing.db"), "export", "--table", "ohlcv"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]
    assert main(["--db", str(db), "export", "--table", "ohlcv", "--format", "parquet"]) == 2

"""pandas readers, coverage/gaps, resume bounds and streaming, on files written by the Writer."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest
from pg_helpers import BACKENDS, fresh_database
from pg_helpers import write_all as write

from perptui import store
from perptui.core.model import BookSnapshot, Candle, FundingInfo, FundingRecord, Signal
from perptui.errors import StoreError
from perptui.store import (
    coverage,
    iter_rows,
    load_funding,
    load_ohlcv,
    load_signals,
    load_snapshots,
    series_bounds,
    to_ms,
)
from perptui.store.writer import Writer

SYM = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def hourly(exchange: str, symbol: str, hours: range, tf: str = "1h") -> list[Candle]:
    return [
        Candle(exchange, symbol, tf, T0 + h * HOUR, 100 + h, 101 + h, 99 + h, 100.5 + h, 1.0)
        for h in hours
    ]


@pytest.fixture(scope="module", params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The same history written through the Writer into each backend; every reader test runs on both."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("read") / "store.db"
        _fill(path)
        yield path
        return
    for url in fresh_database(request.getfixturevalue("pg_server")):
        _fill(url)
        yield url


def _fill(path) -> None:
    records: list = []
    # 1h candles for binance BTC with hours 10..12 and 30..31 missing; a full ETH series.
    records += hourly("binance", SYM, range(48))
    records = [c for c in records if not (10 <= (c.timestamp - T0) // HOUR <= 12)]
    records = [c for c in records if not (30 <= (c.timestamp - T0) // HOUR <= 31)]
    records += hourly("okx", ETH, range(24))
    # A 4h series with candles 2 and 3 missing.
    records += [
        Candle("okx", ETH, "4h", T0 + k * 4 * HOUR, 1.0, 1.0, 1.0, 1.0, 1.0) for k in (0, 1, 4, 5)
    ]
    # Settled 8h funding on okx with one settlement missing; live observations too.
    records += [
        FundingRecord("okx", SYM, T0 + k * 8 * HOUR, 0.0001 * (k + 1)) for k in range(10) if k != 4
    ]
    records += [
        FundingInfo("okx", SYM, T0 + m * 60_000, 0.0003, T0 + 8 * HOUR, 8.0, 100.0, 99.0)
        for m in range(5)
    ]
    records += [FundingRecord("binance", SYM, T0 + k * 8 * HOUR, -0.0001) for k in range(3)]
    # One snapshot a second for 60 s, with a 10 s hole.
    records += [
        BookSnapshot("bybit", SYM, T0 + s * 1000, ((100.0, 1.0),), ((100.2, 2.0),))
        for s in range(60)
        if not 20 <= s < 30
    ]
    records += [
        Signal("funding_arb", "okx", SYM, T0 + HOUR, "short perp / long spot", 0.0012, 0.001,
               {"rate": 0.0012}),
        Signal("divergence", "binance|okx", SYM, T0 + 2 * HOUR, "long binance / short okx",
               0.0006, 0.0005, {"rates": {"binance": -0.0001, "okx": 0.0005}}),
    ]  # fmt: skip
    write(path, records)


# -- loaders -----------------------------------------------------------------------------


def test_load_funding_frame_shape_and_types(db: Path) -> None:
    df = load_funding(db)
    assert len(df) == 9 + 5 + 3
    cols = list(df.columns)
    assert cols[cols.index("timestamp") + 1] == "datetime"
    assert str(df["datetime"].dt.tz) == "UTC"
    assert df["timestamp"].dtype == "int64"
    assert df["funding_rate"].dtype == "float64"
    first = df[(df.exchange == "okx") & (df.kind == "settled")].iloc[0]
    assert first["datetime"] == pd.Timestamp("2024-01-01T00:00:00Z")
    assert first["timestamp"] == T0


def test_load_funding_filters(db: Path) -> None:
    assert set(load_funding(db, exchange="binance").exchange) == {"binance"}
    settled = load_funding(db, exchange="okx", kind="settled")
    assert len(settled) == 9
    assert set(settled.kind) == {"settled"}
    live = load_funding(db, exchange="okx", symbol=SYM, kind="live")
    assert len(live) == 5
    assert live["annualized_rate"].iloc[0] == pytest.approx(0.0003 * 3 * 365)
    assert load_funding(db, symbol=ETH).empty


@pytest.mark.parametrize(
    "since, until",
    [
        (T0 + 8 * HOUR, T0 + 24 * HOUR),
        ("2024-01-01T08:00:00Z", "2024-01-02"),
        (dt.datetime(2024, 1, 1, 8), dt.datetime(2024, 1, 2)),  # naive = UTC
        (
            dt.datetime(2024, 1, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            pd.Timestamp("2024-01-02", tz="UTC"),
        ),
    ],
)
def test_time_filters_are_half_open_and_accept_any_time_form(db: Path, since, until) -> None:
    df = load_funding(db, exchange="okx", kind="settled", since=since, until=until)
    # settlements at 8 h and 16 h; 24 h is excluded (until is exclusive)
    assert list(df.timestamp) == [T0 + 8 * HOUR, T0 + 16 * HOUR]


def test_to_ms() -> None:
    assert to_ms(None) is None
    assert to_ms(T0) == T0
    assert to_ms(str(T0)) == T0
    assert to_ms("2024-01-01") == T0
    assert to_ms("2024-01-01T01:00:00+01:00") == T0
    assert to_ms(dt.date(2024, 1, 1)) == T0
    with pytest.raises(ValueError, match="not a time"):
        to_ms("yesterday-ish")


def test_load_ohlcv_by_timeframe(db: Path) -> None:
    one_h = load_ohlcv(db, exchange="okx", symbol=ETH, timeframe="1h")
    assert len(one_h) == 24
    assert one_h["timestamp"].is_monotonic_increasing
    assert list(one_h.columns[:6]) == [
        "id",
        "exchange",
        "symbol",
        "timeframe",
        "timestamp",
        "datetime",
    ]
    assert len(load_ohlcv(db, exchange="okx", timeframe="4h")) == 4
    assert len(load_ohlcv(db, exchange="binance")) == 48 - 5


def test_load_snapshots_and_raw_levels(db: Path) -> None:
    df = load_snapshots(db, exchange="bybit", since=T0 + 10_000, until=T0 + 40_000)
    assert len(df) == 20  # 10..19 and 30..39
    assert df["mid_price"].iloc[0] == pytest.approx(100.1)
    assert isinstance(df["raw_data"].iloc[0], str)
    parsed = load_snapshots(db, exchange="bybit", parse_raw=True)
    assert parsed["raw_data"].iloc[0] == {"bids": [[100.0, 1.0]], "asks": [[100.2, 2.0]]}


def test_load_signals_parses_inputs(db: Path) -> None:
    df = load_signals(db)
    assert list(df.kind) == ["funding_arb", "divergence"]  # oldest first
    assert df["inputs"].iloc[1] == {"rates": {"binance": -0.0001, "okx": 0.0005}}
    assert list(load_signals(db, kind="divergence").exchange) == ["binance|okx"]


def test_readers_accept_an_open_connection(db: Path) -> None:
    conn = store.connect_sync(db, readonly=True)
    try:
        assert len(load_ohlcv(conn, exchange="okx", timeframe="1h")) == 24
        assert len(load_funding(conn, kind="live")) == 5
        conn.execute("SELECT 1")  # still open: the reader did not close it
    finally:
        conn.close()


def test_empty_database_gives_empty_frames_with_columns(db_location) -> None:
    path = db_location
    write(path, [])
    df = load_funding(path)
    assert df.empty
    assert {"timestamp", "datetime", "funding_rate", "kind"} <= set(df.columns)
    assert coverage(path).empty
    assert series_bounds(path, "ohlcv", "binance", SYM, timeframe="1h") is None


def test_readers_raise_store_error_for_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no database at"):
        load_funding(tmp_path / "absent.db")
    text = tmp_path / "notes.txt"
    text.write_text("not a database " * 20)
    with pytest.raises(StoreError, match="is not a SQLite database"):
        load_ohlcv(text)


def test_package_reexports_readers() -> None:
    assert store.load_funding is load_funding
    assert store.coverage is coverage
    with pytest.raises(AttributeError):
        store.no_such_thing  # noqa: B018


# -- coverage and gaps ----------------------------------------------------------------------


def test_coverage_lists_series_with_spacing_and_gaps(db: Path) -> None:
    cov = coverage(db)
    by = {
        (r.table, r.exchange, r.symbol, r.kind, r.timeframe): r for r in cov.itertuples(index=False)
    }
    btc = by[("ohlcv", "binance", SYM, None, "1h")]
    assert btc.rows == 43
    assert btc.first_ms == T0 and btc.last_ms == T0 + 47 * HOUR
    assert btc.first == pd.Timestamp("2024-01-01T00:00:00Z")
    assert btc.spacing_ms == HOUR
    assert btc.gaps == 2
    assert btc.gap_list == [(T0 + 9 * HOUR, T0 + 13 * HOUR), (T0 + 29 * HOUR, T0 + 32 * HOUR)]
    assert btc.missing == 5

    eth = by[("ohlcv", "okx", ETH, None, "1h")]
    assert (eth.rows, eth.gaps, eth.missing) == (24, 0, 0)
    eth4 = by[("ohlcv", "okx", ETH, None, "4h")]
    assert eth4.spacing_ms == 4 * HOUR  # from the timeframe, not the (gappy) data
    assert eth4.gap_list == [(T0 + 4 * HOUR, T0 + 16 * HOUR)]
    assert eth4.missing == 2


def test_coverage_funding_and_snapshots(db: Path) -> None:
    cov = coverage(db, exchange="okx")
    assert set(cov.exchange) == {"okx"}
    settled = cov[(cov.table == "funding_rates") & (cov.kind == "settled")].iloc[0]
    assert settled.spacing_ms == 8 * HOUR  # the venue's interval, from the median step
    assert settled.gaps == 1
    assert settled.gap_list == [(T0 + 24 * HOUR, T0 + 40 * HOUR)]
    assert settled.missing == 1
    live = cov[(cov.table == "funding_rates") & (cov.kind == "live")].iloc[0]
    assert (live.rows, live.spacing_ms, live.gaps) == (5, 60_000, 0)

    snaps = coverage(db, table="snapshots").iloc[0]
    assert (snaps.exchange, snaps.rows, snaps.spacing_ms) == ("bybit", 50, 1000)
    assert snaps.gap_list == [(T0 + 19_000, T0 + 30_000)]
    assert snaps.missing == 10


# -- resume bounds and streaming ---------------------------------------------------------


def test_series_bounds(db: Path) -> None:
    assert series_bounds(db, "ohlcv", "binance", SYM, timeframe="1h") == (
        T0,
        T0 + 47 * HOUR,
        43,
    )
    assert series_bounds(db, "funding", "okx", SYM, kind="settled") == (T0, T0 + 72 * HOUR, 9)
    assert series_bounds(db, "funding_rates", "okx", SYM, kind="live") == (
        T0,
        T0 + 4 * 60_000,
        5,
    )
    assert series_bounds(db, "ohlcv", "binance", SYM, timeframe="1d") is None
    with pytest.raises(StoreError, match="unknown table"):
        series_bounds(db, "trades", "binance", SYM)


def test_iter_rows_streams_in_chunks(db: Path) -> None:
    chunks = list(iter_rows(db, "ohlcv", {"exchange": "binance"}, chunksize=10))
    assert [len(c) for c in chunks] == [10, 10, 10, 10, 3]
    whole = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(whole, load_ohlcv(db, exchange="binance"))
    assert "datetime" in chunks[0].columns


def test_iter_rows_filters_and_aliases(db: Path) -> None:
    got = pd.concat(
        iter_rows(
            db,
            "funding",
            {"exchange": ["okx", "binance"], "kind": "settled", "since": "2024-01-02"},
            chunksize=4,
        )
    )
    assert set(got.kind) == {"settled"}
    assert (got.timestamp >= T0 + 24 * HOUR).all()
    assert len(got) == 9 - 3  # okx k=3,5..9 ; binance has none after day 1
    with pytest.raises(TypeError, match="unknown filter"):
        list(iter_rows(db, "ohlcv", {"venue": "okx"}))


def test_iter_rows_can_stop_early_and_closes(db: Path) -> None:
    it = iter_rows(db, "snapshots", None, chunksize=7)
    first = next(it)
    assert len(first) == 7
    it.close()  # the generator's connection closes here; no error, no leak warning


def test_reading_while_the_writer_is_writing(db_location) -> None:
    """Readers see committed batches while the writer keeps going (WAL on SQLite)."""
    path = db_location

    async def go() -> list[int]:
        seen: list[int] = []
        async with Writer(path, batch_rows=50, flush_interval=0.02) as w:
            for i in range(10):
                for c in hourly("binance", SYM, range(i * 50, (i + 1) * 50)):
                    w.submit(c)
                await w.flush()
                seen.append(len(await asyncio.to_thread(load_ohlcv, path)))
        return seen

    seen = asyncio.run(go())
    assert seen == [50 * (i + 1) for i in range(10)]
    assert not math.isnan(load_ohlcv(path)["close"].iloc[-1])

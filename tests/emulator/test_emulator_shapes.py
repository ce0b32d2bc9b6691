"""Field-for-field shape check of the emulator's bybit and okx payloads against every
recorded bybit / okx payload in the shared fixtures (REST ``httpResponse``, market
``info`` entries, WS messages).

Shapes are compared recursively: same keys, same nesting, same JSON value type (string /
number / bool / null / list / object), rows of equal length. The only tolerated
differences are listed per file below, each with its reason:

* ``numeric_str`` — ccxt's recorder stored some numbers as strings (README caveat: bybit
  ``retCode``, ``time``; the REST book's ``ts``/``u``/``seq``); the live API, and the
  emulator, send numbers.
* ``ignore`` — keys ccxt itself wrote into the response object before it was recorded
  (``fetchFundingRates`` adds ``timestamp`` to each ticker row; ``fetchOpenInterest`` adds
  ``nextPageCursor`` to the first row).
* ``extra`` — fields the venue sends today that an older recording predates (named in the
  fixture README or in the file's own ``kind_note``).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from payload_shapes import shape_diff

from perptui.emulator import Emulator

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "LTC/USDT:USDT", "XRP/USDT:USDT", "DOGE/USDT:USDT"]
BYBIT_NUM = {"$.retCode", "$.time"}
TICKER_ROW_NEW = {
    f"$.result.list[].{k}"
    for k in (
        "preOpenPrice",
        "preQty",
        "curPreListingPhase",
        # the live v5 tickers name each market's current funding interval and cap
        "fundingIntervalHour",
        "fundingCap",
    )
}
OKX_FUNDING_PUSH_NEW = {
    f"$.data[].{k}"
    for k in (
        "formulaType",
        "impactValue",
        "instType",
        "interestRate",
        "maxFundingRate",
        "method",
        "minFundingRate",
        "premium",
        "settFundingRate",
        "settState",
    )
}

# file -> tolerated differences (see the module docstring)
REST_RULES: dict[str, dict[str, set[str]]] = {
    "bybit/fetchOrderBook.json": {
        "numeric_str": BYBIT_NUM | {"$.result.ts", "$.result.u", "$.result.seq"}
    },
    "bybit/fetchOHLCV.json": {"numeric_str": BYBIT_NUM},
    "bybit/fetchTicker.json": {"numeric_str": BYBIT_NUM, "extra": TICKER_ROW_NEW},
    "bybit/fetchFundingRate.json": {
        "numeric_str": BYBIT_NUM,
        "ignore": {"$.result.list[].timestamp"},
        "extra": TICKER_ROW_NEW,
    },
    "bybit/fetchFundingRates.json": {
        "numeric_str": BYBIT_NUM,
        "ignore": {"$.result.list[].timestamp"},
        "extra": TICKER_ROW_NEW,
    },
    "bybit/fetchOpenInterest.json": {"ignore": {"$.result.list[].nextPageCursor"}},
    # nautilus' copy has no retExtInfo; every live v5 response carries it
    "bybit/rest_funding_history_nautilus.json": {"extra": {"$.retExtInfo"}},
    "okx/fetchOrderBook.json": {},
    "okx/fetchOrderBook_spot.json": {},  # same endpoint and shape as swap (asked for the swap)
    "okx/fetchOHLCV_spot.json": {},
    "okx/fetchTicker_spot.json": {},
    "okx/fetchOpenInterest.json": {},
    "okx/rest_funding_rate_history_nautilus.json": {},
}


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    e = Emulator(seed=11, venues=("bybit", "okx"), symbols=SYMBOLS, speed=4)
    await e.start()
    yield e
    await e.stop()


def _load(fixtures_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((fixtures_dir / name).read_text())


def _emulator_url(emu: Emulator, recorded_url: str) -> str:
    url = recorded_url.replace("https://api.bybit.com", emu.http_base("bybit"))
    url = url.replace("https://www.okx.com", emu.http_base("okx"))
    # the okx spot recordings are asked of the swap: same endpoint, same row format
    return re.sub(r"instId=BTC-USDT(?=&|$)", "instId=BTC-USDT-SWAP", url)


async def _get(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200, (url, resp.status, await resp.text())
        return await resp.json()


async def _ws(url: str, request: Any, n: int, skip: int = 1) -> list[Any]:
    """Subscribe and return the next ``n`` messages after ``skip`` acks."""
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_str(json.dumps(request))
        msgs = [json.loads((await ws.receive(timeout=5)).data) for _ in range(skip + n)]
    return msgs[skip:]


@pytest.mark.parametrize("name", sorted(REST_RULES))
async def test_rest_payload_shapes(emu: Emulator, fixtures_dir: Path, name: str) -> None:
    rec = _load(fixtures_dir, name)
    got = await _get(_emulator_url(emu, rec["request"]["url"]))
    rules = REST_RULES[name]
    diff = shape_diff(
        rec["httpResponse"],
        got,
        numeric_str=rules.get("numeric_str", set()),
        ignore=rules.get("ignore", set()),
        extra=rules.get("extra", set()),
    )
    assert diff == [], f"{name}: {diff}"


@pytest.mark.parametrize("venue", ["bybit", "okx"])
async def test_market_info_shapes(emu: Emulator, fixtures_dir: Path, venue: str) -> None:
    """Each recorded swap market's raw ``info`` vs the emulator's instrument row."""
    markets = _load(fixtures_dir, f"{venue}/markets.json")["markets"]
    swaps = [m for m in markets.values() if m.get("swap")]
    assert swaps
    for m in swaps:
        if venue == "bybit":
            got = await _get(
                f"{emu.http_base('bybit')}/v5/market/instruments-info?category=linear&symbol={m['id']}"
            )
            row = got["result"]["list"][0]
        else:
            got = await _get(
                f"{emu.http_base('okx')}/api/v5/public/instruments?instType=SWAP&instId={m['id']}"
            )
            row = got["data"][0]
        assert shape_diff(m["info"], row) == [], m["symbol"]


async def test_bybit_orderbook_session_shapes(emu: Emulator, fixtures_dir: Path) -> None:
    rec = _load(fixtures_dir, "bybit/ws_orderbook500_session_XRPUSDT.json")["ws_messages"]
    url = emu.ws_base("bybit") + "/v5/public/linear"
    got = await _ws(url, {"op": "subscribe", "req_id": "1", "args": ["orderbook.500.XRPUSDT"]}, 12)
    assert [m["type"] for m in got] == ["snapshot"] + ["delta"] * 11
    assert shape_diff(rec[0], got[0]) == []
    # a delta may leave one side empty; compare with one that changed both
    full = next(m for m in got[1:] if m["data"]["b"] and m["data"]["a"])
    for delta in rec[1:]:
        assert shape_diff(delta, full) == []
    doc = _load(fixtures_dir, "bybit/ws_orderbook50_snapshot_docexample.json")["payload"]
    (snap,) = await _ws(url, {"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}, 1)
    # the docs' version has cts; nautilus' copy dropped it (kind_note)
    assert shape_diff(doc, snap, extra={"$.cts"}) == []


async def test_bybit_tickers_push_shape(emu: Emulator, fixtures_dir: Path) -> None:
    doc = _load(fixtures_dir, "bybit/ws_tickers_linear_docexample.json")["payload"]
    url = emu.ws_base("bybit") + "/v5/public/linear"
    (push,) = await _ws(url, {"op": "subscribe", "args": ["tickers.BTCUSDT"]}, 1)
    assert shape_diff(doc, push) == []


async def test_okx_books_session_shapes(emu: Emulator, fixtures_dir: Path) -> None:
    rec = [
        m["payload"]
        for m in _load(fixtures_dir, "okx/ws_books_session_BTC-USDT.json")["ws_messages"]
    ]
    url = emu.ws_base("okx") + "/ws/v5/public"
    got = await _ws(
        url,
        {"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT-SWAP"}]},
        4,
        skip=0,
    )
    seq_fields = {"$.data[].prevSeqId", "$.data[].seqId"}  # added by OKX after May 2022 (README)
    assert shape_diff(rec[0], got[0]) == []  # subscribe ack
    assert got[1]["action"] == "snapshot" and got[2]["action"] == "update"
    assert shape_diff(rec[1], got[1], extra=seq_fields) == []
    full = next(m for m in got[2:] if m["data"][0]["bids"] and m["data"][0]["asks"])
    for update in rec[2:]:
        assert shape_diff(update, full, extra=seq_fields) == []


async def test_okx_funding_push_shape(emu: Emulator, fixtures_dir: Path) -> None:
    rec = _load(fixtures_dir, "okx/ws_funding_rate_nautilus.json")["payload"]
    url = emu.ws_base("okx") + "/ws/v5/public"
    (push,) = await _ws(
        url,
        {"op": "subscribe", "args": [{"channel": "funding-rate", "instId": "BTC-USDT-SWAP"}]},
        1,
    )
    # kind_note: current pushes carry more fields than this (probably hand-written) fixture
    assert shape_diff(rec, push, extra=OKX_FUNDING_PUSH_NEW) == []


def test_shape_diff_catches_differences() -> None:
    rec = {"a": "1", "b": [["1.5", "2"]], "c": {"d": None}, "e": [{"f": 1}]}
    assert shape_diff(rec, json.loads(json.dumps(rec))) == []
    assert shape_diff(rec, {**rec, "a": 1}) == ["$.a: recorded string, emulator number"]
    assert shape_diff(rec, {**rec, "a": 1}, numeric_str={"$.a"}) == []
    assert shape_diff(rec, {**rec, "b": [["1.5"]]}) == ["$.b[]: row of 2 recorded, 1 emulated"]
    assert shape_diff(rec, {**rec, "c": {"d": "x"}}) == ["$.c.d: recorded null, emulator string"]
    assert shape_diff(rec, {**rec, "e": [{"f": 1}, {"g": 1}]}) == [
        "$.e[].f: missing in emulator",
        "$.e[].g: not in recording",
    ]
    assert shape_diff(rec, {k: v for k, v in rec.items() if k != "a"}) == [
        "$.a: missing in emulator"
    ]
    assert shape_diff(rec, {**rec, "z": 0}, extra={"$.z"}) == []

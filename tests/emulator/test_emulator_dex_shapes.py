"""Field-for-field shapes of the emulated Hyperliquid, dYdX and GMX payloads against every
recorded payload of README_dex.md (rules as in test_emulator_shapes; tolerances named).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from payload_shapes import shape_diff

from perptui.emulator import Emulator

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    e = Emulator(seed=4, venues=("hyperliquid", "dydx", "gmx"), symbols=SYMBOLS, speed=4)
    await e.start()
    yield e
    await e.stop()


def rec(fixtures_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((fixtures_dir / f"{name}.json").read_text())


async def post(emu: Emulator, body: dict[str, Any]) -> Any:
    url = emu.http_base("hyperliquid") + "/info"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def get(emu: Emulator, venue: str, path: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(emu.http_base(venue) + path) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def ws(url: str, request: dict[str, Any], n: int) -> list[Any]:
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as sock:
        await sock.send_str(json.dumps(request))
        return [json.loads((await sock.receive(timeout=5)).data) for _ in range(n)]


# ----------------------------------------------------------------------- hyperliquid


async def test_hyperliquid_meta_and_asset_ctxs(emu: Emulator, fixtures_dir: Path) -> None:
    recorded = rec(fixtures_dir, "hyperliquid/metaAndAssetCtxs_testnet_142_perps")["httpResponse"]
    got = await post(emu, {"type": "metaAndAssetCtxs"})
    # onlyIsolated appears on a few testnet coins only (isolated-margin-only listings)
    assert shape_diff(recorded[0], got[0], ignore={"$.universe[].onlyIsolated"}) == []
    # illiquid testnet coins have null premium / midPx; compare the quoted ones
    quoted = [c for c in recorded[1] if None not in c.values()]
    assert len(quoted) > 100 and {k for c in recorded[1] for k, v in c.items() if v is None} <= {
        "premium",
        "midPx",
        "impactPxs",
    }
    assert shape_diff(quoted, got[1]) == []
    meta = rec(fixtures_dir, "hyperliquid/meta_mainnet_2023-07-17_sdk_cassette")["httpResponse"]
    assert shape_diff(meta, await post(emu, {"type": "meta"})) == []


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        # nautilus' capture re-serialised levels without the per-level order count "n"
        ("hyperliquid/l2Book_btc_mainnet_2025-10-30", {"$.levels[][].n"}),
        ("hyperliquid/l2Book_btc_testnet_2024-12-21", set()),
        ("hyperliquid/fundingHistory_btc_2023-05-12_to_05-23", set()),
        ("hyperliquid/candleSnapshot_kpepe_1h_sdk_cassette", set()),
    ],
)
async def test_hyperliquid_rest(emu: Emulator, fixtures_dir: Path, name: str, extra: set) -> None:
    fx = rec(fixtures_dir, name)
    body = json.loads(json.dumps(fx["request"]["body"]))
    now = emu.clock.now_ms()
    if body["type"] == "candleSnapshot":
        body["req"].update(coin="BTC", startTime=now - 10 * 3_600_000, endTime=now)
    elif body["type"] == "fundingHistory":
        body.update(startTime=now - 10 * 3_600_000, endTime=now)
    got = await post(emu, body)
    assert shape_diff(fx["httpResponse"], got, extra=extra) == [], name


async def test_hyperliquid_ws_l2book(emu: Emulator, fixtures_dir: Path) -> None:
    fx = rec(fixtures_dir, "hyperliquid/ws_l2Book_btc_order_book_server")
    got = await ws(emu.ws_base("hyperliquid") + "/ws", fx["request"]["subscribe"], 3)
    assert shape_diff(fx["ws_messages"][0], got[0]) == []
    for push in got[1:]:
        assert shape_diff(fx["ws_messages"][1], push) == []


# ----------------------------------------------------------------------------- dydx


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("dydx/perpetual_markets_btc_eth_sol", "/v4/perpetualMarkets"),
        ("dydx/ccxt_static_perpetual_markets_btc", "/v4/perpetualMarkets?ticker=BTC-USD"),
        ("dydx/orderbook_btc", "/v4/orderbooks/perpetualMarket/BTC-USD"),
        ("dydx/ccxt_static_orderbook_btc", "/v4/orderbooks/perpetualMarket/BTC-USD"),
        ("dydx/candles_btc_1min", "/v4/candles/perpetualMarkets/BTC-USD?resolution=1MIN&limit=3"),
        (
            "dydx/ccxt_static_candles_btc_1min",
            "/v4/candles/perpetualMarkets/BTC-USD?resolution=1MIN&limit=1",
        ),
        ("dydx/historical_funding_btc", "/v4/historicalFunding/BTC-USD?limit=3"),
        ("dydx/ccxt_static_historical_funding_btc", "/v4/historicalFunding/BTC-USD?limit=1"),
    ],
)
async def test_dydx_rest(emu: Emulator, fixtures_dir: Path, name: str, path: str) -> None:
    fx = rec(fixtures_dir, name)
    got = await get(emu, "dydx", path)
    assert shape_diff(fx["httpResponse"], got) == [], name


async def test_dydx_ws_snapshot_and_batch(emu: Emulator, fixtures_dir: Path) -> None:
    snap, batch = rec(fixtures_dir, "dydx/ws_v4_orderbook_eth_usd")["ws_messages"]
    request = {"type": "subscribe", "channel": "v4_orderbook", "id": "ETH-USD", "batched": True}
    connected, subscribed, got_batch = await ws(emu.ws_base("dydx") + "/v4/ws", request, 3)
    assert connected["type"] == "connected" and connected["message_id"] == 0
    assert shape_diff(snap, subscribed) == []
    assert got_batch["type"] == "channel_batch_data" and got_batch["message_id"] == 2
    head = {k: v for k, v in batch.items() if k != "contents"}
    assert shape_diff(head, {k: v for k, v in got_batch.items() if k != "contents"}) == []
    # contents: one side per element, [price, size] string rows
    for part in got_batch["contents"]:
        (side,) = part
        like = next(p for p in batch["contents"] if side in p)
        assert shape_diff(like, part) == []


# ------------------------------------------------------------------------------ gmx


@pytest.mark.parametrize(
    ("name", "path", "ignore"),
    [
        # "synthetic" is only sent for synthetic index tokens (none are emulated)
        ("gmx/tokens_arbitrum", "/tokens", {"$.tokens[].synthetic"}),
        ("gmx/markets_arbitrum", "/markets", set()),
        ("gmx/prices_tickers_arbitrum", "/prices/tickers", set()),
    ],
)
async def test_gmx_rest(emu: Emulator, fixtures_dir: Path, name: str, path: str, ignore) -> None:
    fx = rec(fixtures_dir, name)
    got = await get(emu, "gmx", path)
    assert shape_diff(fx["httpResponse"], got, ignore=ignore) == [], name

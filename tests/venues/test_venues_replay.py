"""Validated books: recorded okx, bybit and binance sessions replayed over 127.0.0.1 to
both streamed-book paths - the fast path (perptui.venues.fast) and the venues' own
ccxt.pro subclasses - whole and with one message withheld.

Each test builds the venue through `make_venue` (so the validating path is the one
under test), serves markets and REST snapshots through the replaced transport, and the
recorded websocket frames over a real loopback socket. Every book the venue hands out is
compared with an independent replay of the recording (wire strings, no ccxt) at the
frame it says it is at: a withheld message must be detected, resynced, and must never
show up as a wrong book.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import ccxt
import pytest
from venue_fixtures import fixture_venue, load, markets
from ws_replay import (
    BybitSession,
    OkxSession,
    WireBook,
    assert_published_prefix,
    point_ws_at,
    replay_server,
    requests,
)

from perptui.core.model import BookSnapshot
from perptui.errors import BookOutOfSync
from perptui.venues.bybit import BybitPro
from perptui.venues.okx import OkxPro

OKX_SWAP = "BTC/USDT:USDT"
XRP = "XRP/USDT:USDT"
SUSHI = "SUSHI/USDT:USDT"
# Withheld frames: each changes the top 25 levels, so okx's checksum can see the loss.
OKX_WITHHELD = 40
BYBIT_WITHHELD = 20
BINANCE_WITHHELD = 100


@pytest.fixture(params=["fast", "ccxt"])
def book_path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def book_failures(venue: Any) -> dict[str, int]:
    """Failed checks per kind, from whichever path streams the venue's books."""
    if getattr(venue, "book_path", "ccxt") == "fast":
        return dict(venue.book_failures)
    return dict(venue.client.book_failures)


async def watch_until(
    venue: Any, symbol: str, done: Any, *, timeout: float = 20.0
) -> tuple[list[BookSnapshot], list[str]]:
    """Watch like the engine does (re-watching after a resync error) until ``done(book)``.

    Returns the books handed out and the names of the resync errors seen."""
    books: list[BookSnapshot] = []
    errors: list[str] = []
    async with asyncio.timeout(timeout):
        while not books or not done(books[-1]):
            try:
                books.append(await venue.watch_order_book(symbol))
            except BookOutOfSync as exc:  # the venue's error; the ccxt one is its cause
                errors.append(type(exc.__cause__).__name__)
                assert len(errors) < 5, errors
    return books, errors


# ----------------------------------------------------------------------------------- okx


def okx_venue(fixtures_dir: Path, base: str, book_path: str) -> tuple[Any, float]:
    venue, _ = fixture_venue("okx", markets(fixtures_dir, "okx"), book_path=book_path)
    venue.client.urls["api"]["ws"] = point_ws_at(venue.client.urls["api"]["ws"], base)
    return venue, venue.client.market(OKX_SWAP)["contractSize"]


def assert_okx_books(session: OkxSession, books: list[BookSnapshot], size: float) -> None:
    for book in books:
        want = session.after[book.timestamp]
        assert_published_prefix(book.bids, want.floats("bids", size), f"bids @ {book.timestamp}")
        assert_published_prefix(book.asks, want.floats("asks", size), f"asks @ {book.timestamp}")


@pytest.mark.parametrize("withhold", [None, OKX_WITHHELD], ids=["whole", "one-withheld"])
async def test_okx_checksum_session(
    fixtures_dir: Path, withhold: int | None, book_path: str
) -> None:
    """The 2022 okx session has no seqId: the crc32 checksum is the only check there is.
    ccxt.pro alone misses a lost update; the venue's OkxPro rejects the next frame, asks
    for a snapshot again (unsubscribe + subscribe) and converges."""
    rec = load(fixtures_dir, "okx", "ws_books_session_BTC-USDT")
    session = OkxSession.from_recording(rec, "BTC-USDT-SWAP", withhold=withhold)
    final_ts = int(session.updates[-1]["data"][0]["ts"])
    if withhold is not None:  # the test's premise: the lost update moves the top 25
        before = session.after[int(session.updates[withhold - 1]["data"][0]["ts"])]
        after = session.after[int(session.updates[withhold]["data"][0]["ts"])]
        assert before.sorted_side("bids", 25) != after.sorted_side("bids", 25) or (
            before.sorted_side("asks", 25) != after.sorted_side("asks", 25)
        )
    async with replay_server(session) as base:
        venue, size = okx_venue(fixtures_dir, base, book_path)
        async with venue:
            assert isinstance(venue.client, OkxPro)
            assert getattr(venue, "book_path", "ccxt") == book_path
            books, errors = await watch_until(venue, OKX_SWAP, lambda b: b.timestamp == final_ts)
            failures = book_failures(venue)
    assert_okx_books(session, books, size)
    best = rec["checks"]["ccxt_4_5_90_pro_okx_replay"]
    assert books[-1].bids[0][0] == best["final_best_bid"][0]
    assert books[-1].asks[0][0] == best["final_best_ask"][0]
    if withhold is None:
        assert errors == [] and failures == {}  # no false alarm on a clean recording
        assert (session.subscribes, session.unsubscribes) == (1, 0)
        assert len(books) >= 2
    else:
        assert errors == ["ChecksumError"] and failures == {"checksum": 1}
        assert (session.subscribes, session.unsubscribes) == (2, 1)  # resynced once
        # nothing was published between the lost update and the fresh snapshot
        lost_ts = int(session.updates[withhold + 1]["data"][0]["ts"])
        assert lost_ts not in [b.timestamp for b in books]


async def test_stock_ccxt_pro_okx_misses_the_withheld_update(fixtures_dir: Path) -> None:
    """Why OkxPro exists: the stock client takes the same withheld session silently and
    hands out a book that differs from the recording."""
    rec = load(fixtures_dir, "okx", "ws_books_session_BTC-USDT")
    session = OkxSession.from_recording(rec, "BTC-USDT-SWAP", withhold=OKX_WITHHELD)
    lost_ts = int(session.updates[OKX_WITHHELD + 1]["data"][0]["ts"])
    async with replay_server(session) as base:
        client = ccxt.pro.okx()
        client.set_markets(markets(fixtures_dir, "okx"))
        client.urls["api"]["ws"] = point_ws_at(client.urls["api"]["ws"], base)
        try:
            async with asyncio.timeout(10):
                while (await client.watch_order_book(OKX_SWAP))["timestamp"] != lost_ts:
                    pass
            ob = client.orderbooks[OKX_SWAP]
            got = [(p, a) for p, a, *_ in ob["bids"]], [(p, a) for p, a, *_ in ob["asks"]]
        finally:
            await client.close()
    want = session.after[lost_ts]
    assert got != (want.floats("bids"), want.floats("asks"))


# --------------------------------------------------------------------------------- bybit


def bybit_xrp_market(fixtures_dir: Path) -> dict[str, Any]:
    """No XRP market file is recorded for bybit: BTC's, renamed to the session's symbol."""
    btc = next(m for m in markets(fixtures_dir, "bybit") if m["symbol"] == "BTC/USDT:USDT")
    return {
        **btc,
        "id": "XRPUSDT",
        "symbol": XRP,
        "base": "XRP",
        "baseId": "XRP",
        "precision": {"amount": 1.0, "price": 0.0001},
        "info": {**btc["info"], "symbol": "XRPUSDT", "baseCoin": "XRP"},
    }


@pytest.mark.parametrize("withhold", [None, BYBIT_WITHHELD], ids=["whole", "one-withheld"])
async def test_bybit_u_continuity_session(
    fixtures_dir: Path, withhold: int | None, book_path: str
) -> None:
    """Each bybit delta's u is the previous u + 1; BybitPro drops the book on a jump,
    ignores deltas until a snapshot, resubscribes, and never hands out the book between."""
    rec = load(fixtures_dir, "bybit", "ws_orderbook500_session_XRPUSDT")
    session = BybitSession.from_recording(rec, withhold=withhold)
    final_u = session.frames[-1]["data"]["u"]
    async with replay_server(session) as base:
        venue, _ = fixture_venue("bybit", [bybit_xrp_market(fixtures_dir)], book_path=book_path)
        venue.client.urls["api"]["ws"] = point_ws_at(venue.client.urls["api"]["ws"], base)
        async with venue:
            assert isinstance(venue.client, BybitPro)
            assert getattr(venue, "book_path", "ccxt") == book_path
            books, errors = await watch_until(venue, XRP, lambda b: b.nonce == final_u)
            failures = book_failures(venue)
    for book in books:
        want = session.after[book.nonce]
        assert_published_prefix(book.bids, want.floats("bids"), f"bids @ u={book.nonce}")
        assert_published_prefix(book.asks, want.floats("asks"), f"asks @ u={book.nonce}")
    nonces = [b.nonce for b in books]
    assert nonces == sorted(nonces)
    if withhold is None:
        assert errors == [] and failures == {}
        assert (session.subscribes, session.unsubscribes) == (1, 0)
    else:
        assert errors == ["InvalidNonce"] and failures == {"gap": 1}
        assert (session.subscribes, session.unsubscribes) == (2, 1)
        withheld_u = session.frames[withhold]["data"]["u"]
        assert withheld_u not in nonces


async def test_bybit_snapshot_replaces_book_including_u_1_after_restart(
    fixtures_dir: Path, book_path: str
) -> None:
    """A snapshot mid-stream replaces the book whatever its u (bybit restarts at u = 1),
    and the deltas after it chain from that u."""
    rec = load(fixtures_dir, "bybit", "ws_orderbook500_session_XRPUSDT")
    frames = rec["ws_messages"]
    snap = frames[0]
    restart = {**snap, "data": {**snap["data"], "u": 1}}
    after = [{**f, "data": {**f["data"], "u": 1 + i}} for i, f in enumerate(frames[1:6], 1)]
    script_frames = [*frames[:10], restart, *after]

    async def script(ws: Any) -> None:
        async for req in requests(ws):
            await ws.send_json({"success": True, "op": req["op"], "req_id": req.get("req_id")})
            for frame in script_frames:
                await ws.send_json(frame)

    want = WireBook()
    want.reset(snap["data"]["b"], snap["data"]["a"])
    for f in frames[1:6]:
        want.apply(f["data"]["b"], f["data"]["a"])
    async with replay_server(script) as base:
        venue, _ = fixture_venue("bybit", [bybit_xrp_market(fixtures_dir)], book_path=book_path)
        venue.client.urls["api"]["ws"] = point_ws_at(venue.client.urls["api"]["ws"], base)
        async with venue:
            books, errors = await watch_until(
                venue, XRP, lambda b: b.nonce == 6 and b.timestamp == after[-1]["ts"]
            )
            failures = book_failures(venue)
    assert errors == [] and failures == {}
    assert_published_prefix(books[-1].bids, want.floats("bids"), "bids after restart")
    assert_published_prefix(books[-1].asks, want.floats("asks"), "asks after restart")


async def test_bybit_crossed_book_is_never_handed_out(fixtures_dir: Path, book_path: str) -> None:
    """A delta that leaves the book crossed (here: a bid above the best ask) is a failed
    check like a gap: rejected, counted, resubscribed."""
    rec = load(fixtures_dir, "bybit", "ws_orderbook500_session_XRPUSDT")
    frames = rec["ws_messages"]
    best_ask = min(float(p) for p, _ in frames[0]["data"]["a"])
    bad = {**frames[1], "data": {**frames[1]["data"], "b": [[f"{best_ask + 0.01:.4f}", "5"]]}}
    sent: list[int] = []

    async def script(ws: Any) -> None:
        async for req in requests(ws):
            await ws.send_json({"success": True, "op": req["op"], "req_id": req.get("req_id")})
            if req["op"] != "subscribe":
                continue
            sent.append(1)
            batch = [frames[0], bad] if len(sent) == 1 else [frames[0], frames[1]]
            for frame in batch:
                await ws.send_json(frame)

    async with replay_server(script) as base:
        venue, _ = fixture_venue("bybit", [bybit_xrp_market(fixtures_dir)], book_path=book_path)
        venue.client.urls["api"]["ws"] = point_ws_at(venue.client.urls["api"]["ws"], base)
        async with venue:
            books, errors = await watch_until(
                venue, XRP, lambda b: b.nonce == frames[1]["data"]["u"]
            )
            failures = book_failures(venue)
    assert errors == ["CrossedBook"] and failures == {"crossed": 1}
    assert all(b.bids[0][0] < b.asks[0][0] for b in books)


# ------------------------------------------------------------------------------- binance


async def test_binance_pu_chain_withheld_diff_resyncs(fixtures_dir: Path, book_path: str) -> None:
    """binance's sync on both paths: a withheld diff breaks the pu chain (ccxt.pro raises
    ChecksumError, the fast path InvalidNonce), and the next watch subscribes again,
    refetches the snapshot and bridges; every book handed out equals the recording at
    its update id."""
    rec = load(fixtures_dir, "binance", "ws_depth_session_SUSHIUSDT")
    diffs = [m["payload"] for m in rec["ws_messages"]]
    snapshot = rec["rest_snapshot"]["payload"]
    after: dict[int, WireBook] = {}
    book = WireBook()
    book.reset(snapshot["bids"], snapshot["asks"])
    for d in (m["data"] for m in diffs):
        if d["u"] >= snapshot["lastUpdateId"]:
            book.apply(d["b"], d["a"])
            copy = WireBook()
            copy.bids, copy.asks = dict(book.bids), dict(book.asks)
            after[d["u"]] = copy
    subscribes: list[int] = []
    snapshot_served = asyncio.Event()

    def depth(url: str, query: dict[str, str]) -> dict[str, Any]:
        snapshot_served.set()
        return json.loads(json.dumps(snapshot))

    async def script(ws: Any) -> None:
        async for req in requests(ws):
            subscribes.append(1)
            snapshot_served.clear()
            await ws.send_json({"result": None, "id": req["id"]})
            for i, payload in enumerate(diffs):
                if i == 5:  # the live stream goes on after ccxt got its REST snapshot
                    await snapshot_served.wait()
                if not (i == BINANCE_WITHHELD and len(subscribes) == 1):
                    await ws.send_json(payload)

    entry = rec["exchange_info_symbol_entry"]["payload"]
    async with replay_server(script) as base:
        venue, transport = fixture_venue(
            "binance", [entry], {"/fapi/v1/depth": depth}, parse_raw=True, book_path=book_path
        )
        venue.client.urls["api"]["ws"] = point_ws_at(venue.client.urls["api"]["ws"], base)
        async with venue:
            books, errors = await watch_until(
                venue, SUSHI, lambda b: b.nonce == diffs[-1]["data"]["u"] and len(subscribes) > 1
            )
    want = {"ccxt": "ChecksumError", "fast": "InvalidNonce"}[book_path]
    assert errors == [want] and len(subscribes) == 2
    assert sum("/fapi/v1/depth" in c for c in transport.calls) == 2  # snapshot refetched
    for b in books:
        assert_published_prefix(b.bids, after[b.nonce].floats("bids"), f"bids @ {b.nonce}")
        assert_published_prefix(b.asks, after[b.nonce].floats("asks"), f"asks @ {b.nonce}")

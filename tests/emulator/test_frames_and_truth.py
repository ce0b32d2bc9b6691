"""Malformed frames cost one frame (venues/frames.py); the emulator's non-healing
``withhold`` fault, checksum-only okx stream and per-sequence truth ring."""

from __future__ import annotations

import asyncio
import time

import pytest

from perptui.emulator import Emulator
from perptui.errors import BookOutOfSync
from perptui.venues import make_venue
from perptui.venues.frames import FrameGuard, FrameGuardClient

BTC = "BTC/USDT:USDT"


@pytest.mark.parametrize("book_path", ["fast", "ccxt"])
@pytest.mark.parametrize("venue", ["binance", "bybit", "okx"])
async def test_malformed_frames_cost_one_frame_not_the_connection(
    venue: str, book_path: str
) -> None:
    """On both book paths: ccxt.pro's (FrameGuardClient) and the fast path's own reader."""
    emu = Emulator(seed=4, venues=(venue,), symbols=(BTC,))
    await emu.start()
    v = make_venue(venue, client=emu.connect(venue), book_path=book_path)
    try:
        assert isinstance(v.client, FrameGuard)
        assert getattr(v, "book_path", "ccxt") == book_path
        await asyncio.wait_for(v.watch_order_book(BTC), 15)
        emu.faults.inject(venue, "malformed", prob=0.05)
        books = timeouts = 0
        started = time.monotonic()
        while v.malformed_frames < 3 or books < 40:
            # Without the guard the socket goes silent after the first bad frame and
            # this wait times out (ccxt's receive loop is never re-armed).
            try:
                await asyncio.wait_for(v.watch_order_book(BTC), 3)
            except BookOutOfSync:
                continue  # a skipped book frame breaks a sequence chain: ccxt resyncs
            except TimeoutError:
                # okx: the resubscribe's snapshot itself was the garbled frame, so ccxt
                # waits for one that never comes; the app's watchdog resubscribes.
                timeouts += 1
                assert timeouts <= 3, "the connection went silent"
                await v.drop_streams()
                continue
            books += 1
            assert time.monotonic() - started < 60, (books, v.malformed_frames)
        if book_path == "ccxt":
            conns = [c for c in v.client.clients.values() if isinstance(c, FrameGuardClient)]
            assert conns and all(not c.closed() for c in conns)
        assert v.open_streams()  # the connection that carried the bad frames is still open
    finally:
        await v.close()
        await emu.stop()


async def test_truth_ring_returns_the_book_at_a_past_sequence() -> None:
    emu = Emulator(seed=2, venues=("binance",), symbols=(BTC,))
    await emu.start()
    client = emu.connect("binance")
    try:
        emu.keep_truth(depth=20, seconds=10)
        ob = await client.watch_order_book(BTC)
        nonce, top = ob["nonce"], [tuple(x[:2]) for x in ob["bids"][:20]]
        for _ in range(5):
            await client.watch_order_book(BTC)  # the book moves on
        found = emu.truth_at("binance", BTC, nonce=nonce)
        assert len(found) == 1 and list(found[0].bids) == top
        assert emu.truth_book("binance", BTC).nonce != nonce
        assert emu.truth_at("binance", BTC, nonce=1) == []
    finally:
        await emu.stop()


async def test_bybit_withheld_delta_is_never_healed_by_the_emulator() -> None:
    """`gap` is followed by bybit's fresh snapshot; `withhold` is not: ccxt.pro (which
    does not check `u`) keeps a wrong book until something else resubscribes."""
    emu = Emulator(seed=3, venues=("bybit",), symbols=(BTC,))
    await emu.start()
    client = emu.connect("bybit")
    try:
        emu.keep_truth(depth=50, seconds=20)
        await client.watch_order_book(BTC, 50)
        emu.faults.inject("bybit", "withhold", count=1)
        await asyncio.sleep(0.2)
        wrong = 0
        for _ in range(30):
            ob = await client.watch_order_book(BTC, 50)
            truth = emu.truth_at("bybit", BTC, ts=ob["timestamp"])
            assert truth, "state not remembered"
            if [tuple(x[:2]) for x in ob["bids"][:50]] != list(truth[0].bids[:50]) or [
                tuple(x[:2]) for x in ob["asks"][:50]
            ] != list(truth[0].asks[:50]):
                wrong += 1
        assert emu.faults.list()[0].fired == 1
        # the lost delta's levels stay wrong in the client's book until a resubscribe
        # (unless later deltas happened to overwrite every level it touched)
        assert wrong > 0
    finally:
        await emu.stop()


async def test_okx_checksum_only_stream_has_no_seq_ids() -> None:
    emu = Emulator(seed=3, venues=("okx",), symbols=(BTC,))
    emu.server.wires["okx"].send_seq_ids = False
    await emu.start()
    client = emu.connect("okx")
    try:
        for _ in range(5):
            ob = await client.watch_order_book(BTC)
        assert ob["nonce"] is None  # nothing to chain: only the checksum can tell
    finally:
        await emu.stop()

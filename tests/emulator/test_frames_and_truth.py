"""Malformed frames cost one frame (venues/frames.py); the emulator's non-healing
``withhold`` fault, checksum-only okx stream and per-sequence truth ring."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from perptui.emulator import Emulator
from perptui.errors import BookOutOfSync
from perptui.venues import make_venue
from perptui.venues.frames import FrameGuard, FrameGuardClient

BTC = "BTC/USDT:USDT"


def _same_levels(got, truth, contract_size: float) -> bool:
    """Published (price, base amount) levels equal the venue's top levels (contracts)."""
    want = truth[: len(got)]
    return len(want) == len(got) and all(
        gp == wp and math.isclose(ga, wa * contract_size, rel_tol=1e-9)
        for (gp, ga), (wp, wa) in zip(got, want, strict=True)
    )


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


@pytest.mark.parametrize("book_path", ["fast", "ccxt"])
async def test_a_checksum_only_okx_stream_publishes_only_the_levels_it_can_check(
    book_path: str,
) -> None:
    """Without seqId the crc32 of the top 25 levels is okx's only check, so an update
    lost deeper than that is invisible (the long fault campaign published one such
    book: level 36 wrong). Only the checked levels are handed out, and they are right."""
    emu = Emulator(seed=3, venues=("okx",), symbols=(BTC,))
    await emu.start()
    v = make_venue("okx", client=emu.connect("okx"), book_path=book_path)
    try:
        emu.keep_truth(depth=50, seconds=30)
        deep = await asyncio.wait_for(v.watch_order_book(BTC), 15)
        assert len(deep.bids) > 25  # with seqIds the whole book is vouched for
        cs = v.market(BTC).contract_size
        emu.server.wires["okx"].send_seq_ids = False
        await v.drop_streams()  # resubscribe: the new stream carries no seqId
        emu.faults.inject("okx", "withhold", every=300)
        books = 0
        while books < 20:
            try:
                book = await asyncio.wait_for(v.watch_order_book(BTC), 10)
            except BookOutOfSync:
                continue  # a withheld update that moved the top 25: the checksum saw it
            if book.nonce is not None:
                continue  # a frame of the old stream
            books += 1
            assert 0 < len(book.bids) <= 25 and 0 < len(book.asks) <= 25
            truths = emu.truth_at("okx", BTC, ts=book.timestamp)
            assert truths, "state not remembered"
            assert any(
                _same_levels(book.bids, t.bids, cs) and _same_levels(book.asks, t.asks, cs)
                for t in truths
            ), "a published level differs from the venue's book"
    finally:
        await v.close()
        await emu.stop()

"""The fast path compares okx's checksum when a book is handed out, not per message.

The recorded okx session is served over a real loopback socket with one update whose
state is wrong (the best bid's size changed, the venue's checksum of the true book
kept), then the stream holds until the client asks again. Whichever way the book is
read - `watch_order_book`, or the live book the hub copies (`watch_live_book`) - the
wrong book is never handed out, the failure is counted once as "checksum" with okx's
ChecksumError as the cause, and the next watch resubscribes and converges on the
recording.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from venue_fixtures import fixture_venue, load, markets
from ws_replay import OkxSession, assert_published_prefix, point_ws_at, replay_server, requests

from perptui.core.model import BookSnapshot
from perptui.errors import BookOutOfSync

SWAP = "BTC/USDT:USDT"


class BadStateSession:
    """Snapshot, then update 0 with the best bid's size falsified (checksum kept), then a
    hold; a resubscribe is answered with the true book after update 1."""

    def __init__(self, session: OkxSession) -> None:
        self.s = session
        self.subscribes = self.unsubscribes = 0
        update = session.updates[0]
        data = update["data"][0]
        self.bad_ts = int(data["ts"])
        self.good_ts = int(session.updates[1]["data"][0]["ts"])
        price, _ = session.after[self.bad_ts].sorted_side("bids", 1)[0]
        bids = [r for r in data["bids"] if r[0] != price] + [[price, "123.4", "0", "1"]]
        self.bad = {**update, "data": [{**data, "bids": bids}]}

    async def __call__(self, ws: Any) -> None:
        arg = {"channel": "books", "instId": self.s.inst_id}
        async for req in requests(ws):
            if req.get("op") == "unsubscribe":
                self.unsubscribes += 1
                await ws.send_json({"event": "unsubscribe", "arg": arg})
                continue
            self.subscribes += 1
            await ws.send_json({"event": "subscribe", "arg": arg})
            if self.subscribes == 1:
                await ws.send_json(self.s.frame(self.s.snapshot))
                await asyncio.sleep(0.05)  # the first book is read before the bad update
                await ws.send_json(self.s.frame(self.bad))
            else:
                await ws.send_json(self.s.snapshot_at(self.good_ts))


def assert_true_book(session: OkxSession, book: BookSnapshot, size: float) -> None:
    want = session.after[book.timestamp]
    assert_published_prefix(book.bids, want.floats("bids", size), f"bids @ {book.timestamp}")
    assert_published_prefix(book.asks, want.floats("asks", size), f"asks @ {book.timestamp}")


@pytest.mark.parametrize("live", [False, True], ids=["watch", "live-copy"])
async def test_a_wrong_book_fails_when_read_and_is_never_handed_out(
    fixtures_dir: Path, live: bool
) -> None:
    rec = load(fixtures_dir, "okx", "ws_books_session_BTC-USDT")
    session = OkxSession.from_recording(rec, "BTC-USDT-SWAP")
    script = BadStateSession(session)
    venue, _ = fixture_venue("okx", markets(fixtures_dir, "okx"), book_path="fast")
    assert venue.book_path == "fast"
    size = venue.client.market(SWAP)["contractSize"]
    stream = venue.books

    async def applied(ts: int) -> None:
        async with asyncio.timeout(5):
            while (book := stream.feeds[SWAP].book) is None or book.timestamp != ts:
                await asyncio.sleep(0.005)

    async def read() -> BookSnapshot | None:
        if live:
            return (await venue.watch_live_book(SWAP)).snapshot()
        return await venue.watch_order_book(SWAP)

    async with replay_server(script) as base:
        venue.client.urls["api"]["ws"] = point_ws_at(venue.client.urls["api"]["ws"], base)
        async with venue, asyncio.timeout(20):
            if live:
                first = await venue.watch_live_book(SWAP)
                await applied(script.bad_ts)  # the hub copies after the bad update came
                assert first.snapshot() is None  # refused, failed, counted
                assert venue.book_failures == {"checksum": 1}
            else:
                first_book = await read()
                assert first_book is not None
                assert_true_book(session, first_book, size)  # the snapshot's book
            with pytest.raises(BookOutOfSync) as failed:
                await read()
            assert type(failed.value.__cause__).__name__ == "ChecksumError"
            assert venue.book_failures == {"checksum": 1}
            book = await read()  # resubscribed: okx's fresh snapshot
            checks = stream.read_checks
    assert book is not None and book.timestamp == script.good_ts
    assert_true_book(session, book, size)
    assert (script.subscribes, script.unsubscribes) == (2, 1)  # resynced once
    assert checks == (2 if live else 3)  # every book read was checked, once

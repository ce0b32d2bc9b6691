"""The fast path compares okx's checksum with a book's latest state - as soon as the
reader has no frame waiting, and before any book is handed out - not inside each message.

The recorded okx session is served over a real loopback socket with one update whose
state is wrong (the best bid's size changed, the venue's checksum of the true book
kept), then the stream holds until the client asks again. The frame arrives alone, so
it is checked before anyone reads: whichever way the book is read - `watch_order_book`,
or the live book the hub copies (`watch_live_book`) - the wrong book is never handed
out, the failure is counted once as "checksum" with okx's ChecksumError as the cause,
and the next watch resubscribes and converges on the recording. Frames that queue up
behind one another are checked at the last of them, at the latest when read: the last
test feeds a queue straight into the decoder.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from venue_fixtures import fixture_venue, load, markets
from ws_replay import (
    OkxSession,
    assert_published_prefix,
    okx_subscribes,
    point_ws_at,
    replay_server,
)

from perptui.core.model import BookSnapshot
from perptui.errors import BookOutOfSync
from perptui.venues.fast.live import FeedBook
from perptui.venues.fast.stream import Connection, Feed

SWAP = "BTC/USDT:USDT"


class BadStateSession:
    """Snapshot, then update 0 with the best bid's size falsified (checksum kept), then a
    hold; a resubscribe is answered with the true book after update 1."""

    def __init__(self, session: OkxSession) -> None:
        self.s = session
        self.inst_id = session.inst_id
        self.subscribes = self.unsubscribes = 0
        update = session.updates[0]
        data = update["data"][0]
        self.bad_ts = int(data["ts"])
        self.good_ts = int(session.updates[1]["data"][0]["ts"])
        price, _ = session.after[self.bad_ts].sorted_side("bids", 1)[0]
        bids = [r for r in data["bids"] if r[0] != price] + [[price, "123.4", "0", "1"]]
        self.bad = {**update, "data": [{**data, "bids": bids}]}

    async def __call__(self, ws: Any) -> None:
        async for _ in okx_subscribes(ws, self):
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

    async def failed_unread() -> None:
        async with asyncio.timeout(5):
            while not venue.book_failures:
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
                await failed_unread()  # checked on arrival, before any read
                assert venue.book_failures == {"checksum": 1}
                assert first.snapshot() is None  # the hub's copy is refused
            else:
                first_book = await read()
                assert first_book is not None
                assert_true_book(session, first_book, size)  # the snapshot's book
            with pytest.raises(BookOutOfSync) as failed:
                await read()
            assert type(failed.value.__cause__).__name__ == "ChecksumError"
            assert venue.book_failures == {"checksum": 1}
            book = await read()  # resubscribed: okx's fresh snapshot
            checks = stream.late_checks
    assert book is not None and book.timestamp == script.good_ts
    assert_true_book(session, book, size)
    assert (script.subscribes, script.unsubscribes) == (2, 1)  # resynced once
    assert checks == 3  # each state checked once: first snapshot, bad update, resync


async def test_queued_frames_are_checked_at_the_last_and_before_any_read(
    fixtures_dir: Path,
) -> None:
    """Frames handed to the decoder back to back (a saturated reader) are checked once,
    at the latest state: a wrong checksum in the middle of the queue is not seen (that
    state was never handed out), a wrong last one fails the book at the read."""
    rec = load(fixtures_dir, "okx", "ws_books_session_BTC-USDT")
    session = OkxSession.from_recording(rec, "BTC-USDT-SWAP")
    venue, _ = fixture_venue("okx", markets(fixtures_dir, "okx"), book_path="fast")
    size = venue.client.market(SWAP)["contractSize"]
    stream = venue.books
    m = await venue.perp(SWAP)
    key, topic = stream.names(m, None)
    feed = Feed(m, key, topic)
    stream.feeds[SWAP] = feed
    conn = Connection("queue", "ws://127.0.0.1:1", 1)
    conn.feeds[key] = feed

    def wrong_checksum(frame: dict[str, Any]) -> dict[str, Any]:
        data = frame["data"][0]
        return {**frame, "data": [{**data, "checksum": -int(data["checksum"]) - 1}]}

    frames = [session.snapshot, wrong_checksum(session.updates[0]), *session.updates[1:4]]
    for frame in frames:
        stream.on_message(conn, session.frame(frame))
    assert stream.late_checks == 0  # nothing checked while frames queue
    book = FeedBook(stream, feed, feed.book, None).snapshot()  # type: ignore[arg-type]
    assert book is not None and book.timestamp == int(session.updates[3]["data"][0]["ts"])
    assert_true_book(session, book, size)
    assert stream.late_checks == 1 and venue.book_failures == {}
    await asyncio.sleep(0)  # the caught-up check: nothing left to check
    assert stream.late_checks == 1

    stream.on_message(conn, session.frame(session.updates[4]))
    stream.on_message(conn, session.frame(wrong_checksum(session.updates[5])))
    handle = FeedBook(stream, feed, feed.book, None)  # type: ignore[arg-type]
    assert handle.snapshot() is None  # the latest state fails at the read
    assert venue.book_failures == {"checksum": 1} and feed.book is None
    with pytest.raises(BookOutOfSync) as failed:
        await venue.watch_live_book(SWAP)  # the failure is the next watch's
    assert type(failed.value.__cause__).__name__ == "ChecksumError"
    assert stream.late_checks == 2

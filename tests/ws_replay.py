"""Replaying recorded websocket sessions to a real ccxt.pro client over 127.0.0.1.

`ReplayServer` is an aiohttp websocket server on a free loopback port; a per-venue
session script (below) answers the client's subscribe/unsubscribe requests with the
recorded frames, in their recorded order, optionally withholding one of them as a lost
message would be. `WireBook` replays the same frames independently (wire strings, no
ccxt), so every book a client publishes can be compared with the recording at the
frame it claims to be at, and a resubscribe can be answered with the snapshot the venue
would send at that point of the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from perptui.core.okx_checksum import okx_checksum

Script = Callable[[web.WebSocketResponse], Awaitable[None]]


def point_ws_at(urls: object, base: str) -> object:
    """Every ws(s):// url in a ccxt ``urls`` tree rewritten to ``base``."""
    if isinstance(urls, dict):
        return {k: point_ws_at(v, base) for k, v in urls.items()}
    if isinstance(urls, str):
        return re.sub(r"^wss?://[^/]+", base, urls)
    return urls


@contextlib.asynccontextmanager
async def replay_server(script: Script) -> AsyncIterator[str]:
    """Serve ``script(ws)`` to every websocket connection; yields ``ws://127.0.0.1:PORT``."""

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await script(ws)
        return ws

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def requests(ws: web.WebSocketResponse) -> AsyncIterator[dict[str, Any]]:
    """The client's JSON requests on ``ws`` until it closes (ccxt pings skipped)."""
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        try:
            req = json.loads(msg.data)
        except ValueError:
            continue
        if isinstance(req, dict) and req.get("op") != "ping":
            yield req


async def okx_subscribes(ws: web.WebSocketResponse, session: Any) -> AsyncIterator[None]:
    """okx's side of ``books`` (un)subscribe requests on ``ws`` for ``session.inst_id``:
    each is acknowledged and counted on ``session`` (``subscribes``, ``unsubscribes``);
    yields after each subscribe, for the script to send the book."""
    arg = {"channel": "books", "instId": session.inst_id}
    async for req in requests(ws):
        if req.get("op") == "unsubscribe":
            session.unsubscribes += 1
            await ws.send_json({"event": "unsubscribe", "arg": arg})
            continue
        session.subscribes += 1
        await ws.send_json({"event": "subscribe", "arg": arg})
        yield


# ------------------------------------------------------------------ the recording's book


class WireBook:
    """An order book kept as the wire strings: price string -> size string, per side."""

    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}

    def reset(self, bids: Any, asks: Any) -> None:
        self.bids, self.asks = {}, {}
        self.apply(bids, asks)

    def apply(self, bids: Any, asks: Any) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for px, sz, *_ in levels:
                if float(sz) == 0:
                    side.pop(px, None)
                else:
                    side[px] = sz

    def sorted_side(self, name: str, depth: int | None = None) -> list[tuple[str, str]]:
        side = self.bids if name == "bids" else self.asks
        rows = sorted(side.items(), key=lambda kv: float(kv[0]), reverse=name == "bids")
        return rows[:depth] if depth else rows

    def floats(self, name: str, scale: float = 1.0) -> list[tuple[float, float]]:
        return [(float(p), float(s) * scale) for p, s in self.sorted_side(name)]


def assert_published_prefix(
    got: tuple[tuple[float, float], ...], want: list[tuple[float, float]], what: str
) -> None:
    """A published side is the recording's best levels, in order (a band cut keeps a
    prefix); at least the top 25 (or the whole side when thinner)."""
    assert len(got) >= min(25, len(want)), f"{what}: only {len(got)} levels published"
    for i, ((gp, ga), (wp, wa)) in enumerate(zip(got, want, strict=False)):
        assert gp == wp and abs(ga - wa) <= 1e-9 * max(1.0, abs(wa)), (
            f"{what}: level {i} published {(gp, ga)}, recording has {(wp, wa)}"
        )


# ------------------------------------------------------------------ okx books session


@dataclass
class OkxSession:
    """The recorded okx ``books`` session as a server script.

    The first subscribe is answered with the recorded snapshot and then the recorded
    updates, minus ``withhold`` (an index into the updates). After a withheld update the
    stream holds before the update after next until the client resubscribes, which it
    must do once it has noticed the gap; the resubscribe is answered, as OKX does, with a
    snapshot of the book at that point (400 levels, checksummed) and the rest follows.
    ``inst_id`` relabels the frames' instrument (the checksum covers levels only).
    """

    snapshot: dict[str, Any]
    updates: list[dict[str, Any]]
    inst_id: str
    withhold: int | None = None
    subscribes: int = 0
    unsubscribes: int = 0
    after: dict[int, WireBook] = field(default_factory=dict)  # ts -> book after that frame
    _resubscribed: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def from_recording(cls, rec: dict[str, Any], inst_id: str, **kw: Any) -> OkxSession:
        frames = [m["payload"] for m in rec["ws_messages"] if "data" in m["payload"]]
        session = cls(frames[0], frames[1:], inst_id, **kw)
        book = WireBook()
        for frame in frames:
            d = frame["data"][0]
            if frame["action"] == "snapshot":
                book.reset(d["bids"], d["asks"])
            else:
                book.apply(d["bids"], d["asks"])
            copy = WireBook()
            copy.bids, copy.asks = dict(book.bids), dict(book.asks)
            session.after[int(d["ts"])] = copy
        return session

    def frame(self, frame: dict[str, Any]) -> dict[str, Any]:
        return {**frame, "arg": {**frame["arg"], "instId": self.inst_id}}

    def snapshot_at(self, ts: int) -> dict[str, Any]:
        book = self.after[ts]
        bids = [[p, s, "0", "1"] for p, s in book.sorted_side("bids", 400)]
        asks = [[p, s, "0", "1"] for p, s in book.sorted_side("asks", 400)]
        data = {"asks": asks, "bids": bids, "ts": str(ts), "checksum": okx_checksum(bids, asks)}
        return self.frame({**self.snapshot, "action": "snapshot", "data": [data]})

    async def __call__(self, ws: web.WebSocketResponse) -> None:
        pos = 0  # next update to send
        last_ts = int(self.snapshot["data"][0]["ts"])
        async for _ in okx_subscribes(ws, self):
            if self.subscribes == 1:
                await ws.send_json(self.frame(self.snapshot))
            else:
                self._resubscribed.set()
                await ws.send_json(self.snapshot_at(last_ts))
            while pos < len(self.updates):
                if self.withhold is not None and pos == self.withhold + 2:
                    if not self._resubscribed.is_set():
                        break  # hold until the client asks again
                update = self.updates[pos]
                last_ts = int(update["data"][0]["ts"])
                if pos != self.withhold or self._resubscribed.is_set():
                    await ws.send_json(self.frame(update))
                pos += 1


# ------------------------------------------------------------------ bybit orderbook session


@dataclass
class BybitSession:
    """The recorded bybit ``orderbook.500`` session as a server script.

    As `OkxSession`: recorded snapshot and deltas, ``withhold`` one delta, hold two
    deltas later until the client unsubscribes and subscribes again, answer that with a
    snapshot of the recorded book at that point (``u`` of the last delta), go on.
    """

    frames: list[dict[str, Any]]
    withhold: int | None = None  # index into frames (0 is the snapshot)
    subscribes: int = 0
    unsubscribes: int = 0
    after: dict[int, WireBook] = field(default_factory=dict)  # u -> book after that frame
    _resubscribed: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def from_recording(cls, rec: dict[str, Any], **kw: Any) -> BybitSession:
        session = cls(list(rec["ws_messages"]), **kw)
        book = WireBook()
        for frame in session.frames:
            d = frame["data"]
            if frame["type"] == "snapshot":
                book.reset(d["b"], d["a"])
            else:
                book.apply(d["b"], d["a"])
            copy = WireBook()
            copy.bids, copy.asks = dict(book.bids), dict(book.asks)
            session.after[int(d["u"])] = copy
        return session

    def snapshot_at(self, index: int) -> dict[str, Any]:
        frame = self.frames[index]
        book = self.after[int(frame["data"]["u"])]
        data = {
            **frame["data"],
            "b": [list(x) for x in book.sorted_side("bids", 500)],
            "a": [list(x) for x in book.sorted_side("asks", 500)],
        }
        return {**frame, "type": "snapshot", "data": data}

    async def __call__(self, ws: web.WebSocketResponse) -> None:
        pos = 0
        async for req in requests(ws):
            op = req.get("op")
            ack = {"success": True, "ret_msg": "", "conn_id": "replay", "op": op}
            await ws.send_json({**ack, "req_id": req.get("req_id")})
            if op == "unsubscribe":
                self.unsubscribes += 1
                continue
            self.subscribes += 1
            if self.subscribes > 1:
                self._resubscribed.set()
                await ws.send_json(self.snapshot_at(pos - 1))
            while pos < len(self.frames):
                if self.withhold is not None and pos == self.withhold + 2:
                    if not self._resubscribed.is_set():
                        break
                if pos != self.withhold or self._resubscribed.is_set():
                    await ws.send_json(self.frames[pos])
                pos += 1

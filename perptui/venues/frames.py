"""A malformed websocket frame costs that one frame, not the connection.

ccxt.pro decodes each text frame inside the done-callback of its receive task
(``Client.handle_text_or_binary_message``).  When the JSON does not parse, orjson's
``JSONDecodeError`` escapes that callback: asyncio logs "Exception in callback", the
callback never re-arms the receive loop, and the socket goes quiet until perptui's
watchdog drops it two stale periods later (~20 s without books for every symbol on that
connection).  One truncated frame from a venue's edge is enough.

The ccxt way to change a client's behaviour is a subclass, so:

* :class:`FrameGuardClient` is ccxt's websocket ``Client`` with that one method
  overridden: a frame that does not decode is counted and skipped, and the receive loop
  carries on with the next frame;
* :class:`FrameGuard` is a mixin for a ccxt.pro exchange class whose ``client(url)``
  hands out ``FrameGuardClient`` s.  Venue subclasses of ccxt.pro classes list it first
  (``class OkxPro(FrameGuard, ccxt.pro.okx)``); :func:`guard_frames` gives an existing
  ccxt.pro instance (the emulator's ``connect()`` builds stock ones) the same behaviour
  by moving it to a cached ``FrameGuard`` subclass of its own class.

Only this client's decoding changes; nothing in ccxt is patched globally.
"""

from __future__ import annotations

import logging
from typing import Any

from ccxt.async_support.base.ws import client as ccxt_ws
from ccxt.async_support.base.ws.functions import is_json_encoded_object

log = logging.getLogger(__name__)

# Logged at WARNING for the first few, then every LOG_EVERY-th, so a venue that
# garbles many frames does not flood the log.
LOG_FIRST = 3
LOG_EVERY = 1000


class FrameGuardClient(ccxt_ws.Client):
    """ccxt's websocket client, skipping (and counting) frames that are not valid JSON."""

    # The exchange that owns this client, for the per-exchange count; set by FrameGuard.
    frame_owner: Any = None

    def handle_text_or_binary_message(self, data: Any) -> None:
        if self._stray():
            return
        if self.verbose:
            self.log("message", data)
        if self.decompressBinary and isinstance(data, bytes):
            try:
                data = data.decode()
            except UnicodeDecodeError as exc:
                self._malformed(data, exc)
                return
        if is_json_encoded_object(data):
            try:
                decoded = ccxt_ws.json_parser.loads(data)
            except ValueError as exc:  # orjson.JSONDecodeError and json's both subclass it
                self._malformed(data, exc)
                return
        else:
            decoded = data
        # Errors raised while *handling* a decoded message are ccxt's to report (it
        # rejects the futures concerned); only decoding is guarded here.
        self.on_message_callback(self, decoded)

    def _stray(self) -> bool:
        """True (and the connection closed) when the exchange no longer lists this client.

        ccxt keeps one client per url and applies every frame to books it keeps per
        *symbol*, whatever connection the frame came on.  A client perptui dropped
        (``drop_streams``) while it was still connecting is not closed by ccxt's
        ``close()`` (there is no socket yet) and would go on streaming once it
        connects, next to its replacement: every update then reaches the shared book
        twice, so okx's seqId chain breaks on every frame and the feed resyncs forever.
        A frame from a connection the exchange has let go of is dropped, and the
        connection with it.
        """
        owner = self.frame_owner
        clients = getattr(owner, "clients", None) if owner is not None else None
        if not isinstance(clients, dict) or clients.get(self.url) is self:
            return False
        if not self.__dict__.get("_stray_closing"):
            self.__dict__["_stray_closing"] = True
            owner.stray_connections = getattr(owner, "stray_connections", 0) + 1
            log.info("%s: closing a dropped websocket that kept streaming", owner.id)
            self.asyncio_loop.create_task(self.close())
        return True

    def _malformed(self, data: Any, exc: BaseException) -> None:
        owner = self.frame_owner
        count = 1
        if owner is not None:
            owner.malformed_frames = getattr(owner, "malformed_frames", 0) + 1
            count = owner.malformed_frames
        if count <= LOG_FIRST or count % LOG_EVERY == 0:
            head = data[:60] if isinstance(data, str | bytes) else type(data).__name__
            log.warning(
                "%s: skipped a malformed websocket frame (%d so far): %s; starts %r",
                getattr(owner, "id", "?"),
                count,
                type(exc).__name__,
                head,
            )


class FrameGuard:
    """Mixin for ccxt.pro exchange classes: websocket clients are FrameGuardClients."""

    malformed_frames: int = 0  # frames skipped because they did not decode
    stray_connections: int = 0  # dropped connections that kept streaming (closed)

    def on_close(self, client: Any, error: Any) -> None:
        """ccxt's close callback, for the client that closed only.

        ccxt (4.5.90) unregisters *whatever client is listed* for the closed one's url.
        When perptui's watchdog drops a silent connection, the book loops open its
        replacement while the old socket is still closing; the old one's close then
        unregisters the new, live client, which keeps streaming unseen while the next
        watch opens a third: two connections feed one book per symbol, and okx's seqId
        chain breaks on every frame.  A client that is no longer listed has nothing
        to unregister.
        """
        clients = getattr(self, "clients", None)
        if isinstance(clients, dict) and clients.get(getattr(client, "url", None)) is not client:
            return
        super().on_close(client, error)  # type: ignore[misc]

    def client(self, url: str) -> Any:
        conn = super().client(url)  # type: ignore[misc]
        if not isinstance(conn, FrameGuardClient):
            # ccxt builds its own Client in Exchange.client(); the subclass adds one
            # method and no state beyond the owner, so switching the fresh instance's
            # class is equivalent to having constructed a FrameGuardClient.
            conn.__class__ = FrameGuardClient
        conn.frame_owner = self
        return conn


_GUARDED: dict[type, type] = {}


def guarded_class(cls: type) -> type:
    """``cls`` with FrameGuard mixed in (cls itself when it already has it); cached."""
    if issubclass(cls, FrameGuard):
        return cls
    sub = _GUARDED.get(cls)
    if sub is None:
        sub = _GUARDED[cls] = type(cls.__name__, (FrameGuard, cls), {"__module__": __name__})
    return sub


def guard_frames(client: Any) -> Any:
    """Give a ccxt.pro instance the FrameGuard behaviour (no-op for REST-only clients).

    Must run before the client opens its first websocket: connections made earlier
    keep ccxt's stock decoding.
    """
    if callable(getattr(client, "client", None)) and hasattr(client, "clients"):
        client.__class__ = guarded_class(type(client))
    return client

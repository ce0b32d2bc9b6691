"""The ccxt client under every CcxtVenue: construction, options, and the one retrying call.

Every request a ccxt venue makes goes through `CcxtClient.call`, so retries, Retry-After,
pacing of bulk jobs and request counting live in one place; the layers above
(ccxt_markets, ccxt_books, ccxt_streams, ccxt_quotes, ccxt_board, ccxt_history) only
say what to ask for.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import random
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ClassVar, TypeVar

from perptui.core.model import (
    MarketInfo,
)
from perptui.core.numbers import finite_float
from perptui.errors import CapabilityMissing, UnknownSymbol
from perptui.venues.base import Venue
from perptui.venues.ccxt_errors import CcxtError, is_throttle, is_transient, short, translate
from perptui.venues.frames import guard_frames
from perptui.venues.pacing import Pacer

log = logging.getLogger(__name__)

T = TypeVar("T")

# Requests issued by the history fetch running in the current task, so FetchPage.requests
# stays exact while other tasks share the same venue.
_request_counter: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "perptui_venue_requests", default=None
)
# The pacer of the bulk job running in the current task (see `Venue.paced`); the engine's
# own loops run in other tasks and are not slowed by it.
_pacer: contextvars.ContextVar[Pacer | None] = contextvars.ContextVar(
    "perptui_venue_pacer", default=None
)


class CcxtClient(Venue):
    """One ccxt (pro or async_support) client behind the Venue contract.

    The instance state of every ccxt layer is set up here, so a subclass that adds
    set-up only needs ``super().__init__(client, **options)``.
    """

    venue_id: ClassVar[str | None] = None
    ccxt_class: ClassVar[str | None] = None
    # The ccxt.pro subclass that validates this venue's streamed books (sequence,
    # checksum, crossed guard); None: the stock ccxt.pro class.
    pro_client_class: ClassVar[type | None] = None
    ccxt_options: ClassVar[dict[str, Any]] = {}
    max_retries: int = 5  # per instance too: make_venue(max_retries=0) for health checks
    retry_base_s: ClassVar[float] = 0.5
    retry_max_s: ClassVar[float] = 30.0
    retry_after_max_s: ClassVar[float] = 120.0

    def __init__(
        self, client: Any, *, venue_id: str | None = None, max_retries: int | None = None
    ) -> None:
        """Subclasses that add set-up take ``(client, **options)`` and pass options on."""
        self.client = client
        if max_retries is not None:
            self.max_retries = max_retries
        self.ccxt_id = str(client.id)
        self.id = venue_id or self.venue_id or self.ccxt_id
        self.requests_made = 0  # HTTP calls issued through this venue, retries included
        self._markets: dict[str, MarketInfo] | None = None
        self._closed = False
        self._serials = itertools.count(1)
        self._stream_serials: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._apply_options()
        if self.is_pro:
            # A garbled frame must cost that frame, not the connection (venues/frames.py).
            guard_frames(client)

    def __repr__(self) -> str:
        kind = "pro" if self.is_pro else "rest"
        return f"<{type(self).__name__} {self.id} (ccxt {self.ccxt_id}, {kind})>"

    # ------------------------------------------------------------------ setup

    def _apply_options(self) -> None:
        for key, value in self.ccxt_options.items():
            current = self.client.options.get(key)
            if isinstance(value, dict) and isinstance(current, dict):
                self.client.options[key] = {**current, **value}
            else:
                self.client.options[key] = value

    @property
    def is_pro(self) -> bool:
        # async_support clients have watch_* stubs too; only ccxt.pro classes stream
        return any(c.__module__.startswith("ccxt.pro.") for c in type(self.client).__mro__)

    @property
    def malformed_frames(self) -> int:
        return int(getattr(self.client, "malformed_frames", 0))

    @property
    def has(self) -> dict[str, Any]:
        return dict(self.client.has)

    def require(self, capability: str) -> None:
        """CapabilityMissing unless ccxt says this venue can do `capability`."""
        if not self.client.has.get(capability):
            raise CapabilityMissing(f"{self.id}: {capability} not supported by ccxt")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.client.close()

    def now_ms(self) -> int:
        """The clock history caps and default `until` are measured against."""
        return int(self.client.milliseconds())

    # --------------------------------------------------------------- calling

    async def call(self, what: str, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run one ccxt call, retrying transient failures with exponential backoff.

        Rate limits (429 / DDoSProtection), timeouts and connection errors are normal on
        public endpoints; they are retried `max_retries` times, waiting at least the
        venue's Retry-After. Anything else is not transient and is raised at once.
        Every ccxt error leaves as its perptui kind (`ccxt_errors.translate`).
        """
        attempt = 0
        pacer = _pacer.get()
        while True:
            self.requests_made += 1
            counter = _request_counter.get()
            if counter is not None:
                counter[0] += 1
            if pacer is not None:
                await pacer.wait()
            try:
                out = await fn(*args)
            except CcxtError as exc:
                if pacer is not None and is_throttle(exc):
                    pacer.on_throttled()
                if not is_transient(exc):
                    raise self._error(what, exc) from exc
                if attempt >= self.max_retries:
                    raise translate(
                        exc,
                        f"{self.id}: {what} failed after {attempt + 1} attempts "
                        f"({type(exc).__name__}: {short(exc)})",
                    ) from exc
                delay = self._retry_delay(attempt, exc)
                log.warning(
                    "%s: %s %s; retry %d/%d in %.2fs",
                    self.id,
                    what,
                    type(exc).__name__,
                    attempt + 1,
                    self.max_retries,
                    delay,
                )
                await asyncio.sleep(delay)
                attempt += 1
            else:
                if pacer is not None:
                    pacer.on_success()
                return out

    def _error(self, what: str, exc: Exception) -> Exception:
        """The perptui error for a ccxt error that is not worth retrying."""
        kind = type(translate(exc))
        if kind is CapabilityMissing:
            return CapabilityMissing(f"{self.id}: {what} not supported by ccxt")
        if kind is UnknownSymbol:
            return UnknownSymbol(f"{self.id}: {what}: {short(exc)}")
        return translate(exc, f"{self.id}: {what}: {type(exc).__name__}: {short(exc)}")

    @contextlib.contextmanager
    def paced(self, pacer: Pacer) -> Iterator[None]:
        """Requests made inside the block (this task and tasks it starts) obey `pacer`."""
        token = _pacer.set(pacer)
        try:
            yield
        finally:
            _pacer.reset(token)

    def _retry_delay(self, attempt: int, exc: Exception) -> float:
        backoff = min(self.retry_max_s, self.retry_base_s * (2**attempt))
        backoff *= random.uniform(0.75, 1.0)  # de-synchronise concurrent retriers
        # Retry-After comes with 429/503 answers; after a timeout the headers are stale
        if is_throttle(exc):
            retry_after = self._retry_after_s()
            if retry_after is not None:
                return min(self.retry_after_max_s, max(backoff, retry_after))
        return backoff

    def _retry_after_s(self) -> float | None:
        headers = getattr(self.client, "last_response_headers", None) or {}
        for key, value in headers.items():
            if str(key).lower() == "retry-after":
                seconds = finite_float(value)
                return seconds if seconds is not None and seconds >= 0 else None
        return None

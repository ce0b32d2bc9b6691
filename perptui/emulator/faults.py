"""Seedable fault plan consulted by the emulator's server and wire modules.

A fault has a kind, an optional venue (None = every venue) and a trigger:

* ``prob`` — fires on each opportunity (request, WS message, book diff) with that probability,
  drawn from the plan's seeded RNG, so a given seed and call order repeats exactly;
* ``every_ms`` — fires at most once per period per key (per connection for WS kinds);
* neither — fires on every opportunity (``count`` limits how many times in total).

Kinds and where they act:

========== =========================================================================
latency    REST and WS: delay each response/frame by ``ms`` (+ uniform ``jitter``);
           ``only=rest`` or ``only=ws`` limits it to one of them (slow REST)
429        REST: rate-limit error in the venue's shape, with ``Retry-After``
418        REST: IP-ban error (binance style; other venues answer their ban shape)
5xx        REST: ``status`` (default 503) server error
drop       WS: abort the TCP connection (no close frame)
disconnect WS: clean server close, e.g. ``every=24h`` like binance's daily cut
stall      WS: socket stays open but nothing is sent for ``duration`` ms (0 = forever)
gap        WS book streams: one diff is skipped, so sequence numbers jump (bybit then
           pushes a fresh snapshot ``snapshot_after`` messages later, as bybit does)
withhold   WS book streams: one update is never sent and nothing heals it, as with a
           message lost on the way: only the client's own checks (sequence, checksum)
           can notice, and only a resubscribe repairs the book
checksum   WS book streams that carry a checksum (okx): send a wrong one
malformed  WS: one frame is replaced by truncated, unparsable JSON
========== =========================================================================

Flags (``perptui emulator --fault ...``) use ``[venue/]kind[:value][,key=value...]``:
``429:0.05``, ``binance/drop:every=30s``, ``latency:ms=80,jitter=20``, ``stall:every=60s,duration=5s``.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from perptui.core import timespec
from perptui.core.units import DAY_MS
from perptui.emulator.clock import Clock

KINDS: tuple[str, ...] = (
    "latency",
    "429",
    "418",
    "5xx",
    "drop",
    "disconnect",
    "stall",
    "gap",
    "withhold",
    "checksum",
    "malformed",
)
REST_KINDS = ("latency", "429", "418", "5xx")


@dataclass
class Fault:
    kind: str
    venue: str | None = None
    prob: float | None = None
    every_ms: int | None = None
    count: int | None = None  # remaining firings; None = unlimited
    params: dict[str, Any] = field(default_factory=dict)
    fired: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# A fault lasts, or recurs after, at most a year; longer spans are refused as typos.
MAX_FAULT_SPAN_MS = 366 * DAY_MS


def parse_duration_ms(text: str | int | float) -> int:
    """'30s' / '250ms' / '24h' / 1500 (ms) -> ms, at most a year (`core.timespec`)."""
    return timespec.parse_duration_ms(text, max_ms=MAX_FAULT_SPAN_MS)


def parse_spec(spec: str) -> Fault:
    """Parse a ``--fault`` flag value (see the module docstring)."""
    venue: str | None = None
    head, _, rest = spec.partition(":")
    if "/" in head:
        venue, head = head.split("/", 1)
    kind = head.strip().lower()
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
    fault = Fault(kind=kind, venue=venue or None)
    for part in filter(None, (p.strip() for p in rest.split(","))):
        if "=" not in part:
            if kind == "latency":
                fault.params["ms"] = parse_duration_ms(part)
            elif kind == "5xx" and part.isdigit() and len(part) == 3:
                fault.params["status"] = int(part)
            else:
                fault.prob = float(part)
            continue
        key, value = (x.strip() for x in part.split("=", 1))
        if key == "every":
            fault.every_ms = parse_duration_ms(value)
        elif key in ("p", "prob"):
            fault.prob = float(value)
        elif key == "count":
            fault.count = int(value)
        elif key in ("ms", "jitter", "duration"):
            fault.params[key] = parse_duration_ms(value)
        elif key in ("retry_after", "status"):
            fault.params[key] = int(value)
        else:
            fault.params[key] = value
    return fault


class FaultPlan:
    """The live set of faults; wire modules ask :meth:`check` at each opportunity."""

    def __init__(self, seed: int = 0, clock: Clock | None = None) -> None:
        self._rng = random.Random(f"faults:{seed}")
        self.clock = clock or Clock()
        self._faults: list[Fault] = []
        self._last_fire: dict[tuple[int, str], int] = {}

    # --- test/flag API
    def inject(
        self,
        venue: str | None,
        kind: str,
        *,
        prob: float | None = None,
        every: str | int | None = None,
        count: int | None = None,
        **params: Any,
    ) -> Fault:
        """Add a fault. ``venue`` None/"*" = all venues. ``every`` accepts '30s' or ms."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
        fault = Fault(
            kind=kind,
            venue=None if venue in (None, "*", "") else venue,
            prob=prob,
            every_ms=None if every is None else parse_duration_ms(every),
            count=count,
            params={
                k: parse_duration_ms(v) if k in ("ms", "jitter", "duration") else v
                for k, v in params.items()
            },
        )
        self._faults.append(fault)
        return fault

    def add(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def clear(self, venue: str | None = None, kind: str | None = None) -> None:
        self._faults = [
            f
            for f in self._faults
            if not ((venue is None or f.venue == venue) and (kind is None or f.kind == kind))
        ]

    def list(self) -> list[Fault]:
        return list(self._faults)

    # --- wire API
    def check(
        self, venue: str, kind: str, key: str = "", *, where: str | None = None
    ) -> Fault | None:
        """The fault of ``kind`` that fires at this opportunity, or None.

        ``where`` ("rest" / "ws") skips faults limited to the other (``only=`` param).
        """
        for f in self._faults:
            if f.kind != kind or (f.venue is not None and f.venue != venue):
                continue
            only = f.params.get("only")
            if where is not None and only is not None and only != where:
                continue
            if f.count is not None and f.count <= 0:
                continue
            if f.every_ms is not None:
                now = self.clock.now_ms()
                slot = (id(f), key)
                last = self._last_fire.setdefault(slot, now)
                if now - last < f.every_ms:
                    continue
                self._last_fire[slot] = now
            if f.prob is not None and self._rng.random() >= f.prob:
                continue
            if f.count is not None:
                f.count -= 1
            f.fired += 1
            return f
        return None

    def active(self, venue: str, kind: str) -> bool:
        """Whether any fault of ``kind`` could fire for ``venue`` (cheap pre-check)."""
        return any(
            f.kind == kind
            and (f.venue is None or f.venue == venue)
            and (f.count is None or f.count > 0)
            for f in self._faults
        )

    def latency_s(self, venue: str, key: str = "", where: str | None = None) -> float:
        f = self.check(venue, "latency", key, where=where)
        if f is None:
            return 0.0
        ms = float(f.params.get("ms", 50))
        jitter = float(f.params.get("jitter", 0))
        return max(0.0, ms + self._rng.uniform(-jitter, jitter)) / 1000.0

    def forget(self, key: str) -> None:
        """Drop per-connection timers when a connection ends."""
        for slot in [s for s in self._last_fire if s[1] == key]:
            del self._last_fire[slot]

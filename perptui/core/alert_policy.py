"""Which signals become alerts: per-rule thresholds, quiet hours and rate limits.

Pure and clock-free (times are passed in), so the policy is tested exactly and the
dispatcher (``perptui.engine.alerts``) only does I/O.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from perptui.core.model import Signal
from perptui.core.units import HOUR_MS

DEFAULT_RULES: Mapping[str, float | None] = {
    "funding_arb": None,
    "divergence": None,
    "price_divergence": None,
}


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """``rules``: signal kind -> minimum |value| to alert on (None: the rule's own
    threshold, i.e. every signal of that kind); kinds absent never alert.
    ``quiet_hours``: (start, end) hours UTC, end exclusive, may wrap midnight."""

    rules: Mapping[str, float | None] = field(default_factory=lambda: dict(DEFAULT_RULES))
    max_per_hour: int = 30
    min_interval_s: float = 900.0  # per (kind, venue(s), symbol)
    quiet_hours: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.max_per_hour < 1:
            raise ValueError("max_per_hour must be at least 1")
        if not (math.isfinite(self.min_interval_s) and self.min_interval_s >= 0):
            raise ValueError("min_interval_s must be >= 0")
        if self.quiet_hours is not None:
            start, end = self.quiet_hours
            if not (0 <= start <= 23 and 0 <= end <= 24):
                raise ValueError("quiet hours are whole hours 0-24 (UTC)")


def in_quiet_hours(now_ms: int, quiet: tuple[int, int] | None) -> bool:
    if quiet is None:
        return False
    start, end = quiet
    hour = (now_ms // HOUR_MS) % 24
    if start == end:
        return False
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end  # wraps midnight, e.g. 22-7


class AlertGate:
    """Decides, signal by signal, whether to alert; remembers what it let through."""

    def __init__(self, policy: AlertPolicy) -> None:
        self.policy = policy
        self._sent: deque[int] = deque()  # times of alerts in the last hour
        self._last: dict[tuple[str, str, str], int] = {}

    def decide(self, sig: Signal, now_ms: int) -> str | None:
        """None to alert (and it is counted), else why not: "rule", "threshold",
        "quiet", "repeat" (same market within min_interval_s) or "rate"."""
        p = self.policy
        if sig.kind not in p.rules:
            return "rule"
        floor = p.rules[sig.kind]
        if floor is not None and not abs(sig.value) >= floor:
            return "threshold"
        if in_quiet_hours(now_ms, p.quiet_hours):
            return "quiet"
        key = (sig.kind, sig.exchange, sig.symbol)
        last = self._last.get(key)
        if last is not None and now_ms - last < p.min_interval_s * 1000:
            return "repeat"
        while self._sent and now_ms - self._sent[0] >= HOUR_MS:
            self._sent.popleft()
        if len(self._sent) >= p.max_per_hour:
            return "rate"
        self._sent.append(now_ms)
        self._last[key] = now_ms
        if len(self._last) > 10_000:
            cutoff = now_ms - int(p.min_interval_s * 1000)
            self._last = {k: t for k, t in self._last.items() if t >= cutoff}
        return None

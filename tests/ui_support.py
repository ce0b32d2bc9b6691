"""Test support for the UI: a deterministic, fully populated hub and a backend with no workers.

Everything is derived from a seed and a fixed clock, so two builds render the
same screen byte for byte: that is what makes the snapshot tests stable.  This
lives under tests/ (not in the package) because nothing shipped uses it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from perptui.core.model import BookSnapshot, Candle, FundingInfo, OpenInterest, Signal, Ticker
from perptui.engine.hub import Hub
from perptui.engine.views import FeedHealth, HubView

T0 = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC
VENUES = ("binance", "bybit", "okx")
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
BASE_PRICE = {"BTC/USDT:USDT": 94_250.0, "ETH/USDT:USDT": 3_320.0, "SOL/USDT:USDT": 187.4}


class FrozenClock:
    """A clock the test moves by hand."""

    def __init__(self, t: int = T0) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t

    def advance(self, ms: int) -> None:
        self.t += ms


def _book(venue: str, symbol: str, mid: float, rng: random.Random, ts: int) -> BookSnapshot:
    tick = mid * 0.00002
    bids, asks = [], []
    for i in range(25):
        bids.append((round(mid - tick * (i + 1) * (1 + i * 0.6), 6), round(rng.uniform(0.2, 9), 4)))
        asks.append((round(mid + tick * (i + 1) * (1 + i * 0.6), 6), round(rng.uniform(0.2, 9), 4)))
    return BookSnapshot(venue, symbol, ts, tuple(bids), tuple(asks))


def sample_hub(seed: int = 7, clock: FrozenClock | None = None, points: int = 120) -> Hub:
    """A hub with 3 venues x 3 symbols, histories, candles, funding, signals, health."""
    clock = clock or FrozenClock()
    rng = random.Random(seed)
    hub = Hub(SYMBOLS, VENUES, clock=clock, history_seconds=600, history_points=300)
    start = clock.t - points * 2_000
    for v_i, venue in enumerate(VENUES):
        for s_i, symbol in enumerate(SYMBOLS):
            base = BASE_PRICE[symbol] * (1 + 0.0004 * (v_i - 1))
            candles = []
            price = base * 0.99
            for c in range(60):
                o = price
                price = o * (1 + rng.gauss(0, 0.0015) + 0.0002)
                hi = max(o, price) * (1 + abs(rng.gauss(0, 0.0006)))
                lo = min(o, price) * (1 - abs(rng.gauss(0, 0.0006)))
                ts = clock.t - (60 - c) * 60_000
                candles.append(
                    Candle(venue, symbol, "1m", ts - ts % 60_000, o, hi, lo, price, 10.0)
                )
            hub.add_candles(candles)
            # Walk the book through `points` samples so histories fill in.
            saved = clock.t
            for p in range(points):
                clock.t = start + p * 2_000
                mid = price * (1 + 0.0008 * math.sin(p / 9 + s_i + v_i))
                hub.set_book(_book(venue, symbol, mid, rng, clock.t))
                hub.sample(clock.t)
            clock.t = saved
            rate = 0.0001 * (1 + v_i) * (1 if s_i != 2 else -1) + 0.00002 * s_i
            interval = 4.0 if (venue, symbol) == ("bybit", "SOL/USDT:USDT") else 8.0
            mark = price * 1.0001
            hub.set_funding(
                FundingInfo(
                    venue,
                    symbol,
                    clock.t,
                    rate,
                    next_funding_time=clock.t + (3 * 3600 + 1234) * 1000 - v_i * 600_000,
                    interval_hours=interval,
                    mark_price=mark,
                    index_price=mark * (1 - 0.0002 * (v_i + 1)),
                    predicted_rate=rate * 0.9 if venue == "okx" else None,
                )
            )
            hub.set_ticker(Ticker(venue, symbol, clock.t, price, 1.5 - s_i * 1.2 + v_i * 0.1, 1e9))
            hub.set_open_interest(
                OpenInterest(
                    venue, symbol, clock.t, 1000.0 * (s_i + 1), price * 1000 * (s_i + 1) * (3 - v_i)
                )
            )
    hub.add_signal(
        Signal(
            "divergence",
            "bybit|binance",
            "BTC/USDT:USDT",
            clock.t - 40_000,
            "long binance / short okx",
            0.0006,
            0.0005,
            {"low": 0.0001, "high": 0.0007},
        )
    )
    hub.add_signal(
        Signal(
            "funding_arb",
            "okx",
            "ETH/USDT:USDT",
            clock.t - 5_000,
            "short perp / long spot",
            0.0012,
            0.001,
            {"rate": 0.0012, "annualized": 1.314},
        )
    )
    for v_i, venue in enumerate(VENUES):
        hub.note_message(venue, 100 * (v_i + 1))
    return hub


def health_override(hub: Hub, venue: str, state: str) -> None:
    """Force a venue's feed state (e.g. 'stale', 'down') for tests of the health bar."""
    hub.set_health(venue, state=state, last_error="emulated fault" if state == "down" else "")


class StaticBackend:
    """A hub with no workers: for snapshot tests, replays and previews."""

    mode = "replay"
    history_version = 0

    def __init__(
        self,
        hub: Hub,
        *,
        available: Sequence[str] = (),
        db_path: str | None = None,
        on_add: Callable[[str], None] | None = None,
    ) -> None:
        self.hub = hub
        self.db_path = db_path
        self._available = list(available)
        self._on_add = on_add
        self.stopped = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    async def add_symbol(self, symbol: str) -> None:
        self.hub.add_symbol(symbol)
        if self._on_add is not None:
            self._on_add(symbol)

    async def remove_symbol(self, symbol: str) -> None:
        self.hub.remove_symbol(symbol)

    def available_symbols(self) -> Sequence[str]:
        return self._available or list(self.hub.symbols)

    def db_stats(self) -> tuple[int, int] | None:
        return None

    def hint(self, view: HubView) -> str:
        return ""

    def sample(self, now_ms: int) -> HubView:
        return self.hub.sample(now_ms)


__all__ = [
    "SYMBOLS",
    "T0",
    "VENUES",
    "FeedHealth",
    "FrozenClock",
    "StaticBackend",
    "health_override",
    "sample_hub",
]

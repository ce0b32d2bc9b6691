from __future__ import annotations

import pytest

from perptui.core.model import (
    BookSnapshot,
    Candle,
    FundingInfo,
    MarketInfo,
    OpenInterest,
    Signal,
    Ticker,
)
from perptui.engine import hub as hub_mod
from perptui.engine.hub import Hub

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


class Clock:
    def __init__(self, t: int = 1_700_000_000_000) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def book(venue: str, symbol: str, mid: float, ts: int = 0, half: float = 0.5) -> BookSnapshot:
    bids = tuple((mid - half - i, 1.0 + i) for i in range(30))
    asks = tuple((mid + half + i, 1.0 + i) for i in range(30))
    return BookSnapshot(venue, symbol, ts, bids, asks)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub(clock: Clock) -> Hub:
    return Hub([BTC, ETH], ["binance", "okx"], history_seconds=10, history_points=10, clock=clock)


def test_metrics_only_computed_at_sample_and_only_for_changed_books(
    hub: Hub, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[BookSnapshot] = []
    real = hub_mod._depth_metrics

    def counting(b: BookSnapshot, bands: tuple[float, ...]) -> object:
        calls.append(b)
        return real(b, bands)

    monkeypatch.setattr(hub_mod, "_depth_metrics", counting)
    for i in range(500):
        hub.set_book(book("binance", BTC, 100 + i * 0.01))
    hub.set_book(book("okx", BTC, 100))
    assert calls == []  # mutators do no maths
    v1 = hub.sample()
    assert len(calls) == 2  # one per changed key, for the latest book only
    assert calls[0].bids[0][0] == pytest.approx(100 + 499 * 0.01 - 0.5)

    # Funding on one key rebuilds its view but does not recompute depth metrics.
    hub.set_funding(FundingInfo("okx", BTC, clock.t, 0.0001, None, 8.0))
    v2 = hub.sample()
    assert len(calls) == 2
    assert v2.changed == {("okx", BTC)}
    assert v2.markets[("binance", BTC)] is v1.markets[("binance", BTC)]
    assert v2.markets[("okx", BTC)] is not v1.markets[("okx", BTC)]
    assert v2.markets[("okx", BTC)].version == v1.markets[("okx", BTC)].version + 1


def test_ui_sample_measures_hot_keys_every_time_and_the_rest_once_a_second(
    hub: Hub, clock: Clock
) -> None:
    hot = {("binance", BTC), ("okx", BTC)}
    for venue in ("binance", "okx"):
        hub.set_book(book(venue, BTC, 100))
        hub.set_book(book(venue, ETH, 50))
    v0 = hub.sample(hot=hot)  # first views are built for every key
    assert len(v0.changed) == 4

    clock.t += 200
    hub.set_book(book("binance", BTC, 101))
    hub.set_book(book("binance", ETH, 51))
    v1 = hub.sample(hot=hot)
    assert v1.changed == {("binance", BTC)}
    held = v1.markets[("binance", ETH)]
    assert held is v0.markets[("binance", ETH)]  # book and metrics of the same book
    assert held.metrics is not None and held.metrics.mid == pytest.approx(50)
    assert held.bids[0][0] == pytest.approx(49.5)

    clock.t += hub.cool_ms  # its metrics are a second old: the waiting book is measured
    v2 = hub.sample(hot=hot)
    assert ("binance", ETH) in v2.changed
    assert v2.markets[("binance", ETH)].metrics.mid == pytest.approx(51)

    # The engine's clock (no hot set) measures every new book at once.
    clock.t += 100
    hub.set_book(book("okx", ETH, 52))
    v3 = hub.sample()
    assert v3.changed == {("okx", ETH)}
    assert hub.sampled_book("okx", ETH)[1].mid == pytest.approx(52)


def test_a_waiting_key_still_turns_stale_on_time(hub: Hub, clock: Clock) -> None:
    hub.set_book(book("okx", ETH, 50))
    hub.sample(hot=set())
    clock.t += 500
    hub.set_book(book("okx", ETH, 51))
    hub.sample(hot=set())  # waits (measured 0.5 s ago)
    clock.t += int(hub.stale_after_s * 1000) + 1
    v = hub.sample(hot=set())
    assert v.markets[("okx", ETH)].stale


def test_sample_with_nothing_new_returns_the_same_view(hub: Hub) -> None:
    hub.set_book(book("binance", BTC, 100))
    v1 = hub.sample()
    assert hub.sample() is v1
    hub.note_message("binance")
    v3 = hub.sample()
    assert v3 is not v1
    assert v3.version > v1.version


def test_view_is_frozen_and_holds_top_levels(hub: Hub) -> None:
    hub.top_levels = 25  # fewer than the book's 30 levels (the monitor's default is 100)
    hub.set_book(book("binance", BTC, 100))
    v = hub.sample()
    m = v.market("binance", BTC)
    assert m is not None
    assert len(m.bids) == hub.top_levels == 25
    assert m.bids[0] == (99.5, 1.0) and m.asks[0] == (100.5, 1.0)
    with pytest.raises(AttributeError):
        m.bids = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        v.markets[("x", "y")] = m  # type: ignore[index]
    assert v.market("binance", "NOPE") is None


def test_depth_metrics_from_maths_module(hub: Hub) -> None:
    hub.set_book(book("binance", BTC, 100))
    m = hub.sample().market("binance", BTC)
    assert m is not None and m.metrics is not None
    assert m.mid == pytest.approx(100.0)
    assert m.metrics.spread_bps == pytest.approx(1.0 / 100.0 * 1e4)
    assert m.history[-1].mid == pytest.approx(100.0)
    assert len(m.history[-1].imbalance) == len(hub.bands)


def test_history_is_bounded_in_time_and_points(hub: Hub, clock: Clock) -> None:
    for i in range(300):  # 30 s of books at 10/s, sampled at 10 Hz
        clock.t += 100
        hub.set_book(book("binance", BTC, 100 + i))
        hub.sample()
    m = hub.sample().market("binance", BTC)
    assert m is not None
    assert len(m.history) <= hub.history_points + 1
    assert m.history[0].t >= clock.t - 10_000
    assert m.history[-1].mid == pytest.approx(100 + 299)
    times = [p.t for p in m.history]
    assert times == sorted(times)
    assert len(m.mid_history()) == len(m.history)


def test_stale_book_and_stale_venue(hub: Hub, clock: Clock) -> None:
    hub.set_health("binance", feed="book:" + BTC, state="connected")
    hub.set_book(book("binance", BTC, 100))
    v = hub.sample()
    assert v.health["binance"].state == "connected"
    assert not v.market("binance", BTC).stale  # type: ignore[union-attr]
    clock.t += int(hub.stale_after_s * 1000) + 1000
    v = hub.sample()
    assert v.market("binance", BTC).stale  # type: ignore[union-attr]
    assert v.health["binance"].state == "stale"
    assert v.health["binance"].age_s == pytest.approx(hub.stale_after_s + 1)
    hub.set_book(book("binance", BTC, 101))
    v = hub.sample()
    assert not v.market("binance", BTC).stale  # type: ignore[union-attr]
    assert v.health["binance"].state == "connected"


def test_health_shows_the_worst_feed_and_counters(hub: Hub) -> None:
    assert hub.sample().health["okx"].state == "connecting"
    hub.set_health("okx", feed="book:" + BTC, state="connected")
    hub.set_health("okx", feed="book:" + ETH, state="reconnecting", last_error="NetworkError")
    hub.count_resync("okx", "InvalidNonce: gap")
    hub.count_reconnect("okx")
    h = hub.sample().health["okx"]
    assert h.state == "reconnecting"
    assert (h.resyncs, h.reconnects) == (1, 1)
    assert h.last_error == "InvalidNonce: gap"
    hub.set_health("okx", feed="book:" + ETH, state=None)
    assert hub.sample().health["okx"].state == "connected"
    hub.set_health("okx", state="down")
    assert hub.sample().health["okx"].state == "down"
    hub.add_note("okx", "FOO/USDT:USDT not listed, skipped")
    assert hub.sample().health["okx"].notes == ("FOO/USDT:USDT not listed, skipped",)
    with pytest.raises(ValueError):
        hub.set_health("okx", state="sleepy")
    with pytest.raises(TypeError):
        hub.set_health("okx", colour="red")


def test_message_rate(hub: Hub, clock: Clock) -> None:
    hub.sample()
    for _ in range(50):
        clock.t += 100
        hub.note_message("binance", 2)
        hub.sample()
    assert hub.sample().health["binance"].msgs_per_s == pytest.approx(20.0, rel=0.05)
    clock.t += 10_000
    hub.sample()
    assert hub.sample().health["binance"].msgs_per_s == 0.0


def test_funding_ticker_oi_and_signals(hub: Hub, clock: Clock) -> None:
    nft = clock.t + 3_600_000
    hub.set_funding(FundingInfo("binance", BTC, clock.t, 0.0001, nft, 8.0, 101.0, 100.0))
    hub.set_ticker(Ticker("binance", BTC, clock.t, 100.0, 2.5, 1e9))
    hub.set_open_interest(OpenInterest("binance", BTC, clock.t, 1000.0, 1e5))
    for i in range(250):
        hub.add_signal(Signal("imbalance", "binance", BTC, clock.t + i, "buy", 0.5, 0.3))
    v = hub.sample()
    m = v.market("binance", BTC)
    assert m is not None
    assert m.funding_rate == 0.0001 and m.next_funding_time == nft and m.interval_hours == 8.0
    assert m.ticker is not None and m.ticker.percentage == 2.5
    assert m.open_interest is not None and m.open_interest.amount == 1000.0
    assert len(v.signals) == 200 and v.signals_total == 250
    assert v.signals[-1].timestamp == clock.t + 249
    assert m.annualized == pytest.approx(0.0001 * 3 * 365)
    assert m.basis == pytest.approx(0.01)
    assert not m.interval_assumed


def test_funding_interval_from_market_info_or_assumed(hub: Hub, clock: Clock) -> None:
    hub.set_funding(FundingInfo("okx", BTC, clock.t, 0.0002, None, None))
    m = hub.sample().market("okx", BTC)
    assert m is not None and m.interval_assumed and m.interval_hours == 8.0
    hub.set_market_info(
        MarketInfo("okx", BTC, "BTC-USDT-SWAP", "BTC", "USDT", "USDT", True, 0.01, 0.1, 0.01, 4.0)
    )
    m = hub.sample().market("okx", BTC)
    assert m is not None and not m.interval_assumed and m.interval_hours == 4.0
    assert m.annualized == pytest.approx(0.0002 * 6 * 365)
    assert m.market is not None and m.market.contract_size == 0.01


def test_candles_merge_and_extend_from_live_mid(hub: Hub, clock: Clock) -> None:
    t0 = clock.t - clock.t % 60_000 - 120_000

    def c(ts: int, close: float) -> Candle:
        return Candle("binance", BTC, "1m", ts, close, close + 1, close - 1, close, 5.0)

    hub.add_candles([c(t0, 100), c(t0 + 60_000, 101)])
    hub.add_candles([c(t0 + 60_000, 102)])  # newer copy replaces
    m = hub.sample().market("binance", BTC)
    assert m is not None
    assert [x.close for x in m.candles] == [100, 102]
    # A live book in the next minute opens a provisional candle from the mid.
    clock.t = t0 + 120_000 + 5_000
    hub.set_book(book("binance", BTC, 110))
    m = hub.sample().market("binance", BTC)
    assert m is not None
    assert len(m.candles) == 3
    assert m.candles[-1].timestamp == t0 + 120_000
    assert m.candles[-1].open == 102 and m.candles[-1].close == pytest.approx(110)
    # A later, lower mid: the live candle remembers the earlier high.
    clock.t += 1_000
    hub.set_book(book("binance", BTC, 105))
    m = hub.sample().market("binance", BTC)
    assert m is not None
    last = m.candles[-1]
    assert (last.open, last.high, last.low) == (102, pytest.approx(110), 102)
    assert last.close == pytest.approx(105)
    # Inside the last venue candle the live mid extends its high / close.
    hub.add_candles([c(t0 + 120_000, 103)])
    hub.set_book(book("binance", BTC, 120))
    m = hub.sample().market("binance", BTC)
    assert m is not None
    assert len(m.candles) == 3
    assert m.candles[-1].high == pytest.approx(120) and m.candles[-1].close == pytest.approx(120)
    # merged with the venue's copy: its low (102) and volume are kept
    assert m.candles[-1].low == 102 and m.candles[-1].volume == 5.0
    assert [c.timestamp for c in m.candles] == [t0, t0 + 60_000, t0 + 120_000]


def test_add_and_remove_symbol(hub: Hub) -> None:
    hub.add_symbol("SOL/USDT:USDT")
    hub.add_symbol("SOL/USDT:USDT")
    hub.set_book(book("binance", ETH, 10))
    hub.set_book(book("okx", ETH, 10))
    assert hub.sample().symbols == (BTC, ETH, "SOL/USDT:USDT")
    hub.remove_symbol(ETH)
    v = hub.sample()
    assert v.symbols == (BTC, "SOL/USDT:USDT")
    assert v.market("binance", ETH) is None and v.market("okx", ETH) is None
    assert hub.latest_book("binance", ETH) is None


class Live:
    """A venue's live book as the test scripts it: a copy, or None once it is dropped."""

    def __init__(self, book: BookSnapshot | None) -> None:
        self.exchange, self.symbol = "okx", BTC
        self.book = book
        self.copies = 0

    def snapshot(self) -> BookSnapshot | None:
        self.copies += 1
        return self.book


def test_a_live_book_is_copied_once_when_read_not_per_update(hub: Hub, clock: Clock) -> None:
    published: list[BookSnapshot] = []
    hub.published = published.append  # type: ignore[method-assign]
    lives = [Live(book("okx", BTC, 100 + i)) for i in range(10)]
    for live in lives:  # ten updates between two samples
        hub.set_live_book(live)
    assert sum(lv.copies for lv in lives) == 0
    v = hub.sample()
    assert [lv.copies for lv in lives] == [0] * 9 + [1]  # only the newest, once
    assert v.markets[("okx", BTC)].metrics.mid == pytest.approx(109)
    assert published == [lives[-1].book]
    assert hub.sampled_book("okx", BTC)[0] is lives[-1].book


def test_a_dropped_live_book_keeps_the_last_good_copy_and_its_age(hub: Hub, clock: Clock) -> None:
    hub.set_live_book(Live(book("okx", BTC, 100)))
    good = hub.sample().markets[("okx", BTC)]
    received = good.book_received_ms
    clock.t += int(hub.stale_after_s * 1000) - 100
    hub.set_live_book(Live(None))  # an update arrived, then a failed check dropped the book
    v = hub.sample()
    m = v.markets[("okx", BTC)]
    assert m.bids == good.bids and m.book_received_ms == received  # not made to look fresh
    clock.t += 200
    assert hub.sample().markets[("okx", BTC)].stale
    assert hub.latest_book("okx", BTC).bids == good.bids
